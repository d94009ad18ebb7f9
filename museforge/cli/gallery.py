"""The ``museforge gallery`` commands: list, search, show, why, rate, tag, remix, export,
reindex.

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

from museforge.cli.app import err, gallery_root, out
from museforge.errors import InputError

gallery_app = typer.Typer(
    help="Your artworks: list, search, rate, tag, why (taste), lineage, remix, export."
)

IdArg = Annotated[str, typer.Argument(help="artwork id (from `museforge gallery list`)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
EncoderOpt = Annotated[
    str | None,
    typer.Option(help="text–image encoder: model folder or starter name (default: a starter)"),
]


def _open():
    from museforge.gallery.store import Gallery

    gallery = Gallery(gallery_root())
    gallery.sync()
    return gallery


def _embedder(encoder: str | None):
    """The embedder of the named encoder, else of the best starter encoder there is."""
    from museforge.cli.app import models_dir, resolve_model
    from museforge.crossmodal.embedder import default_encoder, encoder_embedder

    return encoder_embedder(resolve_model(encoder) if encoder else default_encoder(models_dir()))


def taste_embedder(encoder: str | None = None):
    """The embedder whose picture vectors the taste model adds to its descriptors: the
    named encoder's, else a starter's, else None (the descriptors alone)."""
    if encoder:
        return _embedder(encoder)
    try:
        return _embedder(None)
    except InputError:
        return None


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
    modality: Annotated[
        str | None, typer.Option(help="image, text, animation, music, mesh")
    ] = None,
    model: Annotated[str | None, typer.Option(help="model path, kind or hash prefix")] = None,
    min_stars: Annotated[int | None, typer.Option(help="at least this many stars")] = None,
    liked: Annotated[
        bool | None, typer.Option("--liked/--disliked", help="only liked / disliked")
    ] = None,
    tag: Annotated[str | None, typer.Option(help="only artworks with this tag")] = None,
    since: Annotated[str | None, typer.Option(help="made on or after this date")] = None,
    until: Annotated[str | None, typer.Option(help="made before this date")] = None,
    frames: Annotated[
        bool, typer.Option("--frames", help="list an animation's frames too, not only its GIF")
    ] = False,
    limit: Annotated[int, typer.Option(help="at most this many")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List artworks, newest first, with filters and free-text search (an interpolation
    is one animation; `gallery show ID` lists its frames)."""
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
        frames=frames,
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
    out.print(f"{len(records)} of {gallery.count(frames=frames)} artworks in {gallery.root}/")


@gallery_app.command()
def search(
    query: Annotated[str, typer.Argument(help="what the pictures show, in English or Chinese")],
    encoder: EncoderOpt = None,
    limit: Annotated[int, typer.Option(min=1, help="at most this many")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Rank every picture in the gallery by meaning: how well a text–image encoder finds it
    fits the words (cosine, −1..1), best first. Texts and music are not ranked."""
    from museforge.gallery.meaning import clean_query
    from museforge.gallery.meaning import search as by_meaning

    clean_query(query)  # an empty query is refused before an encoder is loaded
    embedder = _embedder(encoder)
    ranking = by_meaning(_open(), embedder, query)
    if ranking.note:
        err.print(f"[yellow]note:[/yellow] {escape(ranking.note)}", highlight=False)
    shown = ranking.matches[:limit]
    if as_json:
        rows = [
            {"rank": k, "score": round(m.score, 4), "id": m.record.id, "path": m.record.path}
            for k, m in enumerate(shown, 1)
        ]
        _print_json(rows)
        return
    table = Table("rank", "score", "file")
    table.add_column("id", no_wrap=True, min_width=16)
    for k, m in enumerate(shown, 1):
        table.add_row(str(k), f"{m.score:.3f}", m.record.path, m.record.id)
    out.print(table)
    total = len(ranking.matches)
    out.print(f"{len(shown)} of {total} pictures, ranked by meaning with {embedder.name}")


@gallery_app.command()
def show(
    art_id: IdArg,
    looks_like: Annotated[
        bool, typer.Option("--looks-like", help="name what the picture looks like (zero-shot)")
    ] = False,
    lang: Annotated[str, typer.Option(help="language of the --looks-like labels")] = "en",
    encoder: EncoderOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One artwork: its provenance, parents and children; with --looks-like, the five
    captions of the encoder's training set that fit the picture best."""
    gallery = _open()
    record = gallery.get(art_id)
    guesses = _looks_like(gallery, record, lang, encoder) if looks_like else None
    parents = gallery.parents(art_id)
    children = [{"id": c.id, "path": c.path, "verb": c.verb} for c in gallery.children(art_id)]
    data = {**record.summary(), "provenance": record.provenance}
    data.update(parents=parents, children=children)
    if guesses is not None:
        data["looks_like"] = [{"label": t, "score": round(s, 4)} for t, s in guesses]
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
    if guesses is not None:
        out.print("looks like: " + ", ".join(f"{escape(t)} ({s:.2f})" for t, s in guesses))


def _looks_like(gallery, record, lang: str, encoder: str | None) -> list[tuple[str, float]]:
    from museforge.gallery.meaning import looks_like

    embedder = _embedder(encoder)
    return looks_like(gallery, embedder, record, embedder.labels(lang))


@gallery_app.command()
def why(
    art_id: IdArg,
    lang: Annotated[str, typer.Option(help="language of the words")] = "en",
    encoder: EncoderOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Why the taste model would recommend an artwork: its taste score, the liked
    artworks nearest to it, and the encoder's captions closest to your taste (pictures,
    with an encoder; without one the taste model uses its own descriptors)."""
    from museforge.gallery.explain import explain

    gallery = _open()
    record = gallery.get(art_id)
    embedder = taste_embedder(encoder)
    # The captions are read only where they are used: a picture, with an encoder.
    picture = embedder is not None and record.modality == "image"
    labels = embedder.labels(lang) if picture else []
    found = explain(gallery, record, embedder, labels)
    features = f"descriptors + {embedder.name}" if found.encoder else "descriptors"
    if found.note:
        err.print(f"[yellow]note:[/yellow] {escape(found.note)}", highlight=False)
    if as_json:
        nearest = [{"id": r.id, "path": r.path, "cosine": round(c, 4)} for r, c in found.nearest]
        words = [{"label": t, "score": round(s, 4)} for t, s in found.words]
        data = {"id": record.id, "path": record.path, "score": round(found.score, 4)}
        data.update(features=features, nearest=nearest, words=words, note=found.note)
        _print_json(data)
        return
    out.print(f"[bold]{escape(record.path)}[/bold]: taste score {found.score:.2f} ({features})")
    for r, c in found.nearest:
        out.print(f"  liked, {c:.2f} alike: {escape(r.path)}  {r.id}")
    if found.words:
        out.print(
            "your taste in words: " + ", ".join(f"{escape(t)} ({s:.2f})" for t, s in found.words)
        )


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
    """The exact model, verb and settings behind an artwork; --run makes it again (with
    the very model recorded, and input files from the gallery only)."""
    from museforge.gallery.remix import remake

    gallery = _open()
    if not run:
        _print_json(gallery.remix(art_id))
        return
    ids = remake(gallery, art_id, seed)
    folder = Path(gallery.get(art_id).path).parent.as_posix()
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
