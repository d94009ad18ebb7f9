"""The text commands as a user meets them: outputs, provenance, one-line errors."""

from __future__ import annotations

import json

from museforge.gallery.provenance import read_text_provenance
from tests.test_cli import assert_one_line_error, run


def test_write_streams_and_saves_with_provenance(monkeypatch, capsys, zh_model_path, tmp_path):
    code, out, _ = run(
        monkeypatch, capsys, "write", zh_model_path, "--prompt", "春", "--seed", "3",
        "--max-chars", "20", "--out", tmp_path,
    )  # fmt: skip
    assert code == 0
    files = sorted(tmp_path.glob("*.txt"))
    assert len(files) == 1
    text = files[0].read_text(encoding="utf-8")
    assert text.startswith("春")
    assert text.strip() in out.replace("\n", "") or text.strip().replace("\n", "") in out.replace(
        "\n", ""
    )
    prov = read_text_provenance(files[0])
    assert prov["seed"] == 3 and prov["args"]["prompt"] == "春" and prov["verb"] == "sample"
    assert prov["model"]["sha256"]


def test_same_seed_same_text(monkeypatch, capsys, en_model_path, tmp_path):
    for name in ("a", "b"):
        code, _, _ = run(
            monkeypatch, capsys, "write", en_model_path, "--n", "2", "--seed", "9",
            "--max-chars", "40", "--out", tmp_path / name,
        )  # fmt: skip
        assert code == 0
    a = [p.read_text() for p in sorted((tmp_path / "a").glob("*.txt"))]
    b = [p.read_text() for p in sorted((tmp_path / "b").glob("*.txt"))]
    assert a == b and len(a) == 2


def test_chinese_poem_command_meets_the_form(monkeypatch, capsys, zh_model_path, tmp_path):
    code, out, _ = run(
        monkeypatch, capsys, "poem", zh_model_path, "--form", "qijue", "--acrostic", "春夏",
        "--n", "2", "--annotate", "--out", tmp_path,
    )  # fmt: skip
    assert code == 0, out
    for path in sorted(tmp_path.glob("*.txt")):
        prov = json.loads((path.parent / (path.name + ".json")).read_text(encoding="utf-8"))
        assert prov["violations"] == []
        assert "○" in prov["annotation"] or "●" in prov["annotation"]  # --annotate: 平仄 marks
        body = prov["body"]
        lines = body.split("\n")
        assert len(lines) == 2 and lines[0][0] == "春" and lines[0][8] == "夏"
    assert "form not met" not in out


def test_english_sonnet_meets_the_form(monkeypatch, capsys, en_model_path, tmp_path):
    code, out, _ = run(
        monkeypatch, capsys, "poem", en_model_path, "--form", "quatrain", "--seed", "1",
        "--out", tmp_path,
    )  # fmt: skip
    assert code == 0, out
    (path,) = tmp_path.glob("*.txt")
    prov = read_text_provenance(path)
    assert prov["violations"] == []
    assert len(path.read_text(encoding="utf-8").strip().split("\n")) == 4


def test_poem_errors_are_one_line(monkeypatch, capsys, zh_model_path, en_model_path, gan_model):
    code, _, err = run(monkeypatch, capsys, "poem", zh_model_path, "--acrostic", "春夏秋冬雪")
    assert_one_line_error(code, err, "acrostic")
    code, _, err = run(monkeypatch, capsys, "poem", zh_model_path, "--rhyme", "xyz")
    assert_one_line_error(code, err, "xyz")
    code, _, err = run(monkeypatch, capsys, "poem", en_model_path, "--rhyme", "ang")
    assert_one_line_error(code, err, "rhyme applies to zh")
    code, _, err = run(monkeypatch, capsys, "write", gan_model)
    assert_one_line_error(code, err, "text-lm")
    code, _, err = run(monkeypatch, capsys, "lyrics", zh_model_path)
    assert_one_line_error(code, err, "English")


def test_lyrics_repeat_the_chorus(monkeypatch, capsys, en_model_path, tmp_path):
    code, out, _ = run(
        monkeypatch, capsys, "lyrics", en_model_path, "--structure", "verse chorus verse chorus",
        "--verse-lines", "2", "--chorus-lines", "2", "--syllables", "6", "--out", tmp_path,
    )  # fmt: skip
    assert code == 0, out
    (path,) = tmp_path.glob("*.txt")
    assert read_text_provenance(path)["violations"] == []
    sections = path.read_text(encoding="utf-8").strip().split("\n\n")
    assert len(sections) == 4 and sections[1] == sections[3]


def test_evaluate_text_model_reports_json(monkeypatch, capsys, zh_model_path, tmp_path):
    code, out, _ = run(
        monkeypatch, capsys, "evaluate", zh_model_path, "--n", "4", "--json", "--out", tmp_path
    )
    assert code == 0
    data = json.loads(out)
    assert data["form_accuracy"] == 1.0
    assert 0 < data["val_bpc"] < 20
    assert 0 <= data["verbatim_line_share"] <= 1
    assert 0 < data["distinct_1"] <= 1
