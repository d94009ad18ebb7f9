"""``museforge train``: a kind and a data set, or a recipe, into a model artifact."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from museforge.cli.app import err, out
from museforge.errors import MuseforgeError

commands = typer.Typer()


@commands.command()
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
    conditional: Annotated[
        bool | None,
        typer.Option(
            "--conditional/--unconditional",
            help="condition on the data's classes [default: a folder's sub-folders, yes]",
        ),
    ] = None,
    image_size: Annotated[
        int | None, typer.Option(help="square image size (default: data's)")
    ] = None,
    init: Annotated[
        str | None,
        typer.Option(help="text models: fine-tune from this model (folder or starter name)"),
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
    if conditional is not None:
        sets.append(f"model.conditional={conditional}")
    if style is not None:
        sets.append(f"training.style={style!r}")
    if image_size is not None:
        sets.append(f"model.image_size={image_size}")
    if init is not None:
        from museforge.cli.app import resolve_model

        sets.append(f"training.init={str(resolve_model(init))!r}")
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
    if result.outlook:
        out.print(escape(result.outlook), highlight=False)
