"""The verbs of sculpture models (vessel and form VAEs): sample, interpolate, breed,
condition (push along an attribute), project (a user's mesh, form models) and evaluate.

Every solid is checked for printing on the chosen printer (watertight, manifold, no
self-intersection, walls thick enough, fits the build volume) and repaired when it fails;
the report and the repairs are in its provenance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch

from museforge.core.artifact import LoadedModel
from museforge.core.latent import (
    crossover,
    draw_latents,
    encode_latent,
)
from museforge.core.seeding import stream
from museforge.core.verbs import MUTATION, SEED, Param
from museforge.errors import InputError
from museforge.gallery.provenance import read_latent_parent
from museforge.sculpture.drawing import fit_to_printer, printable, solids
from museforge.sculpture.meshfile import read_mesh
from museforge.sculpture.printable import PRINTERS
from museforge.sculpture.results import MeshArtwork, MeshResult
from museforge.sculpture.shape_vae import FormVAE, ShapeVAE
from museforge.sculpture.surface import grid_from_mesh

MAX_SHAPES = 64
Family = Annotated[str, Param("the family to draw (empty: drawn by the seed)")]
Printer = Annotated[str, Param("printer the solids are checked for", choices=tuple(PRINTERS))]
Size = Annotated[
    float,
    Param(
        "largest size in mm (0: vessels at their own size, fitted to the printer; forms 80 mm)",
        min=0,
        max=1000,
    ),
]
SameModel = "use meshes this model made"


def _family_index(model: ShapeVAE, family: str) -> int | None:
    if not family:
        return None
    if family not in model.families:
        raise InputError(
            f"unknown family '{family}' (this model draws: {', '.join(model.families)})"
        )
    return model.families.index(family)


def _labels(model: ShapeVAE, seed: int, n: int, family: str) -> torch.Tensor:
    """One family for all (``family``), or a family per index drawn from the seed."""
    chosen = _family_index(model, family)
    if chosen is not None:
        return torch.full((n,), chosen, dtype=torch.long)
    return torch.tensor(
        [
            int(torch.randint(model.num_classes, (1,), generator=stream(seed, "family", i)))
            for i in range(n)
        ]
    )


def _artworks(
    loaded: LoadedModel,
    verb: str,
    z: torch.Tensor,
    labels: torch.Tensor,
    names: list[str],
    size_mm: float,
    printer: str,
    extra: list[dict[str, Any]],
) -> tuple[list[MeshArtwork], str | None]:
    model = loaded.model
    arts, failed = [], []
    for i, mesh in enumerate(solids(model, z, labels, size_mm)):
        scale = 1.0 if size_mm else fit_to_printer(mesh, printer)
        mesh, check = printable(mesh, printer)
        if scale != 1.0:
            check["scaled_to_fit"] = round(scale, 4)
        if not check.get("ok"):
            failed.append(names[i])
        prov = loaded.provenance(
            verb,
            modality="mesh",
            latent=encode_latent(z[i]),
            family=model.families[int(labels[i])],
            size_mm=[round(float(e), 2) for e in mesh.extents],
            volume_mm3=round(float(mesh.volume), 1),
            print=check,
            **extra[i],
        )
        arts.append(MeshArtwork(names[i], mesh, prov))
    message = None
    if failed:
        message = f"{len(failed)} of {len(arts)} not printable on {printer} even after repair: " + (
            ", ".join(failed[:4])
        )
    return arts, message


def sample(
    loaded: LoadedModel,
    n: Annotated[int, Param("how many solids", min=1, max=MAX_SHAPES)] = 4,
    seed: Annotated[int, SEED] = 0,
    family: Family = "",
    truncation: Annotated[float, Param("≤1: more typical shapes", min=0.05, max=1.0)] = 1.0,
    size_mm: Size = 0.0,
    printer: Printer = "fdm",
) -> MeshResult:
    """``n`` new solids, each checked (and repaired) for printing; solid i of a seed is the
    same however many are asked for."""
    model = loaded.model
    labels = _labels(model, seed, n, family)
    z = model.place(draw_latents(model.z_dim, seed, n) * truncation, labels)
    names = [f"{loaded.kind.split('-')[0]}-s{seed}-{i:03d}" for i in range(n)]
    extra = [{"seed": seed, "index": i} for i in range(n)]
    arts, message = _artworks(loaded, "sample", z, labels, names, size_mm, printer, extra)
    return MeshResult(arts, stem=f"sculpture-s{seed}", message=message)


def _parent(loaded: LoadedModel, path: Path) -> tuple[torch.Tensor, int, dict[str, str]]:
    """A mesh artwork's latent, family and lineage record (it must be this model's)."""
    prov, z, digest = read_latent_parent(
        path, loaded.sha256, loaded.short_hash, loaded.model.z_dim, SameModel
    )
    record = {"file": Path(path).name, "sha256": digest}
    family = prov.get("family")
    model = loaded.model
    label = model.families.index(family) if family in model.families else 0
    return z.view(-1), label, record


def _end(loaded: LoadedModel, parent: Path | None, seed: int, family: str):
    if parent is not None:
        z, label, record = _parent(loaded, parent)
        return z, label, {"parents": [record]}, Path(parent).stem
    labels = _labels(loaded.model, seed, 1, family)
    z = loaded.model.place(draw_latents(loaded.model.z_dim, seed, 1), labels)[0]
    return z, int(labels[0]), {}, f"s{seed}"


MeshParent = Annotated[
    Path | None, Param("a mesh (.glb) made by MODEL, instead of a seed", input="mesh")
]


def interpolate(
    loaded: LoadedModel,
    seed_a: Annotated[int, Param("seed of the first end")] = 1,
    seed_b: Annotated[int, Param("seed of the last end")] = 2,
    start: MeshParent = None,
    end: MeshParent = None,
    frames: Annotated[int, Param("solids from end to end", min=2, max=32)] = 5,
    family: Family = "",
    size_mm: Size = 0.0,
    printer: Printer = "fdm",
) -> MeshResult:
    """A walk from one solid to another (seeds, or meshes the model made) along a straight
    line in the latent (a family's shapes lie around its own centre there, not around 0,
    so a straight line stays among them); the family switches half way when the ends
    differ."""
    za, la, pa, ta = _end(loaded, start, seed_a, family)
    zb, lb, pb, tb = _end(loaded, end, seed_b, family)
    ts = [i / (frames - 1) for i in range(frames)]
    z = torch.stack([torch.lerp(za, zb, t) for t in ts])
    labels = torch.tensor([la if t < 0.5 else lb for t in ts])
    stem = f"walk-{ta}-{tb}"
    names = [f"{stem}-{i:02d}" for i in range(frames)]
    lineage = {"parents": pa.get("parents", []) + pb.get("parents", [])}
    extra = [{"t": t, "index": i, **lineage} for i, t in enumerate(ts)]
    arts, message = _artworks(loaded, "interpolate", z, labels, names, size_mm, printer, extra)
    return MeshResult(arts, stem=stem, message=message)


def _mutate(
    model: ShapeVAE, z: torch.Tensor, label: int, amount: float, gen: torch.Generator
) -> torch.Tensor:
    """Fresh variation blended in around the family's centre (√(1-a²)·z + a·ε, as for a
    standard-normal latent around 0): the child stays among the family's shapes."""
    centre = model.latent_mean[label]
    fresh = model.place(torch.randn(1, z.numel(), generator=gen), torch.tensor([label]))[0]
    keep = (1 - amount**2) ** 0.5
    return centre + keep * (z - centre) + amount * (fresh - centre)


