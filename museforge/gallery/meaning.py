"""Search the gallery by meaning: rank pictures by how well they fit words, and name what a
picture looks like from a list of labels, with any embedder that puts both in one space.

The embedder (a text–image encoder, wired in by the CLI and the studio) is anything with a
``key`` naming its weights and ``images``/``texts`` returning unit vectors. Picture
vectors are kept in ``GALLERY/.museforge/meaning.sqlite`` by (embedder key, file sha256),
so a second search encodes only pictures that are new; like the index it is a cache over
the files, and deleting it costs only the time to encode again.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from PIL import Image

from museforge.core.media import open_image
from museforge.errors import InputError
from museforge.gallery.store import INDEX_DIR, ArtworkRecord, Gallery

PICTURES = ("image", "animation")  # what is ranked; an animation by its first frame
MAX_RANKED = 100_000  # artworks one search looks through
BATCH = 64  # pictures (or labels) encoded at a time
CACHE_FILE = "meaning.sqlite"
SCHEMA_VERSION = 1


class Embedder(Protocol):
    """Pictures and texts as unit vectors of one space (rows of a B×D tensor)."""

    key: str  # changes whenever the vectors would (the weights' sha256)

    def images(self, pictures: list[Image.Image]) -> torch.Tensor: ...

    def texts(self, texts: list[str]) -> torch.Tensor: ...

    def unknown(self, text: str) -> list[str]:
        """Characters of ``text`` the embedder cannot read (they still count as unknown)."""
        ...


@dataclass(frozen=True)
class Match:
    record: ArtworkRecord
    score: float  # cosine of the picture and the words, −1..1


@dataclass(frozen=True)
class Ranking:
    """Pictures best first; characters of the query the embedder never saw; pictures whose
    files could not be read (left out)."""

    matches: list[Match]
    unknown: list[str]
    unreadable: int

    @property
    def note(self) -> str | None:
        """What the user should know about the ranking, in one line, or None."""
        notes = []
        if self.unknown:
            shown = "".join(self.unknown[:10])
            notes.append(f"the encoder never saw {shown!r} (read as unknown; ranked anyway)")
        if self.unreadable:
            notes.append(f"{self.unreadable} pictures could not be read and were left out")
        return "; ".join(notes) or None


class VectorCache:
    """Vectors by (embedder key, item) in one SQLite file; a connection per call, so the
    studio's threads and a CLI beside it may all use it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                db.execute("DROP TABLE IF EXISTS vectors")
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            db.execute(
                "CREATE TABLE IF NOT EXISTS vectors "
                "(key TEXT NOT NULL, item TEXT NOT NULL, vector BLOB NOT NULL, "
                "PRIMARY KEY (key, item))"
            )

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def get(self, key: str, items: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with closing(self._connect()) as db:
            for start in range(0, len(items), 500):  # under SQLite's limit on parameters
                part = items[start : start + 500]
                rows = db.execute(
                    f"SELECT item, vector FROM vectors WHERE key = ? AND item IN "
                    f"({', '.join('?' * len(part))})",
                    [key, *part],
                ).fetchall()
                found.update((item, np.frombuffer(blob, dtype=np.float32)) for item, blob in rows)
        return found

    def put(self, key: str, vectors: dict[str, np.ndarray]) -> None:
        rows = [(key, item, np.asarray(v, np.float32).tobytes()) for item, v in vectors.items()]
        with closing(self._connect()) as db, db:
            db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)


def vector_cache(gallery: Gallery) -> VectorCache:
    return VectorCache(gallery.root / INDEX_DIR / CACHE_FILE)


def _read_picture(path: Path) -> Image.Image | None:
    """The picture (an animation's first frame), decoded; None if it cannot be read."""
    try:
        with open_image(path) as img:
            img.load()
            return img.copy()
    # Decoders raise many types (OSError, SyntaxError, ValueError…); each means unreadable.
    except Exception:
        return None


def as_rows(vectors: torch.Tensor | np.ndarray, n: int) -> np.ndarray:
    """An embedder's answer for ``n`` inputs as float32 rows; a ValueError if it is not."""
    rows = np.asarray(torch.as_tensor(vectors).detach().cpu().float().numpy(), dtype=np.float32)
    if rows.ndim != 2 or rows.shape[0] != n:
        raise ValueError(f"the embedder gave {tuple(rows.shape)} for {n} inputs")
    return rows


