"""A piece of music as plain data: notes in quarter-note time, parts, meter, key, tempo.

Every music module speaks this: the corpora load into it, models encode it to tokens
and back, and the renderers write it as MIDI, MusicXML, WAV and a piano roll. Times are
quarter notes (floats) so a piece is independent of tempo; ``seconds`` uses the tempo.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace

from museforge.errors import InputError

MIN_PITCH, MAX_PITCH = 21, 108  # the piano's range (MIDI numbers)
STEP = 0.25  # the grid every model uses: sixteenth notes (triplets are rounded to it)
KEY_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
# chord quality → (intervals above the root, suffix of its symbol)
QUALITIES: dict[str, tuple[tuple[int, ...], str]] = {
    "maj": ((0, 4, 7), ""),
    "min": ((0, 3, 7), "m"),
    "dim": ((0, 3, 6), "dim"),
    "aug": ((0, 4, 8), "+"),
    "dom7": ((0, 4, 7, 10), "7"),
    "maj7": ((0, 4, 7, 11), "maj7"),
    "min7": ((0, 3, 7, 10), "m7"),
    "hdim7": ((0, 3, 6, 10), "m7b5"),
    "dim7": ((0, 3, 6, 9), "dim7"),
}
# Other spellings of the twelve tonics above.
_FLAT_TO_SHARP = {"Db": "C#", "D#": "Eb", "Gb": "F#", "G#": "Ab", "A#": "Bb", "Cb": "B", "E#": "F"}


@dataclass(frozen=True)
class Note:
    """One note: MIDI pitch, onset and length in quarter notes, loudness, and its part."""

    pitch: int
    start: float
    duration: float
    velocity: int = 80
    part: int = 0


@dataclass(frozen=True)
class Chord:
    """A chord symbol over a melody: where it starts and lasts (quarter notes), its root
    pitch class and quality (a key of :data:`QUALITIES`)."""

    start: float
    duration: float
    root: int
    quality: str

    @property
    def pitch_classes(self) -> frozenset[int]:
        return frozenset((self.root + i) % 12 for i in QUALITIES[self.quality][0])


@dataclass(frozen=True)
class Part:
    """A voice or instrument: a name and a General MIDI program (0 = piano)."""

    name: str = "melody"
    program: int = 0


@dataclass(frozen=True)
class Key:
    """A key: tonic pitch class (0 = C) and mode ("major" or "minor")."""

    tonic: int = 0
    mode: str = "major"

    @property
    def name(self) -> str:
        return f"{KEY_NAMES[self.tonic]} {self.mode}"


def parse_key(text: str) -> Key:
    """``"C major"``, ``"f# minor"``, ``"Bb"`` (major) or ``"a"`` (lower case: minor)."""
    words = str(text).replace("-", " ").split()
    if not words or len(words) > 2:
        raise InputError(f"cannot read key '{text}' (try 'D major', 'f# minor' or 'Bb')")
    raw = words[0].replace("♯", "#").replace("♭", "b")
    tonic = raw[:1].upper() + raw[1:]
    tonic = _FLAT_TO_SHARP.get(tonic, tonic)
    if tonic not in KEY_NAMES:
        raise InputError(f"cannot read key '{text}': unknown tonic '{words[0]}'")
    mode = words[1].lower() if len(words) == 2 else ("minor" if raw[0].islower() else "major")
    modes = {"major": "major", "maj": "major", "minor": "minor", "min": "minor", "m": "minor"}
    if mode not in modes:
        raise InputError(f"cannot read key '{text}': the mode must be major or minor")
    return Key(KEY_NAMES.index(tonic), modes[mode])


@dataclass(frozen=True)
class Piece:
    """Notes plus what is needed to play and print them."""

    notes: tuple[Note, ...]
    parts: tuple[Part, ...] = (Part(),)
    tempo: float = 100.0  # quarter notes per minute
    time_signature: tuple[int, int] = (4, 4)
    key: Key = field(default_factory=Key)
    title: str = ""
    chords: tuple[Chord, ...] = ()  # chord symbols over part 0 (a lead sheet)

    def __post_init__(self) -> None:
        if self.tempo <= 0:
            raise ValueError(f"tempo must be positive (got {self.tempo})")
        num, den = self.time_signature
        if num < 1 or den not in (1, 2, 4, 8, 16):
            raise ValueError(f"bad time signature {num}/{den}")

    @property
    def bar_quarters(self) -> float:
        """Length of one bar in quarter notes (6/8 → 3.0)."""
        num, den = self.time_signature
        return num * 4 / den

    @property
    def end(self) -> float:
        """Where the last note ends, in quarter notes."""
        return max((n.start + n.duration for n in self.notes), default=0.0)

    @property
    def seconds(self) -> float:
        return self.end * 60.0 / self.tempo

    @property
    def bars(self) -> int:
        return int(-(-self.end // self.bar_quarters)) if self.notes else 0

    def sorted_notes(self) -> list[Note]:
        return sorted(self.notes, key=lambda n: (n.start, n.part, n.pitch))

    def part_notes(self, part: int) -> list[Note]:
        return [n for n in self.sorted_notes() if n.part == part]

    def transpose(self, semitones: int) -> Piece:
        """Every note moved by ``semitones`` and the key with them."""
        notes = tuple(replace(n, pitch=n.pitch + semitones) for n in self.notes)
        key = Key((self.key.tonic + semitones) % 12, self.key.mode)
        chords = tuple(replace(c, root=(c.root + semitones) % 12) for c in self.chords)
        return replace(self, notes=notes, key=key, chords=chords)

    def in_range(self) -> bool:
        return all(MIN_PITCH <= n.pitch <= MAX_PITCH for n in self.notes)

    def quantised(self, step: float = STEP) -> Piece:
        """Onsets and lengths rounded to the grid (lengths at least one step)."""
        notes = tuple(
            replace(
                n,
                start=round(n.start / step) * step,
                duration=max(step, round(n.duration / step) * step),
            )
            for n in self.notes
        )
        return replace(self, notes=notes)

    def window(self, start: float, end: float) -> Piece:
        """The notes starting in [start, end), shifted to begin at 0 and cut at ``end``."""
        notes = tuple(
            replace(n, start=n.start - start, duration=min(n.duration, end - n.start))
            for n in self.notes
            if start <= n.start < end
        )
        chords = tuple(
            replace(c, start=c.start - start, duration=min(c.duration, end - c.start))
            for c in self.chords
            if start <= c.start < end
        )
        return replace(self, notes=notes, chords=chords)

    def fingerprint(self) -> str:
        """16 hex digits over the notes, meter and key (not tempo, title or instruments)."""
        notes = [tuple(vars(n).values()) for n in self.sorted_notes()]
        data = [self.time_signature, self.key.name, notes]
        return hashlib.sha256(json.dumps(data).encode()).hexdigest()[:16]
