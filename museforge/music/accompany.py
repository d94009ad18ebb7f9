"""Accompaniment from chord symbols: a piano part under a melody in a chosen pattern.

Each chord is voiced in the middle register (C3–G4) as close as possible to the chord
before it (the smallest total movement, as a pianist would), with its root in the bass
(C2–B2). Patterns, per beat of the piece:

- ``block``: bass and chord struck together on every beat of the chord;
- ``arpeggio``: bass, then the chord's tones up and down in quavers;
- ``waltz``: bass on the bar's first beat, the chord on the others (oom-pah-pah);
- ``alberti``: lowest, highest, middle, highest in quavers;
- ``strum``: root and fifth in the bass on alternate strong beats, the chord between
  (a folk guitar's boom-chick).
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Annotated

from museforge.core.verbs import Param
from museforge.errors import InputError
from museforge.music.chords import beat_length, beats_per_bar, chords_by_rule
from museforge.music.score import QUALITIES, Chord, Note, Part, Piece

PATTERNS = ("block", "arpeggio", "waltz", "alberti", "strum")
Accompany = Annotated[
    str, Param("add a piano accompaniment in this pattern ('' for none)", choices=("", *PATTERNS))
]
LOW, HIGH = 48, 67  # the chord's register
BASS_LOW = 36
VELOCITY = 62  # under the melody


def _voicings(chord: Chord) -> list[tuple[int, ...]]:
    """Every close-ish voicing of the chord's tones (one of each) within LOW..HIGH."""
    tones = [(chord.root + i) % 12 for i in QUALITIES[chord.quality][0]]
    choices = [[p for p in range(LOW, HIGH + 1) if p % 12 == t] for t in tones]
    out = []
    for combo in itertools.product(*choices):
        ordered = tuple(sorted(combo))
        if ordered[-1] - ordered[0] <= 12:  # within an octave: a hand's reach
            out.append(ordered)
    return out


def voice(chords: tuple[Chord, ...]) -> list[tuple[int, ...]]:
    """A voicing per chord, each the nearest to the one before (the first: the lowest
    centred on the register's middle)."""
    out: list[tuple[int, ...]] = []
    for chord in chords:
        options = _voicings(chord)
        if not out:
            middle = (LOW + HIGH) / 2
            out.append(min(options, key=lambda v: (abs(sum(v) / len(v) - middle), v)))
            continue
        before = out[-1]

        def movement(v: tuple[int, ...], before: tuple[int, ...] = before) -> tuple[float, tuple]:
            moved = sum(min(abs(p - q) for q in before) for p in v)
            return moved + abs(len(v) - len(before)), v

        out.append(min(options, key=movement))
    return out


def _bass(chord: Chord, fifth: bool = False) -> int:
    pc = (chord.root + (7 if fifth else 0)) % 12
    return BASS_LOW + (pc - BASS_LOW) % 12


def _pattern(
    pattern: str,
    chord: Chord,
    voicing: tuple[int, ...],
    beat: float,
    beat_in_bar: int,
) -> list[tuple[float, float, list[int]]]:
    """(offset in the beat, length, pitches) struck in one beat of ``chord``."""
    half = beat / 2
    if pattern == "block":
        return [(0.0, beat, [_bass(chord), *voicing])]
    if pattern == "arpeggio":
        cycle = [_bass(chord), *voicing, *reversed(voicing[1:-1])]
        first = (beat_in_bar * 2) % len(cycle)
        return [(0.0, half, [cycle[first]]), (half, half, [cycle[(first + 1) % len(cycle)]])]
    if pattern == "waltz":
        if beat_in_bar == 0:
            return [(0.0, beat, [_bass(chord)])]
        return [(0.0, beat, list(voicing))]
    if pattern == "alberti":
        low, top, mid = voicing[0], voicing[-1], voicing[len(voicing) // 2]
        pair = [low, top] if beat_in_bar % 2 == 0 else [mid, top]
        return [(0.0, half, [pair[0]]), (half, half, [pair[1]])]
    if beat_in_bar % 2 == 0:  # strum: boom on strong beats, alternating root and fifth
        return [(0.0, beat, [_bass(chord, fifth=(beat_in_bar // 2) % 2 == 1)])]
    return [(0.0, beat, list(voicing))]


def accompany(piece: Piece, pattern: str, program: int = 0) -> Piece:
    """``piece`` with an accompaniment part from its chord symbols in ``pattern``."""
    if pattern not in PATTERNS:
        raise InputError(f"accompaniment pattern must be one of {', '.join(PATTERNS)}")
    if not piece.chords:
        raise InputError("an accompaniment needs chords: the piece has no chord symbols")
    beat = beat_length(piece)
    per_bar = beats_per_bar(piece)
    part = len(piece.parts)
    notes = []
    for chord, voicing in zip(piece.chords, voice(piece.chords), strict=True):
        t = chord.start
        while t < chord.start + chord.duration - 1e-9:
            beat_in_bar = round(t / beat) % per_bar
            for offset, length, pitches in _pattern(pattern, chord, voicing, beat, beat_in_bar):
                start = t + offset
                end = min(start + length, chord.start + chord.duration)
                if end > start:
                    notes += [Note(p, start, end - start, VELOCITY, part) for p in pitches]
            t += beat
    parts = (*piece.parts, Part("accompaniment", program))
    return replace(piece, notes=piece.notes + tuple(notes), parts=parts)


def accompanied(piece: Piece, pattern: str) -> Piece:
    """``piece`` with chords from the key-aware rule (at half bars) and an accompaniment
    playing them in ``pattern`` ('' leaves the piece as it is)."""
    return accompany(chords_by_rule(piece), pattern) if pattern else piece
