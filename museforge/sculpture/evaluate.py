"""How good a sculpture model is: its drawn solids against held-out ones.

Solids are compared as point clouds sampled evenly from their surfaces, by the Chamfer
distance in millimetres (the mean distance from a point of one to the nearest point of
the other, both ways, averaged). From the distances, as the point-cloud GAN papers
report (Achlioptas et al. 2018; Yang et al. 2019): **coverage** (the share of held-out
solids that are the nearest of some drawn one), **minimum matching distance** (a held-out
solid's distance to its nearest drawn one, averaged) and the **1-nearest-neighbour
accuracy** of telling drawn from held-out (0.5 is ideal: they cannot be told apart). The
same figures for training solids in place of drawn ones are the floor a perfect model
would reach. Printing: the share of drawn solids that pass the printer's checks as drawn,
and after repair. Memorisation: each drawn solid's distance to its nearest training solid
against what held-out solids show (a drawn solid nearer than half the typical held-out
distance is a near copy).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import trimesh
from scipy.spatial import cKDTree

from museforge.core.artifact import LoadedModel
from museforge.core.latent import draw_latents
from museforge.errors import InputError
from museforge.sculpture.data import ShapeSet, load_mesh_folder, load_solids, load_vessels
from museforge.sculpture.drawing import fit_to_printer, meshes_of, printable, solids
from museforge.sculpture.printable import PRINTERS, inspect

POINTS = 512  # surface points per solid
TRAIN_COMPARED = 400  # training solids (at most 5 per drawn one) compared (memorisation)
SIZE_MM = 80.0  # forms are compared at one size; vessels keep their own


def point_cloud(mesh: trimesh.Trimesh, seed: int, points: int = POINTS) -> np.ndarray:
    """``points`` points spread evenly by area over the surface (seeded)."""
    found, _ = trimesh.sample.sample_surface(mesh, points, seed=seed)
    return np.asarray(found, dtype=np.float32)


def chamfer(a: np.ndarray, b: np.ndarray, trees: tuple[cKDTree, cKDTree] | None = None) -> float:
    """Symmetric Chamfer distance between point clouds (mean nearest distance, both ways)."""
    ta, tb = trees or (cKDTree(a), cKDTree(b))
    return float((tb.query(a)[0].mean() + ta.query(b)[0].mean()) / 2)


def distances(xs: list[np.ndarray], ys: list[np.ndarray]) -> np.ndarray:
    """The Chamfer distance of every pair (len(xs)×len(ys))."""
    tx, ty = [cKDTree(x) for x in xs], [cKDTree(y) for y in ys]
    out = np.empty((len(xs), len(ys)))
    for i, x in enumerate(xs):
        for j, y in enumerate(ys):
            out[i, j] = chamfer(x, y, (tx[i], ty[j]))
    return out


def compare(drawn: list[np.ndarray], held: list[np.ndarray]) -> dict[str, float]:
    """Coverage, minimum matching distance and 1-NN accuracy of ``drawn`` against ``held``."""
    d_dh = distances(drawn, held)
    d_dd, d_hh = distances(drawn, drawn), distances(held, held)
    np.fill_diagonal(d_dd, np.inf)
    np.fill_diagonal(d_hh, np.inf)
    coverage = len(set(d_dh.argmin(axis=1).tolist())) / len(held)
    mmd = float(d_dh.min(axis=0).mean())
    # leave-one-out 1-NN: a drawn one is right when its nearest is drawn, and so on
    right_drawn = d_dd.min(axis=1) < d_dh.min(axis=1)
    right_held = d_hh.min(axis=1) < d_dh.min(axis=0)
    nna = float((right_drawn.sum() + right_held.sum()) / (len(drawn) + len(held)))
    return {"coverage": coverage, "mmd_chamfer_mm": mmd, "nna_accuracy": nna}


def shapes_of(loaded: LoadedModel) -> ShapeSet:
    """The training and held-out shapes the model recorded it learnt from."""
    info = loaded.manifest.get("data", {})
    source = str(info.get("source", ""))
    if source == "vessels":
        return load_vessels(int(info["n_train"]), int(info["n_holdout"]))
    if source == "solids":
        res = loaded.model.cfg.resolution
        return load_solids(res, int(info["n_train"]), int(info["n_holdout"]))
    if source.startswith("folder:"):
        from pathlib import Path

        return load_mesh_folder(Path(source.removeprefix("folder:")), loaded.model.cfg.resolution)
    raise InputError(f"model '{loaded.path}' does not record data it can be evaluated on")


def _clouds(meshes: list[trimesh.Trimesh], seed: int) -> list[np.ndarray]:
    return [point_cloud(m, seed + i) for i, m in enumerate(meshes)]


def _drawn(model: Any, z: torch.Tensor, labels: torch.Tensor, size: float) -> list:
    """The solids a model draws, None for a latent it draws no solid for (an empty grid)."""
    out = []
    for i in range(len(z)):
        try:
            out += solids(model, z[i : i + 1], labels[i : i + 1], size)
        except InputError:
            out.append(None)
    return out


def _print_shares(meshes: list, printer: str, repair: bool) -> tuple[float, float | None]:
    """The shares printable as drawn and (with ``repair``) after repair, a vessel first
    fitted to the printer as the verbs do."""
    as_drawn, after = [], []
    for mesh in meshes:
        mesh = mesh.copy()
        fit_to_printer(mesh, printer)
        ok = inspect(mesh, PRINTERS[printer]).ok
        as_drawn.append(ok)
        if repair:
            after.append(ok or bool(printable(mesh, printer)[1].get("ok")))
    return float(np.mean(as_drawn)), float(np.mean(after)) if repair else None


def evaluate_model(
    loaded: LoadedModel, n: int, seed: int, printer: str, repair: bool = True
) -> dict[str, Any]:
    """Every figure above for ``n`` solids drawn at ``seed`` (families drawn evenly);
    without ``repair`` the share printable after repair is left out (it takes seconds a
    solid). Latents the model draws no solid for count as misses: not printable, and no
    solid to compare."""
    model = loaded.model
    shapes = shapes_of(loaded)
    size = 0.0 if loaded.kind == "vessel-vae" else SIZE_MM
    held_x = shapes.holdout[0][:n]
    labels = torch.arange(n) % model.num_classes
    z = model.place(draw_latents(model.z_dim, seed, n), labels)
    found = _drawn(model, z, labels, size)
    drawn = [m for m in found if m is not None]
    held = meshes_of(model, held_x.float(), size)
    rng = np.random.default_rng(seed)
    train_x = shapes.train[0]
    compared = min(len(train_x), TRAIN_COMPARED, 5 * n)
    pick = np.sort(rng.choice(len(train_x), compared, replace=False))
    train = meshes_of(model, train_x[torch.from_numpy(pick)].float(), size)
    c_drawn, c_held, c_train = (
        _clouds(drawn, seed),
        _clouds(held, seed + 10**6),
        _clouds(train, seed + 2 * 10**6),
    )
    floor = compare(c_train[: len(found)], c_held)
    out: dict[str, Any] = {
        "model": {"sha256": loaded.sha256, "kind": loaded.kind, "path": str(loaded.path)},
        "n": n,
        "held_out": len(c_held),
        "empty": len(found) - len(drawn),
        "training_solids": floor,
        "printer": printer,
    }
    if len(drawn) < 2:
        return {**out, "printable_as_drawn": 0.0, "printable_after_repair": 0.0 if repair else None}
    to_train = distances(c_drawn, c_train).min(axis=1)
    held_to_train = distances(c_held, c_train).min(axis=1)
    typical = float(np.median(held_to_train))
    as_drawn, after = _print_shares(drawn, printer, repair)
    share = len(drawn) / len(found)
    return {
        **out,
        **compare(c_drawn, c_held),
        "printable_as_drawn": as_drawn * share,
        "printable_after_repair": None if after is None else after * share,
        "memorisation": {
            "nearest_training_mm_median": float(np.median(to_train)),
            "held_out_nearest_training_mm_median": typical,
            "near_copies": float(np.mean(to_train < typical / 2)),
            "held_out_near_copies": float(np.mean(held_to_train < typical / 2)),
        },
    }
