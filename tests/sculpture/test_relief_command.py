import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from museforge.gallery.store import Gallery
from museforge.sculpture.meshfile import read_mesh
from tests.test_cli import assert_one_line_error, huge_png, run


def _picture(path: Path) -> Path:
    ramp = np.tile(np.linspace(0, 255, 40, dtype=np.uint8), (30, 1))
    Image.fromarray(ramp).save(path)
    return path


def test_relief_writes_the_asked_file_with_its_provenance(tmp_path, monkeypatch, capsys):
    source = _picture(tmp_path / "ramp.png")
    target = tmp_path / "lamp.stl"
    args = ["--mode", "lithophane", "--width-mm", "60", "--out", target]
    code, said, _ = run(monkeypatch, capsys, "relief", source, *args)
    assert code == 0 and "lithophane 60×" in said and "printable" in said
    mesh = read_mesh(target)
    assert mesh.is_watertight and mesh.extents[0] == pytest.approx(60, rel=1e-3)
    record = json.loads((tmp_path / "lamp.stl.json").read_text())
    assert record["verb"] == "relief" and record["args"]["mode"] == "lithophane"
    assert record["parents"][0]["file"] == "ramp.png" and record["print"]["ok"]


def test_relief_goes_into_the_gallery_by_default_and_reads_gallery_ids(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("MUSEFORGE_GALLERY", str(tmp_path / "gallery"))
    source = _picture(tmp_path / "ramp.png")
    code, _, _ = run(monkeypatch, capsys, "relief", source, "--width-mm", "40")
    assert code == 0
    gallery = Gallery(tmp_path / "gallery")
    meshes = gallery.list(modality="mesh")
    assert [Path(r.path).name for r in meshes] == ["relief-ramp.glb"]
    # a second relief of a gallery picture, named by its id
    picture = tmp_path / "gallery" / "pictures"
    picture.mkdir()
    from museforge.gallery.provenance import save_png

    save_png(picture / "dot.png", Image.open(source), {"verb": "sample"})
    pic_id = gallery.add(picture / "dot.png")
    gallery.close()
    code, said, _ = run(monkeypatch, capsys, "relief", pic_id, "--width-mm", "40")
    assert code == 0 and "relief-dot.glb" in said


def test_relief_refuses_bad_pictures_and_settings_in_one_line(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "bad.png"
    bad.write_text("not a picture")
    code, _, err = run(monkeypatch, capsys, "relief", bad, "--out", tmp_path / "x.stl")
    assert_one_line_error(code, err, "bad.png")
    huge = huge_png(tmp_path / "huge.png")
    code, _, err = run(monkeypatch, capsys, "relief", huge, "--out", tmp_path / "x.stl")
    assert_one_line_error(code, err, "huge.png", "too large")
    source = _picture(tmp_path / "ramp.png")
    code, _, err = run(monkeypatch, capsys, "relief", source, "--mode", "bust")
    assert_one_line_error(code, err, "relief", "lithophane")
    code, _, err = run(monkeypatch, capsys, "relief", source, "--out", tmp_path / "x.png")
    assert_one_line_error(code, err, "x.png", ".stl")
    assert not (tmp_path / "x.stl").exists()
