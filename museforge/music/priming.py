"""How a music LM's piece begins: priming tokens and the parts that play it.

Priming comes from a MIDI/MusicXML/ABC file or a few typed notes in music21's
TinyNotation (``"c4 d8 e f g2"``); key and time signature become the first tokens, so a
model trained with transposition learns to follow them.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from museforge.core.artifact import LoadedModel
from museforge.errors import InputError
from museforge.music import instruments, tokens
from museforge.music.corpus import piece_from_music21, read_music_file
from museforge.music.score import Key, Part, Piece

VOICES = ("soprano", "alto", "tenor", "bass")
METER_NAMES = tuple(f"{n}/{d}" for n, d in tokens.METERS)  # "3/4", … as users type them


def parse_meter(text: str | None) -> tuple[int, int] | None:
    """``"3/4"`` as (3, 4), None for nothing; an InputError for a meter without tokens."""
    if text is None or text == "":
        return None
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
    meter = (int(match[1]), int(match[2])) if match else None
    if meter not in tokens.METERS:
        raise InputError(f"time signature {text!r} is not one of {', '.join(METER_NAMES)}")
    return meter


def _typed_notes(notes: str) -> Piece:
    """A few notes typed in TinyNotation (``c4 d8 e f g2``; ``c'`` is an octave up)."""
    import music21

    text = notes.strip()
    if not text.lower().startswith("tinynotation:"):
        text = "tinyNotation: " + text
    try:
        stream = music21.converter.parse(text)
        if not hasattr(stream, "parts") or not stream.parts:  # TinyNotation gives one Part
            stream = music21.stream.Score([stream])
        piece = piece_from_music21(stream)
    except Exception as err:  # music21 raises many types for bad notation
        raise InputError(f"cannot read the typed notes {notes!r} ({err})") from None
    if not piece.notes:
        raise InputError(f"the typed notes {notes!r} hold no notes")
    return piece


def prime_tokens(
    loaded: LoadedModel,
    prime_file: str | Path | None,
    notes: str | None,
    key: Key | None,
    meter: tuple[int, int] | None,
) -> tuple[list[int], str | None]:
    """Priming tokens (BOS first, no EOS) and a description of the source."""
    poly = loaded.model.cfg.polyphonic
    if prime_file and notes:
        raise InputError("prime from a file or from typed notes, not both")
    piece, source = None, None
    if prime_file:
        if not Path(prime_file).exists():
            raise InputError(
                f"priming file '{prime_file}' does not exist "
                "(typed notes go in the notes setting, e.g. 'c4 d8 e f g2')"
            )
        piece, source = read_music_file(Path(prime_file)), str(prime_file)
    elif notes:
        piece, source = _typed_notes(notes), f"notes:{notes}"
    if piece is None:
        ids = [tokens.BOS]
        if meter is not None or key is not None:  # a key needs a meter before it: 4/4
            ids.append(tokens.meter_token(meter or (4, 4)))
        if key is not None:
            ids.append(tokens.key_token(key))
        return ids, None
    if key is not None:
        piece = piece.transpose(((key.tonic - piece.key.tonic + 6) % 12) - 6)
        piece = dataclasses.replace(piece, key=Key(piece.key.tonic, key.mode))
    if meter is not None:
        piece = dataclasses.replace(piece, time_signature=meter)
    ids = tokens.encode(piece, polyphonic=poly, end=False)
    return ids, source


def parts_for(loaded: LoadedModel, instrument: str | int | None) -> tuple[Part, ...]:
    """The parts a sample is played by: four choir voices or one melody instrument, with
    the instruments of ``instrument`` (see :mod:`museforge.music.instruments`)."""
    if loaded.model.cfg.polyphonic:
        parts = tuple(Part(v, 52) for v in VOICES)  # choir aahs
    else:
        parts = (Part("melody", 73),)  # flute
    return instruments.assign(instrument, parts)
