"""Job queue: states, events, cancellation, restart after a crash (automatic resume),
idempotency keys, checkpoints, concurrency, SSE."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from museforge.errors import InputError
from museforge.studio.jobs import (
    MAX_AUTO_RESUMES,
    Event,
    Job,
    JobCancelled,
    JobContext,
    JobQueue,
    sse_format,
)


def add(job: Job, ctx: JobContext) -> dict:
    for i in range(3):
        ctx.progress((i + 1) / 3, f"step {i + 1}", step=i + 1)
    ctx.log("adding")
    return {"sum": job.params["a"] + job.params["b"]}


def bad_input(job: Job, ctx: JobContext) -> dict:
    raise InputError("the seed must be a whole number")


def crash(job: Job, ctx: JobContext) -> dict:
    raise ZeroDivisionError("division by zero\n" + "x" * 1000)


def until_cancelled(job: Job, ctx: JobContext) -> dict:
    ctx.progress(0.1, "started")
    for _ in range(500):
        ctx.check()
        time.sleep(0.01)
    return {"finished": True}


RUNNERS = {"add": add, "bad": bad_input, "crash": crash, "loop": until_cancelled}


def wait_state(queue: JobQueue, job_id: str, states: set[str], timeout: float = 5) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = queue.get(job_id)
        if job.state in states:
            return job
        time.sleep(0.01)
    raise AssertionError(f"job {job_id} stayed {queue.get(job_id).state}, wanted {states}")


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[JobQueue]:
    q = JobQueue(tmp_path / "jobs.sqlite", RUNNERS)
    q.start()
    yield q
    q.close()


def test_submit_runs_to_done_with_result_and_gapless_events(queue: JobQueue) -> None:
    job_id = queue.submit("add", {"a": 2, "b": 3})
    job = wait_state(queue, job_id, {"done"})
    assert job.result == {"sum": 5}
    assert job.progress == 1.0 and job.error is None
    assert job.started is not None and job.finished is not None and job.finished >= job.started
    events = queue.events(job_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert [e.type for e in events] == [
        "state", "state", "progress", "progress", "progress", "log", "result", "state",
    ]  # fmt: skip
    states = [e.data["state"] for e in events if e.type == "state"]
    assert states == ["queued", "running", "done"]
    assert events[4].data == {"fraction": 1.0, "message": "step 3", "step": 3}
    assert events[-2].data == {"sum": 5}


def test_unknown_kind_names_the_known_ones(queue: JobQueue) -> None:
    with pytest.raises(InputError, match="add, bad, crash, loop"):
        queue.submit("paint", {})
    with pytest.raises(InputError, match="unknown job"):
        queue.get("nope")


def test_input_error_fails_with_its_message(queue: JobQueue) -> None:
    job_id = queue.submit("bad", {})
    job = wait_state(queue, job_id, {"failed"})
    assert job.error == "the seed must be a whole number"
    assert job.result is None
    error_events = [e for e in queue.events(job_id) if e.type == "error"]
    assert [e.data["message"] for e in error_events] == [job.error]


def test_generic_exception_fails_with_a_short_one_line_message(queue: JobQueue) -> None:
    job = wait_state(queue, queue.submit("crash", {}), {"failed"})
    assert job.error.startswith("ZeroDivisionError: division by zero")
    assert "\n" not in job.error and len(job.error) <= 200


def test_cancel_queued_job_at_once(tmp_path: Path) -> None:
    q = JobQueue(tmp_path / "jobs.sqlite", RUNNERS)  # not started: the job stays queued
    job_id = q.submit("add", {"a": 1, "b": 1})
    q.cancel(job_id)
    assert q.get(job_id).state == "cancelled"
    q.start()
    time.sleep(0.1)
    assert q.get(job_id).state == "cancelled"  # a worker never picks it up
    with pytest.raises(InputError, match="already cancelled"):
        q.cancel(job_id)
    q.close()


def test_cancel_running_job(queue: JobQueue) -> None:
    job_id = queue.submit("loop", {})
    wait_state(queue, job_id, {"running"})
    queue.wait_events(job_id, 2, timeout=2)  # the runner has reported progress
    queue.cancel(job_id)
    job = wait_state(queue, job_id, {"cancelled"}, timeout=2)
    assert job.result is None and job.finished is not None
    assert queue.events(job_id)[-1].data == {"state": "cancelled"}


def test_cancel_finished_job_raises(queue: JobQueue) -> None:
    job_id = queue.submit("add", {"a": 1, "b": 2})
    wait_state(queue, job_id, {"done"})
    with pytest.raises(InputError, match="already done"):
        queue.cancel(job_id)
    with pytest.raises(InputError, match="only interrupted, failed or cancelled"):
        queue.resume(job_id)


def test_crashed_server_without_auto_resume_leaves_job_interrupted_and_resume_finishes_it(
    tmp_path: Path,
) -> None:
    db = tmp_path / "jobs.sqlite"
    release, seen = threading.Event(), []

    def blocking(job: Job, ctx: JobContext) -> dict:
        seen.append(job.params.get("resume", False))
        if not job.params.get("resume"):
            release.wait(5)
            ctx.progress(0.5, "late")  # a stale runner must not write into the new run
        return {"resumed": job.params.get("resume", False)}

    first = JobQueue(db, {"work": blocking})
    first.start()
    job_id = first.submit("work", {"n": 1})
    wait_state(first, job_id, {"running"})

    # The first "server" dies without stopping; a new one opens the same file.
    second = JobQueue(db, {"work": blocking}, max_auto_resumes=0)
    second.start()
    job = second.get(job_id)
    assert job.state == "interrupted"
    assert second.events(job_id)[-1].data == {"state": "interrupted"}

    assert second.resume(job_id) == job_id
    job = wait_state(second, job_id, {"done"})
    assert job.params == {"n": 1, "resume": True}
    assert job.result == {"resumed": True}
    assert seen == [False, True]

    release.set()  # the orphaned runner wakes; its writes are refused
    first.stop(timeout=2)
    assert second.get(job_id).state == "done"
    assert second.get(job_id).result == {"resumed": True}
    assert not [e for e in second.events(job_id) if e.data.get("message") == "late"]
    first.close()
    second.close()


def test_running_row_written_directly_becomes_interrupted(tmp_path: Path) -> None:
    db = tmp_path / "jobs.sqlite"
    q = JobQueue(db, RUNNERS)
    job_id = q.submit("add", {"a": 1, "b": 1})
    q.close()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE jobs SET state = 'running' WHERE id = ?", (job_id,))
    q = JobQueue(db, RUNNERS, max_auto_resumes=0)
    q.start()
    assert q.get(job_id).state == "interrupted"
    q.close()


def _crash_while_running(db: Path, job_id: str) -> None:
    """What a server killed mid-job leaves: the job's row still 'running'."""
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE jobs SET state = 'running' WHERE id = ?", (job_id,))


