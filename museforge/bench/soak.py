"""``museforge bench soak``: a real studio takes many short jobs from concurrent clients
while it is SIGKILLed and restarted at random moments; then every job must be done (or
resumable, and resumed), and the gallery must hold each job's artworks once and whole,
with the index equal to a reindex of the files.

The studio runs as ``python -m museforge studio`` on 127.0.0.1 (a fresh port at each start)
on ``<work_dir>/gallery``, with one small starter model. Each client submits its share of
the jobs with an ``Idempotency-Key``, sends some of them twice as a client that lost the
answer would, and follows each job to its end, retrying through refused connections. The
killer waits until a random share of the jobs (seeded) has finished, then a random fraction
of a second more, kills, and restarts.
"""

from __future__ import annotations

import itertools
import os
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from museforge.errors import InputError

MODEL = "mnist-vae"  # a git-tracked starter: a job loads it and samples one 28-pixel digit
TOKEN = "soak-token-0123456789abcdefghij"
FINAL = {"done", "failed", "cancelled"}
REPEAT_SHARE = 0.1  # submissions sent a second time on purpose, as after a lost answer
KILL_JITTER_S = 0.5  # after its threshold, a kill waits up to this long: any moment of a job
POLL_S = 0.25
RETRY_S, MAX_RETRY_S = 0.05, 1.0
REQUEST_TIMEOUT_S = 30
START_TIMEOUT_S = 120
# Past this the soak stops and reports what it has (a hung studio must not hang the bench).
DEADLINE_S, DEADLINE_PER_JOB_S = 600, 3.0
MARKER = "soak-gallery"  # in the gallery's state folder: the bench may clear it next time


class StudioProcess:
    """A ``museforge studio`` subprocess on a gallery, restartable (on a fresh port)."""

    def __init__(self, gallery: Path, models: Path, log: Path) -> None:
        self.gallery, self.models, self.log = gallery, models, log
        self.proc: subprocess.Popen | None = None
        self.base = ""

    def start(self) -> float:
        """Start the studio and wait until it answers; the seconds that took."""
        import httpx

        began = time.monotonic()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = {**os.environ, "MUSEFORGE_STUDIO_TOKEN": TOKEN, "MUSEFORGE_MODELS": str(self.models)}
        cmd = [sys.executable, "-m", "museforge", "studio", "--host", "127.0.0.1"]
        cmd += ["--port", str(port), "--gallery", str(self.gallery)]
        with self.log.open("a") as out:
            self.proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        while time.monotonic() - began < START_TIMEOUT_S:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the studio exited at start; see {self.log}")
            try:
                httpx.get(f"{base}/api/jobs?limit=1", timeout=5).raise_for_status()
                self.base = base
                return time.monotonic() - began
            except httpx.HTTPError:
                time.sleep(0.05)
        self.signal(signal.SIGKILL)
        raise RuntimeError(f"the studio did not answer within {START_TIMEOUT_S} s; see {self.log}")

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the studio this object started and reap it."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


