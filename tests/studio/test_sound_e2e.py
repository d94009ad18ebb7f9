"""Sounds in the studio, in a real browser (Debian's Chromium via Playwright, as in
test_e2e): sample notes on the Create page, hear and see them (audio player and
spectrogram), pick a note made by the model as a parent, and open one in the Gallery."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

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


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory, tones_folder: Path) -> Iterator[StudioServer]:
    """A studio whose only model is a (barely) trained sound VAE."""
    root = tmp_path_factory.mktemp("sound-studio")
    train_sound(tones_folder, root / "models" / MODEL, steps=10)
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
