"""A ``museforge studio`` killed with SIGKILL in the middle of a training job and a
generate job restarts with the gallery index consistent and both jobs resumed.

The real server runs as a subprocess on a temporary gallery; it makes and rates artworks,
trains until a checkpoint exists, writes more artworks, and is then killed without warning.
The restarted server lists the same artworks (the same as a fresh reindex of the files),
records the training job 'interrupted' and resumes it by itself from its checkpoint (then
the test cancels it), and finishes the generate job with each of its pictures written once.
Run with ``-s`` to see the measured figures.
"""

from __future__ import annotations

import json
import shutil
import signal
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from museforge.gallery.store import USER_SUFFIX, Gallery, read_artwork
from tests.studio.server import StudioDidNotStart, StudioServer

pytestmark = pytest.mark.slow

TOKEN = "restart-token-0123456789abcdef"
JOB_TIMEOUT_S = 60
FINISHED = {"done", "failed", "cancelled", "interrupted"}


def _events(studio: StudioServer, job_id: str, after: int = 0, until: Any = None) -> Iterator[dict]:
    """The job's events from its SSE stream, as {seq, type, data}; stops at the job's end
    or once ``until(event)`` holds."""
    url = f"{studio.base}/api/jobs/{job_id}/events?after={after}"
    with urllib.request.urlopen(url, timeout=JOB_TIMEOUT_S) as response:
        event: dict[str, Any] = {}
        for raw in response:
            line = raw.decode().rstrip("\n")
            if line.startswith("id: "):
                event = {"seq": int(line[4:])}
            elif line.startswith("event: "):
                event["type"] = line[7:]
            elif line.startswith("data: "):
                event["data"] = json.loads(line[6:])
            elif not line and "data" in event:
                yield event
                if until is not None and until(event):
                    return
                event = {}


def _wait(studio: StudioServer, job_id: str, until: Any, what: str) -> dict:
    """Poll the job until ``until(job)``; its last state."""
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while time.monotonic() < deadline:
        job = studio.api(f"/api/jobs/{job_id}")
        if until(job):
            return job
        if job["state"] in FINISHED:
            pytest.fail(f"job {job_id} ended {job['state']} before {what}: {job}")
        time.sleep(0.1)
    pytest.fail(f"job {job_id} did not reach {what} within {JOB_TIMEOUT_S} s: {job}")


def _state_is(state: str) -> Any:
    return lambda e: e["type"] == "state" and e["data"]["state"] == state


def _listing(studio: StudioServer) -> dict[str, Any]:
    return {i["id"]: i for i in studio.api("/api/gallery?limit=500")["items"]}


def _artwork_folders(root: Path) -> list[Path]:
    """The gallery's own folders (the hidden .museforge state folder left out)."""
    inside = (p for p in root.rglob("*") if p.is_dir())
    return [root, *(p for p in inside if not p.relative_to(root).as_posix().startswith("."))]


def _temp_files(root: Path) -> list[Path]:
    """Temporary files of atomic writes (``.NAME.XXXXXXXX.tmp.png``) in the artwork folders."""
    return [p for d in _artwork_folders(root) for p in d.iterdir() if ".tmp" in p.name]


@pytest.fixture
def studio(tmp_path: Path) -> Iterator[StudioServer]:
    server = StudioServer(
        tmp_path / "gallery", tmp_path / "studio.log", TOKEN, workers=2, start_timeout_s=45
    )
    try:
        seconds = server.start()
    except StudioDidNotStart as err:
        pytest.skip(f"the studio cannot start here: {err}")
    print(f"\nstudio started in {seconds:.1f} s")
    yield server
    server.kill(signal.SIGTERM)


