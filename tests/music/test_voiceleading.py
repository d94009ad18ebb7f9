"""Voice-leading counts: planted errors are found, a clean progression scores zero."""

from __future__ import annotations

import pytest

from museforge.errors import InputError
from museforge.music.score import Note, Part, Piece
from museforge.music.voiceleading import bach_rates, count_errors, rates

PARTS = tuple(Part(n) for n in ("soprano", "alto", "tenor", "bass"))
# I – IV – V – I in C with textbook voice leading (S, A, T, B per chord).
CLEAN = [(72, 67, 64, 48), (72, 69, 65, 53), (71, 67, 62, 55), (72, 67, 64, 48)]


def chorale(chords: list[tuple[int, ...]], length: float = 1.0) -> Piece:
    notes = [
        Note(p, i * length, length, part=v)
        for i, chord in enumerate(chords)
        for v, p in enumerate(chord)
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