def test_job_cut_short_by_a_crash_is_resumed_automatically(tmp_path: Path) -> None:
    db = tmp_path / "jobs.sqlite"
    q = JobQueue(db, RUNNERS)  # not started: the job stays queued until the "crash"
    job_id = q.submit("add", {"a": 2, "b": 2})
    q.close()
    _crash_while_running(db, job_id)
    q = JobQueue(db, RUNNERS)
    q.start()
    job = wait_state(q, job_id, {"done", "failed", "interrupted"})
    assert job.state == "done" and job.result == {"sum": 4}
    assert job.params == {"a": 2, "b": 2, "resume": True}
    states = [e.data["state"] for e in q.events(job_id) if e.type == "state"]
    assert states == ["queued", "interrupted", "queued", "running", "done"]
    assert "resumed after the server restarted" in [
        e.data["message"] for e in q.events(job_id) if e.type == "log"
    ]
    q.close()


def test_automatic_resume_gives_up_after_repeated_crashes_until_resumed_by_hand(
    tmp_path: Path,
) -> None:
    db = tmp_path / "jobs.sqlite"
    release = threading.Event()

    def hang(job: Job, ctx: JobContext) -> dict:
        release.wait(10)
        return {"attempt": ctx.attempt}

    queues = [JobQueue(db, {"hang": hang})]
    queues[0].start()
    job_id = queues[0].submit("hang", {})
    wait_state(queues[0], job_id, {"running"})
    # Each new "server" opens the file while the last one's worker still holds the job, as
    # if that server had been killed mid-job: the job is resumed MAX_AUTO_RESUMES times.
    for crash in range(1, MAX_AUTO_RESUMES + 2):
        queues.append(JobQueue(db, {"hang": hang}))
        queues[-1].start()
        if crash <= MAX_AUTO_RESUMES:
            wait_state(queues[-1], job_id, {"running"})
        else:
            assert queues[-1].get(job_id).state == "interrupted"
    last = queues[-1]
    time.sleep(0.2)
    assert last.get(job_id).state == "interrupted"  # it waits for the user
    assert "resume it to retry" in last.events(job_id)[-1].data["message"]
    last.resume(job_id)
    wait_state(last, job_id, {"running"})
    release.set()  # every stale attempt wakes too; only the last one's result counts
    job = wait_state(last, job_id, {"done"})
    assert job.result == {"attempt": MAX_AUTO_RESUMES + 2}
    for q in queues:
        q.close()


