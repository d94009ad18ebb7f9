"""The verb of style networks: stylise a picture in one pass of the trained network."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from museforge.core.artifact import LoadedModel
from museforge.errors import InputError
from museforge.gallery.artwork import Artwork, Result
from museforge.style.images import (
    fingerprint,
    load_rgb,
    resize_long_side,
    rgb_to_yiq,
    to_pil,
    yiq_to_rgb,
)

MIN_SIDE, MAX_SIDE = 16, 2048


def _check_settings(size: int | None, strength: float) -> None:
    if size is not None and (
        isinstance(size, bool) or not isinstance(size, int) or not MIN_SIDE <= size <= MAX_SIDE
    ):
        raise InputError(
            f"--size must be a whole number from {MIN_SIDE} to {MAX_SIDE} (got {size})"
        )
    if (
        isinstance(strength, bool)
        or not isinstance(strength, int | float)
        or not 0 <= strength <= 1
    ):
        raise InputError(f"--strength must be between 0 and 1 (got {strength})")


def _keep_colour(styled: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
    """The luminance of ``styled`` with the chroma (YIQ's I and Q) of ``original``."""
    y = rgb_to_yiq(styled)[:, :1]
    iq = rgb_to_yiq(original)[:, 1:]
    return yiq_to_rgb(torch.cat([y, iq], dim=1)).clamp(0, 1)


def stylise(
    model: LoadedModel,
    image: str,
    size: int | None = None,
    preserve_colour: bool = False,
    strength: float = 1.0,
) -> Result:
    """The picture ``image`` (a file or a built-in name) in the network's style.

    ``size`` is the long side of the result (default: the picture's own, at most 2048);
    ``preserve_colour`` keeps the picture's colours and takes only the styled luminance;
    ``strength`` blends the styled result with the picture (1: fully styled).
    """
    _check_settings(size, strength)
    original = load_rgb(image)
    long_side = max(original.shape[-2:])
    target = size if size is not None else min(long_side, MAX_SIDE)
    content = original if target == long_side else resize_long_side(original, target)
    if min(content.shape[-2:]) < MIN_SIDE:
        raise InputError(
            f"'{image}' is too narrow: its short side would be under {MIN_SIDE} pixels"
        )
    with torch.inference_mode():
        styled = model.model(content)
        if preserve_colour:
            styled = _keep_colour(styled, content)
        styled = strength * styled + (1 - strength) * content
    data: dict[str, Any] = model.manifest.get("data", {})
    provenance = {
        "model": {"sha256": model.sha256, "kind": model.kind, "path": str(model.path)},
        "verb": "stylise",
        "versions": model.manifest.get("versions", {}),
        "settings": {"size": size, "preserve_colour": preserve_colour, "strength": strength},
        "lineage": {
            "content": {"source": image, "fingerprint": fingerprint(original)},
            "style": data.get("style", {}),
        },
    }
    stem = f"stylise-{Path(image).stem}"
    return Result([Artwork(name=stem, image=to_pil(styled), provenance=provenance)], stem=stem)
