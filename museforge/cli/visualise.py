"""``museforge visualise MUSIC --model MODEL``: music you can see (see
:mod:`museforge.crossmodal.visualise`). A MIDI or score file is rendered to audio first
(FluidSynth, or the built-in synth), so the video has the music in it."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer

from museforge.cli.app import SeedOpt, err, gallery_root, load_model, out
from museforge.errors import InputError

commands = typer.Typer()
RATE = 22050  # the analysis and the video's audio


def _wave(music: Path):
    """The music as mono samples at RATE: sound files read as they are, MIDI and scores
    rendered first."""
    from museforge.core.media import MUSIC_SUFFIXES
    from museforge.sound.audio import load_sound_file

    source = music
    with tempfile.TemporaryDirectory(prefix="museforge-visualise-") as tmp:
        if music.suffix.lower() in MUSIC_SUFFIXES:
            from museforge.music.readers import read_music_file
            from museforge.music.render import render_wav

            source, _ = render_wav(Path(tmp) / "music.wav", read_music_file(music))
        return load_sound_file(source, RATE, what="music")


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise InputError(f"size must be WIDTHxHEIGHT, e.g. 1280x720 (got '{text}')") from None
    if not (16 <= width <= 3840 and 16 <= height <= 2160) or width % 2 or height % 2:
        raise InputError(f"size must be even, 16x16 to 3840x2160 (got '{text}')")
    return width, height


@commands.command("visualise")
def visualise_command(
    music: Annotated[Path, typer.Argument(help="WAV/FLAC/OGG/MP3, or MIDI/MusicXML/ABC")],
    model: Annotated[str, typer.Option(help="a picture model (or text-to-image with --prompts)")],
    out_path: Annotated[
        Path | None, typer.Option("--out", help="an .mp4 (or .gif) [default: gallery/visualise/…]")
    ] = None,
    seed: SeedOpt = 0,
    fps: Annotated[int, typer.Option(min=1, max=60, help="frames a second")] = 24,
    size: Annotated[str, typer.Option(help="video size WIDTHxHEIGHT")] = "1280x720",
    prompts: Annotated[
        str | None, typer.Option(help="text-to-image: prompts spread over the music, split by |")
    ] = None,
    label: Annotated[int | None, typer.Option(help="class of a conditional model")] = None,
) -> None:
    """Music you can see: beats move a walk through the model's pictures, loudness sets
    its energy, harmony its direction; an MP4 with the music in it."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from museforge.crossmodal.visualise import check_model, visualise

    dimensions = _size(size)
    if not music.is_file():
        raise InputError(f"music '{music}' is not a file")
    loaded = load_model(model)
    wanted = [p.strip() for p in prompts.split("|") if p.strip()] if prompts else None
    check_model(loaded, wanted, label)  # before the music is rendered and read
    wave = _wave(music)
    target = out_path or gallery_root() / "visualise" / f"{music.stem}-s{seed}.mp4"
    start = time.perf_counter()
    columns = (TextColumn("frames"), BarColumn(), TextColumn("{task.completed}/{task.total}"))
    with Progress(*columns, TimeRemainingColumn(), console=err, transient=True) as bar:
        task = bar.add_task("frames", total=None)
        made = visualise(
            loaded,
            wave,
            RATE,
            target,
            seed=seed,
            fps=fps,
            size=dimensions,
            prompts=wanted,
            label=label,
            on_frame=lambda done, total: bar.update(task, completed=done, total=total),
        )
    took = time.perf_counter() - start
    out.print(
        f"wrote {target} ({made['frames']} frames, {made['seconds']:.1f} s of music, "
        f"{dimensions[0]}x{dimensions[1]}) in {took:.1f} s"
    )
