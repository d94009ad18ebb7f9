"""Sculpture models on the studio's Create page, through the API: their mesh settings are
form fields, meshes are named by gallery id or upload id (never by path) and resolved to
files on the server, and mesh uploads are checked."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trimesh
from fastapi.testclient import TestClient

from museforge.core.recipe import Recipe, train_from_recipe
from museforge.errors import InputError
from museforge.sculpture.meshfile import read_mesh
from museforge.studio import api
from museforge.studio.app import StudioConfig, create_app
from museforge.studio.runners import _file_args
from tests.gallery.test_store import image_art, save

TOKEN = "mesh-inputs-token-0123456789abcdef"
AUTH = {"X-Museforge-Token": TOKEN}
MODEL = "vessels"
# Solids too big for the resin printer are refused before any repair: quick, and the job
# says so in its message.
QUICK = {"printer": "resin", "size_mm": 400}


def train_vessel_model(out: Path) -> Path:
    """A vessel VAE trained for two steps (seconds): enough to draw solids."""
    recipe = Recipe(kind="vessel-vae", data="vessels", run={"steps": 2, "preview_every": 0})
    train_from_recipe(recipe, out=out, progress=False)
    return out


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """A studio whose models folder holds one vessel model; no turntables (slow)."""
    root = tmp_path_factory.mktemp("mesh-inputs")
    train_vessel_model(root / "models" / MODEL)
    config = StudioConfig(root / "gallery", root / "models", port=8765, workers=1, token=TOKEN)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MUSEFORGE_TURNTABLE", "0")
        with TestClient(create_app(config), base_url="http://127.0.0.1:8765") as c:
            yield c


def _wait(c: TestClient, job: str, timeout: float = 180) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        state = c.get(f"/api/jobs/{job}").json()
        if state["state"] in {"done", "failed", "cancelled", "interrupted"}:
            return state
        time.sleep(0.1)
    raise AssertionError(f"job {job} did not finish: {state}")


def _post_generate(c: TestClient, verb: str, **args):
    return c.post("/api/generate", json={"model": MODEL, "verb": verb, "args": args}, headers=AUTH)


def _generate(c: TestClient, verb: str, **args) -> dict:
    r = _post_generate(c, verb, **args)
    assert r.status_code == 200, r.text
    job = _wait(c, r.json()["job"])
    assert job["state"] == "done", job
    return job


@pytest.fixture(scope="module")
def parents(client: TestClient) -> list[str]:
    """The gallery ids of two solids the vessel model made."""
    ids = _generate(client, "sample", n=2, seed=3, **QUICK)["result"]["ids"]
    assert len(ids) == 2
    return ids


def _upload(c: TestClient, name: str, data: bytes, headers=AUTH):
    return c.post("/api/uploads/mesh", files={"file": (name, data, "model/stl")}, headers=headers)


def _box_stl() -> bytes:
    return trimesh.creation.box(extents=(20, 10, 5)).export(file_type="stl")


def _fields(client: TestClient, kind: str) -> dict[str, dict[str, dict]]:
    found = next(k for k in client.get("/api/kinds").json() if k["kind"] == kind)
    return {v["verb"]: {f["name"]: f for f in v["fields"]} for v in found["verbs"]}


def test_sculpture_verbs_offer_mesh_fields(client):
    vessel = _fields(client, "vessel-vae")
    assert sorted(vessel) == ["breed", "condition", "interpolate", "sample"]  # no evaluate
    parents = vessel["breed"]["parents"]
    assert (parents["type"], parents["required"], parents["own_model"]) == ("meshes", True, True)
    for verb, name in (("condition", "parent"), ("interpolate", "start"), ("interpolate", "end")):
        field = vessel[verb][name]
        assert (field["type"], field["optional"], field["own_model"]) == ("mesh", True, True)
    assert vessel["sample"]["printer"]["choices"] == ["fdm", "fdm-fine", "resin"]
    # A form model also re-draws a mesh the user brings: any mesh, so uploads too.
    mesh = _fields(client, "form-vae")["project"]["mesh"]
    assert (mesh["type"], mesh["required"], mesh["own_model"]) == ("mesh", True, False)


def test_a_parent_picked_by_gallery_id_resolves_to_its_glb(client, parents):
    ws = client.app.state.workspace
    files = _file_args(ws, "vessel-vae", "breed", {"parents": parents})["parents"]
    assert files == [ws.gallery.root / ws.gallery.get(i).path for i in parents]
    assert all(f.suffix == ".glb" and f.is_file() for f in files)
    job = _generate(client, "breed", parents=parents, children=1, seed=5, **QUICK)
    [child] = job["result"]["ids"]
    detail = client.get(f"/api/gallery/{child}").json()
    assert detail["modality"] == "mesh" and detail["verb"] == "breed"
    assert {p["id"] for p in detail["parents"]} == set(parents)
    assert {"stl", "obj", "preview"} <= set(detail["companions"])
    # What the verb said of its solids comes back with the job.
    assert job["result"]["message"].startswith("1 of 1 not printable on resin")
    # Remix names the parents as the studio does (their ids), not as files.
    remix = client.get(f"/api/gallery/{child}/remix").json()
    assert remix["verb"] == "breed" and remix["args"]["parents"] == parents


def test_one_parent_by_id_is_the_solid_a_condition_starts_from(client, parents):
    job = _generate(client, "condition", parent=parents[1], attribute="taller", **QUICK)
    [pushed] = job["result"]["ids"]
    detail = client.get(f"/api/gallery/{pushed}").json()
    assert [p["id"] for p in detail["parents"]] == [parents[1]]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ({"parents": ["/etc/passwd", "x"]}, "must be a gallery id or an upload"),
        ({"parents": ["../gallery/a.glb", "x"]}, "must be a gallery id or an upload"),
        ({"parents": ["C:\\meshes\\a.glb", "x"]}, "must be a gallery id or an upload"),
    ],
)
def test_mesh_settings_take_ids_never_paths(client, args, words):
    r = _post_generate(client, "breed", **args)
    assert r.status_code == 400 and words in r.json()["error"], r.text


def test_only_meshes_resolve_as_meshes(client, parents):
    ws = client.app.state.workspace
    [picture] = save(ws.gallery, "pictures", image_art("fox", 3))
    with pytest.raises(InputError, match=f"artwork {picture} is not a mesh"):
        ws.mesh_path(picture)
    with pytest.raises(InputError, match="no artwork with id"):
        ws.mesh_path("0123456789abcdef")
    with pytest.raises(InputError, match="no uploaded mesh"):
        ws.mesh_path("upload:0123456789abcdef")
    r = _post_generate(client, "condition", parent=picture, attribute="taller", **QUICK)
    failed = _wait(client, r.json()["job"])
    assert failed["state"] == "failed" and "is not a mesh" in failed["error"]


def test_garbage_named_stl_is_refused_with_its_reason(client):
    uploads = client.app.state.workspace.uploads_dir
    before = sorted(uploads.glob("*")) if uploads.is_dir() else []
    r = _upload(client, "junk.stl", b"this is not a mesh at all\n" * 20)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert "'junk.stl'" in error and "cannot be read as a mesh" in error
    assert "\n" not in error
    after = sorted(uploads.glob("*")) if uploads.is_dir() else []
    assert after == before  # nothing kept
    r = _upload(client, "notes.txt", _box_stl())
    assert r.status_code == 400 and "is not a mesh file" in r.json()["error"]


def test_a_small_stl_is_accepted_and_resolves_to_a_mesh(client):
    data = _box_stl()
    assert _upload(client, "box.stl", data, headers={}).status_code == 401  # no token
    r = _upload(client, "box.stl", data)
    assert r.status_code == 200, r.text
    ref = r.json()["id"]
    assert ref.startswith("upload:")
    ws = client.app.state.workspace
    path = ws.mesh_path(ref)
    assert path.suffix == ".stl" and path.read_bytes() == data
    assert read_mesh(path).volume == pytest.approx(1000.0)
    # The form model's project reads it; a picture setting does not take it.
    assert _file_args(ws, "form-vae", "project", {"mesh": ref})["mesh"] == path
    with pytest.raises(InputError, match="no uploaded picture"):
        ws.picture_path(ref)


def test_mesh_uploads_are_size_capped(client, monkeypatch):
    monkeypatch.setattr(api, "MAX_MESH_UPLOAD_BYTES", 500)
    r = _upload(client, "box.stl", _box_stl())
    assert r.status_code == 400 and "'box.stl' is larger than 500 bytes" in r.json()["error"]
