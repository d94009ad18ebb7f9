"""The gallery's SQLite index: a cache over the files, rebuilt from them at any time.

One row per artwork file, its tags, and the parent references its provenance records.
WAL mode lets the CLI read while the studio writes. The schema is versioned; an index of
another version is simply rebuilt, since the files are the truth.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from museforge.gallery.lineage import Ref

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS artworks (
    id TEXT PRIMARY KEY, path TEXT UNIQUE NOT NULL, sha256 TEXT NOT NULL,
    modality TEXT NOT NULL, kind TEXT, model TEXT, model_sha256 TEXT, verb TEXT,
    seed INTEGER, created REAL NOT NULL, mtime REAL NOT NULL, size INTEGER NOT NULL,
    stars INTEGER, liked INTEGER, provenance TEXT NOT NULL, text TEXT, body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS artworks_sha ON artworks(sha256);
CREATE INDEX IF NOT EXISTS artworks_created ON artworks(created);
CREATE TABLE IF NOT EXISTS tags (id TEXT NOT NULL, tag TEXT NOT NULL, PRIMARY KEY (id, tag));
CREATE TABLE IF NOT EXISTS refs (
    id TEXT NOT NULL, role TEXT NOT NULL, sha256 TEXT, path TEXT, source TEXT, label TEXT
);
CREATE INDEX IF NOT EXISTS refs_id ON refs(id);
CREATE INDEX IF NOT EXISTS refs_sha ON refs(sha256);
CREATE INDEX IF NOT EXISTS refs_path ON refs(path);
"""
COLUMNS = (
    "id, path, sha256, modality, kind, model, model_sha256, verb, seed, created, mtime, size,"
    " stars, liked, provenance, text"
)


class Index:
    """A thread-safe connection to one index file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            for table in ("artworks", "tags", "refs"):
                self._db.execute(f"DROP TABLE IF EXISTS {table}")
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        self._db.executescript(SCHEMA)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The connection, locked, inside one transaction (rolled back on error)."""
        with self._lock, self._db:
            yield self._db

    def query(self, sql: str, params: tuple | list = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def upsert(self, row: dict[str, Any], tags: list[str], refs: list[tuple[Ref, str | None]]):
        """Insert or replace one artwork with its tags and (ref, resolved path) pairs."""
        with self.transaction() as db:
            self._delete(db, row["id"])
            names = [*row]
            db.execute(
                f"INSERT INTO artworks ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                [row[n] for n in names],
            )
            db.executemany("INSERT INTO tags VALUES (?, ?)", [(row["id"], t) for t in tags])
            db.executemany(
                "INSERT INTO refs VALUES (?, ?, ?, ?, ?, ?)",
                [(row["id"], r.role, r.sha256, path, r.source, r.label) for r, path in refs],
            )

    @staticmethod
    def _delete(db: sqlite3.Connection, art_id: str) -> None:
        for table in ("artworks", "tags", "refs"):
            db.execute(f"DELETE FROM {table} WHERE id = ?", (art_id,))

    def delete(self, art_ids: list[str]) -> None:
        with self.transaction() as db:
            for art_id in art_ids:
                self._delete(db, art_id)

    def clear(self) -> None:
        with self.transaction() as db:
            for table in ("artworks", "tags", "refs"):
                db.execute(f"DELETE FROM {table}")

    def stats(self) -> dict[str, tuple[float, int]]:
        """path -> (mtime, size) of every indexed file, to find what changed on disk."""
        rows = self.query("SELECT path, mtime, size FROM artworks")
        return {r["path"]: (r["mtime"], r["size"]) for r in rows}

    def set_user(
        self, art_id: str, stars: int | None, liked: bool | None, tags: list[str], mtime: float
    ) -> None:
        """The user's marks, and the file time that includes them (so sync skips the row)."""
        with self.transaction() as db:
            liked_int = None if liked is None else int(liked)
            db.execute(
                "UPDATE artworks SET stars = ?, liked = ?, mtime = ? WHERE id = ?",
                (stars, liked_int, mtime, art_id),
            )
            db.execute("DELETE FROM tags WHERE id = ?", (art_id,))
            db.executemany("INSERT INTO tags VALUES (?, ?)", [(art_id, t) for t in tags])

    def tags_of(self, art_ids: list[str]) -> dict[str, list[str]]:
        if not art_ids:
            return {}
        marks = ", ".join("?" * len(art_ids))
        rows = self.query(f"SELECT id, tag FROM tags WHERE id IN ({marks}) ORDER BY tag", art_ids)
        out: dict[str, list[str]] = {}
        for r in rows:
            out.setdefault(r["id"], []).append(r["tag"])
        return out


def search_body(provenance: dict[str, Any], text: str | None, path: str) -> str:
    """Lower-cased text that free-text search looks through: settings, model, prompt, poem."""
    return " ".join([path, json.dumps(provenance, ensure_ascii=False), text or ""]).lower()
