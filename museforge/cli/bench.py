"""``museforge bench …``: benchmarks that write JSON and print a table, each comparing
against a baseline measured in the same run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from museforge.cli.app import SeedOpt, load_model, models_dir, out

commands = typer.Typer()
JsonOpt = Annotated[Path | None, typer.Option("--json", help="write results here")]
BudgetOpt = Annotated[str, typer.Option(help="training budget per model, e.g. 5m")]


def _report(results: Any, table: str, json_path: Path | None) -> None:
    if json_path is not None:
        from museforge.core.atomic import atomic_write_text

        atomic_write_text(json_path, json.dumps(results, indent=2, sort_keys=True) + "\n")
    out.print(table)


@commands.command("image")
def bench_image(
    budget: BudgetOpt = "5m",
    json_path: JsonOpt = None,
    seed: SeedOpt = 0,
    eval_n: Annotated[int, typer.Option(help="samples for FID/KID")] = 2000,
    work_dir: Annotated[Path, typer.Option(help="where trained models go")] = Path(
        "runs/bench-image"
    ),
    data: Annotated[
        str, typer.Option(help="mnist5k, or shapes-folder (a folder of four classes)")
    ] = "mnist5k",
    model: Annotated[
        list[str] | None,
        typer.Option("--model", help="ours-flow, ours-gan, ours-vae, dcgan-classic [default: all]"),
    ] = None,
) -> None:
    """Train our flow, GAN and VAE and a classic DCGAN on one data set for equal time;
    compare."""
    from museforge.bench.image import format_table, run_image_bench
    from museforge.core.train import parse_duration

    results = run_image_bench(
        parse_duration(budget),
        work_dir / data,
        seed=seed,
        eval_n=eval_n,
        data=data,
        contenders=model,
    )
    _report(results, format_table(results), json_path)


@commands.command("design")
def bench_design(
    budget: BudgetOpt = "5m",
    json_path: JsonOpt = None,
    seed: SeedOpt = 0,
    eval_n: Annotated[int, typer.Option(help="samples for FID/KID")] = 2000,
    data: Annotated[
        list[str] | None, typer.Option("--data", help="glyphs, sprites [default: both]")
    ] = None,
    work_dir: Annotated[Path, typer.Option(help="where trained models go")] = Path(
        "runs/bench-design"
    ),
) -> None:
    """Our conditional VAE and GAN on the design sets (fonts, game sprites) for equal time:
    quality, copies, legibility of letters and SVG tracing."""
    from museforge.bench.design import DATA_SETS, format_table, run_design_bench
    from museforge.core.train import parse_duration

    sets = tuple(data or DATA_SETS)
    results = run_design_bench(parse_duration(budget), work_dir, sets, seed=seed, eval_n=eval_n)
    _report(results, format_table(results), json_path)


@commands.command("chords")
def bench_chords(
    budget: BudgetOpt = "2m",
    json_path: JsonOpt = None,
    seed: SeedOpt = 0,
    work_dir: Annotated[Path, typer.Option(help="where the trained model goes")] = Path(
        "runs/bench-chords"
    ),
) -> None:
    """Our chord model against a key-aware rule and the most frequent chord: accuracy on
    held-out chorales and on the corpus's lead sheets, chord tones on strong beats."""
    from museforge.bench.chords import format_table, run_chords_bench
    from museforge.core.train import parse_duration

    results = run_chords_bench(parse_duration(budget), work_dir, seed=seed)
    _report(results, format_table(results), json_path)


