"""Persistent job queue: jobs and their events in SQLite, run by worker threads, streamed as SSE.

One server process owns a database file. Jobs left 'running' by a process that died become
'interrupted' when the next queue starts and are queued again at once with
``{"resume": True}`` (a runner continues from what its earlier attempt left: outputs already
written, a checkpoint), unless the job has been cut short ``max_auto_resumes`` times since a
user last resumed it; then it waits, 'interrupted', for an explicit resume.

A submission may carry a client-chosen idempotency key: the same key with the same request
gives the same job, so a client that lost the answer (a killed server) can send it again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from museforge.errors import InputError, MuseforgeError

log = logging.getLogger(__name__)

RESUMABLE = frozenset({"interrupted", "failed", "cancelled"})
# A job that dies with its server this often in a row may be what kills it (memory): it then
# waits for the user instead of taking the server down at every start.
MAX_AUTO_RESUMES = 3
MAX_KEY_CHARS = 200
_MAX_ERROR = 200
# Workers and SSE waiters also poll, so rows written by another connection are seen promptly.
_POLL_S = 0.5

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, params TEXT NOT NULL, state TEXT NOT NULL,
    created REAL NOT NULL, started REAL, finished REAL, progress REAL NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '', result TEXT, error TEXT,
    attempt INTEGER NOT NULL DEFAULT 0, idem_key TEXT, request_sha TEXT,
    interruptions INTEGER NOT NULL DEFAULT 0, checkpoint TEXT
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, created);
CREATE TABLE IF NOT EXISTS events (
    job_id TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL,
    time REAL NOT NULL, PRIMARY KEY (job_id, seq)
);
"""
# Columns added since the first release, for databases made before them.
_ADDED = {
    "idem_key": "TEXT",
    "request_sha": "TEXT",
    "interruptions": "INTEGER NOT NULL DEFAULT 0",
    "checkpoint": "TEXT",
}


class JobCancelled(Exception):
    """Raised inside a runner (by ``JobContext.check``) once its job should stop."""


@dataclass
class Job:
    """A snapshot of one job's row."""

    id: str
    kind: str
    params: dict
    state: str  # queued | running | done | failed | cancelled | interrupted
    created: float
    started: float | None
    finished: float | None
    progress: float
    message: str
    result: dict | None
    error: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Job:
        result = row["result"]
        return cls(
            id=row["id"], kind=row["kind"], params=json.loads(row["params"]), state=row["state"],
            created=row["created"], started=row["started"], finished=row["finished"],
            progress=row["progress"], message=row["message"],
            result=None if result is None else json.loads(result), error=row["error"],
        )  # fmt: skip


@dataclass
class Event:
    """One persisted event of a job; ``seq`` counts 1, 2, 3... per job."""

    job_id: str
    seq: int
    type: str  # state | progress | log | result | error
    data: dict
    time: float


Runner = Callable[[Job, "JobContext"], dict]


def sse_format(event: Event) -> str:
    """Return ``event`` as one Server-Sent Events message."""
    data = json.dumps(event.data, separators=(",", ":"), default=str)
    return f"id: {event.seq}\nevent: {event.type}\ndata: {data}\n\n"


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _MAX_ERROR else line[: _MAX_ERROR - 1] + "…"


def _check_key(key: str) -> str:
    """An idempotency key as sent; InputError unless it is 1–200 visible ASCII characters."""
    if not (0 < len(key) <= MAX_KEY_CHARS and all("!" <= c <= "~" for c in key)):
        raise InputError(f"Idempotency-Key must be 1 to {MAX_KEY_CHARS} visible ASCII characters")
    return key