def test_an_idempotency_key_gives_the_same_job_for_the_same_request(tmp_path: Path) -> None:
    q = JobQueue(tmp_path / "jobs.sqlite", RUNNERS)  # not started: the jobs stay queued
    first = q.submit("add", {"a": 1, "b": 2}, key="client-7:job-1")
    assert q.submit_keyed("add", {"b": 2, "a": 1}, "client-7:job-1") == (first, False)
    assert q.keyed("add", {"a": 1, "b": 2}, "client-7:job-1") == first
    assert q.keyed("add", {"a": 1, "b": 2}, "client-7:job-2") is None
    other, new = q.submit_keyed("add", {"a": 1, "b": 2}, "client-7:job-2")
    assert new and other != first
    assert q.submit("add", {"a": 1, "b": 2}) != q.submit("add", {"a": 1, "b": 2})  # no key
    assert len(q.list()) == 4
    with pytest.raises(InputError, match="already used for another request"):
        q.submit("add", {"a": 1, "b": 3}, key="client-7:job-1")
    with pytest.raises(InputError, match="already used for another request"):
        q.submit("bad", {"a": 1, "b": 2}, key="client-7:job-1")
    for bad in ("", "has space", "é", "x" * 201):
        with pytest.raises(InputError, match="Idempotency-Key"):
            q.submit("add", {}, key=bad)
    assert len(q.list()) == 4
    q.close()


def test_one_key_from_many_threads_at_once_makes_one_job(tmp_path: Path) -> None:
    q = JobQueue(tmp_path / "jobs.sqlite", RUNNERS)
    barrier = threading.Barrier(8)
    got: list[tuple[str, bool]] = []

    def send() -> None:
        barrier.wait()
        got.append(q.submit_keyed("add", {"a": 1, "b": 1}, "same"))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({job_id for job_id, _ in got}) == 1
    assert sorted(new for _, new in got) == [False] * 7 + [True]
    assert len(q.list()) == 1
    q.close()


def test_a_key_outlives_a_crash_and_the_resume_it_causes(tmp_path: Path) -> None:
    db = tmp_path / "jobs.sqlite"
    q = JobQueue(db, RUNNERS)
    job_id = q.submit("add", {"a": 5, "b": 5}, key="k1")
    q.close()
    _crash_while_running(db, job_id)
    q = JobQueue(db, RUNNERS)
    q.start()
    assert wait_state(q, job_id, {"done"}).params["resume"] is True
    # The client that lost the answer sends the same request again: the same, finished job.
    assert q.submit_keyed("add", {"a": 5, "b": 5}, "k1") == (job_id, False)
    assert len(q.list()) == 1
    q.close()


OLD_SCHEMA = """
CREATE TABLE jobs (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, params TEXT NOT NULL, state TEXT NOT NULL,
    created REAL NOT NULL, started REAL, finished REAL, progress REAL NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '', result TEXT, error TEXT,
    attempt INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE events (
    job_id TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL,
    time REAL NOT NULL, PRIMARY KEY (job_id, seq)
);
INSERT INTO jobs (id, kind, params, state, created) VALUES ('old', 'add', '{"a":1,"b":1}',
    'running', 1.0);
"""


