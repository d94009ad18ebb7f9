"""Registers the sculpture data sets, the kinds ``vessel-vae`` and ``form-vae``, their
training tasks and verbs."""

from __future__ import annotations

from typing import Any

import torch

from museforge.core.data import DataSet, register_dataset, register_user_source, resolve
from museforge.core.registry import config_from_dict, register_kind, verb
from museforge.errors import DataError
from museforge.sculpture import verbs
from museforge.sculpture.data import SOLIDS, VESSELS, load_mesh_folder, load_solids, load_vessels
from museforge.sculpture.shape_vae import (
    FormVAE,
    FormVAEConfig,
    ShapeVAETask,
    ShapeVAETraining,
    VesselVAE,
    VesselVAEConfig,
)
from museforge.sculpture.solids import FAMILIES as FORM_FAMILIES
from museforge.sculpture.vessels import FAMILIES as VESSEL_FAMILIES
from museforge.sculpture.vessels import measure as measure_vessels

MODALITY = "sculpture"

register_dataset(
    "vessels",
    modality=MODALITY,
    description="procedural lathe profiles with real proportions: " + ", ".join(VESSEL_FAMILIES),
    size=f"{VESSELS[0]:,} training + {VESSELS[1]} held-out vessels (drawn here, any number)",
    licence="procedural (museforge)",
    loader=load_vessels,
)
register_dataset(
    "solids",
    modality=MODALITY,
    description="procedural sculptures from signed-distance primitives: "
    + ", ".join(FORM_FAMILIES),
    size=f"{SOLIDS[0]:,} training + {SOLIDS[1]} held-out solids as 32³ grids (drawn here)",
    licence="procedural (museforge)",
    loader=load_solids,
)
register_user_source(
    MODALITY, "folder", "STL/OBJ/GLB/PLY/OFF meshes below PATH (sub-folder: family)"
)


def _training(training: dict[str, Any]) -> ShapeVAETraining:
    return config_from_dict(ShapeVAETraining, training, "training settings")


def measure_forms(grids: torch.Tensor) -> torch.Tensor:
    """Per grid, what FORM_ATTRIBUTES grow with: the solid's height, its width across
    (the larger of x and y) and the share of the grid it fills."""
    inside = grids < 0
    span = []
    for axes in ((0, 1), (0, 2), (1, 2)):  # occupied extent along z, y, x
        occupied = inside.any(dim=tuple(a + 1 for a in axes)).float()
        ids = torch.arange(occupied.shape[1]).float()
        top = torch.where(occupied > 0, ids, torch.full_like(ids, -1)).amax(1)
        bottom = torch.where(occupied > 0, ids, torch.full_like(ids, 1e9)).amin(1)
        span.append((top - bottom + 1).clamp(min=0))
    height, across = span[0], torch.maximum(span[1], span[2])
    return torch.stack([height, across, inside.flatten(1).float().mean(1)], dim=1)


def vessel_task(model: dict[str, Any], training: dict[str, Any], data: str, seed: int):
    """A vessel VAE's task: procedural vessels only (a user's vessels are meshes, which
    the form model learns)."""
    found = resolve(data, MODALITY)
    if not isinstance(found, DataSet) or found.name != "vessels":
        raise DataError(f"a vessel model learns from the data set 'vessels' (got '{data}')")
    shapes = load_vessels()
    cfg = config_from_dict(VesselVAEConfig, model, "model settings")
    vae = VesselVAE(cfg)
    x = shapes.train[0]
    vae.mean.copy_(x.mean(0))
    vae.scale.copy_(x.std(0).clamp(min=1e-3))

    def measure(v: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(measure_vessels(v.numpy())).float()

    task = ShapeVAETask(
        "vessel-vae", vae, _training(training), shapes.train, shapes.holdout, measure, seed
    )
    return task, {**shapes.info, "licence": found.licence}


def form_task(model: dict[str, Any], training: dict[str, Any], data: str, seed: int):
    """A form VAE's task: procedural solids, or a folder of the user's meshes."""
    found = resolve(data, MODALITY)
    resolution = int(model.get("resolution", FormVAEConfig.resolution))
    if isinstance(found, DataSet):
        if found.name != "solids":
            raise DataError(f"a form model learns from 'solids' or folder:PATH (got '{data}')")
        shapes, licence = load_solids(resolution), found.licence
    else:
        shapes, licence = load_mesh_folder(found[1], resolution), "the user's own"
    cfg = config_from_dict(
        FormVAEConfig, {**model, "families": list(shapes.families)}, "model settings"
    )
    defaults = {"lr": 1e-3, "noise": 0.2}
    task = ShapeVAETask(
        "form-vae",
        FormVAE(cfg),
        _training({**defaults, **training}),
        shapes.train,
        shapes.holdout,
        measure_forms,
        seed,
    )
    return task, {**shapes.info, "licence": licence}


register_kind(
    "vessel-vae",
    modality=MODALITY,
    description="VAE of turned vessels (vases, bowls, cups…): printable solids, attribute pushes",
    config_cls=VesselVAEConfig,
    model_cls=VesselVAE,
    task_factory=vessel_task,
    default_run={"batch_size": 64},
)
register_kind(
    "form-vae",
    modality=MODALITY,
    description="3D VAE of sculptural forms (signed-distance grids): sample, breed, project meshes",
    config_cls=FormVAEConfig,
    model_cls=FormVAE,
    task_factory=form_task,
    default_run={"batch_size": 32},
)
for _kind in ("vessel-vae", "form-vae"):
    verb(_kind)(verbs.sample)
    verb(_kind)(verbs.interpolate)
    verb(_kind)(verbs.breed)
    verb(_kind)(verbs.condition)
    verb(_kind, studio=False)(verbs.evaluate)
verb("form-vae")(verbs.project)
