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

The same definitions also *prevent* errors: :func:`allowed_pitches` is the rule mask the
chorale sampler applies when it chooses a voice's pitch in one chord, given its
neighbours (the model proposes, the rules veto, like a harmony teacher marking a
student's exercise). Both go through :func:`parallel_motion`, :func:`crosses` and
:func:`out_of_range`, so what the sampler forbids is exactly what the counter counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from itertools import combinations, pairwise

import numpy as np

from museforge.errors import InputError
from museforge.music.score import STEP, Piece

VOICE_NAMES = ("soprano", "alto", "tenor", "bass")
# Customary choral ranges: S C4–A5, A G3–D5, T C3–A4, B C2–E4.
RANGES = {"soprano": (60, 81), "alto": (55, 74), "tenor": (48, 69), "bass": (36, 64)}
ERRORS = ("parallel_fifths", "parallel_octaves", "crossings", "out_of_range")
# Interval classes (semitones modulo 12) two voices may not keep while both move.
PARALLELS = {7: "parallel_fifths", 0: "parallel_octaves"}

Chord = Sequence[int | None]  # the four voices' pitches, S A T B; None = rest


def interval_class(a, b):
    """Semitones between two pitches modulo 12 (compound intervals fold); works on arrays."""
    return abs(a - b) % 12


def parallel_motion(pi: int, pj: int, ci: int, cj: int) -> str | None:
    """The error (a name of :data:`ERRORS`) when voices i and j both move from ``pi``/``pj``
    to ``ci``/``cj`` keeping a fifth or an octave/unison; None otherwise."""
    if pi == ci or pj == cj:
        return None  # a held voice is no parallel motion
    before, after = interval_class(pi, pj), interval_class(ci, cj)
    return PARALLELS.get(before) if before == after else None


def crosses(upper, lower):
    """Whether the lower voice sounds above the upper one; works on arrays."""
    return lower > upper


def out_of_range(voice: int, pitch):
    """Whether ``pitch`` lies outside voice ``voice``'s range (0 = soprano); works on arrays."""
    low, high = RANGES[VOICE_NAMES[voice]]
    return (pitch < low) | (pitch > high)


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
            outside += pitch is not None and bool(out_of_range(v, pitch))
        for v in range(3):
            upper, lower = chord[v], chord[v + 1]
            crossings += upper is not None and lower is not None and bool(crosses(upper, lower))
    for prev, cur in pairwise(seq):
        for i, j in combinations(range(4), 2):
            pi, pj, ci, cj = prev[i], prev[j], cur[i], cur[j]
            if None in (pi, pj, ci, cj):
                continue  # a resting voice is no parallel motion
            error = parallel_motion(pi, pj, ci, cj)
            fifths += error == "parallel_fifths"
            octaves += error == "parallel_octaves"
    return VoiceLeadingCounts(len(seq), fifths, octaves, crossings, outside)


def allowed_pitches(
    voice: int, candidates: np.ndarray, prev: Chord | None, cur: Chord, nxt: Chord | None
) -> np.ndarray:
    """The rule mask for one cell: which ``candidates`` (MIDI pitches) voice ``voice`` may
    sound in chord ``cur`` without an error :func:`count_errors` would count, given the
    other voices' current pitches there and in the chords before (``prev``) and after
    (``nxt``; None at either end). ``cur[voice]`` itself is ignored.

    Forbidden: leaving the voice's range; crossing an adjacent voice in ``cur``; moving in
    parallel fifths or octaves/unisons with any other voice from ``prev`` or into ``nxt``
    (only where that voice moves too, and nobody involved rests). A pure function of its
    arguments; the caller decides what to do when nothing is allowed.
    """
    cand = np.asarray(candidates)
    bad = out_of_range(voice, cand)
    if voice > 0 and cur[voice - 1] is not None:
        bad |= crosses(cur[voice - 1], cand)
    if voice < len(cur) - 1 and cur[voice + 1] is not None:
        bad |= crosses(cand, cur[voice + 1])
    for other in (prev, nxt):
        if other is None or other[voice] is None:
            continue
        for w, now in enumerate(cur):
            then = other[w]
            if w == voice or now is None or then is None or now == then:
                continue  # the other voice rests or holds: no parallel motion with it
            error_class = interval_class(other[voice], then)
            if error_class not in PARALLELS:
                continue
            # parallel_motion over every candidate at once (the test is symmetric in time):
            # this voice moves too, and the interval class stays a fifth or an octave.
            bad |= (cand != other[voice]) & (interval_class(cand, now) == error_class)
    return ~bad


def rates(pieces: list[Piece]) -> dict[str, float]:
    """Errors per 100 chords over all ``pieces`` together (see the module docstring)."""
    total = VoiceLeadingCounts()
    for piece in pieces:
        total = total + count_errors(piece)
    return total.per_100()


def bach_rates(pieces: list[Piece]) -> dict[str, float]:
    """The same rates measured on reference chorales (Bach's own four-part settings)."""
    return rates(pieces)
