"""The demo writes poems for text starters, next to the image starters' grids."""

from __future__ import annotations

import shutil

from museforge.cli.demo import run_demo
from museforge.gallery.provenance import read_text_provenance


def test_demo_writes_poems_in_strict_forms(zh_model_path, en_model_path, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(zh_model_path, models / "tang")
    shutil.copytree(en_model_path, models / "verse")
    shown = run_demo(models, tmp_path / "gallery")
    poems = [p for p in shown if p.suffix == ".txt"]
    assert len(poems) == 6
    for path in poems:
        prov = read_text_provenance(path)
        assert prov["violations"] == []
        if path.parent.name == "tang":
            assert [line[0] for line in prov["body"].split("\n")] == ["春", "秋"]
        else:
            assert len(path.read_text(encoding="utf-8").strip().split("\n")) == 5