@dataclass
class _Tally:
    """What the clients and the killer count, under one lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    accepted: dict[int, str] = field(default_factory=dict)  # job number -> job id
    final: dict[str, str] = field(default_factory=dict)  # job id -> last state seen
    requests: int = 0
    replayed: int = 0  # answers saying the key was known: a duplicate job avoided
    repeats: int = 0
    mismatched: int = 0  # a repeated key that gave another job
    connection_errors: int = 0
    server_errors: int = 0
    kills: int = 0
    restarts: list[float] = field(default_factory=list)  # seconds until it answered again
    errors: list[str] = field(default_factory=list)  # what stopped the soak early, if anything

    def add(self, name: str, n: int = 1) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + n)


class _Soak:
    def __init__(self, studio: StudioProcess, jobs: int, clients: int, seed: int):
        self.studio, self.jobs, self.clients, self.seed = studio, jobs, clients, seed
        self.tally = _Tally()
        self.stop = threading.Event()

    def guarded(self, target: Any, *args: Any) -> None:
        """Run a client or the killer; an error stops the whole soak and is reported."""
        try:
            target(*args)
        except Exception as err:
            with self.tally.lock:
                self.tally.errors.append(f"{type(err).__name__}: {err}")
            self.stop.set()

    def call(self, http: Any, method: str, path: str, **kwargs: Any) -> Any:
        """One request to wherever the studio is now, retried through refused connections,
        cut answers and 5xx; the response (4xx raise: the bench asked wrongly)."""
        import httpx

        for attempt in itertools.count():
            if self.stop.is_set():
                break
            if attempt:  # back off while the studio restarts: 50 clients, 2 cores
                time.sleep(min(RETRY_S * 2 ** (attempt - 1), MAX_RETRY_S))
            self.tally.add("requests")
            try:
                response = http.request(method, self.studio.base + path, **kwargs)
            except httpx.TransportError:
                self.tally.add("connection_errors")
                continue
            if response.status_code >= 500:
                self.tally.add("server_errors")
                continue
            response.raise_for_status()
            return response
        raise TimeoutError("the soak ran past its deadline")

    def submit(self, http: Any, number: int) -> str:
        body = {"model": MODEL, "verb": "sample", "args": {"n": 1, "seed": self.job_seed(number)}}
        key = {"Idempotency-Key": f"soak-{self.seed}-{number}"}
        response = self.call(http, "POST", "/api/generate", json=body, headers=key)
        if response.headers.get("Idempotent-Replayed") == "true":
            self.tally.add("replayed")
        return response.json()["job"]

    def job_seed(self, number: int) -> int:
        return self.seed * 1_000_000 + number

    def client(self, index: int) -> None:
        import httpx

        rng = random.Random(f"{self.seed}-client-{index}")
        auth = {"X-Museforge-Token": TOKEN}
        with httpx.Client(headers=auth, timeout=REQUEST_TIMEOUT_S) as http:
            for number in range(index, self.jobs, self.clients):
                job_id = self.submit(http, number)
                if rng.random() < REPEAT_SHARE:
                    self.tally.add("repeats")
                    if self.submit(http, number) != job_id:
                        self.tally.add("mismatched")
                with self.tally.lock:
                    self.tally.accepted[number] = job_id
                self.follow(http, job_id)

    def follow(self, http: Any, job_id: str) -> str:
        """Poll the job until it ends (or waits, interrupted, for a resume); its state."""
        while True:
            state = self.call(http, "GET", f"/api/jobs/{job_id}").json()["state"]
            if state in FINAL or state == "interrupted":
                with self.tally.lock:
                    self.tally.final[job_id] = state
                return state
            time.sleep(POLL_S)

    def killer(self, kills: int, rng: random.Random) -> None:
        thresholds = sorted(rng.uniform(0, 0.95 * self.jobs) for _ in range(kills))
        for threshold in thresholds:
            while len(self.tally.final) < threshold and not self.stop.is_set():
                time.sleep(0.02)
            if self.stop.is_set():
                return
            time.sleep(rng.uniform(0, KILL_JITTER_S))
            self.studio.signal(signal.SIGKILL)
            self.tally.add("kills")
            self.tally.restarts.append(self.studio.start())


def _models_folder(work_dir: Path) -> Path:
    """A models folder holding only the soak's starter (the studio scans every model on
    each generate request)."""
    from museforge.cli.app import models_dir

    folder = work_dir / "models"
    if not (folder / MODEL / "model.json").is_file():
        shutil.copytree(models_dir() / MODEL, folder / MODEL, dirs_exist_ok=True)
    return folder


def _fresh_gallery(work_dir: Path) -> Path:
    gallery = work_dir / "gallery"
    if gallery.exists() and any(gallery.iterdir()):
        if not (gallery / ".museforge" / MARKER).is_file():
            raise InputError(
                f"'{gallery}' exists and is not a soak's gallery; choose another work dir"
            )
        shutil.rmtree(gallery)
    (gallery / ".museforge").mkdir(parents=True)
    (gallery / ".museforge" / MARKER).write_text("made by museforge bench soak\n")
    return gallery


def run_soak_bench(jobs: int, clients: int, kills: int, work_dir: Path, seed: int = 0) -> dict:
    """Soak a studio with ``jobs`` generate jobs from ``clients`` threads while killing it
    ``kills`` times; the figures and the checks of the gallery and the queue afterwards."""
    import httpx

    if jobs < 1 or clients < 1 or kills < 0:
        raise InputError("the soak needs jobs >= 1, clients >= 1 and kills >= 0")
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    gallery = _fresh_gallery(work_dir)
    studio = StudioProcess(gallery, _models_folder(work_dir), work_dir / "studio.log")
    first_start = studio.start()
    soak = _Soak(studio, jobs, clients, seed)
    began = time.monotonic()
    threads = [threading.Thread(target=soak.guarded, args=(soak.client, i)) for i in range(clients)]
    killer_rng = random.Random(seed)
    killer = threading.Thread(target=soak.guarded, args=(soak.killer, kills, killer_rng))
    deadline = threading.Timer(DEADLINE_S + DEADLINE_PER_JOB_S * jobs, soak.stop.set)
    for thread in [*threads, killer, deadline]:
        thread.start()
    try:
        for thread in [*threads, killer]:
            thread.join()
        # Jobs the design leaves waiting (cut short too often in a row): resume them now.
        waiting = [j for j, state in soak.tally.final.items() if state == "interrupted"]
        with httpx.Client(headers={"X-Museforge-Token": TOKEN}, timeout=30) as http:
            for job_id in waiting:
                soak.call(http, "POST", f"/api/jobs/{job_id}/resume")
                soak.follow(http, job_id)
        elapsed = time.monotonic() - began
    finally:
        deadline.cancel()
        soak.stop.set()
        studio.signal(signal.SIGTERM)
    tally = soak.tally
    states = list(tally.final.values())
    queue = check_queue(gallery / ".museforge" / "jobs.sqlite")
    files = check_gallery(gallery, queue["results"])
    del queue["results"]
    return {
        "config": {"jobs": jobs, "clients": clients, "kills": kills, "seed": seed, "model": MODEL},
        "jobs": {
            "submitted": jobs,
            "accepted": len(set(tally.accepted.values())),
            "done": states.count("done"),
            "failed": states.count("failed"),
            "resumed_automatically": queue["resumed_automatically"],
            "resumed_by_hand": len(waiting),
            "jobs_in_queue": queue["jobs"],
            "keys_repeated_in_queue": queue["repeated_keys"],
        },
        "requests": {
            "total": tally.requests,
            "repeated_on_purpose": tally.repeats,
            "duplicates_avoided": tally.replayed,
            "repeat_gave_another_job": tally.mismatched,
            "connection_errors": tally.connection_errors,
            "server_errors": tally.server_errors,
        },
        "kills": tally.kills,
        "restarts": len(tally.restarts),
        "first_start_s": round(first_start, 2),
        "restart_s": _spread(tally.restarts),
        "seconds": round(elapsed, 1),
        "jobs_per_s": round(states.count("done") / elapsed, 2),
        "artworks": files,
        "errors": tally.errors,
    }


def _spread(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "max": None}
    return {"mean": round(statistics.fmean(values), 2), "max": round(max(values), 2)}


def check_queue(db: Path) -> dict[str, Any]:
    """From the job database alone: how many jobs, whether any key made two, how many were
    resumed after a restart, and each done job's (seed, result ids)."""
    import json

    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT id, params, state, result, idem_key FROM jobs").fetchall()
        (resumed,) = conn.execute(
            "SELECT COUNT(DISTINCT job_id) FROM events WHERE type = 'log' AND data = ?",
            (json.dumps({"message": "resumed after the server restarted"}),),
        ).fetchone()
    keys = [key for *_, key in rows]
    results = {
        job_id: (json.loads(params)["args"]["seed"], json.loads(result)["ids"])
        for job_id, params, state, result, _ in rows
        if state == "done"
    }
    return {
        "jobs": len(rows),
        "repeated_keys": len(keys) - len(set(keys)),
        "resumed_automatically": resumed,
        "results": results,
    }


