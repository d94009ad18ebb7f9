"""The ``museforge`` command line: train, the verbs of every model kind, demo and bench."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from museforge.errors import ArtifactError, InputError, MuseforgeError

app = typer.Typer(
    help="museforge: make images, poems, lyrics, styles and textures with generative models.",
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
)
bench_app = typer.Typer(help="Benchmarks: JSON results and a table, baselines in the same run.")
app.add_typer(bench_app, name="bench")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

REPO_MODELS = Path(__file__).resolve().parents[1] / "models"


def models_dir() -> Path:
    """Where starter models live: $MUSEFORGE_MODELS or the repository's models/."""
    return Path(os.environ.get("MUSEFORGE_MODELS", REPO_MODELS))


def resolve_model(name: str) -> Path:
    """A model directory from a path or the name of a starter model."""
    path = Path(name)
    if path.exists():
        return path
    starter = models_dir() / name
    if starter.exists():
        return starter
    known = sorted(p.name for p in models_dir().glob("*/model.json") for p in [p.parent])
    hint = f" (starter models: {', '.join(known)})" if known else ""
    raise ArtifactError(f"no model '{name}': not a directory and not a starter model{hint}")


def gallery_root() -> Path:
    """Where outputs go by default: $MUSEFORGE_GALLERY or ./gallery."""
    from museforge.gallery.store import default_root

    return default_root()


def index_outputs(paths: list[Path]) -> None:
    """Add written artworks to the gallery index when they lie in the gallery folder
    (files sent elsewhere with --out are the user's own business)."""
    from museforge.gallery.store import Gallery

    root = gallery_root().resolve()
    inside = [p for p in paths if p.resolve().is_relative_to(root)]
    if inside:
        gallery = Gallery(root)
        try:
            for path in inside:
                gallery.add(path)
        finally:
            gallery.close()


def save_result(result: Any, out_dir: Path | None, folder: str, upscale: int = 1) -> list[Path]:
    """Write a verb's result: into the gallery (never overwriting, indexed) by default, or
    exactly into ``out_dir`` when the user names one."""
    from museforge.gallery.artwork import write_result
    from museforge.gallery.store import Gallery

    if out_dir is not None:
        paths = write_result(result, out_dir, upscale=upscale)
        index_outputs(paths)
        return paths
    gallery = Gallery(gallery_root())
    try:
        return gallery.write(result, folder, upscale=upscale)
    finally:
        gallery.close()


def _load(model: str, kinds: tuple[str, ...] = (), what: str = ""):
    """The artifact ``model`` names; given ``kinds``, it must be one of them, else a
    one-line error saying it is ``what`` (default: the kinds) that the command needs."""
    from museforge.core.artifact import load_artifact

    loaded = load_artifact(resolve_model(model))
    if kinds and loaded.kind not in kinds:
        needed = what or " or ".join(kinds)
        raise InputError(f"model '{model}' is of kind {loaded.kind}, not {needed}")
    return loaded


