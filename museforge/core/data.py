"""The data-set registry: every built-in set, registered once by the modality that owns it.

A registration names the set, its modality (and role, for modalities that use pictures in
two ways), a description, its size, its licence and a loader. ``museforge data``, the
studio's Train page and docs list from here; :func:`resolve` turns a training source
(``mnist5k``, ``folder:PATH``, ``file:PATH``) into the registered set or a checked path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from museforge.core.registry import load_all
from museforge.errors import DataError

_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
SKIPPED_KEPT = 20  # skipped files a model's manifest names (all are counted)
USER_SOURCES = ("folder", "file")


@dataclass(frozen=True)
class DataSet:
    """A built-in data set. ``loader`` is the owning modality's own (its signature is that
    modality's business); ``role`` separates sets one modality uses in different ways
    (style pictures and content photos)."""

    name: str
    modality: str
    description: str
    size: str
    licence: str
    loader: Callable[..., Any]
    role: str = "training"


@dataclass(frozen=True)
class UserSource:
    """How a modality reads ``folder:`` and ``file:`` sources, for listings and checks."""

    modality: str
    prefix: str  # folder or file
    description: str
    role: str = "training"


_SETS: dict[tuple[str, str], DataSet] = {}
_USER: list[UserSource] = []


def register_dataset(
    name: str,
    *,
    modality: str,
    description: str,
    size: str,
    licence: str,
    loader: Callable[..., Any],
    role: str = "training",
) -> DataSet:
    """Register a built-in set; its name is unique within its modality and role."""
    if not _NAME.match(name):
        raise ValueError(f"data set name {name!r} must be lower-case words joined by '-'")
    key = (f"{modality}/{role}", name)
    if key in _SETS:
        raise ValueError(f"data set {name!r} of {modality} is already registered")
    for field, value in (("description", description), ("size", size), ("licence", licence)):
        if not value.strip() or value != value.strip():
            raise ValueError(f"data set {name!r}: {field} must be non-empty, no stray spaces")
    ds = DataSet(name, modality, description, size, licence, loader, role)
    _SETS[key] = ds
    return ds


def register_user_source(
    modality: str, prefix: str, description: str, role: str = "training"
) -> None:
    """Say that ``modality`` reads ``prefix:PATH`` sources, and what it reads there."""
    if prefix not in USER_SOURCES:
        raise ValueError(f"user sources are {USER_SOURCES}, not {prefix!r}")
    _USER.append(UserSource(modality, prefix, description, role))


def datasets(modality: str | None = None, role: str | None = None) -> list[DataSet]:
    """Registered built-in sets, in registration order, optionally of one modality/role."""
    load_all()
    return [
        d
        for d in _SETS.values()
        if (modality is None or d.modality == modality) and (role is None or d.role == role)
    ]


def user_sources(modality: str | None = None) -> list[UserSource]:
    """The ``folder:``/``file:`` sources the modalities read."""
    load_all()
    return [u for u in _USER if modality is None or u.modality == modality]


def get_dataset(name: str, modality: str, role: str = "training") -> DataSet | None:
    """The built-in set ``name`` of ``modality``/``role``, or None."""
    load_all()
    return _SETS.get((f"{modality}/{role}", name))


def skipped_record(skipped: Sequence[str]) -> dict[str, Any]:
    """The manifest's record of the files a data set skipped: how many, and the first
    :data:`SKIPPED_KEPT` reasons."""
    return {"skipped_files": len(skipped), "skipped": list(skipped[:SKIPPED_KEPT])}


def holdout_indices(
    n: int, holdout: float, seed: int, what: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """(training, held-out) indices of ``n`` examples by a shuffle seeded with ``seed``,
    each part sorted (so it keeps the data's order); the held-out part has
    round(n · holdout). A DataError names ``what`` when a part would be empty."""
    n_hold = int(n * holdout + 0.5)
    if n_hold < 1 or n_hold >= n:
        raise DataError(f"cannot split {what}: one part would be empty")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[n_hold:].sort().values, order[:n_hold].sort().values


def split_source(source: str) -> tuple[str, str] | None:
    """``("folder", PATH)`` or ``("file", PATH)`` for a user source, None otherwise."""
    for prefix in USER_SOURCES:
        if source.startswith(prefix + ":"):
            return prefix, source.removeprefix(prefix + ":").strip()
    return None


def resolve(source: str, modality: str, role: str = "training") -> DataSet | tuple[str, Path]:
    """A training source as the registered :class:`DataSet`, or ``(prefix, path)`` for a
    user folder or file that exists and is of the right sort; a one-line DataError naming
    the source and the choices otherwise."""
    user = split_source(source)
    if user is not None:
        prefix, text = user
        offered = {u.prefix for u in user_sources(modality) if u.role == role}
        if prefix not in offered:
            raise DataError(
                f"{modality} data cannot come from {prefix}:PATH (use {_choices(modality, role)})"
            )
        if not text:
            raise DataError(f"data source '{prefix}:' needs a path, e.g. {prefix}:./mine")
        path = Path(text).expanduser()
        if not path.exists():
            raise DataError(f"{prefix} '{path}' does not exist")
        other = "file" if prefix == "folder" else "folder"
        hint = (
            f"; use {other}:{path}" if other in {u.prefix for u in user_sources(modality)} else ""
        )
        if prefix == "folder" and not path.is_dir():
            raise DataError(f"'{path}' is a file, not a folder{hint}")
        if prefix == "file" and path.is_dir():
            raise DataError(f"'{path}' is a folder, not a file{hint}")
        return prefix, path
    found = get_dataset(source, modality, role)
    if found is None:
        hint = f" (did you mean folder:{source}?)" if source and Path(source).is_dir() else ""
        raise DataError(
            f"unknown {modality} data set '{source}'{hint}: use {_choices(modality, role)}"
        )
    return found


def _choices(modality: str, role: str) -> str:
    names = [d.name for d in datasets(modality, role)]
    names += [f"{u.prefix}:PATH" for u in user_sources(modality) if u.role == role]
    return ", ".join(names) or "nothing (no such data here)"
