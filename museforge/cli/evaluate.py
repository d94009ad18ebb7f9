"""``museforge evaluate``: a model's figures (its kind's own evaluate verb, settings as
declared), or with ``taste`` the held-out accuracy of the taste model."""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from museforge.cli.app import gallery_root, load_model, out
from museforge.cli.verbs import commands, make_command, pick_verb

COMMAND = "evaluate"
JSON_OPTION = inspect.Parameter(
    "as_json",
    inspect.Parameter.POSITIONAL_OR_KEYWORD,
    default=False,
    annotation=Annotated[bool, typer.Option("--json", help="print the results as JSON")],
)


def _evaluate_taste(seed: int, as_json: bool) -> None:
    from museforge.cli.gallery import taste_embedder
    from museforge.gallery.recommend import evaluate_gallery_taste
    from museforge.gallery.store import Gallery

    gallery = Gallery(gallery_root())
    gallery.sync()
    embedder = taste_embedder()
    report = evaluate_gallery_taste(gallery, seed=seed, embedder=embedder)
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
        if result.get("encoder"):
            out.print(
                f"        with {embedder.name}'s picture vectors; the descriptors alone: "
                f"{result['without_encoder']:.3f}"
            )


def numbers(data: dict) -> list[tuple[str, float]]:
    """The numbers of a result, sorted, nested ones one level deep as ``parent.key``."""
    rows = []
    for key, value in data.items():
        if isinstance(value, dict):
            rows += [(f"{key}.{k}", v) for k, v in value.items() if isinstance(v, int | float)]
        elif isinstance(value, int | float):
            rows.append((key, value))
    return sorted(rows)


def _evaluate(model: str, given: dict[str, Any], target: Path | None, options: dict) -> None:
    as_json = bool(options.get("as_json"))
    if model == "taste" and not Path(model).exists():
        _evaluate_taste(int(given.get("seed", 0)), as_json)
        return
    from museforge.core.registry import call_verb
    from museforge.gallery.artwork import write_result

    loaded = load_model(model)
    verb = pick_verb(COMMAND, commands()[COMMAND], loaded, model)
    folder = target or gallery_root() / loaded.path.name / "evaluation"
    result = call_verb(loaded, verb.name, **given, out_dir=folder)
    write_result(result, folder)
    if as_json:
        sys.stdout.write(json.dumps(result.data, indent=2, sort_keys=True) + "\n")
        return
    for key, value in numbers(result.data):
        shown = f"{value:,}" if isinstance(value, int) else f"{value:.4g}"
        out.print(f"{key:>36}  {shown}")
    extra = " and worst-case pairs" if result.data.get("memorisation") else ""
    out.print(f"details{extra} in {folder}/")


def add_evaluate(app: typer.Typer) -> None:
    """``evaluate MODEL``: every kind's evaluate settings, plus ``--json``; ``taste``."""
    fn = make_command(COMMAND, commands()[COMMAND], act=_evaluate, extra=(JSON_OPTION,))
    fn.__doc__ = (
        "Evaluate a model: images — FID/KID (own feature net), precision/recall, "
        "memorisation; texts — validation bits per character, distinct-n, form accuracy, "
        "copied spans; music — NLL, feature overlap, key consistency, copied notes; "
        "chorales — voice-leading errors next to Bach's. `evaluate taste`: held-out "
        "accuracy of the taste model learnt from your ratings."
    )
    app.command(COMMAND)(fn)