def _request_sha(kind: str, params: dict) -> str:
    """What a repeated key must match: the kind and parameters, independent of key order."""
    text = json.dumps([kind, params], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class JobContext:
    """What a runner gets besides its job: progress reporting, cancellation, and what an
    earlier attempt of the job saved."""

    def __init__(
        self,
        queue: JobQueue,
        job: Job,
        attempt: int,
        flag: threading.Event,
        checkpoint: dict | None = None,
    ):
        self.job_id = job.id
        self.params = job.params
        self.attempt = attempt  # 1 on the first run, counting automatic and explicit resumes
        # What an earlier attempt saved with ``save_checkpoint`` ({} on the first run).
        self.checkpoint: dict = dict(checkpoint or {})
        self._queue, self._flag = queue, flag

    @property
    def cancelled(self) -> bool:
        """True once cancellation was requested; the runner should stop soon."""
        return self._flag.is_set()

    def check(self) -> None:
        """Raise ``JobCancelled`` if cancellation was requested."""
        if self._flag.is_set():
            raise JobCancelled(f"job {self.job_id} was cancelled")

    def progress(self, fraction: float, message: str = "", **data: Any) -> None:
        """Record progress (``fraction`` clamped to 0..1) and persist a 'progress' event."""
        if not math.isfinite(fraction):
            raise ValueError(f"progress fraction must be finite, got {fraction}")
        fraction = min(1.0, max(0.0, float(fraction)))
        payload = {"fraction": fraction, "message": message, **data}
        self._queue._record(self.job_id, self.attempt, "progress", payload, (fraction, message))

    def log(self, message: str) -> None:
        """Persist a 'log' event."""
        self._queue._record(self.job_id, self.attempt, "log", {"message": message}, None)

    def save_checkpoint(self, data: dict) -> None:
        """Persist ``data`` (JSON) for a later attempt of this job, which finds it in
        ``checkpoint``; JobCancelled if the job is no longer this attempt's."""
        text = json.dumps(data)
        with self._queue._write():
            if not self._queue._owned(self.job_id, self.attempt):
                raise JobCancelled(f"job {self.job_id} is no longer running here")
            self._queue._db.execute(
                "UPDATE jobs SET checkpoint = ? WHERE id = ?", (text, self.job_id)
            )
        self.checkpoint = dict(data)


class JobQueue:
    """Jobs persisted in SQLite (WAL) and run in creation order by ``workers`` daemon threads."""

    def __init__(
        self,
        db_path: Path,
        runners: dict[str, Runner],
        workers: int = 1,
        max_auto_resumes: int = MAX_AUTO_RESUMES,
    ):
        if workers < 1:
            raise InputError(f"workers must be at least 1, got {workers}")
        self._runners, self._workers = dict(runners), workers
        self._max_auto_resumes = max_auto_resumes
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._flags: dict[str, threading.Event] = {}  # cancel flags of the jobs run here
        # One connection guarded by one lock; the condition also wakes workers and SSE waiters.
        self._cond = threading.Condition(threading.RLock())
        Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            str(db_path), check_same_thread=False, isolation_level=None, timeout=10
        )
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Add the columns a database made by an older version lacks."""
        with self._write():
            have = {row["name"] for row in self._db.execute("PRAGMA table_info(jobs)")}
            for name, declaration in _ADDED.items():
                if name not in have:
                    self._db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {declaration}")
            # NULL keys (no key sent) never collide: SQLite's unique indexes let NULLs repeat.
            self._db.execute("CREATE UNIQUE INDEX IF NOT EXISTS jobs_by_key ON jobs (idem_key)")

    def start(self) -> None:
        """Mark jobs left 'running' by an earlier process 'interrupted' and queue them again
        (up to ``max_auto_resumes`` times in a row), then start the workers."""
        if self._threads:
            return
        with self._write():
            rows = self._db.execute(
                "SELECT id, params, interruptions FROM jobs WHERE state = 'running'"
            ).fetchall()
            for row in rows:
                self._interrupted(row["id"], json.loads(row["params"]), row["interruptions"] + 1)
        self._stopping.clear()
        for i in range(self._workers):
            thread = threading.Thread(target=self._work, name=f"museforge-job-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5) -> None:
        """Stop taking jobs and wait up to ``timeout`` s for running ones to end.

        A job still running afterwards stays 'running' and is 'interrupted' on the next start.
        """
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads = [t for t in self._threads if t.is_alive()]

    def close(self) -> None:
        """Stop the workers and close the database connection."""
        self.stop()
        with self._cond:
            self._db.close()

    def submit(self, kind: str, params: dict, key: str | None = None) -> str:
        """Queue a job of ``kind``; return its id. With an idempotency ``key`` already used
        for the same request, the id of that earlier job instead (see :meth:`submit_keyed`).
        InputError for an unknown kind or bad params."""
        return self.submit_keyed(kind, params, key)[0]

    def submit_keyed(self, kind: str, params: dict, key: str | None) -> tuple[str, bool]:
        """(job id, whether it is new). A ``key`` sent before with the same kind and params
        gives the earlier job, whatever its state; with another request, an InputError."""
        if kind not in self._runners:
            known = ", ".join(sorted(self._runners)) or "none"
            raise InputError(f"unknown job kind {kind!r}; known kinds: {known}")
        if not isinstance(params, dict):
            raise InputError("job parameters must be a JSON object")
        try:
            params_json = json.dumps(params)
        except (TypeError, ValueError) as err:
            raise InputError(f"job parameters are not JSON-serialisable: {err}") from None
        sha = None if key is None else _request_sha(kind, params)
        job_id = secrets.token_hex(8)
        with self._write():  # one transaction: two requests with one key make one job
            earlier = None if key is None else self._keyed(_check_key(key), sha)
            if earlier is not None:
                return earlier, False
            self._db.execute(
                "INSERT INTO jobs (id, kind, params, state, created, idem_key, request_sha) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (job_id, kind, params_json, "queued", time.time(), key, sha),
            )
            self._append(job_id, "state", {"state": "queued"})
        return job_id, True

    def keyed(self, kind: str, params: dict, key: str) -> str | None:
        """The job submitted earlier with ``key`` for this same request, or None if the key
        is new; InputError if it was used for another request."""
        with self._cond:
            return self._keyed(_check_key(key), _request_sha(kind, params))

    def get(self, job_id: str) -> Job:
        """Return the job; InputError if there is none with that id."""
        with self._cond:
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise InputError(f"unknown job: {job_id}")
        return Job.from_row(row)

    def list(self, limit: int = 50) -> list[Job]:
        """Return up to ``limit`` jobs, newest first."""
        with self._cond:
            rows = self._db.execute(
                "SELECT * FROM jobs ORDER BY created DESC, rowid DESC LIMIT ?", (limit,)
            ).fetchall()
        return [Job.from_row(row) for row in rows]

    def cancel(self, job_id: str) -> None:
        """Cancel a queued or interrupted job at once, a running one through its flag.

        InputError if the job has already finished.
        """
        with self._write():
            job = self.get(job_id)
            flag = self._flags.get(job_id)
            if job.state == "running" and flag is not None:
                self._append(job_id, "log", {"message": "cancel requested"})
                flag.set()
            elif job.state in ("queued", "interrupted", "running"):
                # A job running on another connection cannot see our flag: end its row instead,
                # and its runner's later writes are refused because the job is no longer running.
                self._set(job_id, "cancelled", finished=time.time())
            else:
                raise InputError(f"job {job_id} is already {job.state}")

    def resume(self, job_id: str) -> str:
        """Queue an interrupted, failed or cancelled job again with ``resume=True``; same id."""
        with self._write():
            job = self.get(job_id)
            if job.state not in RESUMABLE:
                raise InputError(
                    f"job {job_id} is {job.state}; only interrupted, failed or cancelled jobs "
                    "can be resumed"
                )
            if job.kind not in self._runners:
                raise InputError(f"no runner for job kind {job.kind!r}")
            params = json.dumps({**job.params, "resume": True})
            self._set(
                job_id, "queued", params=params, started=None, finished=None, error=None,
                interruptions=0,  # the user says try again: automatic resumes start afresh
            )  # fmt: skip
        return job_id

    def events(self, job_id: str, after_seq: int = 0) -> list[Event]:
        """Return the job's events with ``seq > after_seq``, in order."""
        self.get(job_id)
        with self._cond:
            rows = self._db.execute(
                "SELECT * FROM events WHERE job_id = ? AND seq > ? ORDER BY seq",
                (job_id, after_seq),
            ).fetchall()
        return [
            Event(r["job_id"], r["seq"], r["type"], json.loads(r["data"]), r["time"]) for r in rows
        ]

    def wait_events(self, job_id: str, after_seq: int, timeout: float) -> list[Event]:
        """Like ``events`` but block up to ``timeout`` s until there is one; [] on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = self.events(job_id, after_seq)
                remaining = deadline - time.monotonic()
                if found or remaining <= 0:
                    return found
                self._cond.wait(min(remaining, _POLL_S))

    # -- internals ----------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[None]:
        """Hold the lock around one write transaction; wake all waiters once it commits."""
        with self._cond:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            self._cond.notify_all()

    def _append(self, job_id: str, type_: str, data: dict) -> None:
        (seq,) = self._db.execute(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE job_id = ?", (job_id,)
        ).fetchone()
        self._db.execute(
            "INSERT INTO events (job_id, seq, type, data, time) VALUES (?, ?, ?, ?, ?)",
            (job_id, seq, type_, json.dumps(data, default=str), time.time()),
        )

    def _set(self, job_id: str, state: str, **columns: Any) -> None:
        """Update the job's state and ``columns`` (trusted names) and record a 'state' event."""
        columns["state"] = state
        assignments = ", ".join(f"{name} = ?" for name in columns)
        self._db.execute(f"UPDATE jobs SET {assignments} WHERE id = ?", (*columns.values(), job_id))
        self._append(job_id, "state", {"state": state})

    def _keyed(self, key: str, sha: str) -> str | None:
        row = self._db.execute(
            "SELECT id, request_sha FROM jobs WHERE idem_key = ?", (key,)
        ).fetchone()
        if row is None:
            return None
        if row["request_sha"] != sha:
            raise InputError(
                f"Idempotency-Key '{key}' was already used for another request (job {row['id']})"
            )
        return row["id"]

    def _interrupted(self, job_id: str, params: dict, times: int) -> None:
        """Record that the job's process died while running it (the ``times``-th time since
        a user resumed it) and queue it again unless that happened too often."""
        self._set(job_id, "interrupted", finished=time.time(), interruptions=times)
        if times > self._max_auto_resumes:
            if self._max_auto_resumes:
                message = f"interrupted {times} times in a row: resume it to retry"
                self._append(job_id, "log", {"message": message})
            return
        self._append(job_id, "log", {"message": "resumed after the server restarted"})
        params_json = json.dumps({**params, "resume": True})
        self._set(job_id, "queued", params=params_json, started=None, finished=None, error=None)

    def _owned(self, job_id: str, attempt: int) -> bool:
        """Whether this attempt still runs the job (not interrupted or cancelled elsewhere)."""
        row = self._db.execute(
            "SELECT 1 FROM jobs WHERE id = ? AND attempt = ? AND state = 'running'",
            (job_id, attempt),
        ).fetchone()
        return row is not None

    def _record(self, job_id: str, attempt: int, type_: str, data: dict, progress: Any) -> None:
        """Persist a runner's event; JobCancelled if the job is no longer this attempt's."""
        with self._write():
            if not self._owned(job_id, attempt):
                raise JobCancelled(f"job {job_id} is no longer running here")
            if progress is not None:
                self._db.execute(
                    "UPDATE jobs SET progress = ?, message = ? WHERE id = ?", (*progress, job_id)
                )
            self._append(job_id, type_, data)

    def _claim(self) -> tuple[Job, int] | None:
        """Mark the oldest queued job running; return it with its attempt number."""
        with self._write():
            row = self._db.execute(
                "SELECT id, attempt FROM jobs WHERE state = 'queued' ORDER BY created, rowid"
            ).fetchone()
            if row is None:
                return None
            job_id, attempt = row["id"], row["attempt"] + 1
            self._set(job_id, "running", started=time.time(), attempt=attempt)
            self._flags[job_id] = threading.Event()
        return self.get(job_id), attempt

    def _work(self) -> None:
        """Worker thread: run the oldest queued job, repeat until stopped."""
        while True:
            with self._cond:
                claimed = None
                while claimed is None and not self._stopping.is_set():
                    claimed = self._claim()
                    if claimed is None:
                        self._cond.wait(_POLL_S)
            if claimed is None:
                return
            try:
                self._run(*claimed)
            except Exception:  # e.g. a full disk: keep the worker alive for the next job
                log.exception("job worker failed while finishing job %s", claimed[0].id)

    def _saved(self, job_id: str) -> dict:
        with self._cond:
            row = self._db.execute("SELECT checkpoint FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return json.loads(row["checkpoint"]) if row and row["checkpoint"] else {}

    def _run(self, job: Job, attempt: int) -> None:
        ctx = JobContext(self, job, attempt, self._flags[job.id], self._saved(job.id))
        result: dict | None = None
        error: str | None = None
        try:
            result = self._runners[job.kind](job, ctx)
            if not isinstance(result, dict):
                raise TypeError(f"runner returned {type(result).__name__}, not a dict")
            state = "done"
        except JobCancelled:
            state, result = "cancelled", None
        except MuseforgeError as err:
            state, result, error = "failed", None, _one_line(str(err))
        except Exception as err:
            log.exception("job %s (%s) crashed", job.id, job.kind)
            state, result, error = "failed", None, _one_line(f"{type(err).__name__}: {err}")
        with self._write():
            if self._flags.get(job.id) is ctx._flag:
                del self._flags[job.id]
            if not self._owned(job.id, attempt):
                return  # interrupted or cancelled meanwhile through another connection
            if result is not None:
                self._append(job.id, "result", result)
            if error is not None:
                self._append(job.id, "error", {"message": error})
            self._set(
                job.id, state, finished=time.time(), error=error,
                result=None if result is None else json.dumps(result, default=str),
                **({"progress": 1.0} if state == "done" else {}),
            )  # fmt: skip
