"""Image tensors in [-1, 1] to Pillow images and grids."""

from __future__ import annotations

import math

import torch
from PIL import Image


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """N×C×H×W in [-1, 1] -> N×H×W×C uint8 (rounded, clamped)."""
    return (
        ((images.detach().cpu().float().clamp(-1, 1) + 1) * 127.5)
        .round()
        .to(torch.uint8)
        .permute(0, 2, 3, 1)
    )


MODES = {1: "L", 3: "RGB", 4: "RGBA"}


def to_pil(image: torch.Tensor) -> Image.Image:
    """One C×H×W image in [-1, 1] -> a grey ("L"), RGB or RGBA (4 channels) Pillow image."""
    array = to_uint8(image.unsqueeze(0))[0].numpy()
    channels = array.shape[2]
    return Image.fromarray(array[:, :, 0] if channels == 1 else array, MODES[channels])


def on_white(images: torch.Tensor) -> torch.Tensor:
    """N×4×H×W RGBA in [-1, 1] composited on white as N×3×H×W (other counts unchanged)."""
    if images.shape[1] != 4:
        return images
    alpha = (images[:, 3:] + 1) / 2
    return images[:, :3] * alpha + (1 - alpha)


def grid_boxes(n: int, h: int, w: int, nrow: int | None = None, pad: int = 2) -> list[tuple]:
    """Where :func:`make_grid` puts each of ``n`` pictures: (left, top, width, height)."""
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    return [
        (pad + col * (w + pad), pad + r * (h + pad), w, h)
        for r, col in (divmod(i, nrow) for i in range(n))
    ]


def make_grid(images: torch.Tensor, nrow: int | None = None, pad: int = 2) -> Image.Image:
    """Tile N images into one picture, ``nrow`` per row (default: a square-ish grid);
    the gaps are white, or transparent for RGBA."""
    n, c, h, w = images.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    canvas = torch.ones(c, rows * (h + pad) + pad, nrow * (w + pad) + pad)
    if c == 4:
        canvas[3] = -1
    for i, (left, top, _, _) in enumerate(grid_boxes(n, h, w, nrow, pad)):
        canvas[:, top : top + h, left : left + w] = images[i].clamp(-1, 1)
    return to_pil(canvas)
