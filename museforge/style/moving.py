"""Moving pictures in a style: every frame of an animation through the any-style network,
without flicker.

AdaIN normalises each picture's features by that picture's own channel statistics, so two
neighbouring frames that differ by a moving hand are normalised differently everywhere and
the whole frame shimmers. Here the content statistics are those of the whole clip (every
frame's features pooled), so a frame changes only where its picture does. ``flicker``
measures it: how much the stylised frames change from one to the next, as a multiple of how
much the original frames do.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageSequence

from museforge.core.media import UnusableFile, open_image
from museforge.errors import InputError, one_line
from museforge.style.anystyle import AnyStyleNet, Stats, channel_stats

MAX_FRAMES = 300
DEFAULT_FRAME_MS = 80


def is_animation(path: str | Path) -> bool:
    """Whether ``path`` is a picture file with more than one frame (GIF, APNG, WebP)."""
    path = Path(path)
    if not path.is_file():
        return False
    try:
        with open_image(path) as img:
            return getattr(img, "n_frames", 1) > 1
    except UnusableFile:
        return False


def read_frames(path: str | Path, max_side: int) -> tuple[list[torch.Tensor], list[int]]:
    """The frames of an animation as 1×3×H×W in [0, 1] (long side at most ``max_side``) and
    their durations in ms; a one-line InputError naming the file for anything unusable."""
    frames, durations = [], []
    try:
        with open_image(path) as img:
            count = getattr(img, "n_frames", 1)
            if count > MAX_FRAMES:
                raise InputError(f"'{path}' has {count} frames; at most {MAX_FRAMES} are stylised")
            for frame in ImageSequence.Iterator(img):
                durations.append(
                    int(frame.info.get("duration", DEFAULT_FRAME_MS)) or DEFAULT_FRAME_MS
                )
                rgb = frame.convert("RGBA")
                ground = Image.new("RGBA", rgb.size, (255, 255, 255, 255))
                rgb = Image.alpha_composite(ground, rgb).convert("RGB")
                rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
                arr = np.asarray(rgb, dtype=np.float32) / 255
                frames.append(torch.from_numpy(arr).permute(2, 0, 1)[None].contiguous())
    except (UnusableFile, OSError, ValueError) as err:
        raise InputError(f"'{path}' cannot be read as an animation ({one_line(err)})") from None
    return frames, durations


def stylise_frames(
    net: AnyStyleNet,
    frames: list[torch.Tensor],
    style: Stats,
    strength: float = 1.0,
    steady: bool = True,
) -> list[torch.Tensor]:
    """Every frame (all of one size) in the style; ``steady`` normalises each frame's
    features by the statistics of the whole clip's, otherwise by its own (plain AdaIN).
    Each frame is encoded once."""
    h, w = frames[0].shape[-2:]
    features = [net.encode(net.pad(frame)) for frame in frames]
    clip = channel_stats(torch.cat(features, dim=-1)) if steady else None
    return [net.draw(f, style, strength, clip)[..., :h, :w] for f in features]


def flicker(original: list[torch.Tensor], styled: list[torch.Tensor]) -> float:
    """Mean change between neighbouring stylised frames ÷ that of the original frames
    (1: the style adds no change of its own; nan for fewer than two or still frames)."""
    if len(original) < 2:
        return float("nan")
    moved = sum(float((a - b).abs().mean()) for a, b in pairwise(original))
    drawn = sum(float((a - b).abs().mean()) for a, b in pairwise(styled))
    return drawn / moved if moved > 0 else float("nan")
