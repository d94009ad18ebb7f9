"""Voice-leading errors of four-part writing, counted per 100 chords.

The same counter scores a model's harmonisations and Bach's own chorales, so the two
rates are comparable. Definitions (deliberately simple and strict):

- a *chord* is each sixteenth step at which any voice starts a note (an onset), with the
  pitch every voice sounds there (the highest, should a voice hold two notes);
- *parallel fifths* / *parallel octaves*: two voices both move between consecutive
  chords, and the interval between them is a fifth (7 semitones modulo 12), respectively an
  octave or unison (0 modulo 12), in both chords; compound intervals count, contrary
  motion counts too (consecutive fifths and octaves of the textbooks);
- *crossing*: an adjacent pair of voices in a chord where the lower voice sounds above
  the upper one (S < A, A < T or T < B);
- *out of range*: a voice in a chord outside its range (``RANGES``, MIDI numbers).

Chords where a voice rests skip the checks involving that voice.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import combinations, pairwise

from museforge.errors import InputError
from museforge.music.score import STEP, Piece

VOICE_NAMES = ("soprano", "alto", "tenor", "bass")
# Customary choral ranges: S C4–A5, A G3–D5, T C3–A4, B C2–E4.
RANGES = {"soprano": (60, 81), "alto": (55, 74), "tenor": (48, 69), "bass": (36, 64)}
ERRORS = ("parallel_fifths", "parallel_octaves", "crossings", "out_of_range")


@dataclass(frozen=True)
class VoiceLeadingCounts:
    """Raw counts of each error and the number of chords they were found in."""

    chords: int = 0
    parallel_fifths: int = 0
    parallel_octaves: int = 0
    crossings: int = 0
    out_of_range: int = 0

    @property
    def total(self) -> int:
        return sum(getattr(self, name) for name in ERRORS)

    def __add__(self, other: VoiceLeadingCounts) -> VoiceLeadingCounts:
        a, b = asdict(self), asdict(other)
        return VoiceLeadingCounts(**{k: a[k] + b[k] for k in a})

    def per_100(self) -> dict[str, float]:
        """Every error (and ``total``) per 100 chords, plus the chord count."""
        scale = 100.0 / max(self.chords, 1)
        rates = {name: getattr(self, name) * scale for name in ERRORS}
        return {**rates, "total": self.total * scale, "chords": self.chords}


def chords(piece: Piece) -> list[tuple[int | None, ...]]:
    """The four voices' pitches (None = rest) at every onset, in time order."""
    if len(piece.parts) < 4:
        raise InputError(
            f"voice leading needs four parts (S, A, T, B); '{piece.title}' has {len(piece.parts)}"
        )
    sounding: dict[int, list[int | None]] = {}
    spans = []
    for note in piece.notes:
        if note.part >= 4:
            continue
        a = round(note.start / STEP)
        b = max(a + 1, round((note.start + note.duration) / STEP))
        spans.append((a, b, note))
    onsets = sorted({a for a, _, _ in spans})
    for t in onsets:
        sounding[t] = [None] * 4
    for a, b, note in spans:
        for t in onsets:  # few notes per chorale: a plain scan is fast enough
            if a <= t < b:
                current = sounding[t][note.part]
                sounding[t][note.part] = note.pitch if current is None else max(current, note.pitch)
    return [tuple(sounding[t]) for t in onsets]


def count_errors(piece: Piece) -> VoiceLeadingCounts:
    """Count every error of a four-part ``piece`` (parts in S, A, T, B order)."""
    seq = chords(piece)
    fifths = octaves = crossings = outside = 0
    for chord in seq:
        for v, pitch in enumerate(chord):
            low, high = RANGES[VOICE_NAMES[v]]
            if pitch is not None and not low <= pitch <= high:
                outside += 1
        for v in range(3):
            upper, lower = chord[v], chord[v + 1]
            if upper is not None and lower is not None and lower > upper:
                crossings += 1
    for prev, cur in pairwise(seq):
        for i, j in combinations(range(4), 2):
            pi, pj, ci, cj = prev[i], prev[j], cur[i], cur[j]
            if None in (pi, pj, ci, cj) or pi == ci or pj == cj:
                continue  # a resting or a held voice is no parallel motion
            before, after = abs(pi - pj) % 12, abs(ci - cj) % 12
            fifths += before == after == 7
            octaves += before == after == 0
    return VoiceLeadingCounts(len(seq), fifths, octaves, crossings, outside)


def rates(pieces: list[Piece]) -> dict[str, float]:
    """Errors per 100 chords over all ``pieces`` together (see the module docstring)."""
    total = VoiceLeadingCounts()
    for piece in pieces:
        total = total + count_errors(piece)
    return total.per_100()


def bach_rates(pieces: list[Piece]) -> dict[str, float]:
    """The same rates measured on reference chorales (Bach's own four-part settings)."""
    return rates(pieces)
