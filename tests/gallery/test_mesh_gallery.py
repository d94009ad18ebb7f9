"""A mesh in the gallery: one artwork (its GLB) with its STL, OBJ, preview and turntable."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
import trimesh
from PIL import Image

from museforge.core.artwork import Artwork, Result
from museforge.gallery.artwork import save_gif
from museforge.gallery.provenance import save_png, save_sidecar
from museforge.gallery.store import Gallery, companions, read_artwork
from museforge.sculpture.meshfile import write_mesh as write_mesh_file
from tests.gallery.test_store import drop_index, image_art, listing, save

MODEL = {"path": "/models/sculptor", "kind": "mesh-test", "sha256": "5c" * 32}
ROLES = ["obj", "preview", "stl", "turntable"]


def write_mesh(folder: Path, name: str = "bust", seed: int = 7) -> Path:
    """The files of a mesh artwork as the sculpture modality writes them: a 20 mm ball
    standing on z = 0, its sidecar, STL, OBJ, a preview PNG and a 3-frame turntable."""
    folder.mkdir(parents=True, exist_ok=True)
    mesh = trimesh.creation.icosphere(subdivisions=2, radius=10.0)
    mesh.apply_translation([0, 0, 10.0])
    glb = folder / f"{name}.glb"
    for path in (glb, folder / f"{name}.stl", folder / f"{name}.obj"):
        write_mesh_file(mesh, path)  # a GLB in glTF's metres, Y up, as museforge writes it
    prov = {"modality": "mesh", "verb": "sample", "model": MODEL, "args": {"seed": seed}}
    save_sidecar(glb, {**prov, "file": glb.name, "created": 5000.0})
    still = Image.new("RGB", (32, 24), (180, 180, 190))
    save_png(folder / f"{name}.png", still, {**prov, "file": f"{name}.png"})
    turns = [Image.new("RGB", (32, 24), (60 * k, 90, 120)) for k in range(3)]
    save_gif(folder / f"{name}.turntable.gif", turns)
    return glb


def test_a_mesh_is_one_artwork_with_its_companions(gallery):
    glb = write_mesh(gallery.root / "sculpture")
    save(gallery, "pictures", image_art("fox", 3, created=1000.0))
    gallery.sync()
    meshes = gallery.list(modality="mesh")
    assert [(r.path, r.modality, r.verb, r.seed) for r in meshes] == [
        ("sculpture/bust.glb", "mesh", "sample", 7)
    ]
    assert meshes[0].kind == "mesh-test" and meshes[0].created == 5000.0
    # Neither the preview (a still of the mesh) nor the turntable is an artwork of its own.
    assert sorted(r.path for r in gallery.list()) == ["pictures/fox.png", "sculpture/bust.glb"]
    assert gallery.count() == 2 and gallery.list(modality="animation") == []
    found = companions(glb)
    assert sorted(found) == ROLES
    assert found["turntable"].name == "bust.turntable.gif" and found["preview"].name == "bust.png"
    assert found["stl"].name == "bust.stl" and found["obj"].name == "bust.obj"


def test_read_artwork_leaves_the_preview_and_turntable_out(tmp_path):
    glb = write_mesh(tmp_path)
    modality, prov, text = read_artwork(glb)
    assert (modality, prov["verb"], text) == ("mesh", "sample", None)
    assert read_artwork(tmp_path / "bust.turntable.gif") is None  # no sidecar
    assert read_artwork(tmp_path / "bust.png") is None  # "modality": "mesh"
    for other in ("bust.stl", "bust.obj"):
        assert read_artwork(tmp_path / other) is None
    (tmp_path / "bust.glb.json").unlink()
    assert read_artwork(glb) is None  # a GLB without provenance is not a museforge artwork


def test_companions_are_only_the_files_present(tmp_path):
    glb = write_mesh(tmp_path)
    (tmp_path / "bust.obj").unlink()
    (tmp_path / "bust.turntable.gif").unlink()
    assert sorted(companions(glb)) == ["preview", "stl"]


def test_reindex_gives_the_same_listing_with_a_mesh(gallery):
    write_mesh(gallery.root / "sculpture")
    write_mesh(gallery.root / "sculpture", "head", seed=8)
    save(gallery, "pictures", image_art("fox", 3, created=1000.0))
    gallery.sync()
    art = gallery.list(modality="mesh")[0].id
    gallery.rate(art, stars=4, like=True)
    gallery.tag(art, add=["marble"])
    live = listing(gallery)
    assert len(live) == 3
    drop_index(gallery)
    again = Gallery(gallery.root)
    try:
        assert again.reindex() == 3
        assert listing(again) == live
        assert again.get(art).tags == ["marble"] and again.get(art).stars == 4
    finally:
        again.close()


def test_export_zip_holds_the_mesh_and_its_companions(gallery, tmp_path):
    write_mesh(gallery.root / "sculpture")
    gallery.sync()
    (art,) = [r.id for r in gallery.list(modality="mesh")]
    dest = gallery.export_zip([art], tmp_path / "out.zip")
    with zipfile.ZipFile(dest) as zf:
        names = set(zf.namelist())
        mesh = trimesh.load(io.BytesIO(zf.read("sculpture/bust.stl")), file_type="stl")
    assert names == {
        "manifest.json",
        "sculpture/bust.glb",
        "sculpture/bust.glb.json",
        "sculpture/bust.stl",
        "sculpture/bust.obj",
        "sculpture/bust.png",
        "sculpture/bust.turntable.gif",
    }
    assert mesh.is_watertight and mesh.bounds[0][2] == pytest.approx(0.0, abs=1e-6)


def test_saving_a_picture_never_overwrites_a_mesh_or_its_preview(gallery):
    folder = gallery.root / "sculpture"
    write_mesh(folder)
    preview = folder / "bust.png"
    before = preview.read_bytes()
    (new,) = gallery.save(Result([image_art("bust", 9)]), "sculpture")
    assert gallery.get(new).path == "sculpture/bust-v2.png"
    assert preview.read_bytes() == before
    # Without a preview beside it, the GLB alone keeps its stem taken: a picture saved as
    # bust.png would become the mesh's preview.
    write_mesh(folder, "head")
    (folder / "head.png").unlink()
    (new,) = gallery.save(Result([image_art("head", 9)]), "sculpture")
    assert gallery.get(new).path == "sculpture/head-v2.png"
    assert not (folder / "head.png").exists()
    assert sorted(companions(folder / "bust.glb")) == ROLES
    gallery.sync()
    assert len(gallery.list(modality="mesh")) == 2


def test_sync_drops_a_mesh_whose_glb_is_deleted(gallery):
    write_mesh(gallery.root / "sculpture")
    gallery.sync()
    assert gallery.count() == 1
    (gallery.root / "sculpture" / "bust.glb").unlink()
    assert gallery.sync() == {"indexed": 0, "removed": 1, "skipped": 0}
    assert gallery.list() == []  # its preview and turntable stay out: parts of a mesh


def test_write_result_of_a_mesh_result_indexes_only_the_glb(gallery):
    """A result that writes its own files (as the sculpture results do) is saved as one
    item, its GLB; the other files are written beside it, not indexed."""

    class MeshFiles:
        grid = frames = data = None

        def __init__(self, name: str) -> None:
            self.artworks = [Artwork(name, provenance={"verb": "sample"})]
            self.stem = name

        def write_to(self, folder: Path, upscale: int = 1) -> list[Path]:
            glb = write_mesh(Path(folder), self.artworks[0].name)
            return [glb.with_suffix(s) for s in (".stl", ".obj", ".png")] + [glb]

    (first,) = gallery.save(MeshFiles("bust"), "sculpture")
    (second,) = gallery.save(MeshFiles("bust"), "sculpture")  # renamed, not overwritten
    paths = sorted(r.path for r in gallery.list())
    assert paths == ["sculpture/bust-v2.glb", "sculpture/bust.glb"]
    assert {gallery.get(first).path, gallery.get(second).path} == set(paths)
