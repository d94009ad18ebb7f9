"""``museforge style`` and ``texture``: optimisation with no model artifact, so not a
model's verb (``style-fast`` with a trained style network is generated like every verb).
Pictures are written atomically as PNG with their provenance and lineage embedded.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from museforge.cli.app import SeedOpt, err, gallery_root, index_outputs, out
from museforge.errors import InputError
from museforge.style.optimise import OptimiseSettings, StepHook
from museforge.style.transfer import parse_weights

commands = typer.Typer()

FileOut = Annotated[Path | None, typer.Option("--out", help="output PNG [default: gallery/…]")]
SizeOpt = Annotated[int, typer.Option(help="long side of the result in pixels")]
StepsOpt = Annotated[int, typer.Option(help="optimiser steps at each size (coarse to fine)")]
ScaleOpt = Annotated[float, typer.Option(help="style picture's size relative to the result")]
FeaturesOpt = Annotated[
    str,
    typer.Option(
        help="feature network: learned (models/style-features), learned:PATH, random, "
        "random:WIDTH or vgg19:FILE.safetensors"
    ),
]
QuietOpt = Annotated[bool, typer.Option(help="no progress bar")]


@contextmanager
def _progress(label: str, enabled: bool) -> Iterator[StepHook | None]:
    """A progress bar over every level of the coarse-to-fine schedule."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[level]}"),
        TextColumn("{task.fields[losses]}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(label, total=None, level="", losses="")

        def hook(level: int, levels: int, step: int, steps: int, losses: dict) -> None:
            text = " ".join(f"{k}={v:.3f}" for k, v in losses.items())
            bar.update(
                task,
                total=levels * steps,
                completed=level * steps + step,
                level=f"size {level + 1}/{levels}",
                losses=text,
            )

        yield hook


def _check_target(target: Path | None) -> None:
    """Refuse an unusable --out before any work is done."""
    if target is not None and target.suffix.lower() != ".png":
        raise InputError(f"--out '{target}' must be a .png file (provenance lives in PNG chunks)")


def _write(artwork, target: Path) -> Path:
    from museforge.gallery.provenance import save_png

    path = save_png(target, artwork.image, artwork.provenance)
    index_outputs([path])
    seconds = artwork.provenance.get("seconds")
    took = f" in {seconds:.1f}s" if seconds is not None else ""
    out.print(f"wrote {path} ({artwork.image.width}×{artwork.image.height}{took})")
    return path


@commands.command()
def style(
    content: Annotated[str, typer.Argument(help="content picture: a file or a built-in name")],
    styles: Annotated[list[str], typer.Argument(help="one or more style pictures")],
    out_file: FileOut = None,
    weights: Annotated[
        str | None, typer.Option(help="blend of the styles, e.g. 0.7,0.3 [default: equal]")
    ] = None,
    size: SizeOpt = 512,
    steps: StepsOpt = OptimiseSettings.steps,
    style_weight: Annotated[
        float, typer.Option(help="pull towards the style")
    ] = OptimiseSettings.style_weight,
    content_weight: Annotated[
        float, typer.Option(help="pull towards the content")
    ] = OptimiseSettings.content_weight,
    tv_weight: Annotated[float, typer.Option(help="smoothness")] = OptimiseSettings.tv_weight,
    style_scale: ScaleOpt = 1.0,
    preserve_colour: Annotated[
        bool, typer.Option(help="keep the content's colours (transfer on luminance only)")
    ] = False,
    palette: Annotated[
        str,
        typer.Option(help="how the style's colours reach the content: histogram, moments, none"),
    ] = "histogram",
    mask: Annotated[
        str | None, typer.Option(help="picture whose white (or opaque) part gets the style")
    ] = None,
    init: Annotated[str, typer.Option(help="start from the content or from noise")] = "content",
    seed: SeedOpt = 0,
    features: FeaturesOpt = "learned",
    quiet: QuietOpt = False,
) -> None:
    """Redraw a picture in the style of others (optimisation; built-ins: `museforge data`)."""
    from museforge.style.make import style_artwork

    _check_target(out_file)
    settings = OptimiseSettings(
        steps=steps,
        style_weight=style_weight,
        content_weight=content_weight,
        tv_weight=tv_weight,
    )
    with _progress("style", not quiet) as hook:
        artwork = style_artwork(
            content,
            styles,
            parse_weights(weights, "--weights"),
            size=size,
            settings=settings,
            style_scale=style_scale,
            preserve_colour=preserve_colour,
            palette=palette,
            mask=mask,
            init=init,
            seed=seed,
            features=features,
            on_step=hook,
        )
    _write(artwork, out_file or gallery_root() / "style" / f"{artwork.name}.png")


@commands.command()
def texture(
    style_image: Annotated[str, typer.Argument(help="style picture: a file or a built-in name")],
    out_file: FileOut = None,
    size: SizeOpt = 512,
    tileable: Annotated[bool, typer.Option(help="seamless when repeated side by side")] = False,
    steps: StepsOpt = OptimiseSettings.steps,
    style_scale: ScaleOpt = 1.0,
    seed: SeedOpt = 0,
    features: FeaturesOpt = "random",
    quiet: QuietOpt = False,
) -> None:
    """Synthesise a new texture or pattern from a picture (tileable for wallpapers, tiles)."""
    from museforge.style.make import texture_artwork

    _check_target(out_file)
    with _progress("texture", not quiet) as hook:
        artwork = texture_artwork(
            style_image,
            size,
            tileable=tileable,
            seed=seed,
            style_scale=style_scale,
            settings=OptimiseSettings(steps=steps),
            features=features,
            on_step=hook,
        )
    _write(artwork, out_file or gallery_root() / "texture" / f"{artwork.name}.png")
