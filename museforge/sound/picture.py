"""Spectrogram pictures: what a sound looks like, low notes at the bottom.

The log magnitude is coloured from black through purple and orange to pale yellow (a
magma-like map, loud is bright); frequency is drawn on a square-root scale so the
partials of low notes, where music lives, are not squeezed into the bottom rows.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from PIL import Image

from museforge.core.grid import to_pil

# (position, RGB in 0-1): black, purple, red-orange, pale yellow
STOPS = (
    (0.0, (0.0, 0.0, 0.02)),
    (0.35, (0.32, 0.07, 0.45)),
    (0.7, (0.93, 0.35, 0.2)),
    (1.0, (0.99, 0.98, 0.75)),
)
HEIGHT = 256


def colour_map(levels: torch.Tensor) -> torch.Tensor:
    """Levels in [0, 1] (…) → RGB in [0, 1] (…, 3) along :data:`STOPS`."""
    levels = levels.clamp(0, 1)
    out = torch.zeros(*levels.shape, 3)
    for (p0, c0), (p1, c1) in itertools.pairwise(STOPS):
        t = ((levels - p0) / (p1 - p0)).clamp(0, 1)
        inside = (levels >= p0) & (levels <= p1)
        for k in range(3):
            value = c0[k] + (c1[k] - c0[k]) * t
            out[..., k] = torch.where(inside, value, out[..., k])
    return out


def spectrogram_tensor(features: torch.Tensor, width: int | None = None) -> torch.Tensor:
    """Features (n, 2, bins, frames) → pictures (n, 3, HEIGHT, width) in [-1, 1]."""
    log_mag = features[:, 0].detach().cpu().float()  # about [-1, 1]
    _n, bins, frames = log_mag.shape
    rows = torch.linspace(0, 1, HEIGHT) ** 2 * (bins - 1)  # square-root frequency scale
    picked = log_mag[:, rows.round().long().flip(0), :]  # low frequencies at the bottom
    width = width or max(frames * 2, 128)
    picked = F.interpolate(picked[:, None], size=(HEIGHT, width), mode="nearest")[:, 0]
    rgb = colour_map((picked + 1) / 1.8).permute(0, 3, 1, 2)
    return rgb * 2 - 1


def spectrogram(features: torch.Tensor) -> Image.Image:
    """One note's features (2, bins, frames) as a picture."""
    return to_pil(spectrogram_tensor(features[None])[0])
