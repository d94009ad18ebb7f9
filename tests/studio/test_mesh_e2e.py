"""A mesh in the studio's gallery, in a real browser (Debian's Chromium via Playwright, as
in test_e2e): its card shows the turntable, its detail an interactive WebGL view (or, where
the browser has no WebGL, one line saying so) with STL, OBJ and GLB to download."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.gallery.test_mesh_gallery import write_mesh
from tests.studio.server import StudioDidNotStart, StudioServer

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("Debian's chromium is not installed (/usr/bin/chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

pytestmark = pytest.mark.slow

TOKEN = "mesh-e2e-token-0123456789abcdef"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-sync",
]
UI_TIMEOUT_MS = 30_000
# What a browser without WebGL 2 gives the page (the viewer must say so, not fail).
NO_WEBGL = """
const getContext = HTMLCanvasElement.prototype.getContext;
HTMLCanvasElement.prototype.getContext = function (kind, ...rest) {
  return /webgl/i.test(kind) ? null : getContext.call(this, kind, ...rest);
};
"""


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[StudioServer, str]]:
    """A studio whose gallery holds one mesh (indexed when the studio starts); its id."""
    root = tmp_path_factory.mktemp("mesh-studio")
    write_mesh(root / "gallery" / "sculpture")
    server = StudioServer(root / "gallery", root / "studio.log", TOKEN, start_timeout_s=60)
    try:
        server.start()
    except StudioDidNotStart as err:
        pytest.fail(str(err))
    items = server.api("/api/gallery?modality=mesh")["items"]
    assert [i["path"] for i in items] == ["sculpture/bust.glb"]
    yield server, items[0]["id"]
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("MUSEFORGE_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def open_mesh(browser: Any, studio: StudioServer, art: str, init_script: str | None = None):
    """A new page on the gallery with the mesh's detail open; (page, its script errors)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    if init_script:
        context.add_init_script(init_script)
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    sync_api.expect.set_options(timeout=UI_TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(studio.launch_url)
    page.wait_for_selector("body.ready")
    page.goto(f"{studio.base}/#gallery")
    tile = page.locator(f'[data-testid=gallery-item][data-id="{art}"]')
    sync_api.expect(tile).to_be_visible()
    thumb = tile.locator("img")
    sync_api.expect(thumb).to_have_attribute("src", f"/api/gallery/{art}/thumb")
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle()
    )
    tile.locator("button.tile-main").click()
    sync_api.expect(page.get_by_test_id("detail")).to_be_visible()
    return page, errors


def check_downloads(page: Any, art: str, gallery: Path) -> None:
    view = page.get_by_test_id("mesh-view")
    for ext, query in (("stl", "?companion=stl"), ("obj", "?companion=obj"), ("glb", "")):
        link = view.get_by_test_id(f"mesh-{ext}")
        sync_api.expect(link).to_have_attribute("href", f"/api/gallery/{art}/file{query}")
        sync_api.expect(link).to_have_attribute("download", f"bust.{ext}")
    with page.expect_download() as caught:
        view.get_by_test_id("mesh-stl").click()
    download = caught.value
    assert download.suggested_filename == "bust.stl"
    assert Path(download.path()).read_bytes() == (gallery / "sculpture" / "bust.stl").read_bytes()


def test_a_mesh_card_opens_a_3d_view_with_downloads(browser, studio, shots) -> None:
    server, art = studio
    page, errors = open_mesh(browser, server, art)
    shown = page.locator("[data-testid=mesh-canvas], [data-testid=mesh-no-webgl]")
    sync_api.expect(shown.first).to_be_visible()
    if page.get_by_test_id("mesh-canvas").count():  # this browser has WebGL (SwiftShader)
        canvas = page.get_by_test_id("mesh-canvas")
        box = canvas.bounding_box()
        assert box["width"] > 200 and abs(box["height"] / box["width"] - 0.75) < 0.02
        sync_api.expect(page.get_by_test_id("mesh-size")).to_contain_text("20 × 20 × 20 mm")
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.4, steps=5)
        page.mouse.up()
        page.mouse.wheel(0, -200)
    else:
        print("this Chromium has no WebGL: the viewer showed its message")
    check_downloads(page, art, server.gallery)
    # Rating redraws the detail: the 3D view stays the same element (turned as it was).
    before = page.get_by_test_id("mesh-view").element_handle()
    page.get_by_test_id("star-3").click()
    sync_api.expect(page.get_by_test_id("star-3")).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("el => el.isConnected", before)
    page.screenshot(path=shots / "mesh.png", full_page=True)
    page.context.close()
    assert not errors, f"errors in the page's scripts: {errors}"


def test_without_webgl_the_viewer_says_so_in_one_line(browser, studio) -> None:
    server, art = studio
    page, errors = open_mesh(browser, server, art, init_script=NO_WEBGL)
    message = page.get_by_test_id("mesh-no-webgl")
    sync_api.expect(message).to_be_visible()
    sync_api.expect(message).to_contain_text("no WebGL")
    assert page.get_by_test_id("mesh-canvas").count() == 0
    assert "\n" not in message.inner_text().strip()
    check_downloads(page, art, server.gallery)
    page.context.close()
    assert not errors, f"errors in the page's scripts: {errors}"
