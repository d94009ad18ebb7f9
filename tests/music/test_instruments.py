"""Instrument specs: one for all parts, one per part, by part name or number; bad specs
are one-line errors naming what is wrong."""

from __future__ import annotations

import pytest

from museforge.errors import InputError
from museforge.music.instruments import assign, program_of
from museforge.music.score import Part

SATB = tuple(Part(n, 52) for n in ("soprano", "alto", "tenor", "bass"))


def programs(parts: tuple[Part, ...]) -> list[int]:
    return [p.program for p in parts]


def test_names_and_numbers_resolve_to_general_midi_programs():
    assert program_of("flute") == 73
    assert program_of("Violin") == 40
    assert program_of(" 19 ") == 19


def test_one_instrument_sets_every_part_and_none_keeps_them():
    assert programs(assign("cello", SATB)) == [42] * 4
    assert programs(assign(0, SATB)) == [0] * 4
    assert assign(None, SATB) == SATB and assign("  ", SATB) == SATB


def test_a_list_sets_one_per_part_in_order():
    parts = assign("violin, viola, cello, contrabass", SATB)
    assert programs(parts) == [40, 41, 42, 43]
    assert [p.name for p in parts] == ["soprano", "alto", "tenor", "bass"]


def test_named_or_numbered_parts_change_only_those():
    assert programs(assign("Soprano=oboe,bass=bassoon", SATB)) == [68, 52, 52, 70]
    assert programs(assign("2=clarinet", SATB)) == [52, 71, 52, 52]
    assert programs(assign("s=oboe,B=bassoon", SATB)) == [68, 52, 52, 70]


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("kazoophone", "unknown instrument 'kazoophone'"),
        ("200", "not a General MIDI program"),
        ("violin,viola", "2 instruments for 4 parts"),
        ("descant=flute", "no part 'descant'"),
        ("5=flute", "no part '5'"),
        ("x=flute", "no part 'x'"),
        ("flute,,oboe", "empty entry"),
        ("soprano=oboe,viola", "needs a part"),
    ],
)
def test_bad_specs_are_one_line_errors(spec, needle):
    with pytest.raises(InputError, match=needle) as info:
        assign(spec, SATB)
    assert "\n" not in str(info.value)
