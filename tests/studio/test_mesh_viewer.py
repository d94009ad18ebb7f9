"""A mesh artwork through the studio's API: its GLB and companions by gallery id and role,
with their content types and download headers, its turntable as thumbnail, and the
vendored three.js the viewer imports (all of it served by the studio itself)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from PIL import Image

from museforge.core.artwork import Artwork, Result
from museforge.sculpture.meshfile import mesh_from_bytes
from museforge.studio import api_gallery
from museforge.studio.app import STATIC
from tests.gallery.test_mesh_gallery import ROLES, write_mesh
from tests.studio.test_api import _client

THREE = STATIC / "vendor" / "three"
# import … from "x"; export … from "x" (a statement: at a line's start or after a ";")
STATIC_IMPORT = r"""(?:^|;)\s*(?:import|export)\b[^;'"]*?\bfrom\s*['"]([^'"]+)['"]"""


@pytest.fixture
def client(tmp_path):
    with _client(tmp_path / "gallery") as c:
        yield c


@pytest.fixture
def mesh(client) -> tuple[str, Path]:
    """A mesh artwork in the client's gallery: (its id, its GLB)."""
    gallery = client.app.state.workspace.gallery
    glb = write_mesh(gallery.root / "sculpture")
    return gallery.add(glb), glb


def test_the_detail_names_the_mesh_and_its_companions(client, mesh):
    art, _ = mesh
    detail = client.get(f"/api/gallery/{art}").json()
    assert (detail["modality"], detail["path"]) == ("mesh", "sculpture/bust.glb")
    assert detail["companions"] == ROLES
    listing = client.get("/api/gallery", params={"modality": "mesh"}).json()
    assert [i["id"] for i in listing["items"]] == [art] and listing["total"] == 1


@pytest.mark.parametrize(
    ("role", "media", "name"),
    [
        (None, "model/gltf-binary", "bust.glb"),
        ("stl", "model/stl", "bust.stl"),
        ("obj", "model/obj", "bust.obj"),
    ],
)
def test_model_files_are_downloads_of_the_right_type(client, mesh, role, media, name):
    art, glb = mesh
    params = {"companion": role} if role else {}
    r = client.get(f"/api/gallery/{art}/file", params=params)
    assert r.status_code == 200
    assert r.headers["content-type"] == media
    assert r.headers["content-disposition"] == f'attachment; filename="{name}"'
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.content == glb.with_name(name).read_bytes()
    loaded = mesh_from_bytes(name, r.content)  # a GLB back from glTF's metres, Y up
    assert len(loaded.faces) == 320 and loaded.bounds[0][2] == pytest.approx(0.0, abs=1e-5)


@pytest.mark.parametrize(
    ("role", "media", "fmt"),
    [("preview", "image/png", "PNG"), ("turntable", "image/gif", "GIF")],
)
def test_pictures_of_a_mesh_are_shown_inline(client, mesh, role, media, fmt):
    art, _ = mesh
    r = client.get(f"/api/gallery/{art}/file", params={"companion": role})
    assert r.status_code == 200 and r.headers["content-type"] == media
    assert "content-disposition" not in r.headers
    assert Image.open(io.BytesIO(r.content)).format == fmt


def test_the_thumbnail_is_the_turntable_else_the_preview(client, mesh):
    art, glb = mesh
    thumb = client.get(f"/api/gallery/{art}/thumb")
    assert thumb.headers["content-type"] == "image/gif"
    moving = Image.open(io.BytesIO(thumb.content))
    assert moving.n_frames == 3 and max(moving.size) <= api_gallery.THUMB_PX
    glb.with_name("bust.turntable.gif").unlink()
    still = client.get(f"/api/gallery/{art}/thumb")
    assert still.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(still.content)).size[0] <= api_gallery.THUMB_PX
    glb.with_name("bust.png").unlink()
    bare = client.get(f"/api/gallery/{art}/thumb")
    assert bare.status_code == 400 and "not a picture" in bare.json()["error"]


def test_a_role_the_artwork_lacks_is_not_found(client, mesh):
    art, glb = mesh
    glb.with_name("bust.obj").unlink()
    r = client.get(f"/api/gallery/{art}/file", params={"companion": "obj"})
    assert r.status_code == 404 and r.json()["error"] == f"no obj for artwork {art}"
    # A picture has no STL; a mesh has no piano roll.
    gallery = client.app.state.workspace.gallery
    (picture,) = gallery.save(Result([Artwork("p", Image.new("RGB", (4, 4)), {"seed": 1})]), "t")
    assert client.get(f"/api/gallery/{picture}/file?companion=stl").status_code == 404
    assert client.get(f"/api/gallery/{art}/file?companion=roll").status_code == 404


def test_files_are_named_by_id_and_role_only(client, mesh, tmp_path):
    art, _ = mesh
    secret = tmp_path / "secret.stl"
    secret.write_text("solid secret\nendsolid secret\n")
    for role in ("../../secret.stl", "stl/../../secret", "STL", "bust.stl", str(secret)):
        r = client.get(f"/api/gallery/{art}/file", params={"companion": role})
        assert r.status_code == 422, role
    for path in ("..%2F..%2Fsecret.stl", "sculpture%2Fbust.glb", "bust.glb"):
        r = client.get(f"/api/gallery/{path}/file", params={"companion": "stl"})
        assert r.status_code == 404 and b"solid" not in r.content


def test_the_viewer_and_its_vendored_three_js_are_served(client):
    page = client.get("/").text
    assert 'value="mesh"' in page
    mesh_js = client.get("/static/mesh.js")
    assert mesh_js.status_code == 200 and "javascript" in mesh_js.headers["content-type"]
    imports = re.findall(r'import\("\./(vendor/three/[^"]+)"\)', mesh_js.text)
    assert len(imports) == 4
    for rel in imports:
        r = client.get(f"/static/{rel}")
        assert r.status_code == 200 and "javascript" in r.headers["content-type"], rel


def test_every_vendored_module_imports_files_that_are_there():
    """The examples' bare 'three' imports are rewritten to relative paths (see the README):
    each import of each vendored module names a file in the folder, nothing outside."""
    modules = sorted(THREE.rglob("*.js"))
    assert len(modules) == 7
    for module in modules:
        lines = module.read_text(encoding="utf-8").splitlines()
        code = "\n".join(x for x in lines if not x.lstrip().startswith(("//", "/*", "*")))
        targets = re.findall(STATIC_IMPORT, code, re.MULTILINE)
        targets += re.findall(r"""\bimport\s*\(\s*['"]([^'"]+)['"]""", code)
        assert targets or module.name == "three.core.min.js", module  # the rest import it
        for target in targets:
            assert target.startswith(("./", "../")), (module, target)
            found = (module.parent / target).resolve()
            assert found.is_file() and found.is_relative_to(THREE.resolve()), (module, target)
    # The version the README names is the one vendored (REVISION is the minor number).
    version = re.search(r"three@0\.(\d+)\.\d+", (THREE / "README.md").read_text())
    core = (THREE / "build" / "three.core.min.js").read_text(encoding="utf-8")
    assert version and f'="{version[1]}",' in core and " as REVISION" in core
    assert "MIT License" in (THREE / "LICENSE").read_text(encoding="utf-8")