def check_gallery(root: Path, results: dict[str, tuple[int, list[str]]]) -> dict[str, Any]:
    """Every done job's artworks against the files: each exists, whole, with the job's seed
    in its provenance; none twice; nothing else; no temporary file; and the index (read,
    not synced) equal to a reindex of a copy of the files."""
    from PIL import Image

    from museforge.gallery.store import Gallery, artwork_id, read_artwork

    expected = {art_id: (job_id, seed) for job_id, (seed, ids) in results.items() for art_id in ids}
    found, duplicated, extra, half_written, temp_files = 0, 0, 0, 0, 0
    seen_outputs: set[tuple[Any, ...]] = set()
    for path in sorted(p for p in root.rglob("*") if ".museforge" not in p.parts):
        if path.name.startswith("."):
            temp_files += 1  # an atomic write's or a staging folder's leftover
            continue
        if path.is_dir():
            continue
        try:
            if path.suffix == ".png":
                with Image.open(path) as picture:
                    picture.load()
        except Exception:
            half_written += 1
            continue
        info = read_artwork(path)
        if info is None:
            continue  # a job's overview grid
        provenance = info[1]
        output = (provenance.get("verb"), provenance.get("seed"), provenance.get("index"))
        duplicated += output in seen_outputs
        seen_outputs.add(output)
        owner = expected.get(artwork_id(path.relative_to(root).as_posix()))
        if owner is None:
            extra += 1
        elif provenance.get("args", {}).get("seed") == owner[1]:
            found += 1
    live = Gallery(root)
    copy = Path(tempfile.mkdtemp(prefix="soak-reindex-"))
    try:
        shutil.copytree(root, copy / "g", ignore=shutil.ignore_patterns(".museforge"))
        fresh = Gallery(copy / "g")
        fresh.reindex()
        listing = {(r.id, r.path, r.sha256) for r in live.list(frames=True, limit=10**9)}
        rebuilt = {(r.id, r.path, r.sha256) for r in fresh.list(frames=True, limit=10**9)}
        fresh.close()
    finally:
        live.close()
        shutil.rmtree(copy, ignore_errors=True)
    return {
        "expected": len(expected),
        "found": found,
        "duplicated": duplicated,
        "extra": extra,
        "half_written": half_written,
        "temp_files": temp_files,
        "indexed": len(listing),
        "index_equals_files": listing == rebuilt and len(rebuilt) == found + extra,
    }


