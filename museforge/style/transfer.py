"""Style transfer by optimisation: one content picture, one or more style pictures blended.

Colour is handled on purpose: by default the content is first recoloured with the styles'
palette (:func:`museforge.style.colour.match_palette`), and that recoloured picture is both
the start and the content target, so the optimisation spends itself on marks, not on
dragging colours; or the content's own colours are kept (transfer on luminance only,
Gatys et al. 2016). Also: a mask that limits the style to a region, the style's scale, and
a start from the content or noise.
"""

from __future__ import annotations

import torch

from museforge.core.seeding import stream
from museforge.errors import InputError
from museforge.nn.features import FeatureNet
from museforge.style.colour import match_palette
from museforge.style.images import luminance, resize_long_side, resize_to, rgb_to_yiq, yiq_to_rgb
from museforge.style.optimise import MAX_SIZE, OptimiseSettings, StepHook, Targets, make_targets
from museforge.style.optimise import optimise as run_optimise

INITS = ("content", "noise")
PALETTES = ("histogram", "moments", "none")  # how the styles' palette reaches the content
PALETTE_PIXELS = 65_536  # pixels drawn from the blended styles to describe their palette


def parse_weights(text: str | None, name: str = "weights") -> list[float] | None:
    """Blend weights from "0.7,0.3" (None stays None); ``name`` is how the user gave them."""
    if text is None:
        return None
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise InputError(f"{name} '{text}' must be numbers separated by commas") from None


def check_weights(weights: list[float] | None, count: int) -> list[float]:
    """The weights of ``count`` style pictures (None: equal), or a one-line error unless
    there is one non-negative weight per picture and they are not all zero."""
    weights = list(weights or [1.0] * count)
    if len(weights) != count or any(w < 0 for w in weights) or sum(weights) <= 0:
        raise InputError(f"give one non-negative weight per style picture ({count}), not all zero")
    return weights


def blended_palette(styles: list[torch.Tensor], weights: list[float]) -> torch.Tensor:
    """A 1×3×1×N strip of pixels drawn from the style pictures in proportion to their
    weights (seeded): the palette of the blend."""
    total = sum(weights)
    gen = stream(0, "style-palette")
    parts = []
    for style, weight in zip(styles, weights, strict=True):
        count = round(PALETTE_PIXELS * weight / total)
        if count:
            flat = style.reshape(3, -1)
            parts.append(flat[:, torch.randint(flat.shape[1], (count,), generator=gen)])
    return torch.cat(parts, dim=1)[None, :, None, :]


def _grey(x: torch.Tensor) -> torch.Tensor:
    return luminance(x).expand(-1, 3, -1, -1)


def _match_luminance(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The style's luminance shifted and scaled to the content's mean and spread, as grey."""
    y_s, y_c = luminance(style), luminance(content)
    y = (y_s - y_s.mean()) / y_s.std().clamp_min(1e-6) * y_c.std() + y_c.mean()
    return y.clamp(0, 1).expand(-1, 3, -1, -1)


def stylise(
    net: FeatureNet,
    content: torch.Tensor,
    styles: list[torch.Tensor],
    style_weights: list[float] | None = None,
    *,
    size: int = 512,
    settings: OptimiseSettings | None = None,
    style_scale: float = 1.0,
    preserve_colour: bool = False,
    palette: str = "histogram",
    mask: torch.Tensor | None = None,
    init: str = "content",
    seed: int = 0,
    on_step: StepHook | None = None,
) -> torch.Tensor:
    """The content picture (1×3×H×W in [0, 1]) redrawn in the blended styles.

    ``size`` is the long side of the result; a style picture is scaled so that its long
    side is ``style_scale`` × ``size``. ``palette`` says how the styles' colours reach the
    content first (``histogram``, ``moments`` or ``none``; ignored when ``preserve_colour``).
    ``mask`` (1×1×h×w, 1 = style) keeps the content unchanged outside the region. Returns
    1×3×H'×W' in [0, 1].
    """
    settings = settings or OptimiseSettings()
    if not styles:
        raise InputError("give at least one style picture")
    weights = check_weights(style_weights, len(styles))
    if not 16 <= size <= MAX_SIZE:
        raise InputError(f"size must be 16..{MAX_SIZE} pixels (got {size})")
    if not 0.05 <= style_scale <= 8:
        raise InputError(f"style scale must be 0.05..8 (got {style_scale})")
    if palette not in PALETTES:
        raise InputError(f"palette must be one of {', '.join(PALETTES)} (got '{palette}')")
    if init not in INITS:
        raise InputError(f"init must be one of {', '.join(INITS)} (got '{init}')")
    content = resize_long_side(content, size)
    height, width = content.shape[-2:]
    if preserve_colour:
        styles = [_match_luminance(s, content) for s in styles]
        work = _grey(content)
    elif palette != "none":
        region = None if mask is None else resize_to(mask, height, width)
        work = match_palette(content, blended_palette(styles, weights), palette, mask=region)
    else:
        work = content
    style_side = max(16, round(size * style_scale))
    styles = [resize_long_side(s, style_side) for s in styles]

    def targets_at(level: tuple[int, int]) -> Targets:
        factor = level[1] / width
        level_styles = [
            resize_to(s, max(8, round(s.shape[-2] * factor)), max(8, round(s.shape[-1] * factor)))
            for s in styles
        ]
        return make_targets(net, level_styles, weights, resize_to(work, *level), mask)

    if init == "noise":
        noise = torch.rand(work.shape, generator=stream(seed, "style-init"))
        start = 0.5 * work + 0.5 * noise
    else:
        start = work
    result = run_optimise(net, start, targets_at, settings, on_step=on_step)
    if preserve_colour:
        yiq = rgb_to_yiq(content)
        result = yiq_to_rgb(torch.cat([luminance(result), yiq[:, 1:]], dim=1)).clamp(0, 1)
    if mask is not None:
        m = resize_to(mask, height, width)
        result = m * result + (1 - m) * content
    return result
