"""The studio's workspace at startup: what a killed server left behind is cleared."""

from __future__ import annotations

from pathlib import Path

from museforge.studio.workspace import Workspace, staging_dir

MODELS = Path(__file__).resolve().parents[2] / "models"


def test_startup_clears_cut_short_writes_and_staged_outputs_but_keeps_artworks(
    tmp_path: Path,
) -> None:
    ws = Workspace.at(tmp_path / "gallery", MODELS)
    art = tmp_path / "gallery" / "mnist-vae"
    art.mkdir(parents=True)
    kept = art / "sample-0.png"
    kept.write_bytes(b"not checked here")
    (art / ".sample-1.abcd1234.tmp.png").write_bytes(b"half")
    staged = staging_dir(ws.gallery) / "0123456789abcdef"
    staged.mkdir(parents=True)
    (staged / "sample-0.png").write_bytes(b"staged")
    (staged / "sample-0.png.json").write_bytes(b"{}")
    assert ws.remove_stale_temp_files() == 3
    assert kept.exists() and not (art / ".sample-1.abcd1234.tmp.png").exists()
    assert not staging_dir(ws.gallery).exists()
    assert ws.remove_stale_temp_files() == 0


def test_a_manifest_of_the_wrong_shape_is_not_offered(tmp_path: Path) -> None:
    models = tmp_path / "models"
    for name, text in {
        "a-list": "[1, 2]",
        "data-a-string": '{"kind": "image-vae", "data": "digits"}',
        "weights-a-list": '{"kind": "image-vae", "weights": [1]}',
        "no-kind": '{"data": {}}',
        "fine": '{"kind": "image-vae", "data": {"source": "mnist"}, "weights": {"sha256": "ab"}}',
    }.items():
        (models / name).mkdir(parents=True)
        (models / name / "model.json").write_text(text)
    ws = Workspace.at(tmp_path / "gallery", models)
    offered = ws.models()
    assert [m["name"] for m in offered] == ["fine"]
    assert offered[0]["data"] == "mnist" and offered[0]["sha256"] == "ab"