@commands.command("text")
def bench_text(
    budget: Annotated[
        str | None,
        typer.Option(
            help="equal training time for both, e.g. 5m [default: classic 2,000 steps, ours "
            "the same seconds]"
        ),
    ] = None,
    json_path: JsonOpt = None,
    corpus: Annotated[
        list[str] | None,
        typer.Option(
            "--corpus",
            help="a panel corpus or any data source [default: the panel: literature, "
            "wisdom, art, science, song100, chinese]",
        ),
    ] = None,
    seed: SeedOpt = 0,
    work_dir: Annotated[Path, typer.Option(help="where trained models go")] = Path(
        "runs/bench-text"
    ),
) -> None:
    """Our text LM against the classic small char-GPT recipe on a panel of corpora;
    compare held-out bits per character."""
    from museforge.bench.text import CORPORA, format_table, run_text_bench
    from museforge.core.train import parse_duration

    corpora = tuple(corpus or CORPORA)
    seconds = parse_duration(budget) if budget else None
    results = run_text_bench(seconds, work_dir, corpora, seed=seed)
    _report(results, format_table(results), json_path)


@commands.command("music")
def bench_music(
    budget: Annotated[str, typer.Option(help="training budget of our model, e.g. 5m")] = "5m",
    json_path: JsonOpt = None,
    seed: SeedOpt = 0,
    work_dir: Annotated[Path, typer.Option(help="where the trained model goes")] = Path(
        "runs/bench-music"
    ),
) -> None:
    """Our music LM against n-gram and unigram baselines on folk melodies; speed;
    harmonisation voice leading next to Bach's (with the Coconet starter)."""
    from museforge.bench.music import format_table, run_music_bench
    from museforge.core.train import parse_duration

    results = run_music_bench(parse_duration(budget), work_dir, models_dir(), seed=seed)
    _report(results, format_table(results), json_path)


@commands.command("style")
def bench_style(
    content: Annotated[
        list[str] | None, typer.Option("--content", help="content pictures [default: four photos]")
    ] = None,
    style: Annotated[
        list[str] | None,
        typer.Option(
            "--style", help="style pictures [default: strokes, a held-out portrait, voronoi, waves]"
        ),
    ] = None,
    size: Annotated[int, typer.Option(help="long side of the results")] = 256,
    any_model: Annotated[
        str, typer.Option("--any-model", help="any-style network to include")
    ] = "style-any",
    out_dir: Annotated[
        Path, typer.Option("--out", help="folder for the grid and the held-out styles")
    ] = Path("bench-results/style"),
    json_path: JsonOpt = None,
) -> None:
    """Does the style come across? Contents × styles, each method scored against the issue's
    targets (colour and texture distance to the style, SSIM to the content, speed)."""
    from museforge.bench.style_panel import (
        CONTENTS,
        STYLES,
        any_style,
        format_table,
        optimisation,
        run_style_panel,
    )

    loaded = load_model(any_model)
    methods = {
        "optimisation, random features, no palette (before)": optimisation("random", "none"),
        "optimisation, learned features + palette (default)": optimisation("learned", "histogram"),
        f"any-style network {any_model}": any_style(loaded),
    }
    results = run_style_panel(
        methods,
        out_dir,
        tuple(content or CONTENTS),
        tuple(style or STYLES),
        size,
        any_model=loaded,
        grid_method="optimisation, learned features + palette (default)",
    )
    _report(results, format_table(results), json_path)


@commands.command("style-fast")
def bench_style_fast(
    model: Annotated[str, typer.Option(help="style network to compare")] = "style-voronoi",
    content: Annotated[str, typer.Option(help="content picture")] = "chelsea",
    size: Annotated[
        list[int] | None, typer.Option("--size", help="sizes (long side) [default: 256, 512]")
    ] = None,
    steps: Annotated[int | None, typer.Option(help="optimiser steps at each size")] = None,
    json_path: JsonOpt = None,
) -> None:
    """Optimisation against a one-style fast network: seconds, losses and SSIM at each size."""
    from museforge.bench.style import SIZES, format_table, run_style_bench
    from museforge.style.optimise import OptimiseSettings

    steps = OptimiseSettings.steps if steps is None else steps
    results = run_style_bench(load_model(model), content, tuple(size or SIZES), steps)
    _report(results, format_table(results), json_path)


