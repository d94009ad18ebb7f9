"""Pieces as token sequences (a REMI-like event encoding) and back.

One fixed vocabulary serves melodies and four-part chorales alike, so every model and
baseline is scored on the same events::

    BOS TS_4/4 KEY_7_major BAR POS_0 PART_0 PITCH_67 DUR_4 PART_1 PITCH_62 DUR_4 POS_4 … EOS

A bar starts with ``BAR``; each onset is a ``POS`` (sixteenths into the bar) followed by
its notes, each an optional ``PART`` (polyphony only), a ``PITCH`` and a ``DUR``
(sixteenths). Rests are implicit. Positions never go backwards within a bar, which is
what :class:`Grammar` enforces while sampling.
"""

from __future__ import annotations

from dataclasses import dataclass

from museforge.errors import InputError
from museforge.music.score import MAX_PITCH, MIN_PITCH, STEP, Key, Note, Part, Piece

METERS = ((2, 4), (3, 4), (4, 4), (5, 4), (6, 4), (2, 2), (3, 8), (6, 8), (9, 8), (12, 8))
MAX_POS = 48  # sixteenths in the longest bar (12/8)
MAX_DUR = 32  # sixteenths: two whole notes; longer notes are cut
MAX_PARTS = 4


def _build_vocab() -> tuple[str, ...]:
    words = ["PAD", "BOS", "EOS", "BAR"]
    words += [f"TS_{n}/{d}" for n, d in METERS]
    words += [f"KEY_{t}_{m}" for m in ("major", "minor") for t in range(12)]
    words += [f"POS_{i}" for i in range(MAX_POS)]
    words += [f"PART_{i}" for i in range(MAX_PARTS)]
    words += [f"PITCH_{p}" for p in range(MIN_PITCH, MAX_PITCH + 1)]
    words += [f"DUR_{i}" for i in range(1, MAX_DUR + 1)]
    return tuple(words)


VOCAB = _build_vocab()
INDEX = {w: i for i, w in enumerate(VOCAB)}
PAD, BOS, EOS, BAR = (INDEX[w] for w in ("PAD", "BOS", "EOS", "BAR"))


def token_range(prefix: str) -> range:
    """The ids of every word starting with ``prefix`` (they are contiguous)."""
    ids = [i for i, w in enumerate(VOCAB) if w.startswith(prefix)]
    return range(ids[0], ids[-1] + 1)


POS_IDS, PART_IDS = token_range("POS_"), token_range("PART_")
PITCH_IDS, DUR_IDS = token_range("PITCH_"), token_range("DUR_")
TS_IDS, KEY_IDS = token_range("TS_"), token_range("KEY_")


def meter_token(time_signature: tuple[int, int]) -> int:
    if tuple(time_signature) not in METERS:
        known = ", ".join(f"{n}/{d}" for n, d in METERS)
        raise InputError(f"time signature {time_signature[0]}/{time_signature[1]} (known: {known})")
    return INDEX[f"TS_{time_signature[0]}/{time_signature[1]}"]


def key_token(key: Key) -> int:
    return INDEX[f"KEY_{key.tonic}_{key.mode}"]


def bar_steps(time_signature: tuple[int, int]) -> int:
    """Sixteenths in one bar."""
    num, den = time_signature
    return num * 16 // den


def encode(piece: Piece, polyphonic: bool | None = None, end: bool = True) -> list[int]:
    """Token ids of ``piece`` (quantised to sixteenths; pitches outside the piano and
    parts past the fourth are dropped). ``polyphonic`` adds PART tokens (default: when
    the piece has more than one part)."""
    poly = len(piece.parts) > 1 if polyphonic is None else polyphonic
    steps = bar_steps(piece.time_signature)
    ids = [BOS, meter_token(piece.time_signature), key_token(piece.key)]
    notes = [
        n
        for n in piece.quantised().sorted_notes()
        if MIN_PITCH <= n.pitch <= MAX_PITCH and n.part < MAX_PARTS
    ]
    bar, pos = -1, -1
    for note in notes:
        onset = round(note.start / STEP)
        note_bar, note_pos = divmod(onset, steps)
        while bar < note_bar:
            ids.append(BAR)
            bar, pos = bar + 1, -1
        if note_pos != pos:
            ids.append(INDEX[f"POS_{note_pos}"])
            pos = note_pos
        if poly:
            ids.append(INDEX[f"PART_{note.part}"])
        ids.append(INDEX[f"PITCH_{note.pitch}"])
        ids.append(INDEX[f"DUR_{min(MAX_DUR, max(1, round(note.duration / STEP)))}"])
    if end:
        ids.append(EOS)
    return ids


