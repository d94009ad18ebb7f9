import json

import numpy as np
import pytest
import torch
import trimesh

from museforge.core.artifact import load_artifact
from museforge.core.recipe import Recipe, train_from_recipe
from museforge.core.registry import call_verb
from museforge.errors import InputError
from museforge.gallery.store import Gallery
from museforge.sculpture.drawing import fit_to_printer
from museforge.sculpture.meshfile import read_mesh, write_mesh


@pytest.fixture(scope="module")
def vessels(tmp_path_factory):
    out = tmp_path_factory.mktemp("models") / "vessels"
    recipe = Recipe(kind="vessel-vae", data="vessels", run={"steps": 1500, "preview_every": 0})
    train_from_recipe(recipe, out=out, progress=False)
    return load_artifact(out)


@pytest.fixture(scope="module")
def forms(tmp_path_factory):
    """A form model trained on a user's folder of meshes, a family per sub-folder."""
    root = tmp_path_factory.mktemp("meshes")
    for family, make in (
        ("boxes", lambda k: trimesh.creation.box((1 + k, 1, 2))),
        ("balls", lambda k: trimesh.creation.icosphere(2, radius=1 + 0.2 * k)),
    ):
        (root / family).mkdir()
        for k in range(5):
            write_mesh(make(k), root / family / f"{family}-{k}.stl")
    (root / "boxes" / "broken.stl").write_bytes(b"not a mesh at all")
    out = tmp_path_factory.mktemp("models") / "forms"
    recipe = Recipe(
        kind="form-vae",
        data=f"folder:{root}",
        model={"resolution": 16, "width": 4, "z_dim": 8},
        run={"steps": 600, "batch_size": 8, "preview_every": 0},
    )
    train_from_recipe(recipe, out=out, progress=False)
    return load_artifact(out), root


def test_sampled_vessels_are_printable_reproducible_and_recorded(vessels):
    result = call_verb(vessels, "sample", n=2, seed=4)
    again = call_verb(vessels, "sample", n=3, seed=4)
    assert len(result.artworks) == 2
    for art, other in zip(result.artworks, again.artworks, strict=False):
        assert np.array_equal(art.mesh.vertices, other.mesh.vertices)  # sample i of a seed
        prov = art.provenance
        assert prov["modality"] == "mesh" and prov["verb"] == "sample"
        assert prov["family"] in vessels.model.families and prov["latent"]
        assert prov["print"]["printer"]["name"] == "fdm" and "ok" in prov["print"]
        assert art.mesh.is_watertight
    bowls = call_verb(vessels, "sample", n=2, seed=4, family="bowl")
    assert {a.provenance["family"] for a in bowls.artworks} == {"bowl"}
    with pytest.raises(InputError, match="bowl, cup"):
        call_verb(vessels, "sample", family="teapot")


def test_a_vessel_is_written_as_one_mesh_artwork_with_its_companions(vessels, tmp_path):
    gallery = Gallery(tmp_path / "gallery")
    ids = gallery.save(call_verb(vessels, "sample", n=1, seed=1), "vessels")
    assert len(ids) == 1
    record = gallery.get(ids[0])
    assert record.modality == "mesh" and record.path.endswith(".glb")
    folder = tmp_path / "gallery" / "vessels"
    stem = record.path.split("/")[-1].removesuffix(".glb")
    for suffix in (".stl", ".obj", ".png", ".glb.json"):
        assert (folder / f"{stem}{suffix}").is_file()
    glb, stl = read_mesh(folder / f"{stem}.glb"), read_mesh(folder / f"{stem}.stl")
    assert glb.extents == pytest.approx(stl.extents, rel=1e-4)  # the same solid, in mm
    assert gallery.count() == 1  # the preview PNG is not a picture of its own


def test_turntables_are_written_when_asked(vessels, tmp_path, monkeypatch):
    from PIL import Image

    monkeypatch.setenv("MUSEFORGE_TURNTABLE", "3")
    paths = call_verb(vessels, "sample", n=1).write_to(tmp_path)
    gif = next(p for p in paths if p.name.endswith(".turntable.gif"))
    with Image.open(gif) as img:
        assert img.n_frames == 3


