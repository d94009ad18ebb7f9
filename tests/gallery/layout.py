"""A gallery whose user likes pictures by where their square sits, and a stand-in encoder
that sees layout: the taste model's own descriptors (colour and texture statistics) are
nearly blind to position, so only the encoder's vectors can tell liked from disliked."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from museforge.gallery.provenance import save_png
from museforge.gallery.store import Gallery

GRID = 4
# Words name halves of the grid; "square" is everywhere and so says nothing.
HALVES = {
    "top": np.s_[: GRID // 2, :],
    "bottom": np.s_[GRID // 2 :, :],
    "left": np.s_[:, : GRID // 2],
    "right": np.s_[:, GRID // 2 :],
    "square": np.s_[:, :],
}


class LayoutEmbedder:
    """A picture's vector is its brightness on a 4×4 grid (centred, unit length); a word's
    is the half of the grid it names. Counts the pictures it encodes."""

    def __init__(self, key: str = "layout-v1") -> None:
        self.key = key
        self.pictures = 0

    def images(self, pictures: list[Image.Image]) -> torch.Tensor:
        self.pictures += len(pictures)
        rows = []
        for p in pictures:
            grey = p.convert("L").resize((GRID, GRID), Image.Resampling.BOX)
            cells = np.asarray(grey, np.float32).ravel()
            rows.append(cells - cells.mean())
        return F.normalize(torch.tensor(np.stack(rows)), dim=-1)

    def texts(self, texts: list[str]) -> torch.Tensor:
        rows = []
        for text in texts:
            grid = np.zeros((GRID, GRID), np.float32)
            for word in text.split():
                grid[HALVES[word]] += 1.0
            rows.append((grid - grid.mean()).ravel())
        return F.normalize(torch.tensor(np.stack(rows)) + 1e-6, dim=-1)

    def unknown(self, text: str) -> list[str]:
        return []


def square_picture(rng: np.random.Generator, top: bool, size: int = 48) -> Image.Image:
    """A bright square of a random colour on a dark speckled ground, in the top or the
    bottom half, anywhere across."""
    img = rng.normal(30, 10, (size, size, 3))
    side = size // 4
    x = int(rng.integers(0, size - side))
    y = int(rng.integers(0, size // 2 - side)) + (0 if top else size // 2)
    img[y : y + side, x : x + side] = rng.uniform(150, 255, 3)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def layout_gallery(root, n: int = 12, seed: int = 0) -> Gallery:
    """``n`` rated pictures: the user likes the ones with the square on top (even k)
    and dislikes the others; files are ``pics/k.png``."""
    rng = np.random.default_rng(seed)
    gallery = Gallery(root)
    for k in range(n):
        path = root / "pics" / f"{k:02d}.png"
        save_png(path, square_picture(rng, top=k % 2 == 0), {"verb": "sample", "created": k})
    gallery.sync()
    for record in gallery.list(limit=n):
        gallery.rate(record.id, like=int(record.path[5:7]) % 2 == 0)
    return gallery
