"""Music you can see: a piece's beats, loudness and harmony drive a walk through a picture
model's latent space, written as a video with the music in it.

The music is read frame by frame (librosa): the onset strength (beats), the loudness (RMS)
and the chroma (how much of each of the 12 pitch classes sounds). Each pitch class has a
latent direction of its own, drawn from the seed, so the harmony chooses where the walk
heads; the loudness sets how far from the centre it goes (quiet music stays near the
typical pictures, loud music ventures out); each onset kicks it along a fresh seeded
direction, a kick that dies away over a few frames. The path is smoothed, so pictures
change with the music but never flicker. With a text-to-image model the words too can
change with time: a list of prompts spread over the piece, or a song's lyrics from the
moment each line is sung (:mod:`museforge.crossmodal.lyrics`), each blending into the next.

Frames are the model's pictures enlarged onto a 16:9 canvas over a dimmed, enlarged copy
of themselves, and the video is H.264 with AAC audio in an MP4 (PyAV, which brings its own
FFmpeg), or an animated GIF without sound. :class:`VideoResult` keeps it in the gallery as
one artwork: the video, its provenance beside it and its middle frame as the poster.
"""

from __future__ import annotations

import bisect
import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageEnhance, ImageFilter

from museforge.core.atomic import atomic_write_with
from museforge.core.seeding import stream
from museforge.crossmodal.lyrics import Cue, even_cues, timed
from museforge.errors import InputError

FPS = 24
SIZE = (1280, 720)
CHROMA = 12
KICK_DECAY = 0.8  # share of a beat's kick left one frame later
SMOOTHING = 0.35  # weight of the new position in the path's running average
MAX_SECONDS = 600.0
BATCH = 64  # pictures drawn at a time
RATE = 22050  # the music is heard (and put in the video) at this rate
TEXT_TO_IMAGE = "text-to-image"


def parse_size(text: str) -> tuple[int, int]:
    """A video size "WIDTHxHEIGHT" (even, 16x16 to 3840x2160); a one-line error otherwise."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise InputError(f"size must be WIDTHxHEIGHT, e.g. 1280x720 (got '{text}')") from None
    if not (16 <= width <= 3840 and 16 <= height <= 2160) or width % 2 or height % 2:
        raise InputError(f"size must be even, 16x16 to 3840x2160 (got '{text}')")
    return width, height


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


def prompt_plan(cues: list[Cue], frames: int, fps: int) -> list[tuple[int, int, float]]:
    """For each frame, (cue a, cue b, share of b): the cue whose time has come (the first
    before any has), blending into the next over the second half of the gap between them."""
    if not cues:
        raise InputError("give at least one prompt")
    times = [c.time or 0.0 for c in cues]
    out = []
    for t in range(frames):
        now = t / fps
        i = max(0, bisect.bisect_right(times, now) - 1)
        if i + 1 >= len(cues):
            out.append((i, i, 0.0))
            continue
        gap = times[i + 1] - max(times[i], 0.0)
        into = (now - times[i]) / gap if gap > 0 else 1.0
        out.append((i, i + 1, min(1.0, max(0.0, (into - 0.5) * 2))))
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
    asked: a model that draws no pictures, a text-to-image model without words, a
    label outside a conditional model's classes."""
    model = loaded.model
    if loaded.kind == TEXT_TO_IMAGE:
        if not prompts:
            raise InputError("a text-to-image model visualises words: give --prompts or --lyrics")
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


def _pictures(loaded, path: torch.Tensor, cues: list[Cue] | None, label: int | None, fps: int):
    """The model's pictures along ``path`` (tensors in [-1, 1]), a batch at a time: a
    text-to-image model draws the words cued at each frame, a picture model its class
    ``label`` (conditional models) or whatever it draws."""
    model = loaded.model.eval()
    if loaded.kind == TEXT_TO_IMAGE:
        from museforge.crossmodal.verbs_imagine import draw, imagine_sentence

        said = [imagine_sentence(loaded, c.text, None, None) for c in cues]
        words = torch.stack([w.reshape(-1) for w, _, _ in said])  # (cues, sentence)
        plan = prompt_plan(cues, len(path), fps)
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
    lyrics: list[Cue] | None = None,
) -> dict:
    """Write the video of ``wave`` (mono, at ``rate``) through ``loaded``'s pictures to
    ``out``; what was made (frames, seconds, the settings, the words at their times, and
    the middle frame as ``poster``) as a dict. A text-to-image model draws ``lyrics`` from
    their times, or else ``prompts`` spread evenly over the piece."""
    from museforge.core.grid import on_white, to_pil

    seconds = len(wave) / rate
    cues = timed(lyrics, seconds) if lyrics else even_cues(prompts, seconds) if prompts else None
    check_model(loaded, [c.text for c in cues] if cues else None, label)
    features = music_features(wave, rate, fps)
    path = latent_path(features, loaded.model.z_dim, seed)
    poster: list[Image.Image] = []

    def frames() -> Iterator[Image.Image]:
        batches = _pictures(loaded, path, cues, label, fps)
        pictures = (p for batch in batches for p in on_white(batch))  # transparency on white
        for i, picture in enumerate(pictures):
            frame = frame_picture(to_pil(picture), size)
            if i == features.frames // 2:
                poster.append(frame)
            yield frame

    done = (lambda i: on_frame(i, features.frames)) if on_frame else None
    write_video(Path(out), frames(), fps, wave, rate, on_frame=done)
    return {
        "frames": features.frames,
        "fps": fps,
        "seconds": round(seconds, 3),
        "size": list(size),
        "seed": seed,
        "model": {"sha256": loaded.sha256, "kind": loaded.kind, "path": str(loaded.path)},
        "prompts": [[round(c.time or 0.0, 3), c.text] for c in cues] if cues else None,
        "label": label,
        "poster": poster[0] if poster else None,
    }