def breed(
    loaded: LoadedModel,
    parents: Annotated[list[Path], Param("parent meshes (.glb) made by MODEL", input="meshes")],
    children: Annotated[int, Param("how many children", min=1, max=MAX_SHAPES)] = 4,
    mutation: Annotated[float, MUTATION] = 0.2,
    seed: Annotated[int, SEED] = 0,
    size_mm: Size = 0.0,
    printer: Printer = "fdm",
) -> MeshResult:
    """Children of two or more solids: each latent value from a parent at random, then
    mutated; each child takes one parent's family."""
    if len(parents) < 2:
        raise InputError("breed needs two or more parent meshes")
    read = [_parent(loaded, Path(p)) for p in parents]
    zs = torch.stack([r[0] for r in read])
    z, labels = [], []
    for i in range(children):
        gen = stream(seed, "breed", i)
        label = read[int(torch.randint(len(read), (1,), generator=gen))][1]
        z.append(_mutate(loaded.model, crossover(zs, gen), label, mutation, gen))
        labels.append(label)
    names = [f"child-s{seed}-{i:03d}" for i in range(children)]
    lineage = {"parents": [r[2] for r in read], "seed": seed}
    extra = [{**lineage, "index": i} for i in range(children)]
    arts, message = _artworks(
        loaded, "breed", torch.stack(z), torch.tensor(labels), names, size_mm, printer, extra
    )
    return MeshResult(arts, stem=f"children-s{seed}", message=message)