def decode(ids: list[int], tempo: float = 100.0, parts: tuple[Part, ...] | None = None) -> Piece:
    """The piece a token sequence describes; malformed stretches are skipped, not fatal
    (a sampled sequence may stop mid-note)."""
    meter, key = (4, 4), Key()
    bar, pos, part, pitch = -1, 0, 0, None
    notes: list[Note] = []
    seen_parts = {0}
    for i in ids:
        word = VOCAB[int(i)]
        if word == "EOS":
            break
        if word.startswith("TS_"):
            num, den = word[3:].split("/")
            meter = (int(num), int(den))
        elif word.startswith("KEY_"):
            _, tonic, mode = word.split("_")
            key = Key(int(tonic), mode)
        elif word == "BAR":
            bar, pos = bar + 1, 0
        elif word.startswith("POS_"):
            pos = int(word[4:])
        elif word.startswith("PART_"):
            part = int(word[5:])
            seen_parts.add(part)
        elif word.startswith("PITCH_"):
            pitch = int(word[6:])
        elif word.startswith("DUR_") and pitch is not None:
            start = (max(bar, 0) * bar_steps(meter) + pos) * STEP
            notes.append(Note(pitch, start, int(word[4:]) * STEP, part=part))
            pitch = None
    if parts is None:
        parts = tuple(Part(f"part {p + 1}") for p in range(max(seen_parts) + 1))
        if len(parts) == 1:
            parts = (Part(),)
    return Piece(tuple(notes), parts, tempo, meter, key)


@dataclass
class Grammar:
    """Which tokens may come next, so sampling always yields a well-formed piece.

    Tracks the meter (to keep positions inside the bar), the current position (onsets
    never go backwards within a bar), the notes at it (at most ``MAX_PARTS``, so a piece
    of n bars has a bounded length), whether a pitch awaits its duration, and the bars
    so far (``max_bars`` ends the piece after that many bars; it cannot end before
    ``min_bars``).
    """

    polyphonic: bool = False
    max_bars: int | None = None
    min_bars: int = 1  # the piece may not end before this many bars
    steps: int = 16
    bars: int = 0
    pos: int = -1
    notes_here: int = 0  # notes at the current onset
    state: str = "start"  # start, meter, key, body, pitch, part

    @property
    def in_last_bar(self) -> bool:
        """True once the last bar ``max_bars`` allows has begun."""
        return self.max_bars is not None and self.bars >= self.max_bars

    def feed(self, token: int) -> None:
        word = VOCAB[token]
        if word.startswith("TS_"):
            num, den = word[3:].split("/")
            self.steps, self.state = bar_steps((int(num), int(den))), "meter"
        elif word.startswith("KEY_"):
            self.state = "key"
        elif word == "BAR":
            self.bars, self.pos, self.state = self.bars + 1, -1, "body"
        elif word.startswith("POS_"):
            self.pos, self.notes_here, self.state = int(word[4:]), 0, "pos"
        elif word.startswith("PART_"):
            self.state = "part"
        elif word.startswith("PITCH_"):
            self.state = "pitch"
        elif word.startswith("DUR_"):
            self.notes_here, self.state = self.notes_here + 1, "dur"
        elif word == "BOS":
            self.state = "start"

    def allowed(self) -> list[int]:
        """Token ids that may come next."""
        s = self.state
        if s == "start":
            return list(TS_IDS)
        if s == "meter":
            return list(KEY_IDS)
        if s == "key":
            return [BAR]
        if s == "part":
            return list(PITCH_IDS)
        if s == "pitch":
            return list(DUR_IDS)
        note = list(PART_IDS) if self.polyphonic else list(PITCH_IDS)
        if s == "pos":
            return note  # an onset holds at least one note
        later = [POS_IDS[p] for p in range(self.pos + 1, self.steps)]
        after = [EOS] if self.in_last_bar else [BAR] + ([EOS] if self.bars >= self.min_bars else [])
        if s == "dur":  # another note at this onset, a later onset, or the bar's end
            return (note if self.notes_here < MAX_PARTS else []) + later + after
        return later + after  # just after BAR