def _run_verb(model: str, verb_name: str, out_dir: Path | None, **kwargs: Any):
    from museforge.core.registry import call_verb

    loaded = _load(model)
    result = call_verb(loaded, verb_name, **kwargs)
    upscale = max(1, 256 // max(1, getattr(loaded.model.cfg, "image_size", 256)))
    paths = save_result(result, out_dir, loaded.path.name, upscale=upscale)
    target = paths[0].parent if paths else out_dir
    singles = len(result.artworks)
    if singles > 1:
        out.print(f"wrote {singles} artworks with provenance into {target}/")
    for path in paths[singles:] if singles > 1 else paths:
        out.print(f"wrote {path}")
    return result


@app.callback()
def _setup() -> None:
    from museforge.core.device import configure_threads

    configure_threads()


ModelArg = Annotated[str, typer.Argument(help="model directory or starter model name")]
OutOpt = Annotated[
    Path | None, typer.Option("--out", help="output folder [default: gallery/MODEL]")
]
SeedOpt = Annotated[int, typer.Option("--seed", help="random seed: same seed, same output")]
LabelOpt = Annotated[int | None, typer.Option("--label", help="class for conditional models")]


@app.command()
def train(
    kind: Annotated[str | None, typer.Argument(help="model kind, e.g. image-gan")] = None,
    data: Annotated[
        str | None,
        typer.Option(
            "--data",
            "--content-data",
            help="data set: mnist5k, faces, tang300, songs-poems, photos, folder:PATH…",
        ),
    ] = None,
    style: Annotated[
        str | None, typer.Option(help="style picture of a style-net (file or built-in name)")
    ] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="run/model folder")] = None,
    steps: Annotated[int | None, typer.Option(help="training steps")] = None,
    time_budget: Annotated[str | None, typer.Option(help="wall-clock budget: 90s, 5m, 1h")] = None,
    batch_size: Annotated[int | None, typer.Option(help="images per step (per process)")] = None,
    seed: Annotated[int | None, typer.Option(help="seed for weights, data order and noise")] = None,
    recipe: Annotated[Path | None, typer.Option(help="recipe TOML (recipes/*.toml)")] = None,
    conditional: Annotated[bool, typer.Option(help="condition on the data set's classes")] = False,
    image_size: Annotated[
        int | None, typer.Option(help="square image size (default: data's)")
    ] = None,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="TABLE.KEY=VALUE")] = None,
    resume: Annotated[
        bool, typer.Option(help="continue the run in --out from its checkpoint")
    ] = False,
    quiet: Annotated[bool, typer.Option(help="no progress bar")] = False,
) -> None:
    """Train a model (progress, ETA, checkpoints; Ctrl-C stops cleanly, --resume goes on)."""
    from museforge.core.recipe import Recipe, apply_overrides, load_recipe

    if recipe is not None:
        spec = load_recipe(recipe)
    elif kind and data:
        spec = Recipe(kind=kind, data=data)
    else:
        raise MuseforgeError(
            "give a kind and --data (e.g. train image-gan --data mnist5k) or --recipe"
        )
    sets = list(overrides or [])
    if kind and recipe is not None and kind != spec.kind:
        raise MuseforgeError(f"recipe '{recipe}' trains '{spec.kind}', not '{kind}'")
    if data:
        spec = Recipe(spec.kind, data, spec.out, spec.model, spec.training, spec.run)
    for key, value in (("steps", steps), ("batch_size", batch_size), ("seed", seed)):
        if value is not None:
            sets.append(f"run.{key}={value}")
    if time_budget is not None:
        sets.append(f"run.time_budget='{time_budget}'")
    if steps is not None and time_budget is None and recipe is not None:
        spec.run.pop("time_budget", None)
    if conditional:
        sets.append("model.conditional=True")
    if style is not None:
        sets.append(f"training.style={style!r}")
    if image_size is not None:
        sets.append(f"model.image_size={image_size}")
    spec = apply_overrides(spec, sets)
    from museforge.core.recipe import train_from_recipe

    def notice(text: str) -> None:
        err.print(f"[yellow]note:[/yellow] {escape(text)}", highlight=False)

    result = train_from_recipe(spec, out=out_dir, resume=resume, progress=not quiet, notify=notice)
    losses = " ".join(f"{k}={v:.3f}" for k, v in result.metrics.items())
    out.print(
        f"trained {result.step} steps in {result.elapsed:.0f}s ({losses}); "
        f"model in {result.out_dir}"
    )


@app.command()
def sample(
    model: ModelArg,
    n: Annotated[int, typer.Option("--n", help="how many outputs")] = 16,
    seed: SeedOpt = 0,
    truncation: Annotated[float, typer.Option(help="≤1: more typical, less varied")] = 1.0,
    label: LabelOpt = None,
    out_dir: OutOpt = None,
) -> None:
    """Sample: images (one PNG each with provenance, and a grid) or texts."""
    extra: dict[str, Any] = {"truncation": truncation} if truncation != 1.0 else {}
    if label is not None:
        extra["label"] = label
    _run_verb(model, "sample", out_dir, n=n, seed=seed, **extra)


