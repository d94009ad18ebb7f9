"""Voice-leading counts: planted errors are found, a clean progression scores zero; the rule
mask forbids exactly what the counter counts."""

from __future__ import annotations

import numpy as np
import pytest

from museforge.errors import InputError
from museforge.music.score import Note, Part, Piece
from museforge.music.voiceleading import allowed_pitches, bach_rates, count_errors, rates

PARTS = tuple(Part(n) for n in ("soprano", "alto", "tenor", "bass"))
# I – IV – V – I in C with textbook voice leading (S, A, T, B per chord).
CLEAN = [(72, 67, 64, 48), (72, 69, 65, 53), (71, 67, 62, 55), (72, 67, 64, 48)]


def chorale(chords: list[tuple[int | None, ...]], length: float = 1.0) -> Piece:
    notes = [
        Note(p, i * length, length, part=v)
        for i, chord in enumerate(chords)
        for v, p in enumerate(chord)
        if p is not None
    ]
    return Piece(tuple(notes), PARTS)


def test_clean_progression_has_no_errors():
    counts = count_errors(chorale(CLEAN))
    assert counts.chords == 4
    assert counts.total == 0
    assert rates([chorale(CLEAN)])["total"] == 0.0


def test_held_soprano_is_one_note_but_still_four_chords():
    piece = chorale(CLEAN)
    notes = [n for n in piece.notes if not (n.part == 0 and n.start == 1.0)]
    notes = [Note(72, 0.0, 2.0, part=0) if (n.part, n.start) == (0, 0.0) else n for n in notes]
    assert count_errors(Piece(tuple(notes), PARTS)).chords == 4


def test_planted_parallel_fifth():
    # Soprano and alto move C5/F4 -> D5/G4 (a fifth twice); tenor and bass hold.
    counts = count_errors(chorale([(72, 65, 60, 48), (74, 67, 60, 48)]))
    assert counts.parallel_fifths == 1
    assert counts.parallel_octaves == 0


def test_planted_parallel_octave_and_compound_fifth():
    # Every voice up a tone: S-A and T-B move in octaves; S-T (a 12th), S-B (a 19th + 12),
    # A-T (a fifth) and A-B (a 19th) in fifths, compound ones included.
    counts = count_errors(chorale([(79, 67, 60, 48), (81, 69, 62, 50)]))
    assert counts.parallel_octaves == 2
    assert counts.parallel_fifths == 4


def test_held_voice_is_not_parallel_motion():
    # The fifth C5/F4 stays but only the alto moves: no parallel.
    counts = count_errors(chorale([(72, 65, 60, 53), (72, 65, 59, 55)]))
    assert counts.parallel_fifths == 0


def test_crossing_and_range():
    counts = count_errors(chorale([(65, 67, 60, 48)]))  # alto above soprano
    assert counts.crossings == 1
    outside = count_errors(chorale([(84, 67, 60, 30)]))  # soprano and bass out of range
    assert outside.out_of_range == 2
    per_100 = bach_rates([chorale([(84, 67, 60, 30)])])
    assert per_100["out_of_range"] == 200.0 and per_100["chords"] == 1


def test_needs_four_parts():
    with pytest.raises(InputError, match="four parts"):
        count_errors(Piece((Note(60, 0.0, 1.0),)))


PITCHES = np.arange(30, 90)


def allowed(voice, prev, cur, nxt=None) -> set[int]:
    return set(PITCHES[allowed_pitches(voice, PITCHES, prev, cur, nxt)].tolist())


def test_mask_forbids_a_planted_parallel_fifth_and_octave():
    # Soprano C5 -> D5 over an alto F4: the alto may not go to G4 (nor G3: a compound fifth).
    prev, cur = (72, 65, 60, 48), (74, None, 60, 48)
    ok = allowed(1, prev, cur)
    assert 67 not in ok and 65 in ok and 69 in ok  # held F4 and A4 are clean
    # Into the next chord: tenor C4 -> D4 while the bass moves C3 -> D3 is an octave.
    cur, nxt = (72, 65, None, 48), (72, 65, 62, 50)
    ok = allowed(2, None, cur, nxt)
    assert 60 not in ok and 64 in ok and 57 in ok
    # A held bass is no parallel: the same move is allowed.
    assert 60 in allowed(2, None, cur, (72, 65, 62, 48))


def test_mask_forbids_crossing_and_leaving_the_range():
    cur = (67, None, 60, 48)
    ok = allowed(1, None, cur)
    assert ok == set(range(60, 68))  # between tenor and soprano, unisons included
    assert min(allowed(3, None, (72, 67, 60, None))) == 36  # the bass's range floor
    assert max(allowed(0, None, (None, 67, 60, 48))) == 81  # the soprano's ceiling
    assert not allowed(1, None, (50, None, 40, 36))  # everything vetoed: the caller decides


def test_mask_agrees_with_the_counter():
    """A pitch is allowed exactly when placing it adds no error that count_errors counts."""
    rng = np.random.default_rng(0)
    for _ in range(40):
        grid = [[int(p) for p in rng.integers(44, 80, 4)] for _ in range(3)]
        grid = [[None if rng.random() < 0.1 else p for p in chord] for chord in grid]
        voice = int(rng.integers(0, 4))
        grid[0][voice] = int(rng.integers(44, 80))  # this voice sounds around the cell
        grid[2][voice] = int(rng.integers(44, 80))
        prev, cur, nxt = (tuple(c) for c in grid)
        mask = allowed_pitches(voice, PITCHES, prev, cur, nxt)
        # Each chord keeps one struck voice so that resting the cell leaves three chords.
        if all(p is None for v, p in enumerate(cur) if v != voice):
            continue
        without = (*cur[:voice], None, *cur[voice + 1 :])
        base = count_errors(chorale([prev, without, nxt])).total
        for pitch, ok in zip(PITCHES.tolist(), mask.tolist(), strict=True):
            placed = (*cur[:voice], pitch, *cur[voice + 1 :])
            assert ok == (count_errors(chorale([prev, placed, nxt])).total == base)
