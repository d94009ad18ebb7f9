"""Listing a user's data folder: its files in a stable order, junk left out."""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path, PurePath


def is_junk(path: PurePath) -> bool:
    """Hidden files and folders (a leading dot) and macOS's ``__MACOSX`` resource forks,
    which carry real suffixes (``._photo.png``) but no content worth reading."""
    return any(part.startswith(".") or part == "__MACOSX" for part in path.parts)


def list_files(
    root: Path, skipped: list[str], suffixes: Collection[str] | None = None
) -> list[Path]:
    """The files below ``root`` as paths relative to it, sorted by their parts; only those
    whose lower-cased suffix is in ``suffixes`` when given. Junk (:func:`is_junk`) is left
    out; a folder that cannot be listed is appended to ``skipped`` as
    ``"rel/: cannot list folder (reason)"``."""
    found: list[Path] = []

    def unreadable(err: OSError) -> None:
        rel = Path(err.filename or root).relative_to(root).as_posix()
        skipped.append(f"{rel}/: cannot list folder ({err.strerror})")

    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable):
        dirnames[:] = sorted(d for d in dirnames if not is_junk(PurePath(d)))
        for name in filenames:
            rel = Path(dirpath, name).relative_to(root)
            if is_junk(rel) or (suffixes is not None and rel.suffix.lower() not in suffixes):
                continue
            found.append(rel)
    return sorted(found, key=lambda p: p.parts)


REPO_MODELS = Path(__file__).resolve().parents[2] / "models"


def models_dir() -> Path:
    """Where starter models live: $MUSEFORGE_MODELS or the repository's models/."""
    return Path(os.environ.get("MUSEFORGE_MODELS", REPO_MODELS))


def default_cache_dir() -> Path:
    """Where derived data is kept between runs: ``$MUSEFORGE_CACHE`` or ``~/.cache/museforge``."""
    return Path(os.environ.get("MUSEFORGE_CACHE") or Path.home() / ".cache" / "museforge")
