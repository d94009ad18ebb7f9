"""Moving pictures in a style: every frame of an animation or a video through the
any-style network, without flicker.

AdaIN normalises each picture's features by that picture's own channel statistics, so two
neighbouring frames that differ by a moving hand are normalised differently everywhere and
the whole frame shimmers. Here the content statistics are those of the whole clip (every
frame's features pooled). The decoder still draws each frame's marks anew, so a stylised
frame also carries the one before it along the motion (optical flow between the original
frames, scikit-image): where the previous original, moved along the flow, matches this one,
most of the previous stylised frame is kept; where it does not (something appeared), the
new drawing shows. ``flicker`` measures the result: how much the stylised frames change from
one to the next, as a multiple of how much the original frames do.

Videos (MP4, WebM, MOV, MKV, AVI) are read with PyAV, which brings its own FFmpeg.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageSequence

from museforge.core.media import MAX_PIXELS, UnusableFile, open_image
from museforge.errors import InputError, one_line
from museforge.style.anystyle import AnyStyleNet, Stats, channel_stats

MAX_FRAMES = 300
DEFAULT_FRAME_MS = 80
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi")
MAX_VIDEO_BYTES = 500_000_000
FLOW_SIDE = 256  # optical flow is measured on frames at most this large, then scaled up
CARRY = 0.8  # share of the previous stylised frame kept where the motion explains the change
MATCH = 0.08  # colour difference (0..1) of a moved pixel at which it counts a third as a match
FLICKER_SIDE = 192  # flicker's own flow is measured on frames at most this large
STILL = 0.005  # a mean change of half a percent of the range: none to see


def is_video(path: str | Path) -> bool:
    """Whether ``path`` is a file named as a video (MP4, WebM, MOV, MKV, AVI)."""
    path = Path(path)
    return path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES


def is_animation(path: str | Path) -> bool:
    """Whether ``path`` is a video or a picture file with more than one frame (GIF, APNG,
    WebP)."""
    path = Path(path)
    if not path.is_file():
        return False
    if is_video(path):
        return True
    try:
        with open_image(path) as img:
            return getattr(img, "n_frames", 1) > 1
    except UnusableFile:
        return False


def read_frames(path: str | Path, max_side: int) -> tuple[list[torch.Tensor], list[int]]:
    """The frames of an animation or a video as 1×3×H×W in [0, 1] (long side at most
    ``max_side``) and their durations in ms; a one-line InputError naming the file for
    anything unusable."""
    if is_video(path):
        return _read_video(Path(path), max_side)
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
                frames.append(_tensor(rgb, max_side))
    except (UnusableFile, OSError, ValueError) as err:
        raise InputError(f"'{path}' cannot be read as an animation ({one_line(err)})") from None
    return frames, durations


def _tensor(picture: Image.Image, max_side: int) -> torch.Tensor:
    """An RGB picture as 1×3×H×W in [0, 1], its long side at most ``max_side``."""
    picture.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    arr = np.asarray(picture, dtype=np.float32) / 255
    return torch.from_numpy(arr).permute(2, 0, 1)[None].contiguous()


def _read_video(path: Path, max_side: int) -> tuple[list[torch.Tensor], list[int]]:
    """A video's frames (checked: size of the file, of a frame, their count) with PyAV."""
    try:
        import av
    except ImportError:  # pragma: no cover - a dependency; said plainly if it is missing
        raise InputError(f"'{path}': reading videos needs PyAV (pip install av)") from None
    if path.stat().st_size > MAX_VIDEO_BYTES:
        raise InputError(f"'{path}' is over {MAX_VIDEO_BYTES // 1_000_000} MB")
    frames = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputError(f"'{path}' has no video stream")
            stream = container.streams.video[0]
            if stream.width * stream.height > MAX_PIXELS:
                raise InputError(f"'{path}' has {stream.width}×{stream.height} frames: too large")
            rate = float(stream.average_rate or stream.guessed_rate or 0)
            frame_ms = round(1000 / rate) if rate > 0 else DEFAULT_FRAME_MS
            for frame in container.decode(stream):
                if len(frames) == MAX_FRAMES:
                    raise InputError(
                        f"'{path}' has over {MAX_FRAMES} frames; at most {MAX_FRAMES} are stylised"
                    )
                frames.append(_tensor(frame.to_image(), max_side))
    except av.FFmpegError as err:
        raise InputError(f"'{path}' cannot be read as a video ({one_line(err)})") from None
    if not frames:
        raise InputError(f"'{path}' has no frames")
    return frames, [frame_ms] * len(frames)


