"""The soak bench, small: a real studio takes 12 jobs from 4 clients while it is SIGKILLed
and restarted twice; afterwards every job is done and its artwork is in the gallery once,
whole, and indexed. Checked from the bench's figures and again from the files themselves."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from PIL import Image

from museforge.bench.soak import format_table, run_soak_bench
from museforge.core.artifact import load_artifact
from museforge.core.registry import call_verb
from museforge.gallery.store import Gallery, artwork_id, read_artwork
from museforge.studio.runners import name_after_job, publish

JOBS, CLIENTS, KILLS = 12, 4, 2
MODELS = Path(__file__).resolve().parents[2] / "models"


@pytest.fixture(scope="module")
def soak(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    work = tmp_path_factory.mktemp("soak")
    return run_soak_bench(JOBS, CLIENTS, KILLS, work, seed=3), work / "gallery"


def test_the_figures_say_nothing_was_lost_duplicated_or_half_written(soak) -> None:
    results, _ = soak
    assert results["errors"] == []
    jobs, requests, art = results["jobs"], results["requests"], results["artworks"]
    assert jobs["accepted"] == jobs["done"] == jobs["jobs_in_queue"] == JOBS
    assert jobs["failed"] == 0 and jobs["keys_repeated_in_queue"] == 0
    assert results["kills"] == results["restarts"] == KILLS
    assert results["restart_s"]["max"] > 0
    # Every deliberate repeat of a submission got the job it repeated, not a new one.
    assert requests["repeat_gave_another_job"] == 0
    assert requests["duplicates_avoided"] >= requests["repeated_on_purpose"] > 0
    assert art["expected"] == art["found"] == JOBS
    assert (art["duplicated"], art["extra"], art["half_written"], art["temp_files"]) == (0,) * 4
    assert art["index_equals_files"] and art["indexed"] == JOBS
    table = format_table(results)
    assert f"| artworks expected / found | {JOBS} / {JOBS} |" in table


def test_the_files_hold_each_jobs_artwork_once_and_whole(soak) -> None:
    _, gallery = soak
    folder = gallery / "mnist-vae"
    names = sorted(p.name for p in folder.iterdir())
    assert not [n for n in names if n.startswith(".")], "temporary files were left"
    pictures = {}
    for name in names:
        with Image.open(folder / name) as picture:
            picture.load()  # whole: it decodes to the end
        info = read_artwork(folder / name)
        if info is not None:
            pictures[artwork_id(f"mnist-vae/{name}")] = info[1]
    seeds = sorted(prov["args"]["seed"] for prov in pictures.values())
    assert seeds == [3_000_000 + k for k in range(JOBS)]  # one picture per job, none twice
    db = gallery / ".museforge" / "jobs.sqlite"
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT id, state, result, idem_key FROM jobs").fetchall()
    assert sorted(state for _, state, _, _ in rows) == ["done"] * JOBS
    assert len({key for *_, key in rows}) == JOBS
    for job_id, _, result, _ in rows:
        [art_id] = json.loads(result)["ids"]
        assert art_id in pictures
        assert [n for n in names if n.startswith(job_id)] == [
            f"{job_id}-sample-s{pictures[art_id]['seed']}-{part}.png" for part in ("0000", "grid")
        ]


def test_a_generate_job_run_again_after_a_kill_writes_each_output_once(tmp_path: Path) -> None:
    loaded = load_artifact(MODELS / "mnist-vae")
    gallery = Gallery(tmp_path / "gallery")
    job = "0123456789abcdef"
    first = call_verb(loaded, "sample", n=3, seed=1)
    name_after_job(first, job)
    ids = publish(gallery, first, "mnist-vae", job)
    folder = gallery.root / "mnist-vae"
    everything = sorted(p.name for p in folder.iterdir())
    assert len(ids) == 3 and len(everything) == 4  # three pictures and the grid
    # The kill: one picture and the grid were not in place yet; the staging folder holds
    # what the killed run was writing.
    (folder / f"{job}-sample-s1-0002.png").unlink()
    (folder / f"{job}-sample-s1-grid.png").unlink()
    kept = folder / f"{job}-sample-s1-0000.png"
    os.utime(kept, (1e9, 1e9))
    staging = gallery.root / ".museforge" / "staging" / job
    staging.mkdir(parents=True)
    (staging / f".{job}-sample-s1-0002.abcdefgh.tmp.png").write_bytes(b"half a picture")

    again = call_verb(loaded, "sample", n=3, seed=1)
    name_after_job(again, job)
    assert publish(gallery, again, "mnist-vae", job) == ids
    assert sorted(p.name for p in folder.iterdir()) == everything  # no -v2, nothing extra
    assert kept.stat().st_mtime == 1e9  # a file already in place is kept, not rewritten
    assert not staging.exists()
    listing = {r.id for r in gallery.list(limit=10)}
    assert listing == set(ids) and gallery.reindex() == 3
    gallery.close()
