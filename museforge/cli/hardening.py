"""``museforge bench fuzz`` and ``museforge bench soak``: machines trying many inputs
against every parser of outside input, and many clients against a studio that is killed
and restarted."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from museforge.cli.app import SeedOpt
from museforge.cli.bench import JsonOpt, _report

commands = typer.Typer()


@commands.command("fuzz")
def bench_fuzz(
    seconds: Annotated[float, typer.Option(help="fuzzing time per parser")] = 60.0,
    parser: Annotated[
        list[str] | None, typer.Option(help="fuzz only this parser (repeat for more)")
    ] = None,
    json_path: JsonOpt = None,
    seed: SeedOpt = 0,
    work_dir: Annotated[Path, typer.Option(help="corpora and crash inputs go here")] = Path(
        "runs/bench-fuzz"
    ),
) -> None:
    """Fuzz every parser of outside input (pictures, provenance, MIDI, MusicXML, ABC,
    uploads, model artifacts, recipes, captions, meshes…); inputs tried and crashes per
    parser. A crash is any exception but museforge's own one-line input errors, a hang
    over a second, or memory over the cap."""
    from museforge.bench.fuzz import format_table, run_fuzz_bench

    results = run_fuzz_bench(seconds, parser or None, work_dir, seed=seed)
    _report(results, format_table(results), json_path)


@commands.command("soak")
def bench_soak(
    jobs: Annotated[int, typer.Option(help="short jobs to submit")] = 1000,
    clients: Annotated[int, typer.Option(help="concurrent clients")] = 50,
    kills: Annotated[int, typer.Option(help="SIGKILLs of the studio at random moments")] = 50,
    json_path: JsonOpt = None,
    seed: SeedOpt = 0,
    work_dir: Annotated[Path, typer.Option(help="the soak's gallery goes here")] = Path(
        "runs/bench-soak"
    ),
) -> None:
    """A studio on 127.0.0.1 takes short jobs from concurrent clients while it is killed
    and restarted; then every job must be done or resumable, no artwork lost, duplicated
    or half-written, and the index equal to the files."""
    from museforge.bench.soak import format_table, run_soak_bench

    results = run_soak_bench(jobs, clients, kills, work_dir, seed=seed)
    _report(results, format_table(results), json_path)
