"""``museforge visualise MUSIC --model MODEL``: music you can see (see
:mod:`museforge.crossmodal.visualise`). A MIDI or score file is rendered to audio first
(FluidSynth, or the built-in synth), so the video has the music in it; the video goes
to the gallery with its provenance, or where ``--out`` says."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from museforge.cli.app import SeedOpt, err, load_model, out, save_result
from museforge.errors import InputError

commands = typer.Typer()


@commands.command("visualise")
def visualise_command(
    music: Annotated[Path, typer.Argument(help="WAV/FLAC/OGG/MP3, or MIDI/MusicXML/ABC")],
    model: Annotated[str, typer.Option(help="a picture model (or text-to-image with words)")],
    out_path: Annotated[
        Path | None,
        typer.Option("--out", help="an .mp4 (or .gif) [default: the gallery's visualise/]"),
    ] = None,
    seed: SeedOpt = 0,
    fps: Annotated[int, typer.Option(min=1, max=60, help="frames a second")] = 24,
    size: Annotated[str, typer.Option(help="video size WIDTHxHEIGHT")] = "1280x720",
    prompts: Annotated[
        str | None, typer.Option(help="text-to-image: prompts spread over the music, split by |")
    ] = None,
    lyrics: Annotated[
        Path | None,
        typer.Option(
            help="text-to-image: lyrics timed to the music (.lrc), one line per prompt "
            "spread evenly (.txt), or a MIDI file's lyric events [default: the MIDI's own]"
        ),
    ] = None,
    label: Annotated[int | None, typer.Option(help="class of a conditional model")] = None,
) -> None:
    """Music you can see: beats move a walk through the model's pictures, loudness sets
    its energy, harmony its direction; an MP4 with the music in it."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from museforge.crossmodal.visualise import parse_size, visualisation

    dimensions = parse_size(size)
    suffix = None
    if out_path is not None:
        suffix = out_path.suffix.lower()
        if suffix not in (".mp4", ".gif"):
            raise InputError(f"visualise writes .mp4 or .gif, not '{out_path.name}'")
    loaded = load_model(model)
    wanted = [p.strip() for p in prompts.split("|") if p.strip()] if prompts else None
    start = time.perf_counter()
    columns = (TextColumn("frames"), BarColumn(), TextColumn("{task.completed}/{task.total}"))
    with Progress(*columns, TimeRemainingColumn(), console=err, transient=True) as bar:
        task = bar.add_task("frames", total=None)
        result = visualisation(  # checks the model and the words before the music is read
            loaded,
            music,
            seed=seed,
            fps=fps,
            size=dimensions,
            prompts=wanted,
            lyrics=lyrics,
            label=label,
            on_frame=lambda done, total: bar.update(task, completed=done, total=total),
            suffix=suffix,
            name=out_path.stem if out_path is not None else None,
        )
        paths = save_result(result, out_path.parent if out_path else None, "visualise")
    video = next(p for p in paths if p.suffix.lower() in (".mp4", ".gif"))
    took = time.perf_counter() - start
    out.print(f"wrote {video} ({result.message}) in {took:.1f} s")
