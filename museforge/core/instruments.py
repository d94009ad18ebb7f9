"""Instruments one modality lends another: a name that renders notes to samples; and
readers that hear a file as samples (a MIDI file rendered, a recording decoded).

A modality that makes sounds registers a loader; a modality that writes music asks for an
instrument by the name a user gave (``--instrument gm-notes@3``) and, when some loader
knows it, renders its notes with it instead of a General MIDI program. The two never
import each other: they meet here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from museforge.core.registry import load_all
from museforge.errors import InputError


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


# --- files heard as sound ---------------------------------------------------------------
# A modality that can turn some files into samples registers a reader for their suffixes
# (music: MIDI and scores, rendered; sound: recordings, decoded); another (visualise) asks
# here for whatever file the user gave.
AudioReader = Callable[[Path, int], np.ndarray]  # (file, rate) → mono float samples
_READERS: dict[str, AudioReader] = {}


def register_audio_reader(suffixes: Iterable[str], reader: AudioReader) -> None:
    """Read files with these suffixes (".mid", …) as mono samples with ``reader``."""
    for suffix in suffixes:
        _READERS[suffix.lower()] = reader


def read_as_audio(path: str | Path, rate: int) -> np.ndarray:
    """The file at ``path`` heard as mono samples at ``rate``, by the reader registered for
    its suffix; a one-line InputError when no modality reads it."""
    load_all()
    path = Path(path)
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        known = ", ".join(sorted(_READERS)) or "none"
        raise InputError(f"'{path}' is not music or a recording museforge reads ({known})")
    return reader(path, rate)