@commands.command("constraints")
def bench_constraints(json_path: JsonOpt = None) -> None:
    """How fast the poem-form constraints mask the vocabulary and the copy index builds
    (the timings that used to print inside tests)."""
    from museforge.bench.constraints import format_table, run_constraint_bench

    results = run_constraint_bench()
    _report(results, format_table(results), json_path)


@commands.command("imagine")
def bench_imagine(
    budget: BudgetOpt = "10m",
    data: Annotated[
        list[str] | None,
        typer.Option("--data", help="captioned sets [default: captioned-shapes, emoji]"),
    ] = None,
    contender: Annotated[
        list[str] | None,
        typer.Option(
            "--contender",
            help="words-latent, words-flow, words-gan, class, unconditional [default: all]",
        ),
    ] = None,
    json_path: JsonOpt = None,
    seed: SeedOpt = 0,
    eval_n: Annotated[int, typer.Option(help="held-out captions drawn per model")] = 500,
    work_dir: Annotated[Path, typer.Option(help="where trained models go")] = Path(
        "runs/bench-imagine"
    ),
    autoencoder: Annotated[
        str,
        typer.Option(
            help="latent flows reuse the shipped autoencoder (shipped) or the set's starter's "
            "(set), the whole budget for the flow, or train their own first (own)"
        ),
    ] = "shipped",
) -> None:
    """Text-to-image against unconditional and class-conditional models of the same size
    at equal budget: R-precision, FID, attribute accuracy, seconds for 8 pictures."""
    from museforge.bench.imagine import ENCODERS, format_table, run_imagine_bench
    from museforge.core.train import parse_duration

    results = run_imagine_bench(
        parse_duration(budget),
        work_dir,
        models_dir(),
        list(data or ENCODERS),
        contenders=contender,
        seed=seed,
        eval_n=eval_n,
        autoencoder=autoencoder,
    )
    _report(results, format_table(results), json_path)


@commands.command("3d")
def bench_3d(
    budget: BudgetOpt = "5m",
    json_path: JsonOpt = None,
    seed: SeedOpt = 0,
    eval_n: Annotated[int, typer.Option(help="solids drawn for the comparison")] = 100,
    work_dir: Annotated[Path, typer.Option(help="where trained models go")] = Path("runs/bench-3d"),
) -> None:
    """Train the vessel and form VAEs for equal time; score them against held-out solids
    beside the same networks untrained and the training solids themselves."""
    from museforge.bench.sculpture import format_table, run_3d_bench
    from museforge.core.train import parse_duration

    results = run_3d_bench(parse_duration(budget), work_dir, seed=seed, eval_n=eval_n)
    _report(results, format_table(results), json_path)


@commands.command("audio")
def bench_audio(
    budget: BudgetOpt = "5m",
    json_path: JsonOpt = None,
    seed: SeedOpt = 0,
    eval_n: Annotated[int, typer.Option(help="notes drawn for the comparison")] = 200,
    data: Annotated[str, typer.Option(help="gm-notes, or folder:PATH of sounds")] = "gm-notes",
    work_dir: Annotated[Path, typer.Option(help="where trained models go")] = Path(
        "runs/bench-audio"
    ),
) -> None:
    """Train the sound VAE, its spectrogram variant and that told neither family nor pitch
    for equal time; compare FID, family and pitch as asked, NDB, copies and speed; time a
    30-second 720p visualisation through the faces-gan starter."""
    from museforge.bench.audio import format_table, run_audio_bench
    from museforge.core.train import parse_duration

    faces = models_dir() / "faces-gan"  # the visualisation's pictures
    results = run_audio_bench(
        parse_duration(budget),
        work_dir,
        data,
        seed=seed,
        eval_n=eval_n,
        picture_model=faces if (faces / "model.json").is_file() else None,
    )
    _report(results, format_table(results), json_path)
