"""The data-set registry: validated registrations, and sources resolved with clear errors."""

import pytest

from museforge.core import data
from museforge.errors import DataError


@pytest.fixture
def toy_sets(monkeypatch):
    monkeypatch.setattr(data, "_SETS", {})
    monkeypatch.setattr(data, "_USER", [])
    monkeypatch.setattr(data, "load_all", lambda: None)
    data.register_dataset(
        "dots", modality="toy", description="dots", size="3 pictures", licence="CC0", loader=len
    )
    data.register_user_source("toy", "folder", "pictures below PATH")


def test_registered_sets_are_listed_and_found(toy_sets):
    assert [d.name for d in data.datasets("toy")] == ["dots"]
    assert data.resolve("dots", "toy").loader is len
    assert data.get_dataset("dots", "other") is None


def test_names_and_fields_are_validated(toy_sets):
    with pytest.raises(ValueError, match="already registered"):
        data.register_dataset(
            "dots", modality="toy", description="d", size="1", licence="x", loader=len
        )
    with pytest.raises(ValueError, match="lower-case"):
        data.register_dataset(
            "Dots", modality="toy", description="d", size="1", licence="x", loader=len
        )
    with pytest.raises(ValueError, match="licence must be non-empty"):
        data.register_dataset(
            "lines", modality="toy", description="d", size="1", licence=" ", loader=len
        )


def test_user_sources_resolve_to_checked_paths(toy_sets, tmp_path):
    assert data.resolve(f"folder:{tmp_path}", "toy") == ("folder", tmp_path)
    file = tmp_path / "one.png"
    file.write_bytes(b"x")
    cases = [
        (f"folder:{tmp_path / 'nope'}", "does not exist"),
        (f"folder:{file}", "is a file, not a folder"),
        (f"file:{file}", "cannot come from file:PATH"),
        ("folder:", "needs a path"),
        ("lines", "unknown toy data set 'lines'"),
        (str(tmp_path), "did you mean folder:"),
    ]
    for source, message in cases:
        with pytest.raises(DataError, match=message):
            data.resolve(source, "toy")