# --- into the gallery ---------------------------------------------------------------------
@dataclass
class VideoArtwork:
    """The one artwork of a visualisation: its name and provenance."""

    name: str
    provenance: dict


class VideoResult:
    """A visualisation as the gallery keeps it: ``NAME.mp4`` (or ``.gif``) with its
    provenance in ``NAME.mp4.json`` and, for an MP4, the middle frame as ``NAME.png``
    (recording "modality": "video": the video's poster, no artwork itself). The video is
    made when the result is written."""

    frames = None  # no stills for the gallery to animate
    grid = None
    data = None

    def __init__(self, name: str, render: Callable[[Path], dict], provenance: dict, suffix: str):
        self.artworks = [VideoArtwork(name, provenance)]
        self.stem, self.suffix, self.render = name, suffix, render
        self.message: str | None = None
        self.made: dict | None = None

    def write_to(self, folder: str | Path, upscale: int = 1) -> list[Path]:
        from museforge.gallery.provenance import save_png, save_sidecar

        art = self.artworks[0]
        video = Path(folder) / f"{art.name}{self.suffix}"
        video.parent.mkdir(parents=True, exist_ok=True)
        made = self.made = self.render(video)
        record = {**art.provenance, "frames": made["frames"], "seconds": made["seconds"]}
        record["args"] = {**record["args"], "prompts": made["prompts"]}
        paths = []
        if made["poster"] is not None and self.suffix == ".mp4":
            paths.append(save_png(video.with_suffix(".png"), made["poster"], record))
        save_sidecar(video, record)  # last: until it is there, the video is no artwork
        self.message = (
            f"{made['frames']} frames, {made['seconds']:.1f} s of music, "
            f"{made['size'][0]}x{made['size'][1]}"
        )
        return [*paths, video]


def video_suffix() -> str:
    """ ".mp4" where PyAV (H.264 + AAC) is installed, else ".gif" (pictures only)."""
    try:
        import av  # noqa: F401
    except ImportError:
        return ".gif"
    return ".mp4"


def visualisation(
    loaded,
    music: Path,
    seed: int = 0,
    fps: int = FPS,
    size: tuple[int, int] = SIZE,
    prompts: list[str] | None = None,
    lyrics: Path | None = None,
    label: int | None = None,
    on_frame: Callable[[int, int], None] | None = None,
    suffix: str | None = None,
    name: str | None = None,
) -> VideoResult:
    """The visualisation of the music (or recording) file ``music`` through ``loaded``,
    ready to be written: checked now (model, words, lyrics), read and drawn when written.
    A text-to-image model given neither prompts nor lyrics takes a MIDI file's own
    lyrics, where it has them."""
    from museforge.core.instruments import read_as_audio
    from museforge.core.media import MIDI_SUFFIXES
    from museforge.crossmodal.lyrics import read_lyrics
    from museforge.gallery.provenance import parent_record

    music = Path(music)
    if not music.is_file():
        raise InputError(f"music '{music}' is not a file")
    cues = read_lyrics(lyrics) if lyrics is not None else None
    if (
        cues is None
        and not prompts
        and loaded.kind == TEXT_TO_IMAGE
        and music.suffix.lower() in MIDI_SUFFIXES
    ):
        with contextlib.suppress(InputError):  # no lyrics in it: check_model says what to give
            cues = read_lyrics(music)
    check_model(loaded, [c.text for c in cues] if cues else prompts, label)
    suffix = suffix or video_suffix()
    args = {"seed": seed, "fps": fps, "size": list(size), "label": label}
    provenance = loaded.provenance(
        "visualise", modality="video", args=args, source=parent_record(music)
    )
    if lyrics is not None:
        provenance["lyrics"] = parent_record(lyrics)

    def render(out: Path) -> dict:
        wave = read_as_audio(music, RATE)
        return visualise(
            loaded, wave, RATE, out, seed, fps, size, prompts, label, on_frame, lyrics=cues
        )

    return VideoResult(name or f"visualise-{music.stem}-s{seed}", render, provenance, suffix)
