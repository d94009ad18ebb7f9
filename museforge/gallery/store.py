"""The gallery: artwork files under one folder, the truth, and an index kept in step.

Every artwork is a file with its provenance embedded (PNG) or in a JSON sidecar (text,
animation, music, mesh). The user's own marks — stars, like/dislike, tags — live in a second
sidecar ``<file>.user.json``, so deleting the index loses nothing: :meth:`Gallery.reindex`
rebuilds it from the files and gives the same listing.

An animation (an interpolation or prompt walk) is one item: its stills are written too
(each with its own latent, to remix or breed) but record ``frame_of``, so listings hide
them and :meth:`Gallery.children` of the animation gives them in order.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from museforge.core.artwork import Result
from museforge.core.atomic import (
    READ_ONLY,
    atomic_write_text,
    atomic_write_with,
    file_lock,
    storage_error,
)
from museforge.errors import InputError
from museforge.gallery.artwork import write_result
from museforge.gallery.entry import (
    MAX_TAG_CHARS,
    MODALITIES,
    Entry,
    Skip,
    artwork_id,
    changed_at,
    inside,
    marks_path,
    read_entry,
    read_marks,
)
from museforge.gallery.entry import USER_SUFFIX as USER_SUFFIX  # others import it from here
from museforge.gallery.entry import read_artwork as read_artwork
from museforge.gallery.index import COLUMNS, Index
from museforge.gallery.lineage import frame_of
from museforge.gallery.provenance import (
    MESH_COMPANIONS,
    PICTURE_COMPANIONS,
    SCORE_COMPANIONS,
    SOUND_COMPANIONS,
    VIDEO_COMPANIONS,
    sidecar_path,
)

INDEX_DIR = ".museforge"
LOCK_FILE = "gallery.lock"
# Frames whose animation is in the gallery: listings show the animation in their place (a
# frame whose GIF is gone is listed again, so nothing becomes unreachable).
FRAME_IDS = "SELECT r.id FROM refs r JOIN artworks a ON a.path = r.path WHERE r.role = 'animation'"
COMPANIONS = {"audio": ".wav", "score": ".musicxml", "roll": ".png", **SCORE_COMPANIONS}
MIDI = (".mid", ".midi")
COMPANION_TABLES = {
    ".png": PICTURE_COMPANIONS,
    ".glb": MESH_COMPANIONS,
    ".wav": SOUND_COMPANIONS,
    ".mp4": VIDEO_COMPANIONS,
    **dict.fromkeys(MIDI, COMPANIONS),
}
COMPANION_ROLES = frozenset(role for table in COMPANION_TABLES.values() for role in table)


def companions(path: Path) -> dict[str, Path]:
    """The files that belong with an artwork: a MIDI's audio, score (MusicXML), piano roll
    and engraving (PDF, PNG "sheet", SVG); a sprite sheet's atlas; a set word's SVG
    outline; a mesh's STL, OBJ, still preview (PNG) and turntable (GIF)."""
    table = COMPANION_TABLES.get(path.suffix.lower(), {})
    found = {role: path.with_suffix(ext) for role, ext in table.items()}
    return {role: p for role, p in found.items() if p.is_file()}


def default_root() -> Path:
    """The gallery folder: $MUSEFORGE_GALLERY or ``gallery`` in the working directory."""
    return Path(os.environ.get("MUSEFORGE_GALLERY", "gallery"))


