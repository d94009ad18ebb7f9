"""Mesh files: round trips, glTF's axes and units, and one-line refusals of bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh

from museforge.core.media import MESH_SUFFIXES
from museforge.errors import InputError
from museforge.sculpture import meshfile
from museforge.sculpture.meshfile import (
    check_mesh_bytes,
    mesh_from_bytes,
    normalised,
    read_mesh,
    write_mesh,
)


@pytest.fixture
def sphere() -> trimesh.Trimesh:
    """A closed solid in millimetres, taller than wide, off the origin."""
    mesh = trimesh.creation.icosphere(subdivisions=2, radius=10.0)
    mesh.apply_scale([1.0, 1.0, 2.0])
    mesh.apply_translation([3.0, -4.0, 20.0])
    return mesh


def _refuse_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    def no(*args, **kwargs):
        raise AssertionError("the file was parsed")

    monkeypatch.setattr(meshfile.trimesh, "load_scene", no)


@pytest.mark.parametrize("suffix", [".stl", ".obj", ".ply", ".glb"])
def test_round_trip_keeps_the_solid(tmp_path: Path, sphere: trimesh.Trimesh, suffix: str) -> None:
    path = write_mesh(sphere, tmp_path / f"solid{suffix}")
    back = read_mesh(path)
    assert len(back.faces) == len(sphere.faces)
    assert back.is_watertight  # duplicate vertices (STL stores none shared) are merged
    assert back.volume == pytest.approx(sphere.volume, rel=1e-5)
    assert np.allclose(back.bounds, sphere.bounds, atol=1e-4)
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_ascii_stl_and_off_are_read(tmp_path: Path, sphere: trimesh.Trimesh) -> None:
    (tmp_path / "a.stl").write_text(trimesh.exchange.stl.export_stl_ascii(sphere))
    (tmp_path / "a.off").write_text(trimesh.exchange.off.export_off(sphere))
    for name in ("a.stl", "a.off"):
        back = read_mesh(tmp_path / name)
        assert len(back.faces) == len(sphere.faces)
        assert back.volume == pytest.approx(sphere.volume, rel=1e-5)


def test_glb_is_written_in_gltf_metres_y_up(tmp_path: Path, sphere: trimesh.Trimesh) -> None:
    path = write_mesh(sphere, tmp_path / "tall.glb")
    raw = trimesh.load_scene(path).to_mesh()  # as any glTF viewer sees it
    assert raw.extents == pytest.approx(np.array([20.0, 40.0, 20.0]) / 1000, rel=1e-3)
    assert read_mesh(path).extents == pytest.approx([20.0, 20.0, 40.0], rel=1e-3)


def test_a_scene_of_several_bodies_becomes_one_mesh(tmp_path: Path) -> None:
    box = trimesh.creation.box((1.0, 1.0, 1.0))
    scene = trimesh.Scene([box, box.copy().apply_translation([3.0, 0.0, 0.0])])
    mesh = mesh_from_bytes("two.glb", scene.export(file_type="glb"))
    assert len(mesh.faces) == 24
    assert mesh.extents == pytest.approx([4000.0, 1000.0, 1000.0])  # metres → mm


def test_self_contained_gltf_is_read_but_outside_buffers_are_refused(
    tmp_path: Path, sphere: trimesh.Trimesh
) -> None:
    embedded = sphere.export(file_type="gltf", embed_buffers=True)["model.gltf"]
    assert len(mesh_from_bytes("x.gltf", embedded).faces) == len(sphere.faces)
    files = sphere.export(file_type="gltf")  # model.gltf plus buffers in .bin files
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    with pytest.raises(InputError, match=r"model\.gltf' keeps its data in another file"):
        read_mesh(tmp_path / "model.gltf")


def test_binary_stl_claiming_a_billion_faces_is_refused_before_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "huge.stl"
    path.write_bytes(b"\0" * 80 + (10**9).to_bytes(4, "little") + b"\0" * 100)
    _refuse_loading(monkeypatch)
    with pytest.raises(InputError, match=r"'.*huge\.stl' cannot be read .*1,000,000,000 faces"):
        read_mesh(path)


def test_face_cap_is_checked_in_the_stl_header_and_after_parsing_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = trimesh.creation.box((1.0, 1.0, 1.0))  # 12 faces
    monkeypatch.setattr(meshfile, "MAX_MESH_FACES", 10)
    obj = box.export(file_type="obj").encode()
    with pytest.raises(InputError, match=r"'b\.obj' has too many faces \(12, limit 10\)"):
        mesh_from_bytes("b.obj", obj)
    _refuse_loading(monkeypatch)
    with pytest.raises(InputError, match=r"'b\.stl' has too many faces \(12 in its header"):
        mesh_from_bytes("b.stl", box.export(file_type="stl"))


def test_size_is_checked_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.stl"
    path.write_bytes(trimesh.creation.box().export(file_type="stl"))  # 684 bytes
    monkeypatch.setattr(meshfile, "MAX_MESH_BYTES", 500)
    monkeypatch.setattr(Path, "open", lambda *a, **k: pytest.fail("the file was opened"))
    with pytest.raises(InputError, match=r"'.*big\.stl' is too large \(684 bytes, limit 500\)"):
        read_mesh(path)


def test_reading_allocates_what_the_file_holds_not_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "box.stl"
    path.write_bytes(trimesh.creation.box().export(file_type="stl"))
    # read(cap) would ask for 4 EiB up front (the bytes object is allocated before reading)
    monkeypatch.setattr(meshfile, "MAX_MESH_BYTES", 2**62)
    assert len(read_mesh(path).faces) == 12


def test_mangled_files_found_by_fuzzing_are_one_line_errors() -> None:
    for name, data, reason in [
        ("no-faces.off", b"OFF\n3 0 0\n0 0 0\n1 0 0\n0 1 0\n", "is empty"),  # was AttributeError
        # 2-D vertices broke trimesh.transform_points (a ValueError)
        ("flat.obj", b"v 0 0\nv 1 0\nv 0 1\nf 1 2 3\n", r".*vertices are not 3-D points"),
    ]:
        with pytest.raises(InputError, match=f"'{name}' {reason}") as info:
            mesh_from_bytes(name, data)
        assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("junk.stl", bytes(range(256)) * 4, "cannot be read as a mesh"),
        ("junk.ply", b"ply\nformat ascii 1.0\nelement vertex 3\n", "cannot be read as a mesh"),
        ("junk.glb", b"glTF" + bytes(40), "cannot be read as a mesh"),
        ("junk.gltf", b"{not json", "cannot be read as a mesh"),
        ("empty.obj", b"", "is empty"),
        ("points.obj", b"v 0 0 0\nv 1 0 0\nv 0 1 0\n", "point cloud"),
        ("nan.obj", b"v 0 0 nan\nv 1 0 0\nv 0 1 0\nf 1 2 3\n", "not finite"),
        ("x.txt", b"solid", "is not a mesh file"),
    ],
)
def test_bad_bytes_give_one_line_errors_naming_the_file(name: str, data: bytes, reason: str):
    with pytest.raises(InputError) as err:
        check_mesh_bytes(name, data)
    message = str(err.value)
    assert f"'{name}'" in message and reason in message and "\n" not in message


def test_wrong_suffix_lists_the_accepted_ones(tmp_path: Path) -> None:
    (tmp_path / "a.dae").write_text("<COLLADA/>")
    with pytest.raises(InputError) as err:
        read_mesh(tmp_path / "a.dae")
    assert all(s in str(err.value) for s in MESH_SUFFIXES)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"'.*nope\.stl' does not exist"):
        read_mesh(tmp_path / "nope.stl", what="mesh file")
    (tmp_path / "dir.stl").mkdir()
    with pytest.raises(InputError, match="is a folder"):
        read_mesh(tmp_path / "dir.stl")


def test_check_mesh_bytes_accepts_a_good_upload(sphere: trimesh.Trimesh) -> None:
    assert check_mesh_bytes("ok.stl", sphere.export(file_type="stl")) is None


def test_write_mesh_refuses_unknown_suffixes(tmp_path: Path, sphere: trimesh.Trimesh) -> None:
    with pytest.raises(InputError, match=r"use one of \.glb, \.obj, \.ply, \.stl"):
        write_mesh(sphere, tmp_path / "a.gltf")
    assert not list(tmp_path.iterdir())


def test_normalised_stands_centred_on_the_plate(sphere: trimesh.Trimesh) -> None:
    out = normalised(sphere, 50.0)
    assert out.extents.max() == pytest.approx(50.0)
    low, high = out.bounds
    assert low[2] == pytest.approx(0.0, abs=1e-9)
    assert (low[:2] + high[:2]) == pytest.approx([0.0, 0.0], abs=1e-9)
    assert sphere.extents.max() == pytest.approx(40.0)  # the original is untouched
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(InputError, match="size must be a positive number"):
            normalised(sphere, bad)