def condition(
    loaded: LoadedModel,
    attribute: Annotated[
        str, Param("what to change: taller, wider-mouth, … (see the model's attributes)")
    ],
    amount: Annotated[float, Param("how far: 1 = a quartile's difference", min=-3, max=3)] = 1.0,
    parent: MeshParent = None,
    seed: Annotated[int, SEED] = 0,
    family: Family = "",
    sweep: Annotated[int, Param("1: one solid; more: -amount..+amount", min=1, max=9)] = 1,
    size_mm: Size = 0.0,
    printer: Printer = "fdm",
) -> MeshResult:
    """Push a solid (a seed's, or a mesh the model made) along a named attribute such as
    ``taller`` or ``wider-mouth``; a negative amount pushes the other way."""
    model = loaded.model
    if attribute not in model.attributes:
        raise InputError(
            f"unknown attribute '{attribute}' (this model has: {', '.join(model.attributes)})"
        )
    vector = model.attribute_vectors[model.attributes.index(attribute)]
    if float(vector.norm()) == 0:
        raise InputError(f"model '{loaded.path}' has no attribute vectors (retrain it)")
    z0, label, lineage, tag = _end(loaded, parent, seed, family)
    amounts = [amount] if sweep == 1 else np.linspace(-amount, amount, sweep).tolist()
    z = torch.stack([z0 + a * vector for a in amounts])
    labels = torch.full((len(amounts),), label)
    names = [f"{tag}-{attribute}-{a:+.2f}" for a in amounts]
    extra = [{**lineage, "seed": seed, "attribute": attribute, "amount": a} for a in amounts]
    arts, message = _artworks(loaded, "condition", z, labels, names, size_mm, printer, extra)
    return MeshResult(arts, stem=f"{tag}-{attribute}", message=message)


def project(
    loaded: LoadedModel,
    mesh: Annotated[Path, Param("a mesh file: STL, OBJ, GLB, PLY or OFF", input="mesh")],
    family: Family = "",
    size_mm: Size = 0.0,
    printer: Printer = "fdm",
) -> MeshResult:
    """Re-draw a mesh you bring with the model: its nearest form (encoded in each family,
    or in ``family``, keeping the closest), with how much of it the re-drawing covers
    (voxel IoU)."""
    model = loaded.model
    if not isinstance(model, FormVAE):
        raise InputError(f"project reads meshes into form models, not {loaded.kind}")
    source = read_mesh(mesh)
    target = torch.from_numpy(grid_from_mesh(source, model.cfg.resolution))[None]
    chosen = _family_index(model, family)
    candidates = [chosen] if chosen is not None else range(model.num_classes)
    best = None
    with torch.no_grad():
        for label in candidates:
            labels = torch.tensor([label])
            z = model.eval().encode(target, labels)[0]
            iou = voxel_iou(model.decode(z, labels), target)
            if best is None or iou > best[0]:
                best = (iou, z, labels)
    iou, z, labels = best
    record = {"parents": [{"file": Path(mesh).name, "source": str(Path(mesh).resolve())}]}
    name = f"{Path(mesh).stem}-projected"
    arts, message = _artworks(
        loaded, "project", z, labels, [name], size_mm, printer, [{**record, "voxel_iou": iou}]
    )
    notes = [f"the re-drawn form covers {iou:.0%} of the mesh's volume (voxel IoU)"]
    if not (source.is_watertight and source.is_winding_consistent):
        notes.append(
            f"'{Path(mesh).name}' is not a closed, manifold surface: it was read through its "
            "voxels, holes smaller than a cell closed"
        )
    if message:
        notes.append(message)
    return MeshResult(arts, stem=name, message="; ".join(notes))


def voxel_iou(a: torch.Tensor, b: torch.Tensor) -> float:
    """Intersection over union of the insides (negative distances) of two grids."""
    inside_a, inside_b = a < 0, b < 0
    union = (inside_a | inside_b).sum()
    return float((inside_a & inside_b).sum() / union) if union else 1.0


def evaluate(
    loaded: LoadedModel,
    n: Annotated[int, Param("solids to draw", min=8, max=2000)] = 100,
    seed: Annotated[int, SEED] = 0,
    printer: Printer = "fdm",
    out_dir: Path | None = None,
) -> MeshResult:
    """Drawn solids against held-out ones: coverage and minimum matching distance (Chamfer,
    mm), the 1-nearest-neighbour accuracy, the share printable before and after repair,
    and memorisation (how close each drawn solid comes to a training one)."""
    from museforge.sculpture.evaluate import evaluate_model

    data = evaluate_model(loaded, n=n, seed=seed, printer=printer)
    return MeshResult([], stem="evaluation", data=data)
