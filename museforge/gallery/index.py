"""The gallery's SQLite index: a cache over the files, rebuilt from them at any time.

One row per artwork file, its tags, and the parent references its provenance records.
WAL mode lets the CLI read while the studio writes. The schema is versioned; an index of
another version is simply rebuilt, since the files are the truth.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from museforge.errors import StorageError
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
# SQLite's result codes (sqlite3.Error.sqlite_errorname) by what they mean for a gallery.
DAMAGED = ("SQLITE_NOTADB", "SQLITE_CORRUPT")
UNWRITABLE = ("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH")
STORAGE = ("SQLITE_FULL", "SQLITE_IOERR", "SQLITE_BUSY", "SQLITE_LOCKED", *UNWRITABLE)
COLUMNS = (
    "id, path, sha256, modality, kind, model, model_sha256, verb, seed, created, mtime, size,"
    " stars, liked, provenance, text"
)


class Index:
    """A thread-safe connection to one index file.

    A gallery folder that cannot be written (read-only, not ours) gets its index in memory
    instead (``in_memory``), rebuilt from the files, so it can still be listed and read; an
    index file that is not a database at all is rebuilt the same way.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._depth = 0  # nested transactions join the outermost one
        self.in_memory = False
        try:
            if not _writable(path.parent):
                raise PermissionError(path.parent)
            self._db = self._open(path)
        except OSError:
            self._db, self.in_memory = self._open(None), True
        except sqlite3.DatabaseError as err:
            trouble = _trouble(err)
            if trouble == "damaged":  # the files are the truth: start afresh
                for extra in ("", "-wal", "-shm"):
                    path.with_name(path.name + extra).unlink(missing_ok=True)
                self._db = self._open(path)
            elif trouble == "unwritable":
                self._db, self.in_memory = self._open(None), True
            else:
                raise StorageError(f"cannot open the gallery index '{path}' ({err})") from None

    @staticmethod
    def _open(path: Path | None) -> sqlite3.Connection:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit: transactions are begun explicitly, so that one can span many writes.
        db = sqlite3.connect(
            ":memory:" if path is None else path,
            check_same_thread=False,
            timeout=30,
            isolation_level=None,
        )
        try:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version != SCHEMA_VERSION:
                for table in ("artworks", "tags", "refs"):
                    db.execute(f"DROP TABLE IF EXISTS {table}")
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            db.executescript(SCHEMA)
        except BaseException:
            db.close()
            raise
        return db

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The connection, locked, inside one transaction (rolled back on error); a
        transaction begun inside another is part of it. A write the disk refuses (full,
        read-only, busy too long) is a StorageError naming the index file."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self._db
                finally:
                    self._depth -= 1
                return
            self._depth = 1
            try:
                self._db.execute("BEGIN IMMEDIATE")  # take the write lock now, not mid-way
                try:
                    yield self._db
                    self._db.commit()
                except BaseException:
                    if self._db.in_transaction:
                        self._db.rollback()
                    raise
            except sqlite3.OperationalError as err:
                if _trouble(err) is None:
                    raise
                message = f"cannot update the gallery index '{self.path}' ({err})"
                raise StorageError(message) from None
            finally:
                self._depth = 0

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


def _writable(folder: Path) -> bool:
    """Whether files can be made in ``folder`` (or in its nearest existing parent): a
    read-only mount or another user's folder says no even before SQLite would."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return os.access(folder, os.W_OK)


def _trouble(err: sqlite3.Error) -> str | None:
    """ "damaged", "unwritable", "storage" (full, busy...) or None (a bug) for ``err``."""
    name = getattr(err, "sqlite_errorname", "")
    if name.startswith(DAMAGED):
        return "damaged"
    if name.startswith(UNWRITABLE):
        return "unwritable"
    return "storage" if name.startswith(STORAGE) else None


def search_body(provenance: dict[str, Any], text: str | None, path: str) -> str:
    """Lower-cased text that free-text search looks through: settings, model, prompt, poem."""
    return " ".join([path, json.dumps(provenance, ensure_ascii=False), text or ""]).lower()
