"""The command line as a user meets it: exit codes, one-line errors, nothing half-written."""

import shutil
import struct
import sys
import zlib
from pathlib import Path

import pytest

from museforge.cli import main
from museforge.cli.evaluate import numbers as _numbers


def run(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["museforge", *map(str, args)])
    with pytest.raises(SystemExit) as info:
        main()
    captured = capsys.readouterr()
    return info.value.code or 0, captured.out, captured.err


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 1
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]


def huge_png(path: Path, side: int = 20000) -> Path:
    """A small file whose header claims side×side pixels (a decompression bomb's shape)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )
    return path


def test_sample_writes_pngs_and_a_grid(monkeypatch, capsys, gan_model, tmp_path):
    code, out, _ = run(monkeypatch, capsys, "sample", gan_model, "--n", "3", "--out", tmp_path)
    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "sample-s0-0000.png",
        "sample-s0-0001.png",
        "sample-s0-0002.png",
        "sample-s0-grid.png",
    ]
    assert "sample-s0-grid.png" in out


def test_tampered_model(monkeypatch, capsys, gan_model, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(gan_model, copy)
    weights = copy / "model.safetensors"
    blob = bytearray(weights.read_bytes())
    blob[len(blob) // 2] ^= 0x01
    weights.write_bytes(bytes(blob))
    code, _, err = run(monkeypatch, capsys, "sample", copy, "--out", tmp_path / "o")
    assert_one_line_error(code, err, "model.safetensors", "sha256")
    assert not (tmp_path / "o").exists()


def test_verb_the_kind_lacks(monkeypatch, capsys, gan_model, tmp_path):
    image = tmp_path / "x.png"
    image.write_bytes(b"")
    code, _, err = run(monkeypatch, capsys, "encode", gan_model, image)
    assert_one_line_error(code, err, "image-gan", "no verb 'encode'")


def test_bad_settings_write_nothing(monkeypatch, capsys, gan_model, tmp_path):
    code, _, err = run(
        monkeypatch, capsys, "sample", gan_model, "--truncation", "2", "--out", tmp_path / "o"
    )
    assert_one_line_error(code, err, "--truncation")
    assert not (tmp_path / "o").exists()


def test_missing_and_empty_data_folders(monkeypatch, capsys, tmp_path):
    code, _, err = run(
        monkeypatch,
        capsys,
        "train",
        "image-gan",
        "--data",
        f"folder:{tmp_path / 'nope'}",
        "--steps",
        "1",
        "--out",
        tmp_path / "run",
    )
    assert_one_line_error(code, err, "nope", "does not exist")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    code, _, err = run(
        monkeypatch,
        capsys,
        "train",
        "image-gan",
        "--data",
        f"folder:{empty}",
        "--steps",
        "1",
        "--out",
        tmp_path / "run",
    )
    assert code == 1 and "empty" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_bad_images_for_projection(monkeypatch, capsys, gan_model, tmp_path):
    fake = tmp_path / "notes.png"
    fake.write_text("this is text, not a picture")
    code, _, err = run(monkeypatch, capsys, "project", gan_model, fake, "--out", tmp_path / "o")
    assert_one_line_error(code, err, "notes.png")
    bomb = huge_png(tmp_path / "bomb.png")
    code, _, err = run(monkeypatch, capsys, "project", gan_model, bomb, "--out", tmp_path / "o")
    assert_one_line_error(code, err, "bomb.png", "too large")
    assert not (tmp_path / "o").exists()


def test_unknown_model_names_the_starters(monkeypatch, capsys):
    code, _, err = run(monkeypatch, capsys, "sample", "no-such-model")
    assert_one_line_error(code, err, "no-such-model")


def test_train_refuses_to_overwrite_a_run(monkeypatch, capsys, gan_model):
    code, _, err = run(
        monkeypatch,
        capsys,
        "train",
        "image-gan",
        "--data",
        "digits",
        "--steps",
        "1",
        "--out",
        gan_model,
    )
    assert_one_line_error(code, err, "--resume")


def test_kinds_lists_verbs(monkeypatch, capsys):
    code, out, _ = run(monkeypatch, capsys, "kinds")
    assert code == 0 and "image-vae" in out and "reconstruct" in out


def test_training_reports_skipped_files(monkeypatch, capsys, bars_folder, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(bars_folder, data)
    (data / "vertical" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    code, out, err = run(
        monkeypatch,
        capsys,
        "train",
        "image-vae",
        "--data",
        f"folder:{data}",
        "--image-size",
        "16",
        "--set",
        "model.width=8",
        "--steps",
        "2",
        "--batch-size",
        "8",
        "--out",
        tmp_path / "run",
        "--quiet",
    )
    assert code == 0, err
    assert "skipped 1 unusable file(s)" in err and "broken.png" in err
    assert "trained 2 steps" in out
    manifest = (tmp_path / "run" / "model.json").read_text()
    assert "broken.png" in manifest


def test_demo_writes_into_the_gallery_folder_of_the_environment(monkeypatch, capsys, tmp_path):
    """``museforge demo`` without --out fills $MUSEFORGE_GALLERY, the folder the studio and
    the gallery commands read, not ./gallery."""
    import museforge.cli.demo

    seen = []
    monkeypatch.setattr(museforge.cli.demo, "run_demo", lambda models, out: seen.append(out) or [])
    monkeypatch.setenv("MUSEFORGE_GALLERY", str(tmp_path / "mine"))
    assert run(monkeypatch, capsys, "demo")[0] == 0
    assert run(monkeypatch, capsys, "demo", "--out", str(tmp_path / "there"))[0] == 0
    assert seen == [tmp_path / "mine", tmp_path / "there"]


def test_evaluate_table_shows_nested_numbers_one_level_deep():
    data = {"val_nll": 1.5, "veto": {"draws": 3, "removed_mass": 0.1}, "deep": {"a": {"b": 1}}}
    data["memorisation"] = {"near_copy_share": 0.0, "worst": [[1, 2]]}
    assert _numbers(data) == [
        ("memorisation.near_copy_share", 0.0),
        ("val_nll", 1.5),
        ("veto.draws", 3),
        ("veto.removed_mass", 0.1),
    ]


def test_a_short_studio_token_from_the_environment_is_one_line(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("MUSEFORGE_STUDIO_TOKEN", "tok123")
    code, _, err = run(monkeypatch, capsys, "studio", "--port", "0", "--gallery", tmp_path)
    assert_one_line_error(code, err, "MUSEFORGE_STUDIO_TOKEN", "at least 16", "got 6")
