"""From latents to printable solids: decoding a shape model's latents into meshes, fitting
them to a printer and checking (and repairing) them for it — what every sculpture verb,
the evaluation and ``relief`` share."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import trimesh

from museforge.errors import InputError
from museforge.sculpture.printable import PRINTERS, PrintError, inspect, repair
from museforge.sculpture.shape_vae import ShapeVAE, VesselVAE
from museforge.sculpture.surface import mesh_from_grid
from museforge.sculpture.vessels import Profile, turn

FORM_SIZE_MM = 80.0
DECODED_SMOOTHING = 1.0  # radii: a decoded profile's ripples look like throwing rings


def solids(model: ShapeVAE, z: torch.Tensor, labels: torch.Tensor, size_mm: float) -> list:
    """The meshes (mm, Z up, on z = 0) a model draws from latents."""
    with torch.no_grad():
        shapes = model.eval().decode(z, labels)
    return meshes_of(model, shapes, size_mm)


def meshes_of(model: ShapeVAE, shapes: torch.Tensor, size_mm: float = 0.0) -> list:
    """The meshes of shapes in a model's data units (profiles or grids)."""
    if isinstance(model, VesselVAE):
        out = [turn(Profile.from_vector(s.numpy(), smooth=DECODED_SMOOTHING)) for s in shapes]
        if size_mm:
            for mesh in out:
                mesh.apply_scale(size_mm / mesh.extents.max())
        return out
    out = []
    for i, grid in enumerate(shapes.numpy()):
        if not grid.min() < 0 < grid.max():
            raise InputError(
                f"the model drew no solid for shape {i} (its grid is all "
                f"{'inside' if grid.max() <= 0 else 'outside'}): train it for longer"
            )
        out.append(mesh_from_grid(grid, size_mm=size_mm or FORM_SIZE_MM))
    return out


def fit_to_printer(mesh: trimesh.Trimesh, printer: str, margin_mm: float = 5.0) -> float:
    """Scale ``mesh`` in place to fit the printer's build volume (less a margin) when it
    is larger — a vase of real size may be taller than the printer; the factor used."""
    room = np.asarray(PRINTERS[printer].build_mm) - margin_mm
    factor = float(min(1.0, (room / np.maximum(mesh.extents, 1e-9)).min()))
    if factor < 1.0:
        mesh.apply_scale(factor)
    return factor


def printable(mesh: trimesh.Trimesh, printer: str) -> tuple[trimesh.Trimesh, dict[str, Any]]:
    """The mesh checked (and repaired if it fails) for ``printer``; what provenance says
    of it: the report after repair, the repairs, and any problem left."""
    report = inspect(mesh, PRINTERS[printer])
    if report.ok:
        return mesh, {**report.as_dict(), "repairs": []}
    try:
        fixed, after, actions = repair(mesh, PRINTERS[printer])
    except PrintError as err:
        return mesh, {**report.as_dict(), "repairs": [], "refused": str(err)}
    return fixed, {**after.as_dict(), "repairs": actions}
