"""What the gallery's index holds of one file: the artwork read from it, the user's marks
beside it, and the checks that turn a stranger's file into a skip with a reason instead of
an error that stops a sync.

An artwork's provenance is JSON anyone can write. A file whose provenance museforge could
not have written (a date that is not a number, parents that are not a list, text that is
not Unicode) is skipped: :class:`Skip` says why. The user's marks are softer: marks that
are not what museforge writes are dropped, and the artwork is indexed without them.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

from PIL import Image

from museforge.errors import MuseforgeError
from museforge.gallery.index import search_body
from museforge.gallery.lineage import Ref, lineage_problem, parent_refs
from museforge.gallery.provenance import read_png_provenance, sidecar_path

USER_SUFFIX = ".user.json"
MODALITIES = {
    ".png": "image",
    ".txt": "text",
    ".gif": "animation",
    ".mid": "music",
    ".midi": "music",
    ".musicxml": "music",
    ".wav": "music",
    ".glb": "mesh",
    ".mp4": "video",
}
COMPANION_SUFFIXES = (".musicxml",)  # with the piano roll and WAV: parts of a MIDI artwork
# Pictures whose provenance names another modality are parts of an artwork of it: a
# piece's piano roll, a mesh's still preview, a sound's spectrogram, a video's poster.
PARTS_OF = ("music", "mesh", "sound", "video")
MAX_TAG_CHARS = 40
SQLITE_INT = 2**63  # seeds beyond SQLite's integers are kept in the provenance only


class Skip(Exception):
    """A file under the gallery root that is not indexed; ``str()`` says why."""


Entry = tuple[dict[str, Any], list[str], list[tuple[Ref, str | None]]]


def artwork_id(rel_path: str) -> str:
    """A stable id for the file at ``rel_path`` (posix, relative to the gallery root); a
    name that is not valid UTF-8 on disk is hashed as its bytes."""
    return hashlib.sha256(rel_path.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def marks_path(path: Path) -> Path:
    """The user's marks file beside an artwork: ``fox.png`` → ``fox.png.user.json``."""
    return path.with_name(path.name + USER_SUFFIX)


def changed_at(path: Path) -> float:
    """Latest change to the artwork or its marks: either means the index row is stale."""
    user = marks_path(path)
    return max(path.stat().st_mtime, user.stat().st_mtime if user.is_file() else 0.0)


def clean_tags(values: list[Any]) -> list[str]:
    """Tags as the index keeps them: trimmed, lower-cased, sorted, without duplicates;
    values that are not text, or longer than MAX_TAG_CHARS, are dropped."""
    out = set()
    for tag in values:
        tag = " ".join(tag.split()).lower() if isinstance(tag, str) else ""
        if tag and len(tag) <= MAX_TAG_CHARS:
            out.add(tag)
    return sorted(out)


def read_marks(path: Path) -> dict[str, Any]:
    """The user's marks of the artwork at ``path``: ``stars`` (1–5 or None), ``like``
    (True, False or None) and ``tags``. A damaged marks file loses only the marks."""
    side = marks_path(path)
    try:
        data = json.loads(side.read_text(encoding="utf-8")) if side.is_file() else {}
    except (OSError, ValueError):
        data = {}
    if not isinstance(data, dict):
        data = {}
    stars, like, tags = data.get("stars"), data.get("like"), data.get("tags")
    return {
        "stars": stars if type(stars) is int and 1 <= stars <= 5 else None,
        "like": like if isinstance(like, bool) else None,
        "tags": clean_tags(tags) if isinstance(tags, list) else [],
    }


