"""Music you can see: a piece's beats, loudness and harmony drive a walk through a picture
model's latent space, written as a video with the music in it.

The music is read frame by frame (librosa): the onset strength (beats), the loudness (RMS)
and the chroma (how much of each of the 12 pitch classes sounds). Each pitch class has a
latent direction of its own, drawn from the seed, so the harmony chooses where the walk
heads; the loudness sets how far from the centre it goes (quiet music stays near the
typical pictures, loud music ventures out); each onset kicks it along a fresh seeded
direction, a kick that dies away over a few frames. The path is smoothed, so pictures
change with the music but never flicker. With a text-to-image model the words too can
change with time: a list of prompts is spread over the piece, each blending into the next.

Frames are the model's pictures enlarged onto a 16:9 canvas over a dimmed, enlarged copy
of themselves, and the video is H.264 with AAC audio in an MP4 (PyAV, which brings its own
FFmpeg), or an animated GIF without sound.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageEnhance, ImageFilter

from museforge.core.atomic import atomic_write_with
from museforge.core.seeding import stream
from museforge.errors import InputError

FPS = 24
SIZE = (1280, 720)
CHROMA = 12
KICK_DECAY = 0.8  # share of a beat's kick left one frame later
SMOOTHING = 0.35  # weight of the new position in the path's running average
MAX_SECONDS = 600.0
BATCH = 64  # pictures drawn at a time


@dataclass(frozen=True)
class MusicFeatures:
    """Per video frame: onset strength and loudness in [0, 1], chroma (frames, 12) summing
    to 1; and the frame rate."""

    onset: np.ndarray
    loudness: np.ndarray
    chroma: np.ndarray
    fps: int

    @property
    def frames(self) -> int:
        return len(self.onset)


def _at_frames(values: np.ndarray, hop_s: float, frames: int, fps: int) -> np.ndarray:
    """Features sampled every ``hop_s`` seconds, read at each video frame's time."""
    times = np.arange(values.shape[-1]) * hop_s
    want = np.arange(frames) / fps
    if values.ndim == 1:
        return np.interp(want, times, values)
    return np.stack([np.interp(want, times, row) for row in values])


def music_features(wave: np.ndarray, rate: int, fps: int = FPS) -> MusicFeatures:
    """Onsets, loudness and chroma of mono ``wave`` at ``rate``, one value per frame."""
    import librosa  # imported here: numba compiles on first import

    seconds = len(wave) / rate
    if seconds > MAX_SECONDS:
        raise InputError(
            f"the music is {seconds:.0f} s long; visualise takes at most {MAX_SECONDS:g} s"
        )
    frames = max(1, int(seconds * fps))
    hop = 512
    onset = librosa.onset.onset_strength(y=wave, sr=rate, hop_length=hop)
    rms = librosa.feature.rms(y=wave, hop_length=hop)[0]
    chroma = librosa.feature.chroma_stft(y=wave, sr=rate, hop_length=hop)
    hop_s = hop / rate
    onset = _at_frames(onset, hop_s, frames, fps)
    loud = _at_frames(rms, hop_s, frames, fps)
    chroma = _at_frames(chroma, hop_s, frames, fps).T
    chroma = chroma / np.maximum(chroma.sum(1, keepdims=True), 1e-9)
    return MusicFeatures(
        onset / max(float(onset.max()), 1e-9), loud / max(float(loud.max()), 1e-9), chroma, fps
    )


