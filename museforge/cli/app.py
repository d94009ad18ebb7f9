"""The Typer app, its consoles, and what every command shares: finding a model, loading
it once, and writing a verb's result into the gallery or a folder of the user's."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from museforge.core.files import models_dir
from museforge.errors import ArtifactError, InputError

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

SeedOpt = Annotated[int, typer.Option("--seed", help="random seed: same seed, same output")]
ModelArg = Annotated[str, typer.Argument(help="model directory or starter model name")]


def new_app() -> tuple[typer.Typer, typer.Typer]:
    """A fresh root app and its ``bench`` group (the CLI is built anew on every start, so a
    kind installed since the last run appears at once)."""
    root = typer.Typer(
        help="museforge: make images, poems, lyrics, music, styles and textures with "
        "generative models.",
        add_completion=False,
        pretty_exceptions_enable=False,
        no_args_is_help=True,
    )
    bench = typer.Typer(help="Benchmarks: JSON results and a table, baselines in the same run.")
    root.add_typer(bench, name="bench")

    @root.callback()
    def _setup() -> None:
        from museforge.core.device import configure_threads

        configure_threads()

    return root, bench


def resolve_model(name: str) -> Path:
    """A model directory from a path or the name of a starter model."""
    path = Path(name)
    if path.exists():
        return path
    starter = models_dir() / name
    if starter.exists():
        return starter
    known = sorted(p.parent.name for p in models_dir().glob("*/model.json"))
    hint = f" (starter models: {', '.join(known)})" if known else ""
    raise ArtifactError(f"no model '{name}': not a directory and not a starter model{hint}")


def load_model(name: str, kinds: tuple[str, ...] = (), what: str = "") -> Any:
    """The artifact ``name`` names, loaded once; given ``kinds``, it must be one of them,
    else a one-line error saying it is ``what`` (default: the kinds) that is needed."""
    from museforge.core.artifact import load_artifact

    loaded = load_artifact(resolve_model(name))
    if kinds and loaded.kind not in kinds:
        needed = what or " or ".join(kinds)
        raise InputError(f"model '{name}' is of kind {loaded.kind}, not {needed}")
    return loaded


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


def save_result(result: Any, target: Path | None, folder: str, upscale: int = 1) -> list[Path]:
    """Write a verb's result: into the gallery (never overwriting, indexed) by default, or
    exactly into ``target`` when the user names one. A target ending in ``.png`` names the
    file of a result with one picture (``style-fast … --out photo.png``)."""
    from museforge.gallery.artwork import write_result
    from museforge.gallery.provenance import save_png
    from museforge.gallery.store import Gallery

    if target is not None and target.suffix.lower() == ".png":
        pictures = [a for a in result.artworks if a.image is not None]
        if len(pictures) != 1 or len(result.artworks) != 1:
            made = len(result.artworks)
            raise InputError(f"out '{target}' names one PNG, but this makes {made} artworks")
        paths = [save_png(target, pictures[0].image, pictures[0].provenance)]
        index_outputs(paths)
        return paths
    if target is not None:
        paths = write_result(result, target, upscale=upscale)
        index_outputs(paths)
        return paths
    gallery = Gallery(gallery_root())
    try:
        return gallery.write(result, folder, upscale=upscale)
    finally:
        gallery.close()
