"""What verbs return: artworks (a picture or a text with its provenance) and results.

Every modality hands its outputs to the gallery as a :class:`Result`; a modality whose
artworks are files of another sort (music) gives its result a ``write_to`` method.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PIL import Image


@dataclass
class Artwork:
    """One output: its file stem, its content (a picture or a text) and how it was made."""

    name: str
    image: Image.Image | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    text: str | None = None


@dataclass
class Result:
    """What a verb returns: artworks plus optional overview pictures and data."""

    artworks: list[Artwork] = field(default_factory=list)
    grid: Image.Image | None = None
    # An animation, written as GIF; the artworks are then its stills (its frames in the
    # gallery), in the order of the walk.
    frames: list[Image.Image] | None = None
    frame_ms: int = 80  # how long the animation shows each frame
    data: dict[str, Any] | None = None
    stem: str = "output"
    message: str | None = None  # one line for the user (e.g. how close a projection got)
