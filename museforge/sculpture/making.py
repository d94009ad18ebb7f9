"""Solids made from a file rather than drawn by a model: a picture's relief."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from museforge.core.media import read_image
from museforge.errors import InputError
from museforge.gallery.provenance import parent_record, save_sidecar
from museforge.sculpture.drawing import printable
from museforge.sculpture.meshfile import write_mesh
from museforge.sculpture.printable import PRINTERS
from museforge.sculpture.relief import relief
from museforge.sculpture.results import MeshArtwork, MeshResult

TARGET_SUFFIXES = (".stl", ".obj", ".glb")


def make_relief(source: Path, settings: dict[str, Any], printer: str) -> MeshResult:
    """The relief of the picture at ``source`` with ``settings`` (see
    :func:`~museforge.sculpture.relief.relief`), checked (and repaired) for ``printer``,
    as a result of one mesh artwork; its message sums it up."""
    if printer not in PRINTERS:
        raise InputError(f"printer must be one of {', '.join(PRINTERS)} (got '{printer}')")
    picture = read_image(source, channels=4, what="picture")
    mesh = relief(picture, what=f"picture '{source}'", **settings)
    mesh, check = printable(mesh, printer)
    provenance = {
        "verb": "relief",
        "modality": "mesh",
        "args": {**{k: v for k, v in settings.items() if v is not None}, "printer": printer},
        "parents": [{**parent_record(source), "source": str(Path(source).resolve())}],
        "size_mm": [round(float(e), 2) for e in mesh.extents],
        "volume_mm3": round(float(mesh.volume), 1),
        "print": check,
    }
    x, y, z = mesh.extents
    verdict = "printable" if check.get("ok") else "NOT printable: " + "; ".join(check["problems"])
    summary = f"{settings['mode']} {x:.0f}×{y:.0f}×{z:.1f} mm, {len(mesh.faces):,} faces, {verdict}"
    name = f"{settings['mode']}-{Path(source).stem}"
    return MeshResult([MeshArtwork(name, mesh, provenance)], stem=name, message=summary)


def write_one(result: MeshResult, target: Path) -> Path:
    """A result's one mesh written to ``target`` (.stl, .obj or .glb) with its provenance
    sidecar beside it (``target.json``)."""
    if target.suffix.lower() not in TARGET_SUFFIXES:
        raise InputError(f"--out '{target}' must end in {', '.join(TARGET_SUFFIXES)}")
    art = result.artworks[0]
    save_sidecar(target, {**art.provenance, "file": target.name})
    return write_mesh(art.mesh, target)
