"""Lead sheets from the music21 corpus: folk tunes whose ABC carries chord symbols
(``"Am"`` before a note), read as a melody Piece with its chords — the test set on which a
chord model is measured against what musicians wrote.

The music21 wheel holds only a sliver of the Nottingham Music Database (one file of
``nottingham-dataset``, two tunes); Ryan's Mammoth Collection and O'Neill's 1850 are
searched too. Every tune that reads with at least :data:`MIN_CHORDS` symbols is used.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import replace
from pathlib import Path

from museforge.errors import InputError
from museforge.music.readers import pickup_shift, piece_from_music21
from museforge.music.score import Chord, Key, Piece

COLLECTIONS = ("nottingham-dataset", "ryansMammoth", "oneills1850")
MIN_CHORDS = 4
_CHORD = re.compile(r'"[A-G][#b]?(?:m|min|maj|dim|aug|\+|7|m7|maj7|6|9|sus)?[^"]*"')
# music21's chord kinds → the qualities museforge writes (others: their triad)
KINDS = {
    "major": "maj",
    "minor": "min",
    "diminished": "dim",
    "augmented": "aug",
    "dominant-seventh": "dom7",
    "major-seventh": "maj7",
    "minor-seventh": "min7",
    "half-diminished-seventh": "hdim7",
    "diminished-seventh": "dim7",
    "major-sixth": "maj",
    "minor-sixth": "min",
    "dominant-ninth": "dom7",
    "suspended-fourth": "maj",
}


def _tunes() -> list[tuple[str, str]]:
    from music21 import corpus

    out = []
    for path in sorted(Path(p) for p in corpus.getCorePaths()):
        if path.suffix != ".abc" or not any(c in path.parts for c in COLLECTIONS):
            continue
        text = path.read_text(encoding="latin-1")
        for tune in re.split(r"(?m)^(?=X:)", text):
            if tune.startswith("X:") and len(_CHORD.findall(tune)) >= MIN_CHORDS:
                number = re.match(r"X:\s*(\S*)", tune).group(1)
                out.append((f"{path.parent.name}/{path.stem} X:{number}", tune))
    return out


def read_lead_sheet(score) -> Piece:
    """A music21 score with chord symbols as a one-part Piece with its chords."""
    from music21 import harmony

    piece = piece_from_music21(score, default_tempo=100.0)
    part = (list(score.parts) or [score])[0]
    shift = pickup_shift(part, piece.bar_quarters)
    symbols = []
    for sym in part.recurse().getElementsByClass(harmony.ChordSymbol):
        root = sym.root()
        quality = KINDS.get(sym.chordKind)
        if root is None or quality is None:
            continue
        symbols.append((float(sym.getOffsetInHierarchy(part)) + shift, root.pitchClass, quality))
    symbols.sort()
    chords = []
    for i, (start, root, quality) in enumerate(symbols):
        end = symbols[i + 1][0] if i + 1 < len(symbols) else max(piece.end, start + 1)
        if end > start:
            chords.append(Chord(start, end - start, root, quality))
    if len(chords) < MIN_CHORDS:
        raise InputError(f"has {len(chords)} chord symbols, fewer than {MIN_CHORDS}")
    melody = tuple(replace(n, part=0) for n in piece.notes if n.part == 0)
    return replace(piece, notes=melody, parts=piece.parts[:1], chords=tuple(chords))


def lead_sheets() -> list[tuple[str, Piece]]:
    """(name, piece) of every chord-annotated corpus tune that reads cleanly."""
    from music21 import converter

    out = []
    for name, text in _tunes():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                score = converter.parse(text, format="abc")
            piece = read_lead_sheet(score)
        except Exception:
            continue
        if piece.key == Key() and "K:C" not in text.replace(" ", ""):
            continue  # no key read: the chords could not be placed relative to it
        out.append((name, piece))
    return out
