"""A solid made on the studio's Create page, in a real browser (Debian's Chromium via
Playwright, as in test_e2e): pick a vessel model, sample one, see its turntable with what
the verb said of it and STL, OBJ and GLB to download; its card opens the 3D view."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.studio.server import StudioDidNotStart, StudioServer
from tests.studio.test_mesh_inputs import train_vessel_model

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("Debian's chromium is not installed (/usr/bin/chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

pytestmark = pytest.mark.slow

TOKEN = "mesh-create-e2e-token-0123456789abcdef"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
UI_TIMEOUT_MS = 30_000
JOB_TIMEOUT_MS = 180_000  # loading the model and checking the solid, on shared CPUs
MODEL = "vessels"


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StudioServer]:
    """A studio whose only model is a (barely) trained vessel VAE; no turntables (slow)."""
    root = tmp_path_factory.mktemp("mesh-create")
    train_vessel_model(root / "models" / MODEL)
    env = {"MUSEFORGE_MODELS": str(root / "models"), "MUSEFORGE_TURNTABLE": "0"}
    server = StudioServer(root / "gallery", root / "studio.log", TOKEN, env=env)
    try:
        server.start()
    except StudioDidNotStart as err:
        pytest.fail(str(err))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("MUSEFORGE_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def page(studio: StudioServer) -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(
            viewport={"width": 1280, "height": 900}, accept_downloads=True
        )
        page = context.new_page()
        page.set_default_timeout(UI_TIMEOUT_MS)
        sync_api.expect.set_options(timeout=UI_TIMEOUT_MS)
        errors: list[str] = []
        page.on("pageerror", lambda err: errors.append(str(err)))
        page.goto(studio.launch_url)
        page.wait_for_selector("body.ready")
        yield page
        browser.close()
        assert not errors, f"errors in the page's scripts: {errors}"


def test_sample_a_vessel_on_the_create_page(page, studio, shots) -> None:
    expect, by_id = sync_api.expect, page.get_by_test_id
    page.goto(f"{studio.base}/#create")
    before = page.locator("#field-n").element_handle()
    by_id("create-model").select_option(MODEL)
    page.wait_for_function("el => !el.isConnected", arg=before)  # the model's form drawn
    by_id("create-verb").select_option("sample")
    expect(page.locator("#field-printer")).to_have_value("fdm")
    page.fill("#field-n", "1")
    # Too big for the resin printer: refused before any (slow) repair, and the job says so.
    page.fill("#field-size_mm", "400")
    page.select_option("#field-printer", "resin")
    by_id("create-submit").click()
    expect(by_id("create-status")).to_have_text("done", timeout=JOB_TIMEOUT_MS)
    results = page.locator("[data-testid=create-results] [data-testid=result-mesh]")
    expect(results).to_have_count(1)
    card = results.first
    art = card.get_attribute("data-id")
    message = by_id("create-message")
    expect(message).to_contain_text("1 of 1 not printable on resin even after repair")
    expect(card.locator("dl.notes")).to_contain_text("prints (resin)")
    thumb = card.locator("[data-testid=result-mesh-open] img")
    expect(thumb).to_have_attribute("src", f"/api/gallery/{art}/thumb")
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle()
    )
    glb = studio.api(f"/api/gallery/{art}")["path"]
    stem = Path(glb).stem
    for ext, query in (("stl", "?companion=stl"), ("obj", "?companion=obj"), ("glb", "")):
        link = card.get_by_test_id(f"result-mesh-{ext}")
        expect(link).to_have_attribute("href", f"/api/gallery/{art}/file{query}")
        expect(link).to_have_attribute("download", f"{stem}.{ext}")
    with page.expect_download() as caught:
        card.get_by_test_id("result-mesh-stl").click()
    stl = studio.gallery / Path(glb).with_suffix(".stl")
    assert Path(caught.value.path()).read_bytes() == stl.read_bytes()
    page.screenshot(path=shots / "mesh-create.png", full_page=True)
    # A mesh setting picks this model's solids from the gallery (no path, no upload: a
    # parent's latent is in its gallery sidecar).
    by_id("create-verb").select_option("condition")
    expect(by_id("picker-parent").locator(f'.tile[data-id="{art}"] img')).to_be_visible()
    expect(by_id("upload-parent")).to_have_count(0)
    # The card opens the solid's 3D view (or the line saying this browser has none).
    card.get_by_test_id("result-mesh-open").click()
    expect(by_id("detail")).to_be_visible()
    expect(by_id("mesh-view")).to_have_attribute("data-id", art)
    shown = page.locator("[data-testid=mesh-canvas], [data-testid=mesh-no-webgl]")
    expect(shown.first).to_be_visible()