@app.command()
def interpolate(
    model: ModelArg,
    seed_a: Annotated[int, typer.Option(help="seed of the first end")] = 1,
    seed_b: Annotated[int, typer.Option(help="seed of the last end")] = 2,
    frames: Annotated[int, typer.Option(help="frames from end to end")] = 24,
    label: LabelOpt = None,
    out_dir: OutOpt = None,
) -> None:
    """Walk between two seeds' latents (slerp): PNG frames and a looping GIF."""
    _run_verb(
        model, "interpolate", out_dir, seed_a=seed_a, seed_b=seed_b, frames=frames, label=label
    )


@app.command()
def breed(
    model: ModelArg,
    parents: Annotated[list[Path], typer.Option("--parents", help="parent PNGs made by MODEL")],
    more_parents: Annotated[list[Path] | None, typer.Argument(hidden=True)] = None,
    children: Annotated[int, typer.Option(help="how many children")] = 8,
    mutation: Annotated[float, typer.Option(help="0 = pure crossover, 1 = all new")] = 0.3,
    seed: SeedOpt = 0,
    out_dir: OutOpt = None,
) -> None:
    """Breed outputs: cross their latents over and mutate (--parents A.png B.png)."""
    every = list(parents) + list(more_parents or [])
    _run_verb(
        model, "breed", out_dir, parents=every, children=children, mutation=mutation, seed=seed
    )


@app.command()
def mutate(
    model: ModelArg,
    parent: Annotated[Path, typer.Argument(help="a PNG made by MODEL")],
    direction: Annotated[int, typer.Option(help="latent direction 0-7 (0 changes most)")] = 0,
    amount: Annotated[float, typer.Option(help="how far, in latent standard deviations")] = 2.0,
    frames: Annotated[int, typer.Option(help="1: one picture; more: a sweep -amount..+amount")] = 1,
    out_dir: OutOpt = None,
) -> None:
    """Push a picture along one of its principal latent directions (a slider, as pictures)."""
    _run_verb(
        model, "mutate", out_dir, parent=parent, direction=direction, amount=amount, frames=frames
    )


@app.command()
def project(
    model: ModelArg,
    image: Annotated[Path, typer.Argument(help="your image")],
    steps: Annotated[int, typer.Option(help="optimisation steps")] = 300,
    seed: SeedOpt = 0,
    label: LabelOpt = None,
    out_dir: OutOpt = None,
) -> None:
    """Find the latent that best re-draws your image (then breed or interpolate it)."""
    result = _run_verb(model, "project", out_dir, image=image, steps=steps, seed=seed, label=label)
    out.print(f"pixel error {result.data['mse_start']:.4f} -> {result.data['mse_end']:.4f}")


@app.command()
def encode(
    model: ModelArg,
    images: Annotated[list[Path], typer.Argument(help="images to encode")],
    out_dir: OutOpt = None,
) -> None:
    """Encode images to latents (VAE): JSON of latents plus reconstructions."""
    _run_verb(model, "encode", out_dir, images=images)


@app.command()
def reconstruct(
    model: ModelArg,
    images: Annotated[list[Path], typer.Argument(help="images to reconstruct")],
    out_dir: OutOpt = None,
) -> None:
    """Encode and decode images (VAE), side by side with the originals."""
    _run_verb(model, "reconstruct", out_dir, images=images)


def _evaluate_taste(seed: int, as_json: bool) -> None:
    from museforge.gallery.recommend import evaluate_gallery_taste
    from museforge.gallery.store import Gallery

    gallery = Gallery(gallery_root())
    gallery.sync()
    report = evaluate_gallery_taste(gallery, seed=seed)
    if as_json:
        sys.stdout.write(json.dumps(report, indent=2, sort_keys=True) + "\n")
        return
    for modality, result in report.items():
        if "error" in result:
            out.print(f"{modality:>6}: {result['error']}")
            continue
        out.print(
            f"{modality:>6}: held-out accuracy {result['accuracy']:.3f} vs {result['baseline']:.3f}"
            f" always guessing the commoner label ({result['liked']} liked, "
            f"{result['disliked']} disliked, {result['folds']}-fold)"
        )


def _numbers(data: dict) -> list[tuple[str, float]]:
    """The numbers of a result, sorted, nested ones one level deep as ``parent.key``."""
    rows = []
    for key, value in data.items():
        if isinstance(value, dict):
            rows += [(f"{key}.{k}", v) for k, v in value.items() if isinstance(v, int | float)]
        elif isinstance(value, int | float):
            rows.append((key, value))
    return sorted(rows)


