"""Instruments by name or General MIDI number, for every part or for each part of a piece.

A spec is one instrument for all parts (``flute``, ``73``), one per part in order
(``violin,viola,cello,contrabass``) or parts by name, initial or number
(``soprano=oboe,bass=bassoon``, ``s=oboe``, ``1=trumpet``); parts not named keep their
instrument. Names are resolved by music21 (``cello``, ``french horn``, ``choir``…).

A spec may instead name an instrument another modality lends (a sound model,
``gm-notes@3``: see :mod:`museforge.core.instruments`): it plays every part in the WAV,
while the MIDI and the score keep their General MIDI programs.
"""

from __future__ import annotations

from dataclasses import replace

from museforge.core.instruments import LentInstrument, find_instrument
from museforge.errors import InputError
from museforge.music.score import Part

EXAMPLES = "flute, violin, cello, piano, choir, oboe, trumpet"
HELP = (  # the instrument setting of every music verb
    "a name or General MIDI number for every part (flute, 73), one per part "
    "(violin,viola,cello,contrabass) or by part (soprano=oboe,bass=bassoon); or a sound "
    "model's learned instrument for the audio (gm-notes@3: model and seed)"
)


def lent_instrument(spec: str | int | None) -> LentInstrument | None:
    """The instrument another modality lends under ``spec`` (a sound model), or None for
    General MIDI names, numbers and part lists."""
    if not isinstance(spec, str) or not spec.strip() or "," in spec or "=" in spec:
        return None
    if spec.strip().isdigit():
        return None
    return find_instrument(spec.strip())


def program_of(text: str) -> int:
    """The General MIDI program (0-127) of an instrument name or number."""
    name = text.strip()
    if name.isdigit():
        program = int(name)
        if not 0 <= program <= 127:
            raise InputError(f"instrument {program} is not a General MIDI program (0-127)")
        return program
    from music21 import instrument

    try:
        found = instrument.fromString(name) if name else None
    except instrument.InstrumentException:
        found = None
    program = getattr(found, "midiProgram", None)
    if program is None:
        raise InputError(
            f"unknown instrument '{name}'; give a General MIDI number 0-127, a name such as "
            f"{EXAMPLES}, or a sound model (MODEL@SEED)"
        )
    return int(program)


def assign(spec: str | int | None, parts: tuple[Part, ...]) -> tuple[Part, ...]:
    """``parts`` with the instruments of ``spec`` (None: unchanged)."""
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        return parts
    if isinstance(spec, int):
        spec = str(spec)
    items = [item.strip() for item in spec.split(",")]
    if "" in items:
        raise InputError(f"instrument '{spec}' has an empty entry")
    if not any("=" in item for item in items):
        if len(items) == 1:
            if lent_instrument(items[0]) is not None:
                return parts  # it plays the audio; the notation keeps its programs
            program = program_of(items[0])
            return tuple(replace(p, program=program) for p in parts)
        if len(items) != len(parts):
            names = ", ".join(p.name for p in parts)
            raise InputError(
                f"instrument lists {len(items)} instruments for {len(parts)} parts ({names}); "
                "give one, one per part, or name them: soprano=oboe"
            )
        return tuple(replace(p, program=program_of(i)) for p, i in zip(parts, items, strict=True))
    chosen = list(parts)
    for item in items:
        if "=" not in item:
            raise InputError(f"instrument: '{item}' needs a part, as in soprano={item}")
        part, _, name = (s.strip() for s in item.partition("="))
        index = _part_index(part, parts)
        chosen[index] = replace(chosen[index], program=program_of(name))
    return tuple(chosen)


def _part_index(name: str, parts: tuple[Part, ...]) -> int:
    """The index of a part named ``name`` (case-insensitive), by its initial when that is
    unambiguous (``s`` for soprano, as in infill's ``--voices satb``), or numbered from 1."""
    if name.isdigit() and 1 <= int(name) <= len(parts):
        return int(name) - 1
    lowered = [part.name.lower() for part in parts]
    if name.lower() in lowered:
        return lowered.index(name.lower())
    if len(name) == 1:
        initials = [i for i, part in enumerate(lowered) if part[:1] == name.lower()]
        if len(initials) == 1:
            return initials[0]
    names = ", ".join(p.name for p in parts)
    numbers = "1" if len(parts) == 1 else f"1-{len(parts)}"
    raise InputError(f"instrument: no part '{name}' (the parts are {names}, or {numbers})")