def test_a_database_from_before_keys_is_upgraded_in_place(tmp_path: Path) -> None:
    db = tmp_path / "jobs.sqlite"
    with sqlite3.connect(db) as conn:
        conn.executescript(OLD_SCHEMA)
    q = JobQueue(db, RUNNERS)
    q.start()
    assert wait_state(q, "old", {"done"}).result == {"sum": 2}
    job_id = q.submit("add", {"a": 0, "b": 0}, key="after-upgrade")
    assert q.submit("add", {"a": 0, "b": 0}, key="after-upgrade") == job_id
    q.close()
    JobQueue(db, RUNNERS).close()  # opening it again changes nothing


def test_a_checkpoint_reaches_the_next_attempt_and_a_stale_one_cannot_write(
    tmp_path: Path,
) -> None:
    db = tmp_path / "jobs.sqlite"
    release = threading.Event()
    seen: list[dict] = []
    refused: list[bool] = []

    def steps(job: Job, ctx: JobContext) -> dict:
        seen.append(dict(ctx.checkpoint))
        if ctx.attempt == 1:
            ctx.save_checkpoint({"done": [0, 1]})
            release.wait(5)
            try:
                ctx.save_checkpoint({"done": ["stale"]})
            except JobCancelled:
                refused.append(True)
        return {"from": ctx.checkpoint.get("done", [])}

    first = JobQueue(db, {"steps": steps})
    first.start()
    job_id = first.submit("steps", {})
    deadline = time.monotonic() + 5
    while not first._saved(job_id) and time.monotonic() < deadline:
        time.sleep(0.01)
    second = JobQueue(db, {"steps": steps})  # the first server "died"
    second.start()
    assert wait_state(second, job_id, {"done"}).result == {"from": [0, 1]}
    release.set()
    first.stop(timeout=2)
    assert seen == [{}, {"done": [0, 1]}] and refused == [True]
    assert second._saved(job_id) == {"done": [0, 1]}
    first.close()
    second.close()


def test_events_after_seq_returns_only_later_ones(queue: JobQueue) -> None:
    job_id = queue.submit("add", {"a": 0, "b": 0})
    wait_state(queue, job_id, {"done"})
    everything = queue.events(job_id)
    later = queue.events(job_id, after_seq=3)
    assert later == everything[3:]
    assert [e.seq for e in later] == list(range(4, len(everything) + 1))
    assert queue.events(job_id, after_seq=len(everything)) == []


def test_wait_events_wakes_on_new_event_and_times_out_empty(tmp_path: Path) -> None:
    q = JobQueue(tmp_path / "jobs.sqlite", RUNNERS)  # not started: nothing moves by itself
    job_id = q.submit("add", {"a": 1, "b": 1})
    t0 = time.monotonic()
    assert q.wait_events(job_id, after_seq=1, timeout=0.2) == []
    assert time.monotonic() - t0 >= 0.19

    got: list[list[Event]] = []
    waiter = threading.Thread(target=lambda: got.append(q.wait_events(job_id, 1, timeout=5)))
    waiter.start()
    time.sleep(0.05)
    t0 = time.monotonic()
    q.cancel(job_id)  # writes the next event
    waiter.join(2)
    assert time.monotonic() - t0 < 0.3  # woken by the condition, not by the poll interval
    assert [(e.seq, e.data) for e in got[0]] == [(2, {"state": "cancelled"})]
    q.close()