@app.command()
def evaluate(
    model: ModelArg,
    n: Annotated[
        int | None, typer.Option("--n", help="samples to generate [images 2000, texts 64]")
    ] = None,
    seed: SeedOpt = 0,
    as_json: Annotated[bool, typer.Option("--json", help="print the results as JSON")] = False,
    out_dir: OutOpt = None,
) -> None:
    """Evaluate a model: images — FID/KID (own feature net), precision/recall, memorisation;
    texts — validation bits per character, distinct-n, form accuracy, copied spans;
    music — NLL, feature overlap, key consistency, copied notes; chorales — voice-leading
    errors next to Bach's.
    `evaluate taste`: held-out accuracy of the taste model learnt from your ratings."""
    if model == "taste" and not Path(model).exists():
        _evaluate_taste(seed, as_json)
        return
    from museforge.core.registry import get_verb
    from museforge.gallery.artwork import write_result

    loaded = _load(model)
    target = out_dir or gallery_root() / loaded.path.name / "evaluation"
    sizes = {} if n is None else {"n": n}
    result = get_verb(loaded.kind, "evaluate")(loaded, seed=seed, out_dir=target, **sizes)
    write_result(result, target)
    if as_json:
        sys.stdout.write(json.dumps(result.data, indent=2, sort_keys=True) + "\n")
        return
    for key, value in _numbers(result.data):
        shown = f"{value:,}" if isinstance(value, int) else f"{value:.4g}"
        out.print(f"{key:>36}  {shown}")
    extra = " and worst-case pairs" if result.data.get("memorisation") else ""
    out.print(f"details{extra} in {target}/")


@app.command()
def info(model: ModelArg) -> None:
    """Show a model's manifest: kind, config, data, metrics, versions."""
    from museforge.core.artifact import read_manifest
    from museforge.core.registry import get_kind

    manifest = read_manifest(resolve_model(model))
    spec = get_kind(manifest["kind"])
    vocab = manifest["config"].get("vocab")
    if isinstance(vocab, list) and len(vocab) > 40:  # a text model's thousands of characters
        shown = "".join(c for c in vocab[:40] if c.isprintable())
        manifest["config"]["vocab"] = f"{len(vocab)} characters: {shown}…"
    out.print_json(json.dumps(manifest))
    out.print(f"verbs: {', '.join(sorted(spec.verbs))}")


@app.command()
def kinds() -> None:
    """List model kinds and the verbs each offers."""
    from museforge.core.registry import kinds as all_kinds

    for name, spec in sorted(all_kinds().items()):
        out.print(f"[bold]{name}[/bold] ({spec.modality}): {spec.description}")
        out.print(f"    verbs: {', '.join(sorted(spec.verbs))}")


@app.command()
def data() -> None:
    """List the built-in data sets (users can also give folder:PATH or file:PATH)."""
    from museforge.image.data import BUILTIN_IMAGE_SETS
    from museforge.text.corpus import BUILTIN_TEXT_SETS

    out.print("[bold]images[/bold]")
    for name, text in BUILTIN_IMAGE_SETS.items():
        out.print(f"  [bold]{name:>11}[/bold]  {text}")
    out.print(f"  {'folder:PATH':>11}  your images; subfolders become class labels")
    out.print("[bold]texts[/bold]")
    for name, text in BUILTIN_TEXT_SETS.items():
        out.print(f"  [bold]{name:>11}[/bold]  {text}")
    out.print(f"  {'file:PATH':>11}  a UTF-8 text file (poems split at blank lines or %)")
    out.print(f"  {'folder:PATH':>11}  every .txt/.md file below PATH")
    from museforge.style.images import BUILTIN_IMAGES, CONTENT_SETS

    out.print("[bold]style pictures[/bold] (museforge style / texture; any image file works)")
    for name, text in BUILTIN_IMAGES.items():
        out.print(f"  [bold]{name:>15}[/bold]  {text}")
    out.print("[bold]content sets[/bold] (train style-net --data)")
    for name, text in CONTENT_SETS.items():
        out.print(f"  [bold]{name:>11}[/bold]  {text}")
    out.print(f"  {'folder:PATH':>11}  every image below PATH")
    from museforge.music.corpus import BUILTIN_MUSIC_SETS

    out.print("[bold]music[/bold] (train music-lm, melody-vae, chorale-coconet --data)")
    for name, text in BUILTIN_MUSIC_SETS.items():
        out.print(f"  [bold]{name:>11}[/bold]  {text}")
    out.print(f"  {'folder:PATH':>11}  MIDI, MusicXML and ABC files below PATH")


