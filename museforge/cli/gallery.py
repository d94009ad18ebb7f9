"""The ``museforge gallery`` commands: list, show, rate, tag, remix, export, reindex.

They work on the gallery folder ($MUSEFORGE_GALLERY or ./gallery); every command first
brings the index up to date with the files, so artworks written by hand or by another
tool show up too.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from museforge.cli.app import gallery_root, out
from museforge.errors import InputError

gallery_app = typer.Typer(help="Your artworks: list, search, rate, tag, lineage, remix, export.")

IdArg = Annotated[str, typer.Argument(help="artwork id (from `museforge gallery list`)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


def _open():
    from museforge.gallery.store import Gallery

    gallery = Gallery(gallery_root())
    gallery.sync()
    return gallery


def _date(text: str | None, option: str) -> float | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise InputError(f"{option} must be a date like 2026-11-23 (got {text!r})") from None


def _print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n")


@gallery_app.command("list")
def list_(
    search: Annotated[str | None, typer.Option(help="words found in prompt/settings/model")] = None,
    modality: Annotated[str | None, typer.Option(help="image, text, animation, music")] = None,
    model: Annotated[str | None, typer.Option(help="model path, kind or hash prefix")] = None,
    min_stars: Annotated[int | None, typer.Option(help="at least this many stars")] = None,
    liked: Annotated[
        bool | None, typer.Option("--liked/--disliked", help="only liked / disliked")
    ] = None,
    tag: Annotated[str | None, typer.Option(help="only artworks with this tag")] = None,
    since: Annotated[str | None, typer.Option(help="made on or after this date")] = None,
    until: Annotated[str | None, typer.Option(help="made before this date")] = None,
    limit: Annotated[int, typer.Option(help="at most this many")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List artworks, newest first, with filters and free-text search."""
    gallery = _open()
    records = gallery.list(
        modality=modality,
        model=model,
        text=search,
        min_stars=min_stars,
        liked=liked,
        tag=tag,
        since=_date(since, "--since"),
        until=_date(until, "--until"),
        limit=limit,
    )
    if as_json:
        _print_json([r.summary() for r in records])
        return
    table = Table("made", "modality", "verb", "stars", "tags", "file")
    table.add_column("id", no_wrap=True, min_width=16)
    for r in records:
        made = datetime.fromtimestamp(r.created).strftime("%Y-%m-%d %H:%M")
        mark = "♥ " if r.like else ("✗ " if r.like is False else "")
        stars = mark + ("★" * (r.stars or 0))
        table.add_row(made, r.modality, r.verb or "", stars, ", ".join(r.tags), r.path, r.id)
    out.print(table)
    out.print(f"{len(records)} of {gallery.count()} artworks in {gallery.root}/")


@gallery_app.command()
def show(art_id: IdArg, as_json: JsonOpt = False) -> None:
    """One artwork: its provenance, parents and children."""
    gallery = _open()
    record = gallery.get(art_id)
    parents = gallery.parents(art_id)
    children = [{"id": c.id, "path": c.path, "verb": c.verb} for c in gallery.children(art_id)]
    data = {**record.summary(), "provenance": record.provenance}
    data.update(parents=parents, children=children)
    if as_json:
        _print_json(data)
        return
    out.print(f"[bold]{escape(record.path)}[/bold]  ({record.modality}, id {record.id})")
    if record.text:
        out.print(escape(record.text.rstrip()))
    out.print_json(json.dumps(record.provenance, ensure_ascii=False))
    for p in parents:
        where = f"id {p['id']}" if p["id"] else "not in the gallery"
        out.print(f"parent ({p['role']}): {escape(p['label'])} — {where}")
    for c in children:
        out.print(f"child: {c['id']}  {escape(c['path'])}")


@gallery_app.command()
def rate(
    art_id: IdArg,
    stars: Annotated[int | None, typer.Option(help="1 to 5 stars (0 clears)")] = None,
    like: Annotated[bool | None, typer.Option("--like/--dislike", help="like or dislike")] = None,
) -> None:
    """Rate an artwork: stars and/or like/dislike (the taste model learns from these)."""
    if stars is None and like is None:
        raise InputError("give --stars N, --like or --dislike")
    gallery = _open()
    gallery.rate(art_id, stars=stars, like=like)
    record = gallery.get(art_id)
    out.print(f"{record.path}: stars {record.stars or 0}, like {record.like}")


@gallery_app.command()
def tag(
    art_id: IdArg,
    tags: Annotated[list[str], typer.Argument(help="tags to add")],
    remove: Annotated[bool, typer.Option(help="remove these tags instead")] = False,
) -> None:
    """Add (or --remove) tags."""
    gallery = _open()
    now = gallery.tag(art_id, remove=tags) if remove else gallery.tag(art_id, add=tags)
    out.print(f"tags: {', '.join(now) or '(none)'}")


@gallery_app.command()
def remix(
    art_id: IdArg,
    run: Annotated[bool, typer.Option(help="make it again now (else print the settings)")] = False,
    seed: Annotated[int | None, typer.Option(help="change the seed when running")] = None,
) -> None:
    """The exact model, verb and settings behind an artwork; --run makes it again."""
    from museforge.core.artifact import load_artifact
    from museforge.core.registry import call_verb

    gallery = _open()
    recipe = gallery.remix(art_id)
    if not run:
        _print_json(recipe)
        return
    if not recipe["model"] or not recipe["verb"]:
        raise InputError(f"artwork {art_id} was not made by a model verb, so it cannot be re-run")
    loaded = load_artifact(Path(recipe["model"]))
    args = dict(recipe["args"])
    if seed is not None:
        args["seed"] = seed
    result = call_verb(loaded, recipe["verb"], **args)
    record = gallery.get(art_id)
    for art in result.artworks:
        art.provenance["remix_of"] = {"id": record.id, "sha256": record.sha256}
    folder = Path(record.path).parent.as_posix()
    ids = gallery.save(result, folder)
    out.print(f"wrote {len(ids)} artworks into {gallery.root / folder}/: {', '.join(ids)}")


@gallery_app.command()
def export(
    art_ids: Annotated[list[str], typer.Argument(help="artwork ids")],
    out_file: Annotated[Path, typer.Option("--out", help="zip file to write")] = Path(
        "museforge-export.zip"
    ),
) -> None:
    """Export artworks (files, sidecars, manifest.json) as a zip."""
    path = _open().export_zip(art_ids, out_file)
    out.print(f"wrote {path}")


@gallery_app.command()
def reindex() -> None:
    """Rebuild the index from the files alone (ratings and tags live beside the files)."""
    from museforge.gallery.store import Gallery

    gallery = Gallery(gallery_root())
    count = gallery.reindex()
    out.print(f"indexed {count} artworks in {gallery.root}/")