def test_sigkill_during_training_keeps_gallery_and_job(
    studio: StudioServer, tmp_path: Path
) -> None:
    began = time.monotonic()
    root = studio.gallery
    # Artworks and a rating, all before the training starts.
    made = studio.api("/api/generate", {"model": "mnist-vae", "verb": "sample",
                                        "args": {"n": 2, "seed": 1}})["job"]  # fmt: skip
    done = _wait(studio, made, lambda j: j["state"] == "done", "done")
    first, second = done["result"]["ids"]
    studio.api(f"/api/gallery/{first}/rate", {"stars": 4, "like": True})

    # Train until the run has a checkpoint on disk.
    train = studio.api("/api/train", {"kind": "image-vae", "data": "digits", "name": "killme",
                                      "steps": 100_000})["job"]  # fmt: skip
    run_dir = root / ".museforge" / "trained" / "killme"
    checkpoint = run_dir / "checkpoint.pt"
    _wait(studio, train, lambda j: j["state"] == "running" and checkpoint.is_file(), "a checkpoint")
    before = _listing(studio)
    assert set(before) == {first, second}

    # More pictures while it trains; kill the server as soon as they start landing on disk.
    folder = root / "mnist-vae"
    known = {p.name for p in folder.iterdir()}
    more = studio.api("/api/generate", {"model": "mnist-vae", "verb": "sample",
                                        "args": {"n": 16, "seed": 2}})["job"]  # fmt: skip
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while time.monotonic() < deadline:
        if {p.name for p in folder.iterdir()} - known:
            break
        if studio.api(f"/api/jobs/{more}")["state"] in FINISHED:
            break  # it saved everything between two looks: kill now all the same
        time.sleep(0.005)
    studio.kill(signal.SIGKILL)
    killed_at = time.monotonic()
    in_place = sum(p.name.startswith(more) for p in folder.iterdir())  # of its 17 files

    # Nothing half-written is visible in the gallery's own folders: every file there is
    # whole (a write cut short leaves at most a hidden temporary file beside it).
    cut_short = _temp_files(root)
    for path in (
        p for d in _artwork_folders(root) for p in d.iterdir() if p.is_file() and p.name[0] != "."
    ):
        if path.name.endswith(USER_SUFFIX):
            json.loads(path.read_text(encoding="utf-8"))
        elif path.suffix == ".png" and "-grid" not in path.name:
            assert read_artwork(path) is not None, f"half-written artwork {path}"
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    checkpoint_step = int(state["step"])
    assert checkpoint_step > 0

    # Restart on the same gallery: both jobs are queued again at once.
    restart_s = studio.start()
    down_s = time.monotonic() - killed_at
    assert not _temp_files(root), "the restarted studio left temporary files of cut writes"
    assert studio.api(f"/api/jobs/{train}")["state"] in {"queued", "running"}
    history = list(_events(studio, train, until=_state_is("interrupted")))
    assert history[-1]["type"] == "state" and history[-1]["data"]["state"] == "interrupted"
    steps = [e["data"]["step"] for e in history if e["type"] == "progress" and "step" in e["data"]]
    assert steps, "the training job reported no steps before the kill"
    killed_step = steps[-1]
    # Progress is reported every 0.5 s, so the checkpoint may be a few steps past the last
    # report: the resumed job must go on from the checkpoint, whichever is later.

    # The generate job cut short finishes: its 16 pictures, each written once (the files
    # its killed run had put in place kept, the rest added), named after the job.
    finished = _wait(studio, more, lambda j: j["state"] == "done", "done")
    ids = finished["result"]["ids"]
    assert len(set(ids)) == 16
    pictures = sorted(p.name for p in folder.iterdir() if p.name.startswith(more))
    assert len(pictures) == 17 and sum(p.endswith("-grid.png") for p in pictures) == 1
    indexes = [read_artwork(folder / n)[1]["index"] for n in pictures if "-grid" not in n]
    assert sorted(indexes) == list(range(16))
    assert not [p for p in folder.iterdir() if "-v2" in p.name]

    # The artworks that existed are all there with their marks; pictures the killed job
    # wrote completely are listed too.
    after = _listing(studio)
    assert set(before) <= set(after)
    for art_id, item in before.items():
        assert (after[art_id]["stars"], after[art_id]["like"]) == (item["stars"], item["like"])
    assert after[first]["stars"] == 4
    # The index is what a fresh reindex of the files gives (on a copy, not under the server).
    copy = tmp_path / "reindexed"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns(".museforge"))
    fresh = Gallery(copy)
    try:
        assert fresh.reindex() == len(after)
        rebuilt = {r.id: r for r in fresh.list(limit=500)}
    finally:
        fresh.close()
    assert set(rebuilt) == set(after)
    assert {i: r.stars for i, r in rebuilt.items()} == {i: a["stars"] for i, a in after.items()}

    # Resumed by the restart: the job continues from its checkpoint, not from step 0.
    last_seq = history[-1]["seq"]
    later = list(_events(studio, train, after=last_seq, until=lambda e: e["type"] == "progress"))
    assert [e["data"]["state"] for e in later if e["type"] == "state"][:2] == ["queued", "running"]
    resumed_step = later[-1]["data"]["step"]
    assert resumed_step == checkpoint_step + 1, (checkpoint_step, resumed_step)

    studio.api(f"/api/jobs/{train}/cancel", {})
    _wait(studio, train, lambda j: j["state"] == "cancelled", "cancelled")
    # The Trainer's log (every 25 steps) went on from the checkpoint: its lines logged after
    # the checkpoint by the killed run were dropped, so the steps never go back.
    metrics = run_dir / "metrics.jsonl"
    lines = metrics.read_text().splitlines() if metrics.is_file() else []
    logged = [json.loads(line)["step"] for line in lines if line.strip()]
    assert logged == sorted(logged), f"metrics.jsonl goes back in steps: {logged}"

    print(
        f"killed at step {killed_step} (checkpoint at step {checkpoint_step}); "
        f"restarted in {restart_s:.1f} s ({down_s:.1f} s after the kill); "
        f"resumed at step {resumed_step}; the generate job had {in_place} of 17 files in "
        f"place and finished; {len(cut_short)} cut-short temporary files swept; "
        f"whole test {time.monotonic() - began:.1f} s"
    )
