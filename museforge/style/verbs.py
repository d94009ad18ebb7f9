"""The verb of style networks: stylise a picture in one pass of the trained network."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import torch

from museforge.core.artifact import LoadedModel
from museforge.core.artwork import Artwork, Result
from museforge.core.verbs import Param
from museforge.errors import InputError
from museforge.style.colour import match_palette
from museforge.style.images import (
    fingerprint,
    load_rgb,
    resize_long_side,
    rgb_to_yiq,
    to_pil,
    yiq_to_rgb,
)
from museforge.style.moving import is_animation
from museforge.style.transfer import PALETTES, blended_palette, check_weights, parse_weights

MIN_SIDE, MAX_SIDE = 16, 2048
MAX_ANIMATION_SIDE = 512  # frames are stylised at most this large unless a size is given


def _content_at(image: str, size: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The picture as read, and resized to ``size`` on its long side (default: its own,
    at most MAX_SIDE); a one-line error when it would be too narrow."""
    original = load_rgb(image)
    long_side = max(original.shape[-2:])
    target = size if size is not None else min(long_side, MAX_SIDE)
    content = original if target == long_side else resize_long_side(original, target)
    if min(content.shape[-2:]) < MIN_SIDE:
        raise InputError(
            f"'{image}' is too narrow: its short side would be under {MIN_SIDE} pixels"
        )
    return original, content


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
    original, content = _content_at(image, size)
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


def stylise_any(
    model: LoadedModel,
    image: Annotated[
        str,
        Param("picture to stylise: a file or a built-in name", input="image", positional=True),
    ],
    style: Annotated[
        list[str], Param("style pictures: files or built-in names (several mix)", input="images")
    ],
    weights: Annotated[str | None, Param("blend of the styles, e.g. 0.7,0.3")] = None,
    size: Annotated[
        int | None,
        Param("long side of the result [default: the picture's]", min=MIN_SIDE, max=MAX_SIDE),
    ] = None,
    style_scale: Annotated[
        float, Param("style picture's size relative to the result", min=0.05, max=8)
    ] = 1.0,
    preserve_colour: Annotated[bool, Param("keep the picture's colours")] = False,
    palette: Annotated[str, Param("finish on the styles' palette", choices=PALETTES)] = "histogram",
    strength: Annotated[float, Param("0..1: how much of the style", min=0, max=1)] = 1.0,
) -> Result:
    """Stylise a picture — or every frame of an animated GIF or a video, steadied over the
    whole clip (its flicker is reported) — in any style at interactive speed (style-any):
    no training per style; several style pictures mix by ``weights``; ``strength`` mixes the style's
    features with the picture's own; ``palette`` recolours a still picture to the styles'
    colours at the end (frames of an animation are left as drawn: recolouring each would
    add flicker)."""
    if not style:
        raise InputError("give at least one style picture (--style)")
    mix = check_weights(parse_weights(weights), len(style))
    pictures = [load_rgb(s) for s in style]
    net = model.model
    styles_lineage = [
        {"source": s, "fingerprint": fingerprint(p), "weight": w}
        for s, p, w in zip(style, pictures, mix, strict=True)
    ]
    stem = f"stylise-{Path(image).stem}-in-{'+'.join(Path(s).stem for s in style)}"
    if is_animation(image):
        return _stylise_animation(
            model,
            image,
            pictures,
            mix,
            size,
            style_scale,
            preserve_colour,
            strength,
            stem,
            styles_lineage,
        )
    original, content = _content_at(image, size)
    styled = any_style_picture(
        net, content, pictures, mix, style_scale, strength, preserve_colour, palette
    )
    lineage = {
        "content": {"source": image, "fingerprint": fingerprint(original)},
        "styles": styles_lineage,
    }
    provenance = model.provenance("stylise", lineage=lineage)
    return Result([Artwork(name=stem, image=to_pil(styled), provenance=provenance)], stem=stem)


@torch.inference_mode()
def any_style_picture(
    net,
    content: torch.Tensor,
    pictures: list[torch.Tensor],
    mix: list[float],
    style_scale: float = 1.0,
    strength: float = 1.0,
    preserve_colour: bool = False,
    palette: str = "histogram",
) -> torch.Tensor:
    """``content`` drawn by an any-style network in the mixed styles, finished on their
    palette (or with the content's colours kept)."""
    stats = _style_stats(net, pictures, mix, max(content.shape[-2:]), style_scale)
    styled = net(content, stats, strength=strength)
    if preserve_colour:
        return _keep_colour(styled, content)
    if palette != "none":
        matched = match_palette(styled, blended_palette(pictures, mix), palette)
        styled = strength * matched + (1 - strength) * styled
    return styled


def _style_stats(net, pictures: list[torch.Tensor], mix: list[float], side: int, scale: float):
    """The mixed statistics of the style pictures, each scaled to ``scale`` × ``side``."""
    from museforge.style.anystyle import mix_stats

    style_side = max(MIN_SIDE, round(side * scale))
    stats = [net.style_stats(resize_long_side(p, style_side)) for p in pictures]
    return mix_stats(stats, mix)


def _stylise_animation(
    model: LoadedModel,
    image: str,
    pictures: list[torch.Tensor],
    mix: list[float],
    size: int | None,
    style_scale: float,
    preserve_colour: bool,
    strength: float,
    stem: str,
    styles_lineage: list[dict[str, Any]],
) -> Result:
    """Every frame of an animation in the style, normalised over the whole clip; the
    message says how much the frames change against the original's (flicker)."""
    from museforge.style.moving import flicker, read_frames, stylise_frames

    frames, durations = read_frames(image, size or MAX_ANIMATION_SIDE)
    if min(frames[0].shape[-2:]) < MIN_SIDE:
        raise InputError(f"'{image}' is too narrow: its short side is under {MIN_SIDE} pixels")
    net = model.model
    with torch.inference_mode():
        stats = _style_stats(net, pictures, mix, max(frames[0].shape[-2:]), style_scale)
        styled = stylise_frames(net, frames, stats, strength=strength)
        if preserve_colour:
            styled = [_keep_colour(s, f) for s, f in zip(styled, frames, strict=True)]
    shimmer = flicker(frames, styled)
    lineage = {"content": {"source": image, "frames": len(frames)}, "styles": styles_lineage}
    provenance = model.provenance("stylise", lineage=lineage)
    provenance["flicker"] = round(shimmer, 3)
    pictures_out = [to_pil(s) for s in styled]
    arts = [
        Artwork(name=f"{stem}-{i:03d}", image=p, provenance={**provenance, "frame": i})
        for i, p in enumerate(pictures_out)
    ]
    message = (
        f"{len(frames)} frames; followed along the motion, they change {shimmer:.2f}× as much "
        "from one to the next as the original's"
    )
    frame_ms = sorted(durations)[len(durations) // 2]  # the clip's pace (GIF: one for all)
    return Result(arts, frames=pictures_out, frame_ms=frame_ms, stem=stem, message=message)
