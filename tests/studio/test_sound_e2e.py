"""Sounds in the studio, in a real browser (Debian's Chromium via Playwright, as in
test_e2e): sample notes on the Create page, hear and see them (audio player and
spectrogram), pick a note made by the model as a parent, and open one in the Gallery; on
the Play page, play an uploaded MIDI file on the learned instrument and see it as a video
with its sound."""

from __future__ import annotations

import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from tests.sound.conftest import train_sound
from tests.studio.server import StudioDidNotStart, StudioServer

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("Debian's chromium is not installed (/usr/bin/chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

pytestmark = pytest.mark.slow

TOKEN = "sound-e2e-token-0123456789abcdef"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
UI_TIMEOUT_MS = 30_000
JOB_TIMEOUT_MS = 120_000
MODEL = "notes"
PICTURES = "bars"


@pytest.fixture(scope="module")
def studio(
    tmp_path_factory: pytest.TempPathFactory, tones_folder: Path, gan_model: Path
) -> Iterator[StudioServer]:
    """A studio with a (barely) trained sound VAE and a tiny picture GAN."""
    root = tmp_path_factory.mktemp("sound-studio")
    train_sound(tones_folder, root / "models" / MODEL, steps=10)
    shutil.copytree(gan_model, root / "models" / PICTURES)
    server = StudioServer(
        root / "gallery", root / "studio.log", TOKEN, env={"MUSEFORGE_MODELS": str(root / "models")}
    )
    try:
        server.start()
    except StudioDidNotStart as err:
        pytest.fail(str(err))
    yield server
    server.stop()


@pytest.fixture
def page(studio: StudioServer) -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.set_default_timeout(UI_TIMEOUT_MS)
        sync_api.expect.set_options(timeout=UI_TIMEOUT_MS)
        errors: list[str] = []
        page.on("pageerror", lambda err: errors.append(str(err)))
        page.goto(studio.launch_url)
        page.wait_for_selector("body.ready")
        yield page
        browser.close()
        assert not errors, f"errors in the page's scripts: {errors}"


def test_notes_are_made_heard_and_seen(page, studio) -> None:
    expect, by_id = sync_api.expect, page.get_by_test_id
    page.goto(f"{studio.base}/#create")
    before = page.locator("#field-n").element_handle()
    by_id("create-model").select_option(MODEL)
    page.wait_for_function("el => !el.isConnected", arg=before)
    by_id("create-verb").select_option("sample")
    page.fill("#field-n", "2")
    page.fill("#field-pitch", "64")
    # The family is named in words: the form suggests the model's own classes.
    classes = page.locator("#field-family-classes option")
    assert [o.get_attribute("value") for o in classes.all()] == ["bright", "soft"]
    by_id("create-submit").click()
    expect(by_id("create-status")).to_have_text("done", timeout=JOB_TIMEOUT_MS)
    results = page.locator("[data-testid=create-results] [data-testid=result-sound]")
    expect(results).to_have_count(2)
    card = results.first
    art = card.get_attribute("data-id")
    expect(card.get_by_test_id("sound-audio")).to_have_attribute("src", f"/api/gallery/{art}/file")
    picture = card.get_by_test_id("sound-spectrogram")
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=picture.element_handle()
    )
    duration = page.evaluate(
        "a => new Promise(ok => a.readyState >= 1 ? ok(a.duration)"
        " : a.addEventListener('loadedmetadata', () => ok(a.duration)))",
        card.get_by_test_id("sound-audio").element_handle(),
    )
    assert duration == pytest.approx(1920 / 8000, abs=0.01)  # the browser decodes the WAV
    record = studio.api(f"/api/gallery/{art}")
    assert record["modality"] == "sound" and record["provenance"]["pitch"] == 64
    # A sound setting picks this model's notes from the gallery; nothing is uploaded.
    by_id("create-verb").select_option("breed")
    expect(by_id("picker-parents").locator(f'.tile[data-id="{art}"] img')).to_be_visible()
    expect(by_id("upload-parents")).to_have_count(0)
    # The Gallery lists each note once (spectrograms are not pictures of their own).
    page.goto(f"{studio.base}/#gallery")
    tiles = by_id("gallery-grid").locator(".tile")
    expect(tiles).to_have_count(2)
    page.locator(f'#gallery-grid .tile[data-id="{art}"] button').first.click()
    expect(by_id("detail-view").get_by_test_id("sound-audio")).to_be_visible()