def picture_vectors(
    gallery: Gallery, embedder: Embedder, records: Iterable[ArtworkRecord]
) -> tuple[list[ArtworkRecord], np.ndarray, int]:
    """(the picture artworks among ``records``, their vectors as rows, how many could not
    be read). Vectors come from the cache where it has them; the rest are encoded and kept."""
    pictures = [r for r in records if r.modality in PICTURES]
    cache = vector_cache(gallery)
    found = cache.get(embedder.key, sorted({r.sha256 for r in pictures}))
    missing = list(dict.fromkeys(r.sha256 for r in pictures if r.sha256 not in found))
    paths = {r.sha256: gallery.root / r.path for r in pictures}
    for start in range(0, len(missing), BATCH):
        decoded = [(sha, _read_picture(paths[sha])) for sha in missing[start : start + BATCH]]
        readable = [(sha, img) for sha, img in decoded if img is not None]
        if not readable:
            continue
        rows = as_rows(embedder.images([img for _, img in readable]), len(readable))
        fresh = {sha: row for (sha, _), row in zip(readable, rows, strict=True)}
        cache.put(embedder.key, fresh)
        found.update(fresh)
    kept = [r for r in pictures if r.sha256 in found]
    matrix = np.stack([found[r.sha256] for r in kept]) if kept else np.zeros((0, 0), np.float32)
    return kept, matrix, len(pictures) - len(kept)


def text_vectors(gallery: Gallery, embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Vectors (rows) of a fixed list of texts — labels asked for again and again — cached
    by the hash of each text."""
    items = ["text:" + hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts]
    cache = vector_cache(gallery)
    found = cache.get(embedder.key, list(dict.fromkeys(items)))
    missing = list({i: t for i, t in zip(items, texts, strict=True) if i not in found}.items())
    for start in range(0, len(missing), BATCH * 4):
        part = missing[start : start + BATCH * 4]
        rows = as_rows(embedder.texts([t for _, t in part]), len(part))
        fresh = {item: row for (item, _), row in zip(part, rows, strict=True)}
        cache.put(embedder.key, fresh)
        found.update(fresh)
    return np.stack([found[i] for i in items]) if items else np.zeros((0, 0), np.float32)


def clean_query(query: str) -> str:
    """The query with single spaces; an InputError when nothing is left."""
    text = " ".join(query.split())
    if not text:
        raise InputError("search by meaning: the query is empty; give some words to look for")
    return text


def rank(
    gallery: Gallery, embedder: Embedder, query: str, records: Iterable[ArtworkRecord]
) -> Ranking:
    """The picture artworks among ``records`` ranked by the cosine of their vector and the
    query's, best first (ties keep the order of ``records``). Texts and music are skipped."""
    query = clean_query(query)
    kept, matrix, unreadable = picture_vectors(gallery, embedder, records)
    want = as_rows(embedder.texts([query]), 1)[0]
    scores = matrix @ want if kept else np.zeros(0, np.float32)
    order = np.argsort(-scores, kind="stable")
    matches = [Match(kept[i], float(scores[i])) for i in order]
    return Ranking(matches, list(embedder.unknown(query)), unreadable)


def search(gallery: Gallery, embedder: Embedder, query: str) -> Ranking:
    """Every picture of the gallery ranked by how well it fits ``query``."""
    return rank(gallery, embedder, query, gallery.list(limit=MAX_RANKED))


def looks_like(
    gallery: Gallery, embedder: Embedder, record: ArtworkRecord, labels: list[str], top: int = 5
) -> list[tuple[str, float]]:
    """Zero-shot tags: the ``top`` labels whose vectors are closest to the picture's, with
    their cosines, best first."""
    if record.modality not in PICTURES:
        raise InputError(
            f"artwork {record.id} is {record.modality}, not a picture: only pictures are "
            "tagged by meaning"
        )
    if not labels:
        raise InputError("no labels to tag the picture with")
    kept, matrix, _ = picture_vectors(gallery, embedder, [record])
    if not kept:
        raise InputError(f"the picture of artwork {record.id} cannot be read ('{record.path}')")
    scores = text_vectors(gallery, embedder, labels) @ matrix[0]
    order = np.argsort(-scores, kind="stable")[:top]
    return [(labels[i], float(scores[i])) for i in order]
