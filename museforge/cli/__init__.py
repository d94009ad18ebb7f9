"""The ``museforge`` command line.

Model verbs are generated from their declarations (:mod:`museforge.cli.verbs`); the
commands that truly differ are written by hand: train, evaluate, kinds/data/info/demo,
style/texture, gallery, studio and bench.
"""

from __future__ import annotations

import os
import sys

import typer
from rich.markup import escape

from museforge.cli import (
    bench,
    catalog,
    design,
    gallery,
    hardening,
    sculpture,
    studio,
    style,
    train,
    visualise,
)
from museforge.cli.app import err, new_app
from museforge.cli.evaluate import COMMAND as EVALUATE
from museforge.cli.evaluate import add_evaluate
from museforge.cli.verbs import add_verb_commands
from museforge.errors import MuseforgeError, SettingError


def build_app() -> typer.Typer:
    """The whole CLI: hand-written commands, then one command per verb command path."""
    root, bench_group = new_app()
    for module in (train, catalog, style, design, sculpture, studio, visualise):
        root.add_typer(module.commands)
    root.add_typer(gallery.gallery_app, name="gallery")
    bench_group.add_typer(bench.commands)
    bench_group.add_typer(hardening.commands)
    add_evaluate(root)
    add_verb_commands(root, skip=frozenset({EVALUATE}))
    return root


def main(argv: list[str] | None = None) -> None:
    """Entry point: one clear line on error, never a traceback (MUSEFORGE_DEBUG=1 shows it)."""
    debug = bool(os.environ.get("MUSEFORGE_DEBUG"))
    try:
        app = build_app()
        app(args=argv)
    except MuseforgeError as error:
        if debug:
            raise
        from museforge.core.train import TrainingInterrupted

        stopped = isinstance(error, TrainingInterrupted)
        label = "[yellow]stopped:[/yellow]" if stopped else "[red]error:[/red]"
        # A refused setting is pointed at as the option the user typed.
        where = f" (--{error.flag})" if isinstance(error, SettingError) else ""
        err.print(f"{label} {escape(str(error))}{where}", highlight=False, soft_wrap=True)
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
