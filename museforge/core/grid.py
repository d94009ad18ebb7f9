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


def to_pil(image: torch.Tensor) -> Image.Image:
    """One C×H×W image in [-1, 1] -> a grey ("L") or RGB Pillow image."""
    array = to_uint8(image.unsqueeze(0))[0].numpy()
    return (
        Image.fromarray(array[:, :, 0], "L")
        if array.shape[2] == 1
        else Image.fromarray(array, "RGB")
    )


def make_grid(images: torch.Tensor, nrow: int | None = None, pad: int = 2) -> Image.Image:
    """Tile N images into one picture, ``nrow`` per row (default: a square-ish grid)."""
    n, c, h, w = images.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    canvas = torch.ones(c, rows * (h + pad) + pad, nrow * (w + pad) + pad)
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        canvas[:, top : top + h, left : left + w] = images[i].clamp(-1, 1)
    return to_pil(canvas)