def test_fifty_jobs_from_ten_threads_all_complete(tmp_path: Path) -> None:
    q = JobQueue(tmp_path / "jobs.sqlite", RUNNERS, workers=2)
    q.start()
    ids: list[str] = []
    lock = threading.Lock()

    def submit_five(base: int) -> None:
        for k in range(5):
            job_id = q.submit("add", {"a": base, "b": k})
            with lock:
                ids.append(job_id)

    threads = [threading.Thread(target=submit_five, args=(10 * t,)) for t in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 50
    for job_id in ids:
        job = wait_state(q, job_id, {"done", "failed"})
        assert job.state == "done"
        assert job.result == {"sum": job.params["a"] + job.params["b"]}
        assert [e.seq for e in q.events(job_id)] == list(range(1, 9))
    assert len(q.list(limit=100)) == 50
    q.close()


def test_jobs_run_in_creation_order(tmp_path: Path) -> None:
    order: list[int] = []

    def record(job: Job, ctx: JobContext) -> dict:
        order.append(job.params["i"])
        return {}

    q = JobQueue(tmp_path / "jobs.sqlite", {"rec": record})
    ids = [q.submit("rec", {"i": i}) for i in range(5)]
    q.start()
    for job_id in ids:
        wait_state(q, job_id, {"done"})
    assert order == [0, 1, 2, 3, 4]
    assert [j.id for j in q.list()] == ids[::-1]  # newest first
    q.close()


def test_sse_format_parses() -> None:
    event = Event("abc", 7, "progress", {"fraction": 0.5, "message": "two\nlines"}, 1.0)
    text = sse_format(event)
    assert text.endswith("\n\n")
    fields = dict(line.split(": ", 1) for line in text.strip("\n").split("\n"))
    assert fields["id"] == "7" and fields["event"] == "progress"
    assert json.loads(fields["data"]) == event.data


# --- the routes that take an Idempotency-Key -------------------------------------------------
MODELS = Path(__file__).resolve().parents[2] / "models"
TOKEN = "jobs-token-0123456789abcdef"


@pytest.fixture
def idle_client(tmp_path: Path) -> Iterator[Any]:
    """The studio's API with its job workers not started (no lifespan): jobs stay queued."""
    from fastapi.testclient import TestClient

    from museforge.studio.app import StudioConfig, create_app

    config = StudioConfig(tmp_path / "gallery", MODELS, port=8765, token=TOKEN)
    client = TestClient(create_app(config), base_url="http://127.0.0.1:8765")
    client.headers["X-Museforge-Token"] = TOKEN
    yield client
    client.app.state.jobs.close()


def test_generate_with_a_repeated_key_answers_the_same_job(idle_client: Any) -> None:
    body = {"model": "mnist-vae", "verb": "sample", "args": {"n": 1, "seed": 4}}
    first = idle_client.post("/api/generate", json=body, headers={"Idempotency-Key": "a-1"})
    again = idle_client.post("/api/generate", json=body, headers={"Idempotency-Key": "a-1"})
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    other = idle_client.post("/api/generate", json=body, headers={"Idempotency-Key": "a-2"})
    unkeyed = idle_client.post("/api/generate", json=body)
    assert len({first.json()["job"], other.json()["job"], unkeyed.json()["job"]}) == 3
    changed = {**body, "args": {"n": 1, "seed": 5}}
    refused = idle_client.post("/api/generate", json=changed, headers={"Idempotency-Key": "a-1"})
    assert refused.status_code == 400 and "another request" in refused.json()["error"]
    bad = idle_client.post("/api/generate", json=body, headers={"Idempotency-Key": "two words"})
    assert bad.status_code == 422
    assert len(idle_client.app.state.jobs.list()) == 3


def test_train_with_a_repeated_key_answers_its_job_even_once_the_model_exists(
    idle_client: Any,
) -> None:
    body = {"kind": "image-vae", "data": "digits", "name": "keyed", "steps": 5}
    key = {"Idempotency-Key": "train-1"}
    job = idle_client.post("/api/train", json=body, headers=key).json()["job"]
    # The job "ran": its model is there, so the name is taken for any other request.
    made = idle_client.app.state.workspace.trained_dir / "keyed" / "model.json"
    made.parent.mkdir(parents=True)
    made.write_text("{}")
    again = idle_client.post("/api/train", json=body, headers=key)
    assert again.status_code == 200 and again.json() == {"job": job}
    assert again.headers["Idempotent-Replayed"] == "true"
    taken = idle_client.post("/api/train", json=body, headers={"Idempotency-Key": "train-2"})
    assert taken.status_code == 400 and "exists" in taken.json()["error"]