def latent_path(features: MusicFeatures, z_dim: int, seed: int) -> torch.Tensor:
    """One latent per frame (frames, z_dim): chroma sets the heading, loudness the
    distance from the centre, onsets kick; smoothed; the same for the same seed."""
    gen = stream(seed, "visualise")
    anchors = torch.randn(CHROMA, z_dim, generator=gen)
    anchors = anchors / anchors.norm(dim=1, keepdim=True)
    typical = math.sqrt(z_dim)
    chroma = torch.from_numpy(features.chroma).float()
    heading = chroma @ anchors
    heading = heading / heading.norm(dim=1, keepdim=True).clamp_min(1e-6)
    radius = 0.4 + 0.8 * torch.from_numpy(features.loudness).float()
    kicks = torch.randn(features.frames, z_dim, generator=gen)
    kicks = kicks / kicks.norm(dim=1, keepdim=True)
    onset = torch.from_numpy(features.onset).float()
    path = torch.empty(features.frames, z_dim)
    kick = torch.zeros(z_dim)
    here = heading[0] * radius[0] * typical
    for t in range(features.frames):
        kick = KICK_DECAY * kick + onset[t] ** 2 * kicks[t] * 0.6 * typical
        target = heading[t] * radius[t] * typical + kick
        here = (1 - SMOOTHING) * here + SMOOTHING * target
        path[t] = here
    return path


def spread_prompts(prompts: list[str], frames: int) -> list[tuple[int, int, float]]:
    """For each frame, (prompt a, prompt b, share of b): the prompts evenly over the piece,
    each blending into the next over its second half."""
    if not prompts:
        raise InputError("give at least one prompt")
    if len(prompts) == 1:
        return [(0, 0, 0.0)] * frames
    out = []
    span = frames / len(prompts)
    for t in range(frames):
        i = min(int(t / span), len(prompts) - 1)
        into = (t - i * span) / span
        blend = max(0.0, (into - 0.5) * 2) if i + 1 < len(prompts) else 0.0
        out.append((i, min(i + 1, len(prompts) - 1), blend))
    return out


