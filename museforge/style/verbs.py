"""The verb of style networks: stylise a picture in one pass of the trained network."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import torch

from museforge.core.artifact import LoadedModel
from museforge.core.artwork import Artwork, Result
from museforge.core.verbs import Param
from museforge.errors import InputError
from museforge.style.images import (
    fingerprint,
    load_rgb,
    resize_long_side,
    rgb_to_yiq,
    to_pil,
    yiq_to_rgb,
)

MIN_SIDE, MAX_SIDE = 16, 2048


def _keep_colour(styled: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
    """The luminance of ``styled`` with the chroma (YIQ's I and Q) of ``original``."""
    y = rgb_to_yiq(styled)[:, :1]
    iq = rgb_to_yiq(original)[:, 1:]
    return yiq_to_rgb(torch.cat([y, iq], dim=1)).clamp(0, 1)


def stylise(
    model: LoadedModel,
    image: Annotated[
        str,
        Param("picture to stylise: a file or a built-in name", input="image", positional=True),
    ],
    size: Annotated[
        int | None,
        Param("long side of the result [default: the picture's]", min=MIN_SIDE, max=MAX_SIDE),
    ] = None,
    preserve_colour: Annotated[bool, Param("keep the picture's colours")] = False,
    strength: Annotated[float, Param("0..1: blend with the original", min=0, max=1)] = 1.0,
) -> Result:
    """Stylise a picture at interactive speed with a trained style network (style-net).

    ``size`` is the long side of the result (default: the picture's own, at most 2048);
    ``preserve_colour`` keeps the picture's colours and takes only the styled luminance;
    ``strength`` blends the styled result with the picture (1: fully styled).
    """
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
    lineage = {
        "content": {"source": image, "fingerprint": fingerprint(original)},
        "style": data.get("style", {}),
    }
    provenance = model.provenance("stylise", lineage=lineage)
    stem = f"stylise-{Path(image).stem}"
    return Result([Artwork(name=stem, image=to_pil(styled), provenance=provenance)], stem=stem)