def format_table(results: dict) -> str:
    """A Markdown table of the soak's figures."""
    jobs, req, art = results["jobs"], results["requests"], results["artworks"]
    restart = results["restart_s"]
    rows = [
        ("jobs submitted / accepted / done / failed", f"{jobs['submitted']} / "
         f"{jobs['accepted']} / {jobs['done']} / {jobs['failed']}"),
        ("jobs resumed after a restart / by hand", f"{jobs['resumed_automatically']} / "
         f"{jobs['resumed_by_hand']}"),
        ("jobs in the queue (keys used twice)", f"{jobs['jobs_in_queue']} "
         f"({jobs['keys_repeated_in_queue']})"),
        ("submissions repeated / duplicates avoided", f"{req['repeated_on_purpose']} / "
         f"{req['duplicates_avoided']}"),
        ("requests / refused connections / 5xx", f"{req['total']} / "
         f"{req['connection_errors']} / {req['server_errors']}"),
        ("kills / restarts", f"{results['kills']} / {results['restarts']}"),
        ("restart s (mean / max)", f"{restart['mean']} / {restart['max']}"),
        ("artworks expected / found", f"{art['expected']} / {art['found']}"),
        ("duplicated / extra / half-written / temp files", f"{art['duplicated']} / "
         f"{art['extra']} / {art['half_written']} / {art['temp_files']}"),
        ("index == reindex of the files", f"{art['index_equals_files']} ({art['indexed']} rows)"),
        ("time s / jobs per s", f"{results['seconds']} / {results['jobs_per_s']}"),
    ]  # fmt: skip
    config = results["config"]
    head = (
        f"soak: {config['jobs']} jobs ({config['model']} sample n=1), {config['clients']} "
        f"clients, {config['kills']} kills, seed {config['seed']}"
    )
    lines = [head, "", "| figure | value |", "|---|---|"]
    return "\n".join([*lines, *(f"| {name} | {value} |" for name, value in rows)])