def test_breed_interpolate_and_condition_read_and_record_their_parents(vessels, tmp_path):
    paths = call_verb(vessels, "sample", n=2, seed=2).write_to(tmp_path)
    parents = [p for p in paths if p.suffix == ".glb"]
    children = call_verb(vessels, "breed", parents=parents, children=3, seed=1)
    assert len(children.artworks) == 3
    recorded = children.artworks[0].provenance["parents"]
    assert {r["file"] for r in recorded} == {p.name for p in parents}

    walk = call_verb(vessels, "interpolate", seed_a=2, seed_b=9, frames=3)
    first = call_verb(vessels, "sample", n=1, seed=2).artworks[0]
    assert np.allclose(walk.artworks[0].mesh.vertices, first.mesh.vertices, atol=1e-3)

    pushed = call_verb(vessels, "condition", attribute="taller", parent=parents[0], sweep=3)
    assert [a.provenance["amount"] for a in pushed.artworks] == [-1.0, 0.0, 1.0]
    with pytest.raises(InputError, match="taller, wider-mouth"):
        call_verb(vessels, "condition", attribute="rounder")


def test_a_mesh_of_another_model_is_refused_as_a_parent(vessels, tmp_path):
    stranger = tmp_path / "stranger.glb"
    write_mesh(trimesh.creation.box(), stranger)
    (tmp_path / "stranger.glb.json").write_text(json.dumps({"model": {"sha256": "0" * 64}}))
    mine = [p for p in call_verb(vessels, "sample", n=1).write_to(tmp_path) if p.suffix == ".glb"]
    with pytest.raises(InputError, match="not by this model"):
        call_verb(vessels, "breed", parents=[mine[0], stranger])


def test_a_form_model_learns_a_folder_of_meshes_and_projects_a_mesh(forms, tmp_path):
    loaded, root = forms
    assert loaded.model.families == ("balls", "boxes")
    data = loaded.manifest["data"]
    assert data["skipped"] == 1 and data["n_train"] + data["n_holdout"] == 10
    result = call_verb(loaded, "project", mesh=root / "boxes" / "boxes-2.stl")
    art = result.artworks[0]
    assert 0.0 <= art.provenance["voxel_iou"] <= 1.0
    assert "voxel IoU" in result.message and "manifold" not in result.message
    open_box = trimesh.creation.box((1, 1, 2))
    open_box.update_faces(np.arange(len(open_box.faces)) != 0)  # a hole: not watertight
    write_mesh(open_box, tmp_path / "open.stl")
    holed = call_verb(loaded, "project", mesh=tmp_path / "open.stl")
    assert "'open.stl' is not a closed, manifold surface" in holed.message
    assert art.provenance["parents"][0]["file"] == "boxes-2.stl"
    smaller = call_verb(loaded, "project", mesh=root / "balls" / "balls-1.stl", size_mm=50)
    assert smaller.artworks[0].mesh.extents.max() == pytest.approx(50, rel=0.05)


def test_project_is_for_form_models_and_refuses_what_is_not_a_mesh(forms, vessels, tmp_path):
    loaded, root = forms
    bad = tmp_path / "bad.stl"
    bad.write_bytes(b"\x00" * 10)
    with pytest.raises(InputError, match=r"bad\.stl"):
        call_verb(loaded, "project", mesh=bad)
    with pytest.raises(Exception, match="project"):
        call_verb(vessels, "project", mesh=root / "boxes" / "boxes-1.stl")


def test_evaluate_compares_drawn_with_held_out_solids(vessels):
    data = call_verb(vessels, "evaluate", n=8).data
    assert 0 <= data["coverage"] <= 1 and data["mmd_chamfer_mm"] > 0
    assert 0 <= data["nna_accuracy"] <= 1
    assert data["printable_as_drawn"] <= data["printable_after_repair"] <= 1
    floor = data["training_solids"]
    assert floor["mmd_chamfer_mm"] > 0
    assert 0 <= data["memorisation"]["near_copies"] <= 1


def test_a_vessel_too_tall_for_the_printer_is_scaled_to_fit():
    tall = trimesh.creation.cylinder(radius=40, height=300)
    tall.apply_translation([0, 0, 150])
    factor = fit_to_printer(tall, "fdm")
    assert factor < 1 and tall.extents[2] <= 245 + 1e-6
    small = trimesh.creation.box((10, 10, 10))
    assert fit_to_printer(small, "fdm") == 1.0
    assert torch.tensor(small.extents).max() == 10
