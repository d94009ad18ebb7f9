"""Instruments one modality lends another: a name that renders notes to samples.

A modality that makes sounds registers a loader; a modality that writes music asks for an
instrument by the name a user gave (``--instrument gm-notes@3``) and, when some loader
knows it, renders its notes with it instead of a General MIDI program. The two never
import each other: they meet here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from museforge.core.registry import load_all


@dataclass(frozen=True)
class NoteEvent:
    """One note to play: start and end in seconds, MIDI pitch, velocity (1-127)."""

    start: float
    end: float
    pitch: int
    velocity: int


@dataclass(frozen=True)
class LentInstrument:
    """A renderer of notes and what it is, for provenance (``{"model": …, "seed": …}``)."""

    render: Callable[[list[NoteEvent]], tuple[np.ndarray, int]]  # → (mono samples, rate)
    record: dict


Loader = Callable[[str], LentInstrument | None]
_LOADERS: list[Loader] = []


def register_instrument_loader(loader: Loader) -> None:
    """Add ``loader(name)``: the instrument ``name`` means, or None when it means none of
    this loader's."""
    if loader not in _LOADERS:
        _LOADERS.append(loader)


def find_instrument(name: str) -> LentInstrument | None:
    """The instrument some registered loader makes of ``name``, or None."""
    load_all()
    for loader in _LOADERS:
        found = loader(name)
        if found is not None:
            return found
    return None
