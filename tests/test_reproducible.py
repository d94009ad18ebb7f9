"""The same model, settings and seed give the same bytes: every file, not just the pixels
(the creation time lives in the gallery index, not in the artwork)."""

import hashlib
import sys
from pathlib import Path

import pytest

from museforge.cli import main


def _run(monkeypatch, *args: object) -> None:
    monkeypatch.setattr(sys, "argv", ["museforge", *map(str, args)])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code in (0, None)


def _sums(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize(
    "call",
    [
        ("sample", "mnist-gan", "--n", 8, "--seed", 7),
        ("poem", "tang-poet", "--form", "wujue", "--seed", 3),
        ("compose", "folk-tunes", "--bars", 4, "--seed", 7),
    ],
    ids=["images", "poem", "melody"],
)
def test_same_call_same_bytes(call, tmp_path, monkeypatch, capsys):
    for name in ("A", "B"):
        _run(monkeypatch, *call, "--out", tmp_path / name)
    a, b = _sums(tmp_path / "A"), _sums(tmp_path / "B")
    assert a and a == b
