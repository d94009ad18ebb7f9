"""The shapes sculpture models learn from: procedural vessels and solids, and a user's own
folder of meshes (one family per sub-folder).

Procedural sets draw their training and held-out shapes from separate seeds, so the
held-out shapes are new draws of the same family, never copies of training ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from museforge.core.media import MESH_SUFFIXES, no_usable, one_line
from museforge.errors import DataError, InputError
from museforge.sculpture.meshfile import read_mesh
from museforge.sculpture.solids import solid_grids
from museforge.sculpture.surface import grid_from_mesh
from museforge.sculpture.vessels import FAMILIES as VESSEL_FAMILIES
from museforge.sculpture.vessels import profiles

TRAIN_SEED, HOLDOUT_SEED = 0, 1
VESSELS = (6000, 600)  # training and held-out vessels
SOLIDS = (2400, 240)  # training and held-out solids (a 32³ grid is 128 KiB)
HOLDOUT = 0.1  # of a user's folder
MAX_MESH_FILES = 5000


@dataclass
class ShapeSet:
    """Training and held-out shapes (data units) with family labels, and where from."""

    train: tuple[torch.Tensor, torch.Tensor]
    holdout: tuple[torch.Tensor, torch.Tensor]
    families: tuple[str, ...]
    info: dict = field(default_factory=dict)


def _labelled(x: np.ndarray, names: list[str], families: tuple[str, ...]):
    return torch.from_numpy(np.ascontiguousarray(x)), torch.tensor(
        [families.index(f) for f in names], dtype=torch.long
    )


def load_vessels(n_train: int = VESSELS[0], n_holdout: int = VESSELS[1]) -> ShapeSet:
    """Procedural vessels: profiles (mm) of every family in turn."""
    train, holdout = profiles(n_train, TRAIN_SEED), profiles(n_holdout, HOLDOUT_SEED)
    return ShapeSet(
        _labelled(*train, VESSEL_FAMILIES),
        _labelled(*holdout, VESSEL_FAMILIES),
        VESSEL_FAMILIES,
        {"source": "vessels", "n_train": n_train, "n_holdout": n_holdout, "seeds": [0, 1]},
    )


@lru_cache(maxsize=1)  # drawing 2,640 solids takes half a minute; training and evaluation share it
def load_solids(resolution: int, n_train: int = SOLIDS[0], n_holdout: int = SOLIDS[1]) -> ShapeSet:
    """Procedural solids as resolution³ truncated signed-distance grids."""
    from museforge.sculpture.solids import FAMILIES

    train = solid_grids(n_train, resolution, TRAIN_SEED)
    holdout = solid_grids(n_holdout, resolution, HOLDOUT_SEED)
    return ShapeSet(
        _labelled(*train, FAMILIES),
        _labelled(*holdout, FAMILIES),
        FAMILIES,
        {"source": "solids", "n_train": n_train, "n_holdout": n_holdout, "seeds": [0, 1]},
    )


def load_mesh_folder(root: Path, resolution: int) -> ShapeSet:
    """A user's meshes below ``root`` as grids; each sub-folder is a family (all one
    family ``form`` when there are none). Unreadable meshes are skipped and counted; a
    tenth, drawn at random, is held out."""
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in MESH_SUFFIXES)
    if len(files) > MAX_MESH_FILES:
        raise DataError(f"'{root}' holds {len(files)} meshes; at most {MAX_MESH_FILES} are read")
    grids, names, skipped = [], [], []
    for path in files:
        try:
            grids.append(grid_from_mesh(read_mesh(path), resolution))
        except InputError as err:
            skipped.append(one_line(err))
            continue
        names.append(path.parent.name if path.parent != root else "form")
    if len(grids) < 2:
        raise DataError(no_usable(f"folder '{root}'", "meshes (2 or more)", skipped, MESH_SUFFIXES))
    families = tuple(sorted(set(names)))
    rng = np.random.default_rng(TRAIN_SEED)
    order = rng.permutation(len(grids))
    held = set(order[: max(1, round(len(grids) * HOLDOUT))].tolist())
    split = {
        part: (
            np.stack([g for i, g in enumerate(grids) if (i in held) == (part == "holdout")]),
            [n for i, n in enumerate(names) if (i in held) == (part == "holdout")],
        )
        for part in ("train", "holdout")
    }
    return ShapeSet(
        _labelled(*split["train"], families),
        _labelled(*split["holdout"], families),
        families,
        {
            "source": f"folder:{root}",
            "n_train": len(grids) - len(held),
            "n_holdout": len(held),
            "skipped": len(skipped),
            "skipped_files": skipped[:20],
        },
    )
