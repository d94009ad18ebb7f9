"""A picture artwork with files that belong to it (a sheet's atlas, a word's SVG)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from museforge.core.artwork import Artwork
from museforge.core.atomic import atomic_write_text
from museforge.gallery.provenance import save_png


@dataclass
class PictureFiles:
    """One picture artwork (PNG with provenance) and, beside it, a text file per suffix
    (``.atlas.json``, ``.svg``), each made from the PNG's final file name (the gallery may
    rename an artwork so as not to overwrite another)."""

    artworks: list[Artwork]  # one
    files: dict[str, Callable[[str], str]] = field(default_factory=dict)
    stem: str = "picture"
    message: str | None = None
    grid = None  # nothing else for the gallery to write
    frames = None
    data = None

    def write_to(self, folder: str | Path, upscale: int = 1) -> list[Path]:
        """Write the picture and its files into ``folder`` (``upscale`` is not applied: the
        files describe the picture's own pixels)."""
        art = self.artworks[0]
        picture = save_png(Path(folder) / f"{art.name}.png", art.image, art.provenance)
        written = [
            atomic_write_text(picture.with_name(art.name + suffix), make(picture.name))
            for suffix, make in self.files.items()
        ]
        return [*written, picture]