def read_artwork(path: Path) -> tuple[str, dict[str, Any], str | None] | None:
    """(modality, provenance, text) of a museforge artwork file, or None for other files.

    A piece of music is one artwork, its MIDI file; its piano roll, score and audio are
    companions of it (see :func:`museforge.gallery.store.companions`), not artworks of their
    own. So is a mesh, its GLB file: its preview records "modality": "mesh" and its
    turntable GIF has no sidecar. A WAV is an artwork (a sound) only when its provenance
    says "modality": "sound"; a piece's rendered WAV is a companion of its MIDI.
    """
    modality = MODALITIES.get(path.suffix.lower())
    if modality is None or path.suffix.lower() in COMPANION_SUFFIXES:
        return None
    try:
        if modality == "image":
            provenance = read_png_provenance(path)
        else:
            side = sidecar_path(path)
            if not side.is_file():
                return None
            provenance = json.loads(side.read_text(encoding="utf-8"))
    except (MuseforgeError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None  # overview grids, foreign files: not artworks
    if not isinstance(provenance, dict):
        return None
    if modality == "image" and provenance.get("modality") in PARTS_OF:
        return None  # a piece's piano roll, a mesh's preview, a sound's spectrogram, a poster
    if path.suffix.lower() == ".wav":
        if provenance.get("modality") != "sound":
            return None  # a piece's audio, a companion of its MIDI
        modality = "sound"
    text = None
    if modality == "text":
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
    return modality, provenance, text


def _text(where: str, value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise Skip(f"its provenance's '{where}' is not text")


def _created(value: Any, fallback: float) -> float:
    # When it was made is the file's business, not its bytes': the same call makes the same
    # bytes, and the index keeps the time (older files carried "created").
    if not value:
        return fallback
    try:
        created = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError, OverflowError):
        created = math.nan
    if not math.isfinite(created):
        raise Skip("its provenance's 'created' is not a number")
    return created


def read_entry(root: Path, rel: str) -> Entry | None:
    """The index row, tags and parent references of the file at ``rel`` under ``root``;
    None when it is not an artwork, :class:`Skip` when it cannot be indexed."""
    path = root / rel
    if path.is_symlink():
        raise Skip("a symbolic link (the gallery indexes files, not links to them)")
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        raise Skip("its name is not valid Unicode") from None
    info = read_artwork(path)
    if info is None:
        return None
    modality, prov, text = info
    try:
        body = json.dumps(prov, sort_keys=True, ensure_ascii=False)
        body.encode("utf-8")
    except (UnicodeEncodeError, ValueError):
        raise Skip("its provenance holds text that is not valid Unicode") from None
    problem = lineage_problem(prov)
    if problem:
        raise Skip(f"its provenance's {problem}")
    stat = path.stat()
    data = path.read_bytes()
    model = prov.get("model") if isinstance(prov.get("model"), dict) else {}
    args = prov.get("args") if isinstance(prov.get("args"), dict) else {}
    seed = args.get("seed", prov.get("seed"))
    marks = read_marks(path)
    row = {
        "id": artwork_id(rel),
        "path": rel,
        "sha256": hashlib.sha256(data).hexdigest(),
        "modality": modality,
        "kind": _text("kind", model.get("kind") or prov.get("kind")),
        "model": _text("model.path", model.get("path")),
        "model_sha256": _text("model.sha256", model.get("sha256")),
        "verb": _text("verb", prov.get("verb")),
        "seed": seed if type(seed) is int and -SQLITE_INT <= seed < SQLITE_INT else None,
        "created": _created(prov.get("created"), stat.st_mtime),
        "mtime": changed_at(path),
        "size": stat.st_size,
        "stars": marks["stars"],
        "liked": None if marks["like"] is None else int(marks["like"]),
        "provenance": body,
        "text": text,
        "body": search_body(prov, text, rel),
    }
    folder = Path(rel).parent
    refs = [(ref, _resolve_ref(root, ref, folder)) for ref in parent_refs(prov)]
    return row, marks["tags"], refs


def inside(root: Path, path: Path) -> str | None:
    """``path`` relative to ``root`` (posix) once links are resolved, or None if outside."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except (ValueError, OSError, RuntimeError):
        return None


def _resolve_ref(root: Path, ref: Ref, folder: Path) -> str | None:
    """The gallery-relative path a reference names, when it names a place in the gallery."""
    if ref.file:
        return (folder / ref.file).as_posix()
    if ref.source:
        return inside(root, Path(ref.source))
    return None
