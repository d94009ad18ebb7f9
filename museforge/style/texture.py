"""Texture synthesis from a style picture: new patterns, optionally seamlessly tileable.

A tileable texture is optimised as if drawn on a torus: the feature network pads
circularly, the smoothness term wraps round, and enlargement between levels wraps too, so
the right edge continues into the left and the bottom into the top.
"""

from __future__ import annotations

import dataclasses

import torch

from museforge.core.seeding import stream
from museforge.errors import InputError
from museforge.nn.features import FeatureNet
from museforge.style.images import resize_long_side, resize_to
from museforge.style.optimise import (
    MAX_SIZE,
    OptimiseSettings,
    StepHook,
    Targets,
    level_sizes,
    make_targets,
)
from museforge.style.optimise import optimise as run_optimise

# A tileable size is kept divisible by 8 (three 2× poolings) at every level of the schedule.
TILE_MULTIPLE = 32


def tileable_size(size: int) -> int:
    """The nearest size (at least TILE_MULTIPLE) that tiles exactly at every level."""
    return max(TILE_MULTIPLE, round(size / TILE_MULTIPLE) * TILE_MULTIPLE)


def synthesise(
    net: FeatureNet,
    style: torch.Tensor,
    size: int = 512,
    *,
    tileable: bool = False,
    seed: int = 0,
    style_scale: float = 1.0,
    settings: OptimiseSettings | None = None,
    on_step: StepHook | None = None,
) -> torch.Tensor:
    """A new size×size texture (1×3×S×S in [0, 1]) with the style picture's statistics.

    ``style_scale`` scales the style picture relative to the output (larger: bigger
    motifs). With ``tileable`` the size is rounded to a multiple of TILE_MULTIPLE.
    """
    settings = settings or OptimiseSettings()
    if not 32 <= size <= MAX_SIZE:
        raise InputError(f"size must be 32..{MAX_SIZE} pixels (got {size})")
    if not 0.05 <= style_scale <= 8:
        raise InputError(f"style scale must be 0.05..8 (got {style_scale})")
    if tileable:
        size = tileable_size(size)
        if settings.levels == 0:  # keep every level a multiple of 8
            levels = len(level_sizes(size, size))
            while size % (8 * 2 ** (levels - 1)):
                levels -= 1
            settings = dataclasses.replace(settings, levels=levels)
    style = resize_long_side(style, max(16, round(size * style_scale)))
    mean = style.mean(dim=(2, 3), keepdim=True)
    noise = torch.rand((1, 3, size, size), generator=stream(seed, "texture-init"))
    start = (mean + 0.4 * (noise - 0.5)).clamp(0, 1)

    def targets_at(level: tuple[int, int]) -> Targets:
        factor = level[1] / size
        h, w = max(8, round(style.shape[-2] * factor)), max(8, round(style.shape[-1] * factor))
        return make_targets(net, [resize_to(style, h, w)], [1.0], None, None)

    try:
        return run_optimise(net, start, targets_at, settings, circular=tileable, on_step=on_step)
    finally:
        net.set_tileable(False)