def stylise_frames(
    net: AnyStyleNet,
    frames: list[torch.Tensor],
    style: Stats,
    strength: float = 1.0,
    steady: bool = True,
) -> list[torch.Tensor]:
    """Every frame (all of one size) in the style; ``steady`` normalises each frame's
    features by the statistics of the whole clip's and carries each stylised frame into the
    next along the motion (:func:`carry_along`), otherwise each frame is drawn on its own
    (plain AdaIN). Each frame is encoded once."""
    h, w = frames[0].shape[-2:]
    features = [net.encode(net.pad(frame)) for frame in frames]
    clip = channel_stats(torch.cat(features, dim=-1)) if steady else None
    drawn = [net.draw(f, style, strength, clip)[..., :h, :w] for f in features]
    return carry_along(frames, drawn) if steady else drawn


def motion(
    before: torch.Tensor, after: torch.Tensor, method: str = "ilk", side: int = FLOW_SIDE
) -> torch.Tensor:
    """Where each pixel of frame ``after`` was in frame ``before`` (both 1×3×H×W), as a
    sampling grid for ``grid_sample`` (1×H×W×2, coordinates in [-1, 1]); the optical flow
    (scikit-image's ``ilk``, or ``tvl1``) is measured at most ``side`` pixels large."""
    from skimage.registration import optical_flow_ilk, optical_flow_tvl1

    h, w = after.shape[-2:]
    scale = min(1.0, side / max(h, w))
    size = (max(1, round(h * scale)), max(1, round(w * scale)))

    def grey(frame: torch.Tensor) -> np.ndarray:
        small = F.interpolate(frame, size=size, mode="bilinear", antialias=True)
        return small.mean(dim=1)[0].numpy().astype(np.float64)

    if method == "ilk":
        rows, cols = optical_flow_ilk(grey(after), grey(before), radius=5)
    else:
        rows, cols = optical_flow_tvl1(grey(after), grey(before))
    flow = torch.from_numpy(np.stack((cols, rows))).float()[None]
    flow = F.interpolate(flow, size=(h, w), mode="bilinear") / scale  # pixels of the frame
    y, x = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    gx = (x + flow[0, 0]) / max(w - 1, 1) * 2 - 1
    gy = (y + flow[0, 1]) / max(h - 1, 1) * 2 - 1
    return torch.stack((gx, gy), dim=-1)[None]


def _moved(grid: torch.Tensor, *pictures: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``pictures`` (each 1×C×H×W) moved along ``grid`` (see :func:`motion`), and where the
    grid stays inside the frame (1×H×W)."""
    moved = F.grid_sample(
        torch.cat(pictures), grid.expand(len(pictures), -1, -1, -1), align_corners=True
    )
    return (*moved.split(1), (grid.abs() <= 1).all(dim=-1))


def carry_along(frames: list[torch.Tensor], drawn: list[torch.Tensor]) -> list[torch.Tensor]:
    """The stylised ``drawn`` frames made steady: each keeps ``CARRY`` of the previous
    result, moved along the original frames' motion, where the moved previous original
    matches this one (a pixel that appeared, or that the flow got wrong, is drawn anew)."""
    out = [drawn[0]]
    for before, after, styled in zip(frames, frames[1:], drawn[1:], strict=False):
        moved, carried, inside = _moved(motion(before, after), before, out[-1])
        error = (after - moved).abs().mean(dim=1, keepdim=True)
        keep = CARRY * torch.exp(-((error / MATCH) ** 2)) * inside[:, None]
        out.append(keep * carried + (1 - keep) * styled)
    return out


def flicker(original: list[torch.Tensor], styled: list[torch.Tensor]) -> float:
    """How much each stylised frame differs from the one before it moved along the motion,
    as a multiple of the same for the original frames (1: the style adds no change of its
    own; nan for fewer than two frames). The motion is TV-L1 optical flow of the original
    frames — not the flow :func:`carry_along` follows — and only pixels it explains count
    (the moved original matches); differences are mean absolute values on the 0..1 scale,
    each with ``STILL`` added, a change too small to see."""
    if len(original) < 2:
        return float("nan")
    drawn = moved = 0.0
    for t in range(1, len(original)):
        grid = motion(original[t - 1], original[t], "tvl1", side=FLICKER_SIDE)
        before, styled_before, inside = _moved(grid, original[t - 1], styled[t - 1])
        change = (original[t] - before).abs().mean(dim=1)
        explained = inside & (change < MATCH)
        if not bool(explained.any()):
            continue
        moved += float(change[explained].mean())
        drawn += float((styled[t] - styled_before).abs().mean(dim=1)[explained].mean())
    pairs = len(original) - 1
    return (drawn / pairs + STILL) / (moved / pairs + STILL)
