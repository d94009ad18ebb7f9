"""What sculpture verbs return: meshes with their provenance, written as one artwork each.

An artwork is ``NAME.glb`` (binary glTF, what the studio's viewer loads) with its
provenance in ``NAME.glb.json``, and beside it the same solid as ``NAME.stl`` and
``NAME.obj`` for slicers and other tools, a lit still ``NAME.png`` and a turntable
``NAME.turntable.gif`` (one revolution). The sidecar is written last, so the gallery
never indexes an artwork whose files are not all there.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trimesh
from PIL import Image

from museforge.core.atomic import atomic_write_text, atomic_write_with
from museforge.gallery.provenance import save_png, save_sidecar
from museforge.sculpture.meshfile import write_mesh
from museforge.sculpture.turntable import render, turntable

MESH_SUFFIX = ".glb"
EXPORTS = (".stl", ".obj")
PREVIEW_SIZE = 256
TURNTABLE_SIZE = 192  # a gallery thumbnail; the viewer shows the mesh itself
TURNTABLE_FRAMES = 18  # 20° a frame
TURNTABLE_SUFFIX = ".turntable.gif"


def turntable_frames() -> int:
    """Frames of each turntable: $MUSEFORGE_TURNTABLE (0: no turntable, tests) or 18."""
    return int(os.environ.get("MUSEFORGE_TURNTABLE", TURNTABLE_FRAMES))


def save_turntable(path: Path, frames: list[Image.Image], frame_ms: int = 110) -> Path:
    """Write turntable frames (RGB on white) as a looping GIF, atomically."""
    first, rest = frames[0], frames[1:]
    return atomic_write_with(
        path,
        lambda tmp: first.save(
            tmp, format="GIF", save_all=True, append_images=rest, duration=frame_ms, loop=0
        ),
    )


@dataclass
class MeshArtwork:
    """One solid (millimetres, Z up, on z = 0), its file stem and how it was made."""

    name: str
    mesh: trimesh.Trimesh
    provenance: dict[str, Any] = field(default_factory=dict)


def write_mesh_artwork(folder: str | Path, art: MeshArtwork) -> list[Path]:
    """Write one mesh artwork and its companions into ``folder``; the paths written,
    the artwork (GLB) last."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    glb = folder / f"{art.name}{MESH_SUFFIX}"
    provenance = {**art.provenance, "modality": "mesh", "file": glb.name}
    paths = [write_mesh(art.mesh, folder / f"{art.name}{suffix}") for suffix in EXPORTS]
    paths.append(save_png(folder / f"{art.name}.png", render(art.mesh, PREVIEW_SIZE), provenance))
    frames = turntable_frames()
    if frames:
        pictures = turntable(art.mesh, frames=frames, size=TURNTABLE_SIZE)
        paths.append(save_turntable(folder / f"{art.name}{TURNTABLE_SUFFIX}", pictures))
    paths.append(write_mesh(art.mesh, glb))
    save_sidecar(glb, provenance)
    return paths


class MeshResult:
    """Mesh artworks plus optional data (an evaluation, a projection's distance)."""

    grid = None  # nothing else for the gallery to write
    frames = None

    def __init__(
        self,
        artworks: list[MeshArtwork],
        stem: str = "sculpture",
        data: dict[str, Any] | None = None,
        message: str | None = None,
    ):
        self.artworks, self.stem, self.data, self.message = list(artworks), stem, data, message

    def __repr__(self) -> str:
        return f"MeshResult(artworks={[a.name for a in self.artworks]}, stem={self.stem!r})"

    def write_to(self, folder: str | Path, upscale: int = 1) -> list[Path]:
        """Write every artwork (see :func:`write_mesh_artwork`) and ``data`` as JSON."""
        paths: list[Path] = []
        for art in self.artworks:
            paths += write_mesh_artwork(folder, art)
        if self.data is not None:
            text = json.dumps(self.data, indent=2, sort_keys=True, ensure_ascii=False)
            paths.append(atomic_write_text(Path(folder) / f"{self.stem}.json", text + "\n"))
        return paths