def _tune(path: Path) -> Path:
    import mido

    midi = mido.MidiFile(ticks_per_beat=480)  # 120 bpm
    track = mido.MidiTrack()
    midi.tracks.append(track)
    for pitch in (60, 64, 67):
        track.append(mido.Message("note_on", note=pitch, velocity=100, time=0))
        track.append(mido.Message("note_off", note=pitch, velocity=0, time=480))
    midi.save(str(path))
    return path


def test_a_tune_is_played_on_the_learned_instrument_and_seen(page, studio, tmp_path) -> None:
    expect, by_id = sync_api.expect, page.get_by_test_id
    page.goto(f"{studio.base}/#play")
    expect(by_id("play-model")).to_have_value(MODEL)
    form = by_id("play-fields")
    form.get_by_test_id("upload-music").set_input_files(str(_tune(tmp_path / "tune.mid")))
    expect(form.get_by_test_id("picker-music").locator(".tile.selected")).to_have_count(1)
    expect(form.get_by_test_id("upload-timbre")).to_have_count(0)  # the model's own notes only
    by_id("play-submit").click()
    expect(by_id("play-status")).to_have_text("done", timeout=JOB_TIMEOUT_MS)
    played = by_id("play-results").get_by_test_id("play-result")
    expect(played).to_have_count(1)
    art = played.get_attribute("data-id")
    record = studio.api(f"/api/gallery/{art}")
    assert record["verb"] == "play" and record["provenance"]["notes"] == 3
    duration = page.evaluate(
        "a => new Promise(ok => a.readyState >= 1 ? ok(a.duration)"
        " : a.addEventListener('loadedmetadata', () => ok(a.duration)))",
        played.get_by_test_id("sound-audio").element_handle(),
    )
    assert duration > 1.0  # the third note starts at 1 s (the tiny model's notes are 0.24 s)
    # "See it": the performance drives the picture model's walk, a video with its sound.
    played.get_by_test_id("play-see").click()
    expect(by_id("picker-see").locator(f'.tile.selected[data-id="{art}"]')).to_have_count(1)
    by_id("see-model").select_option(PICTURES)
    by_id("see-fps").fill("4")
    expect(by_id("see-words")).to_be_hidden()  # a picture model draws no words
    by_id("see-submit").click()
    expect(by_id("see-status")).to_have_text("done", timeout=JOB_TIMEOUT_MS)
    video = by_id("see-results").get_by_test_id("video-player")
    expect(video).to_have_count(1)
    seen = page.evaluate(
        "v => new Promise(ok => { v.muted = true; v.addEventListener('timeupdate', () =>"
        " v.currentTime > 0.5 && ok([v.duration, v.videoWidth, v.webkitAudioDecodedByteCount]));"
        " v.play(); })",
        video.element_handle(),
    )
    assert seen[0] == pytest.approx(duration, abs=0.3) and seen[1] == 640
    assert seen[2] > 0  # the browser decodes the music inside the video
    made = by_id("see-results").get_by_test_id("see-result").get_attribute("data-id")
    item = studio.api(f"/api/gallery/{made}")
    assert item["modality"] == "video" and item["companions"] == ["poster"]
    assert item["provenance"]["source"]["file"].endswith(".wav")
    # The Gallery shows it once, with a poster, and plays it in the detail panel.
    page.goto(f"{studio.base}/#gallery/{made}")
    expect(by_id("detail-view").get_by_test_id("video-player")).to_be_visible()
    # A verb that reads any recording (encode) takes uploads; the form offers them.
    page.goto(f"{studio.base}/#create")
    by_id("create-model").select_option(MODEL)
    by_id("create-verb").select_option("encode")
    note = tmp_path / "hum.wav"
    t = np.arange(4000) / 16000
    soundfile.write(str(note), 0.5 * np.sin(2 * np.pi * 330 * t), 16000)
    by_id("upload-sounds").set_input_files(str(note))
    expect(by_id("summary-sounds")).to_have_text("1 chosen")
    by_id("create-submit").click()
    expect(by_id("create-status")).to_have_text("done", timeout=JOB_TIMEOUT_MS)
    encoded = page.locator("[data-testid=create-results] [data-testid=result-sound]")
    expect(encoded).to_have_count(1)
    record = studio.api(f"/api/gallery/{encoded.get_attribute('data-id')}")
    assert record["verb"] == "encode" and record["provenance"]["latent"]
    # An instrument downloads as an SFZ with its samples, in one zip.
    by_id("create-verb").select_option("instrument")
    by_id("create-submit").click()
    expect(by_id("create-status")).to_have_text("done", timeout=JOB_TIMEOUT_MS)
    link = page.locator("[data-testid=create-results] [data-testid=sound-sfz]")
    with urllib.request.urlopen(studio.base + link.get_attribute("href"), timeout=10) as answer:
        assert answer.read(2) == b"PK"
