"""Optimisation-based style transfer and texture synthesis (Gatys et al.), coarse to fine.

The picture is optimised directly: first at a small size, then enlarged and refined at
each larger size, so most of the work happens where it is cheap and a 2048-pixel result
needs only a few steps at full size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from museforge.errors import InputError
from museforge.nn.features import FeatureNet
from museforge.style.images import resize_to
from museforge.style.losses import (
    content_loss,
    feature_stats,
    style_loss,
    style_targets,
    tv_loss,
)

MIN_LEVEL = 128  # the coarsest size (long side) of the schedule
MAX_SIZE = 4096

# on_step(level, levels, step, steps, losses) after every optimiser step
StepHook = Callable[[int, int, int, int, dict[str, float]], None]


@dataclass(frozen=True)
class OptimiseSettings:
    """How the picture is optimised."""

    steps: int = 100  # per level of the coarse-to-fine schedule
    levels: int = 0  # 0: as many as halve the size down to MIN_LEVEL (at most 3)
    lr: float = 0.05
    style_weight: float = 1.0
    content_weight: float = 2.0
    tv_weight: float = 10.0

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise InputError(f"steps must be at least 1 (got {self.steps})")
        if self.levels < 0:
            raise InputError(f"levels must be 0 (automatic) or more (got {self.levels})")
        for name in ("style_weight", "content_weight", "tv_weight"):
            if getattr(self, name) < 0:
                raise InputError(f"{name.replace('_', ' ')} must not be negative")


def level_sizes(height: int, width: int, levels: int = 0) -> list[tuple[int, int]]:
    """Sizes of the coarse-to-fine schedule, smallest first, ending at (height, width)."""
    if levels <= 0:
        levels = 1
        while max(height, width) / 2**levels >= MIN_LEVEL and levels < 3:
            levels += 1
    sizes = [(height, width)]
    for _ in range(levels - 1):
        h, w = sizes[-1]
        sizes.append((max(1, round(h / 2)), max(1, round(w / 2))))
    return sizes[::-1]


def _enlarge(x: torch.Tensor, size: tuple[int, int], circular: bool) -> torch.Tensor:
    """Bilinear resize; a tileable picture is resized as a torus so its seams stay closed."""
    if not circular:
        return resize_to(x, *size)
    pad = 2
    wrapped = F.pad(x, (pad, pad, pad, pad), mode="circular")
    sy, sx = size[0] / x.shape[-2], size[1] / x.shape[-1]
    big = F.interpolate(wrapped, scale_factor=(sy, sx), mode="bilinear", align_corners=False)
    top, left = round(pad * sy), round(pad * sx)
    return big[..., top : top + size[0], left : left + size[1]].clamp(0, 1)


@dataclass
class Targets:
    """What the picture is pulled towards at one size."""

    style: dict[str, torch.Tensor]
    content: dict[str, torch.Tensor] | None = None
    mask: torch.Tensor | None = None  # where the style applies


def make_targets(
    net: FeatureNet,
    styles: list[torch.Tensor],
    weights: list[float],
    content: torch.Tensor | None,
    mask: torch.Tensor | None,
) -> Targets:
    """Style statistics (blended) and content activations for one level."""
    with torch.no_grad():
        grams = []
        for style in styles:
            feats = net(style)
            grams.append({name: feature_stats(feats[name]) for name in net.style_layers})
        content_feats = None
        if content is not None:
            feats = net(content)
            content_feats = {name: feats[name] for name in net.content_layers}
    return Targets(style_targets(grams, weights), content_feats, mask)


def optimise(
    net: FeatureNet,
    start: torch.Tensor,
    targets_at: Callable[[tuple[int, int]], Targets],
    settings: OptimiseSettings,
    circular: bool = False,
    on_step: StepHook | None = None,
) -> torch.Tensor:
    """Optimise ``start`` (1×3×H×W in [0, 1]) through the coarse-to-fine schedule.

    ``targets_at(size)`` gives the targets for a level's size; ``start`` is resized to the
    first level. Returns the final picture at ``start``'s size, in [0, 1].
    """
    sizes = level_sizes(start.shape[-2], start.shape[-1], settings.levels)
    net.set_tileable(circular)
    x = resize_to(start, *sizes[0])
    for level, size in enumerate(sizes):
        if level:
            x = _enlarge(x, size, circular)
        targets = targets_at(size)
        x = _optimise_level(net, x, targets, settings, circular, level, len(sizes), on_step)
    return x


def _optimise_level(
    net: FeatureNet,
    x: torch.Tensor,
    targets: Targets,
    s: OptimiseSettings,
    circular: bool,
    level: int,
    levels: int,
    on_step: StepHook | None,
) -> torch.Tensor:
    x = x.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=s.lr)
    # Later levels start close to the answer: a gentler rate that anneals to a tenth.
    base = s.lr if level == 0 else s.lr / 2
    for step in range(s.steps):
        for group in opt.param_groups:
            group["lr"] = base * (0.1 + 0.9 * (1 - step / s.steps))
        feats = net(x)
        losses = {"style": style_loss(feats, targets.style, targets.mask)}
        total = s.style_weight * losses["style"]
        if targets.content is not None and s.content_weight > 0:
            losses["content"] = content_loss(feats, targets.content)
            total = total + s.content_weight * losses["content"]
        if s.tv_weight > 0:
            losses["tv"] = tv_loss(x, circular)
            total = total + s.tv_weight * losses["tv"]
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        with torch.no_grad():
            x.clamp_(0, 1)
        if on_step is not None:
            values = {k: float(v.detach()) for k, v in losses.items()}
            on_step(level, levels, step + 1, s.steps, values)
    return x.detach()
