"""Style transfer and textures as artworks: inputs by name or path, provenance, lineage.

These are what the CLI (and later the studio) call; the maths lives in transfer.py and
texture.py. The provenance records every setting, the seed and the fingerprints of the
input pictures, so an artwork can be re-made and its parents found again.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from museforge.core.artifact import library_versions
from museforge.core.artwork import Artwork
from museforge.errors import InputError
from museforge.style.images import fingerprint, load_mask, load_rgb, resize_long_side, to_pil
from museforge.style.learned import style_feature_net
from museforge.style.optimise import MAX_SIZE, OptimiseSettings, StepHook
from museforge.style.texture import synthesise
from museforge.style.transfer import stylise

# Inputs are read at most this large (long side); larger pictures are scaled down first.
MAX_INPUT_SIDE = MAX_SIZE


def _stem(source: str) -> str:
    return Path(source).stem or "image"


def _parent(source: str, image: Any, **extra: Any) -> dict[str, Any]:
    return {"source": source, "fingerprint": fingerprint(image), **extra}


def style_artwork(
    content: str,
    styles: list[str],
    style_weights: list[float] | None = None,
    *,
    size: int = 512,
    settings: OptimiseSettings | None = None,
    style_scale: float = 1.0,
    preserve_colour: bool = False,
    palette: str = "histogram",
    mask: str | None = None,
    init: str = "content",
    seed: int = 0,
    features: str = "learned",
    on_step: StepHook | None = None,
) -> Artwork:
    """The content picture redrawn in the styles, as an Artwork with full provenance."""
    settings = settings or OptimiseSettings()
    if not styles:
        raise InputError("give at least one style picture")
    weights = list(style_weights) if style_weights else [1.0] * len(styles)
    if len(weights) != len(styles):
        raise InputError(f"weights: {len(weights)} values for {len(styles)} style pictures")
    content_img = load_rgb(content, max_side=MAX_INPUT_SIDE)
    style_imgs = [load_rgb(s, max_side=MAX_INPUT_SIDE) for s in styles]
    net = style_feature_net(features)
    mask_img = None
    if mask is not None:
        shaped = resize_long_side(content_img, size)
        mask_img = load_mask(mask, shaped.shape[-2], shaped.shape[-1])
    start = time.monotonic()
    result = stylise(
        net,
        content_img,
        style_imgs,
        weights,
        size=size,
        settings=settings,
        style_scale=style_scale,
        preserve_colour=preserve_colour,
        palette=palette,
        mask=mask_img,
        init=init,
        seed=seed,
        on_step=on_step,
    )
    lineage: dict[str, Any] = {
        "content": _parent(content, content_img),
        "styles": [
            _parent(s, img, weight=w) for s, img, w in zip(styles, style_imgs, weights, strict=True)
        ],
    }
    if mask is not None:
        lineage["mask"] = _parent(mask, mask_img)
    provenance = {
        "kind": "style-transfer",
        "verb": "style",
        "method": "optimisation",
        "features": features,
        "features_sha256": getattr(net, "sha256", None),
        "seed": seed,
        "settings": {
            "size": size,
            "style_scale": style_scale,
            "preserve_colour": preserve_colour,
            "palette": palette,
            "init": init,
            **dataclasses.asdict(settings),
        },
        "lineage": lineage,
        "seconds": round(time.monotonic() - start, 2),
        "versions": library_versions(),
    }
    name = f"{_stem(content)}-in-{'+'.join(_stem(s) for s in styles)}-s{seed}"
    return Artwork(name=name, image=to_pil(result), provenance=provenance)


def texture_artwork(
    style: str,
    size: int = 512,
    *,
    tileable: bool = False,
    seed: int = 0,
    style_scale: float = 1.0,
    settings: OptimiseSettings | None = None,
    features: str = "random",
    on_step: StepHook | None = None,
) -> Artwork:
    """A new texture in the manner of ``style``, as an Artwork with full provenance."""
    settings = settings or OptimiseSettings()
    style_img = load_rgb(style, max_side=MAX_INPUT_SIDE)
    start = time.monotonic()
    result = synthesise(
        style_feature_net(features),
        style_img,
        size,
        tileable=tileable,
        seed=seed,
        style_scale=style_scale,
        settings=settings,
        on_step=on_step,
    )
    provenance = {
        "kind": "texture",
        "verb": "texture",
        "method": "optimisation",
        "features": features,
        "seed": seed,
        "settings": {
            "size": result.shape[-1],
            "tileable": tileable,
            "style_scale": style_scale,
            **dataclasses.asdict(settings),
        },
        "lineage": {"style": _parent(style, style_img)},
        "seconds": round(time.monotonic() - start, 2),
        "versions": library_versions(),
    }
    tile = "-tile" if tileable else ""
    name = f"texture-{_stem(style)}{tile}-s{seed}"
    return Artwork(name=name, image=to_pil(result), provenance=provenance)