def frame_picture(picture: Image.Image, size: tuple[int, int] = SIZE) -> Image.Image:
    """The model's picture enlarged to the canvas height, centred over a dimmed, blurred,
    enlarged copy of itself that fills the canvas."""
    width, height = size
    rgb = picture.convert("RGB")
    cover = max(width / rgb.width, height / rgb.height)
    back = rgb.resize((math.ceil(rgb.width * cover), math.ceil(rgb.height * cover)), Image.BILINEAR)
    left, top = (back.width - width) // 2, (back.height - height) // 2
    back = back.crop((left, top, left + width, top + height)).filter(ImageFilter.GaussianBlur(12))
    canvas = ImageEnhance.Brightness(back).enhance(0.45)
    scale = height / rgb.height
    front = rgb.resize((round(rgb.width * scale), height), Image.BICUBIC)
    canvas.paste(front, ((width - front.width) // 2, 0))
    return canvas


def write_video(
    path: Path,
    frames: Iterator[Image.Image],
    fps: int,
    audio: np.ndarray | None = None,
    rate: int | None = None,
    on_frame: Callable[[int], None] | None = None,
) -> Path:
    """Frames (and mono ``audio`` at ``rate``) as an MP4 (H.264 + AAC) or, for a ``.gif``
    path, an animated GIF without sound; written atomically."""
    path = Path(path)
    if path.suffix.lower() == ".gif":
        pictures = [f.convert("RGB") for f in frames]
        first, rest = pictures[0], pictures[1:]
        return atomic_write_with(
            path,
            lambda tmp: first.save(
                tmp, format="GIF", save_all=True, append_images=rest, duration=1000 // fps, loop=0
            ),
        )
    if path.suffix.lower() != ".mp4":
        raise InputError(f"visualise writes .mp4 or .gif, not '{path.name}'")

    def write(tmp: Path) -> None:
        import av

        with av.open(str(tmp), mode="w", format="mp4") as box:
            video = box.add_stream("libx264", rate=fps)
            video.pix_fmt = "yuv420p"
            video.options = {"preset": "veryfast", "crf": "23"}
            sound = None
            if audio is not None and rate:
                sound = box.add_stream("aac", rate=int(rate))
                sound.layout = "mono"
            for i, picture in enumerate(frames):
                if i == 0:
                    video.width, video.height = picture.size
                frame = av.VideoFrame.from_image(picture.convert("RGB"))
                for packet in video.encode(frame):
                    box.mux(packet)
                if on_frame:
                    on_frame(i + 1)
            for packet in video.encode():
                box.mux(packet)
            if sound is not None:
                _encode_audio(box, sound, audio, int(rate))

    return atomic_write_with(path, write)


def _encode_audio(box, stream, audio: np.ndarray, rate: int) -> None:
    import av

    samples = np.clip(audio, -1, 1).astype(np.float32)
    chunk = 1024
    for start in range(0, len(samples), chunk):
        part = samples[start : start + chunk][None, :]
        frame = av.AudioFrame.from_ndarray(part, format="fltp", layout="mono")
        frame.sample_rate = rate
        frame.pts = start
        for packet in stream.encode(frame):
            box.mux(packet)
    for packet in stream.encode():
        box.mux(packet)


def check_model(loaded, prompts: list[str] | None, label: int | None) -> None:
    """A one-line error, before any music is read, when ``loaded`` cannot draw what is
    asked: a model that draws no pictures, a text-to-image model without prompts, a
    label outside a conditional model's classes."""
    model = loaded.model
    if loaded.kind == "text-to-image":
        if not prompts:
            raise InputError("a text-to-image model visualises prompts: give --prompts")
        return
    if not hasattr(model, "generate") or not hasattr(model, "z_dim"):
        raise InputError(f"model '{loaded.path}' ({loaded.kind}) does not draw pictures")
    classes = getattr(model, "num_classes", 0)
    if label is not None and not 0 <= label < max(classes, 1):
        raise InputError(
            f"label must be 0..{classes - 1} for this model"
            if classes
            else f"model '{loaded.path}' is not class-conditional; give no label"
        )


def _pictures(loaded, path: torch.Tensor, prompts: list[str] | None, label: int | None):
    """The model's pictures along ``path`` (tensors in [-1, 1]), a batch at a time: a
    text-to-image model draws the prompts spread over the frames, a picture model its
    class ``label`` (conditional models) or whatever it draws."""
    model = loaded.model.eval()
    if loaded.kind == "text-to-image":
        from museforge.crossmodal.verbs_imagine import draw, imagine_sentence

        said = [imagine_sentence(loaded, p, None, None) for p in prompts]
        words = torch.cat([w for w, _, _ in said])
        plan = spread_prompts(prompts, len(path))
        for start in range(0, len(path), BATCH):
            part = plan[start : start + BATCH]
            mix = torch.stack([(1 - s) * words[a] + s * words[b] for a, b, s in part])
            yield draw(loaded, path[start : start + len(part)], mix, **said[0][1])
        return
    classes = getattr(model, "num_classes", 0)
    for start in range(0, len(path), BATCH):
        z = path[start : start + BATCH]
        labels = torch.full((len(z),), label or 0, dtype=torch.long) if classes else None
        with torch.inference_mode():
            yield model.generate(z, labels)


def visualise(
    loaded,
    wave: np.ndarray,
    rate: int,
    out: Path,
    seed: int = 0,
    fps: int = FPS,
    size: tuple[int, int] = SIZE,
    prompts: list[str] | None = None,
    label: int | None = None,
    on_frame: Callable[[int, int], None] | None = None,
) -> dict:
    """Write the video of ``wave`` (mono, at ``rate``) through ``loaded``'s pictures to
    ``out``; what was made (frames, seconds, the settings) as a dict."""
    from museforge.core.grid import on_white, to_pil

    check_model(loaded, prompts, label)
    features = music_features(wave, rate, fps)
    path = latent_path(features, loaded.model.z_dim, seed)

    def frames() -> Iterator[Image.Image]:
        for batch in _pictures(loaded, path, prompts, label):
            for picture in on_white(batch):  # transparent pictures on white
                yield frame_picture(to_pil(picture), size)

    done = (lambda i: on_frame(i, features.frames)) if on_frame else None
    write_video(Path(out), frames(), fps, wave, rate, on_frame=done)
    return {
        "frames": features.frames,
        "fps": fps,
        "seconds": round(len(wave) / rate, 3),
        "size": list(size),
        "seed": seed,
        "model": {"sha256": loaded.sha256, "kind": loaded.kind, "path": str(loaded.path)},
        "prompts": prompts or None,
        "label": label,
    }