@app.command()
def demo(
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="where to write [default: $MUSEFORGE_GALLERY or ./gallery]"),
    ] = None,
) -> None:
    """Sample every starter model: grids and an interpolation GIF each."""
    from museforge.demo import run_demo

    for path in run_demo(models_dir(), out_dir or gallery_root()):
        out.print(f"wrote {path}")


@bench_app.command("image")
def bench_image(
    budget: Annotated[str, typer.Option(help="training budget per model, e.g. 5m")] = "5m",
    json_path: Annotated[Path | None, typer.Option("--json", help="write results here")] = None,
    seed: SeedOpt = 0,
    eval_n: Annotated[int, typer.Option(help="samples for FID/KID")] = 2000,
    work_dir: Annotated[Path, typer.Option(help="where trained models go")] = Path(
        "runs/bench-image"
    ),
) -> None:
    """Train our GAN, our VAE and a classic DCGAN on mnist5k for equal time; compare."""
    from museforge.bench.image import format_table, run_image_bench
    from museforge.core.train import parse_duration

    results = run_image_bench(parse_duration(budget), work_dir, seed=seed, eval_n=eval_n)
    if json_path is not None:
        from museforge.core.atomic import atomic_write_text

        atomic_write_text(json_path, json.dumps(results, indent=2, sort_keys=True) + "\n")
    out.print(format_table(results))


@bench_app.command("text")
def bench_text(
    budget: Annotated[str, typer.Option(help="training budget per model, e.g. 5m")] = "5m",
    json_path: Annotated[Path | None, typer.Option("--json", help="write results here")] = None,
    corpus: Annotated[
        list[str] | None, typer.Option("--corpus", help="corpora [default: tang300, songs-poems]")
    ] = None,
    seed: SeedOpt = 0,
    work_dir: Annotated[Path, typer.Option(help="where trained models go")] = Path(
        "runs/bench-text"
    ),
) -> None:
    """Train our text LM and the classic small char-GPT for equal time; compare bpc."""
    from museforge.bench.text import CORPORA, format_table, run_text_bench
    from museforge.core.train import parse_duration

    corpora = tuple(corpus or CORPORA)
    results = run_text_bench(parse_duration(budget), work_dir, corpora, seed=seed)
    if json_path is not None:
        from museforge.core.atomic import atomic_write_text

        atomic_write_text(json_path, json.dumps(results, indent=2, sort_keys=True) + "\n")
    out.print(format_table(results))


# The text and style commands register on ``app`` when their module is imported.
from museforge import cli_gallery, cli_music, cli_studio, cli_style, cli_text  # noqa: E402, F401


def main() -> None:
    """Entry point: one clear line on error, never a traceback (MUSEFORGE_DEBUG=1 shows it)."""
    debug = bool(os.environ.get("MUSEFORGE_DEBUG"))
    try:
        app()
    except MuseforgeError as error:
        if debug:
            raise
        from museforge.core.train import TrainingInterrupted

        stopped = isinstance(error, TrainingInterrupted)
        label = "[yellow]stopped:[/yellow]" if stopped else "[red]error:[/red]"
        err.print(f"{label} {escape(str(error))}", highlight=False, soft_wrap=True)
        sys.exit(130 if stopped else 1)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except Exception as error:  # a bug: say so in one line, keep the traceback for debugging
        if debug:
            raise
        err.print(
            f"[red]internal error:[/red] {type(error).__name__}: {escape(str(error))} "
            "(run with MUSEFORGE_DEBUG=1 for the traceback)",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(2)


if __name__ == "__main__":
    main()
