"""Chorales as grids: pieces ↔ pitch grids ↔ class grids, and training windows.

Grid ↔ piece: a held pitch spans several cells. Going back, a new note starts where the
pitch changes, or where an ``onsets`` grid says one starts (the original note boundaries,
so a piece round-trips exactly, repeated notes included). Cells the model wrote have no
original boundaries; there a held pitch is re-struck on a beat where a given voice starts
a note (chorales are mostly homorhythmic), see :func:`generated_onsets`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from museforge.music.coconet.network import VOICES, CoconetConfig
from museforge.music.corpus import CHORALE_PARTS
from museforge.music.score import STEP, Note, Piece
from museforge.music.tokens import bar_steps

REST = -1  # a rest in a pitch grid


def piece_to_grid(piece: Piece, voices: int = VOICES) -> tuple[np.ndarray, np.ndarray]:
    """(pitches, onsets), each ``voices × steps``: the MIDI pitch sounding in every
    sixteenth (REST = -1) and whether a note starts there. Parts past ``voices`` are
    ignored; where notes of one part overlap, the later (then higher) one wins."""
    q = piece.quantised()
    length = round(q.end / STEP)
    pitches = np.full((voices, length), REST, dtype=np.int16)
    onsets = np.zeros((voices, length), dtype=bool)
    for note in q.sorted_notes():
        if note.part >= voices:
            continue
        a = round(note.start / STEP)
        pitches[note.part, a : a + round(note.duration / STEP)] = note.pitch
        onsets[note.part, a] = True
    return pitches, onsets


def grid_to_piece(
    pitches: np.ndarray, onsets: np.ndarray | None, template: Piece, velocity: int = 80
) -> Piece:
    """The piece a pitch grid describes, with ``template``'s meter, key, tempo and title.
    A note starts where the pitch changes or ``onsets`` is set."""
    notes = []
    voices, length = pitches.shape
    for v in range(voices):
        start, current = 0, REST
        for t in range(length + 1):
            pitch = int(pitches[v, t]) if t < length else REST
            struck = onsets is not None and t < length and bool(onsets[v, t])
            if pitch != current or (pitch != REST and struck):
                if current != REST:
                    notes.append(Note(current, start * STEP, (t - start) * STEP, velocity, v))
                start, current = t, pitch
    parts = template.parts if len(template.parts) == voices else CHORALE_PARTS[:voices]
    return replace(template, notes=tuple(notes), parts=parts)


def generated_onsets(pitches: np.ndarray, onsets: np.ndarray, written: np.ndarray) -> np.ndarray:
    """Onsets for a grid some of whose cells the model ``written``: original onsets where
    kept; in written cells a held pitch is re-struck on a beat (every 4 sixteenths) where
    any kept voice starts a note, so inner voices move with the melody as in a chorale."""
    result = onsets & ~written
    kept_strikes = (onsets & ~written).any(axis=0)
    beats = np.arange(pitches.shape[1]) % 4 == 0
    restrike = written & (kept_strikes & beats)[None, :] & (pitches != REST)
    return result | restrike


def to_classes(pitches: np.ndarray, cfg: CoconetConfig) -> np.ndarray:
    """Class indices (pitch - low; rest = classes - 1); raises ValueError out of range."""
    sounding = pitches != REST
    if sounding.any() and (pitches[sounding].min() < cfg.low or pitches[sounding].max() > cfg.high):
        lo, hi = int(pitches[sounding].min()), int(pitches[sounding].max())
        raise ValueError(f"pitches {lo}..{hi} leave the model's range {cfg.low}..{cfg.high}")
    return np.where(sounding, pitches - cfg.low, cfg.classes - 1).astype(np.int64)


def from_classes(classes: np.ndarray, cfg: CoconetConfig) -> np.ndarray:
    return np.where(classes == cfg.classes - 1, REST, classes + cfg.low).astype(np.int16)


def bar_positions(piece: Piece, length: int) -> np.ndarray:
    """Each step's position in its bar, in sixteenths (bar 1 starts at time 0)."""
    return np.arange(length) % bar_steps(piece.time_signature)


def piece_windows(
    pieces: list[Piece], cfg: CoconetConfig, shifts: tuple[int, ...] = (0,)
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every window of ``cfg.window`` steps starting on a bar line (plus one flush with the
    end) of every four-part piece, in every transposition of ``shifts`` (semitones) that
    stays in the model's range: classes [N, 4, T] (uint8) and bar positions [N, T].
    Transposing windows, not pieces, keeps building the training set to seconds."""
    xs, ps = [], []
    for piece in pieces:
        pitches, _ = piece_to_grid(piece)
        length, window = pitches.shape[1], cfg.window
        if length == 0:
            continue
        if length < window:
            pitches = np.pad(pitches, ((0, 0), (0, window - length)), constant_values=REST)
        bar = bar_steps(piece.time_signature)
        pos = np.arange(max(length, window)) % bar
        starts = sorted({*range(0, max(length - window, 0) + 1, bar), max(length - window, 0)})
        for s in starts:
            cut = pitches[:, s : s + window]
            sounding = cut[cut != REST]
            if not sounding.size:
                continue
            for shift in shifts:
                if cfg.low <= sounding.min() + shift and sounding.max() + shift <= cfg.high:
                    xs.append(to_classes(np.where(cut == REST, REST, cut + shift), cfg))
                    ps.append(pos[s : s + window])
    if not xs:
        empty = torch.zeros(0, VOICES, cfg.window, dtype=torch.uint8)
        return empty, torch.zeros(0, cfg.window, dtype=torch.long)
    x = torch.from_numpy(np.stack(xs).astype(np.uint8))
    return x, torch.from_numpy(np.stack(ps)).long()