@dataclass
class ArtworkRecord:
    """One indexed artwork as listings and the studio show it."""

    id: str
    path: str
    sha256: str
    modality: str
    kind: str | None
    model: str | None
    model_sha256: str | None
    verb: str | None
    seed: int | None
    created: float
    stars: int | None
    like: bool | None
    provenance: dict[str, Any]
    text: str | None = None
    tags: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready dict without the (possibly large) provenance."""
        out = {k: v for k, v in self.__dict__.items() if k != "provenance"}
        return out


def _tags(values: list[str]) -> list[str]:
    out = []
    for tag in values:
        tag = " ".join(str(tag).split()).lower()
        if not tag:
            continue
        if len(tag) > MAX_TAG_CHARS:
            raise InputError(f"tag '{tag[:20]}…' is longer than {MAX_TAG_CHARS} characters")
        out.append(tag)
    return sorted(set(out))


def unique_names(result: Result, folder: Path) -> None:
    """Suffix a result's names when any is taken in ``folder``, so that saving never
    overwrites an artwork (nor lets the newcomer inherit its stars and tags). References
    between the result's own files (an interpolation's ends) are renamed with them."""
    taken = {p.stem for p in folder.glob("*") if p.suffix.lower() in MODALITIES}
    names = [art.name for art in result.artworks] + [result.stem]
    suffix = ""
    for k in itertools.count(2):
        if not any(f"{n}{suffix}" in taken for n in names):
            break
        suffix = f"-v{k}"
    if not suffix:
        return
    renamed = {f"{art.name}.png": f"{art.name}{suffix}.png" for art in result.artworks}
    for art in result.artworks:
        art.name += suffix
        if "ends" in art.provenance:
            art.provenance["ends"] = [renamed.get(e, e) for e in art.provenance["ends"]]
    result.stem += suffix


class Gallery:
    """Artwork files under ``root`` and their SQLite index (``root/.museforge``).

    Every change (saving, marks, sync, reindex) happens under one lock file shared by the
    processes using the folder (the CLI while the studio runs), so two writers never pick
    the same name nor lose each other's marks. ``skipped`` holds the files the last sync or
    reindex could not index (gallery-relative path → why).
    """

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else default_root()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise storage_error(self.root, err) from err
        self.index = Index(self.root / INDEX_DIR / "index.sqlite")
        self.skipped: dict[str, str] = {}
        self._mutex = threading.RLock()
        self._locked = False
        if self.index.in_memory:  # a read-only folder: listings come from the files alone
            self.sync()

    def close(self) -> None:
        self.index.close()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the gallery's lock for the block: no other process or thread saves, marks,
        syncs or reindexes meanwhile. Re-entrant. A folder that cannot hold the lock file
        (read-only) is read unlocked, and its writes fail on their own with a clear line."""
        with self._mutex, contextlib.ExitStack() as stack:
            if not self._locked:
                try:
                    stack.enter_context(file_lock(self.root / INDEX_DIR / LOCK_FILE))
                except OSError as err:
                    if err.errno not in READ_ONLY:
                        raise
                self._locked = True
                stack.callback(setattr, self, "_locked", False)
            yield

    # --- files -> index -------------------------------------------------------------
    def _rel(self, path: Path) -> str:
        rel = inside(self.root, path)
        if rel is None:
            raise InputError(f"'{path}' is not inside the gallery folder '{self.root}'")
        return rel

    def _files(self) -> list[Path]:
        found = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if not name.startswith(".") and Path(name).suffix.lower() in MODALITIES:
                    found.append(Path(dirpath) / name)
        return found

    def _read(self, rels: list[str]) -> list[tuple[str, Entry | None]]:
        """(id, entry) of each file; entry None for files that are not artworks and for
        those skipped (``self.skipped`` says why: one bad file never stops the rest)."""
        out = []
        for rel in rels:
            try:
                entry = read_entry(self.root, rel)
            except Skip as skip:
                entry, self.skipped[rel] = None, str(skip)
            except Exception as err:  # unreadable in a way no reader foresaw: still only one file
                entry, self.skipped[rel] = None, f"unreadable ({type(err).__name__}: {err})"
            out.append((artwork_id(rel), entry))
        return out

    def _store(self, read: list[tuple[str, Entry | None]], gone: list[str] = ()) -> None:
        """Write what :meth:`_read` found (and drop ids ``gone``) in one transaction."""
        with self.index.transaction():
            for art_id, entry in read:
                if entry is None:
                    self.index.delete([art_id])
                else:
                    self.index.upsert(*entry)
            self.index.delete(list(gone))

    def add(self, path: Path | str) -> str | None:
        """Index one artwork file under the root; its id, or None if it is not an artwork
        (or cannot be indexed: ``skipped`` says why)."""
        rel = self._rel(Path(path))
        with self.exclusive():
            self.skipped.pop(rel, None)
            [(art_id, entry)] = self._read([rel])
            self._store([(art_id, entry)])
        return None if entry is None else art_id

    def sync(self) -> dict[str, int]:
        """Bring the index up to date with the files: add new or changed, drop vanished;
        how many were indexed, removed and skipped (see ``skipped``)."""
        with self.exclusive():
            self.skipped = {}
            known = self.index.stats()
            seen, changed = set(), []
            for path in self._files():
                rel = path.relative_to(self.root).as_posix()
                seen.add(rel)
                try:
                    now = (changed_at(path), path.stat().st_size)
                except OSError:
                    now = None  # gone meanwhile, or a link to nowhere: read it below
                if known.get(rel) != now:
                    changed.append(rel)
            gone = [artwork_id(rel) for rel in known if rel not in seen]
            read = self._read(changed)
            self._store(read, gone)
        indexed = sum(entry is not None for _, entry in read)
        return {"indexed": indexed, "removed": len(gone), "skipped": len(self.skipped)}

    def reindex(self) -> int:
        """Rebuild the index from the files alone, in one transaction (readers see the old
        index until the new one is whole); the number of artworks indexed."""
        with self.exclusive():
            self.skipped = {}
            rels = [p.relative_to(self.root).as_posix() for p in self._files()]
            read = self._read(rels)
            with self.index.transaction():
                self.index.clear()
                self._store(read)
        return sum(entry is not None for _, entry in read)

    def write(self, result: Result, folder: str, upscale: int = 1) -> list[Path]:
        """Write a verb's result under ``root/folder`` without overwriting any artwork there
        (names get a ``-v2``… suffix when taken) and index it; the paths written."""
        return [path for path, _ in self._write(result, folder, upscale)]

    def save(self, result: Result, folder: str, upscale: int = 1) -> list[str]:
        """Like :meth:`write`; the ids of the items written as listings show them: the
        artworks, or for an animation the animation alone (its frames are its children)."""
        written = [(p, i) for p, i in self._write(result, folder, upscale) if i is not None]
        animations = [i for p, i in written if MODALITIES.get(p.suffix.lower()) == "animation"]
        return animations if result.frames and animations else [i for _, i in written]

    def _write(self, result: Result, folder: str, upscale: int) -> list[tuple[Path, str | None]]:
        out = self.root / folder
        with self.exclusive():  # no other writer may take the names chosen here
            unique_names(result, out)
            try:
                paths = write_result(result, out, upscale=upscale)
            except BaseException:
                # What was written before the failure is whole: index it, so the index
                # still equals the files; the error that stopped the rest is the news.
                with contextlib.suppress(Exception):
                    self.sync()
                raise
            rels = [self._rel(path) for path in paths]
            read = self._read(rels)
            self._store(read)  # each file indexed once, all in one transaction
        return [(path, None if e is None else i) for path, (i, e) in zip(paths, read, strict=True)]

    # --- queries --------------------------------------------------------------------
    def _record(self, row: Any, tags: list[str]) -> ArtworkRecord:
        liked = row["liked"]
        return ArtworkRecord(
            id=row["id"],
            path=row["path"],
            sha256=row["sha256"],
            modality=row["modality"],
            kind=row["kind"],
            model=row["model"],
            model_sha256=row["model_sha256"],
            verb=row["verb"],
            seed=row["seed"],
            created=row["created"],
            stars=row["stars"],
            like=None if liked is None else bool(liked),
            provenance=json.loads(row["provenance"]),
            text=row["text"],
            tags=tags,
        )

    def _records(self, rows: list[Any]) -> list[ArtworkRecord]:
        tags = self.index.tags_of([r["id"] for r in rows])
        return [self._record(r, tags.get(r["id"], [])) for r in rows]

    def get(self, art_id: str) -> ArtworkRecord:
        """The artwork with id ``art_id``, or an InputError."""
        rows = self.index.query(f"SELECT {COLUMNS} FROM artworks WHERE id = ?", (art_id,))
        if not rows:
            raise InputError(f"no artwork with id '{art_id}' in the gallery '{self.root}'")
        return self._records(rows)[0]

    def list(
        self,
        *,
        modality: str | None = None,
        model: str | None = None,
        text: str | None = None,
        min_stars: int | None = None,
        liked: bool | None = None,
        tag: str | None = None,
        since: float | None = None,
        until: float | None = None,
        frames: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> list[ArtworkRecord]:
        """Artworks newest first, filtered; ``text`` matches every word anywhere in the
        path, provenance (prompt, settings, model) or the poem itself. The frames of an
        animation are left out unless ``frames`` (the animation stands for them)."""
        where, params = [], []
        if not frames:
            where.append(f"id NOT IN ({FRAME_IDS})")
        if modality:
            where.append("modality = ?")
            params.append(modality)
        if model:
            where.append("(model = ? OR model LIKE ? OR model_sha256 LIKE ? OR kind = ?)")
            params += [model, f"%/{model}", f"{model}%", model]
        for word in (text or "").lower().split():
            escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append("body LIKE ? ESCAPE '\\'")
            params.append(f"%{escaped}%")
        if min_stars is not None:
            where.append("stars >= ?")
            params.append(min_stars)
        if liked is not None:
            where.append("liked = ?")
            params.append(int(liked))
        if tag:
            where.append("id IN (SELECT id FROM tags WHERE tag = ?)")
            params.append(tag.lower().strip())
        if since is not None:
            where.append("created >= ?")
            params.append(since)
        if until is not None:
            where.append("created < ?")
            params.append(until)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        sql = (
            f"SELECT {COLUMNS} FROM artworks {clause} ORDER BY created DESC, path LIMIT ? OFFSET ?"
        )
        return self._records(self.index.query(sql, [*params, limit, offset]))

    def count(self, frames: bool = False) -> int:
        """How many artworks a listing holds (with the animations' frames if ``frames``)."""
        clause = "" if frames else f" WHERE id NOT IN ({FRAME_IDS})"
        return int(self.index.query(f"SELECT COUNT(*) FROM artworks{clause}")[0][0])

    def file_path(self, art_id: str) -> Path:
        """The file of artwork ``art_id`` (ids only: no client-supplied paths)."""
        return self.root / self.get(art_id).path

    # --- the user's marks ------------------------------------------------------------
    def _update_marks(
        self, art_id: str, change: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> dict[str, Any]:
        """Read the artwork's marks file, apply ``change`` and write it back, under the
        lock: the file, not this process's index, holds what other processes marked."""
        with self.exclusive():
            record = self.get(art_id)
            path = self.root / record.path
            if not path.is_file():
                raise InputError(f"artwork {art_id}'s file '{record.path}' is no longer there")
            marks = change(read_marks(path))
            text = json.dumps(marks, sort_keys=True, ensure_ascii=False) + "\n"
            atomic_write_text(marks_path(path), text)
            liked = marks["like"]
            self.index.set_user(art_id, marks["stars"], liked, marks["tags"], changed_at(path))
        return marks

    def rate(self, art_id: str, stars: int | None = None, like: bool | None = None) -> None:
        """Set stars (1–5, 0 clears) and/or like (True) / dislike (False)."""
        changes: dict[str, Any] = {}
        if stars is not None:
            if not 0 <= stars <= 5:
                raise InputError(f"stars must be 0 to 5 (got {stars})")
            changes["stars"] = stars or None
        if like is not None:
            changes["like"] = like
        self._update_marks(art_id, lambda marks: {**marks, **changes})

    def clear_like(self, art_id: str) -> None:
        self._update_marks(art_id, lambda marks: {**marks, "like": None})

    def tag(self, art_id: str, add: list[str] = (), remove: list[str] = ()) -> list[str]:
        """Add and remove tags (lower-cased, trimmed); the artwork's tags afterwards."""
        drop, new = set(_tags(list(remove))), _tags(list(add))

        def change(marks: dict[str, Any]) -> dict[str, Any]:
            return {**marks, "tags": _tags([t for t in marks["tags"] if t not in drop] + new)}

        return self._update_marks(art_id, change)["tags"]

    # --- lineage ---------------------------------------------------------------------
    def parents(self, art_id: str) -> list[dict[str, Any]]:
        """Each recorded parent: its role, label and, when it is in the gallery, its id."""
        record = self.get(art_id)
        rows = self.index.query("SELECT * FROM refs WHERE id = ?", (art_id,))
        out = []
        for r in rows:
            # A recorded hash names exactly one file; a same-named file is not the parent.
            match = self.index.query(
                "SELECT id FROM artworks WHERE id != ? AND "
                "(sha256 = ? OR (? = '' AND path = ?)) ORDER BY path LIMIT 1",
                (record.id, r["sha256"] or "", r["sha256"] or "", r["path"] or ""),
            )
            if not match and r["role"] == "end" and r["path"] == record.path:
                continue  # an interpolation's end frame names itself
            out.append(
                {"role": r["role"], "label": r["label"], "id": match[0]["id"] if match else None}
            )
        return out

    def children(self, art_id: str) -> list[ArtworkRecord]:
        """Artworks that name ``art_id`` as a parent (by file hash or place), oldest
        first; an animation's frames come first, in the order they play."""
        record = self.get(art_id)
        rows = self.index.query(
            f"SELECT {COLUMNS} FROM artworks WHERE id != ? AND id IN "
            "(SELECT id FROM refs WHERE sha256 = ? OR (COALESCE(sha256, '') = '' AND path = ?))"
            " ORDER BY created, path",
            (record.id, record.sha256, record.path),
        )
        children = self._records(rows)
        place = [self._frame_number(record, c) for c in children]
        order = sorted(range(len(children)), key=lambda k: (place[k] is None, place[k] or 0, k))
        return [children[k] for k in order]

    def frames(self, art_id: str) -> list[ArtworkRecord]:
        """The stills of animation ``art_id`` in the order they play (none for others)."""
        record = self.get(art_id)
        return [c for c in self.children(art_id) if self._frame_number(record, c) is not None]

    @staticmethod
    def _frame_number(animation: ArtworkRecord, child: ArtworkRecord) -> int | None:
        found = frame_of(child.provenance)
        if found is None or Path(child.path).parent / found[0] != Path(animation.path):
            return None
        return found[1]

    # --- remix and export ------------------------------------------------------------
    def remix(self, art_id: str) -> dict[str, Any]:
        """The exact call that made the artwork: model, verb and arguments (with seed)."""
        record = self.get(art_id)
        if record.modality == "video":  # made by visualise from music, not by a model's verb
            raise InputError(
                f"artwork {art_id} is a video: make it again with `museforge visualise` and "
                "the music, model and settings its provenance records"
            )
        args = record.provenance.get("args")
        if not isinstance(args, dict) or not record.verb:
            raise InputError(f"artwork {art_id} records no call of a model's verb to re-run")
        return {
            "id": record.id,
            "model": record.model,
            "model_sha256": record.model_sha256,
            "kind": record.kind,
            "verb": record.verb,
            "args": args,
        }

    def export_zip(self, art_ids: list[str], dest: Path | str) -> Path:
        """A zip of the chosen artworks, their sidecars and a ``manifest.json``."""
        if not art_ids:
            raise InputError("choose at least one artwork to export")
        records = [self.get(i) for i in dict.fromkeys(art_ids)]

        def write(tmp: Path) -> None:
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
                manifest = []
                for rec in records:
                    path = self.root / rec.path
                    zf.write(path, rec.path)
                    extra = [sidecar_path(path), marks_path(path)]
                    for other in companions(path).values():
                        extra += [other, sidecar_path(other)]
                    for side in extra:
                        if side.is_file():
                            zf.write(side, Path(rec.path).with_name(side.name).as_posix())
                    manifest.append({**rec.summary(), "provenance": rec.provenance})
                info = {"exported": time.time(), "count": len(records), "artworks": manifest}
                zf.writestr("manifest.json", json.dumps(info, indent=2, ensure_ascii=False))

        return atomic_write_with(dest, write)
