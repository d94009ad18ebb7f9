"""Words timed to music, for a text-to-image visualisation: each line of a song's lyrics is
a prompt from the moment it is sung.

Lyrics come as an LRC file (``[01:02.50] a line``, the common format of timed lyrics), as
plain text (one line per prompt, spread evenly over the piece), or from a MIDI file's own
lyric events (karaoke files carry them syllable by syllable: a syllable that begins with
``/`` or ``\\`` or follows one that ends a line starts a new line).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from museforge.core.media import MIDI_SUFFIXES
from museforge.errors import InputError

MAX_LYRICS_BYTES = 1_000_000
MAX_LINES = 2000
_LRC_TIME = re.compile(r"\[(\d{1,3}):(\d{1,2}(?:[.:]\d{1,3})?)\]")
_LRC_TAG = re.compile(r"^\[[a-z]+:.*\]$", re.IGNORECASE)  # [ar:artist], [offset:+200] …


@dataclass(frozen=True)
class Cue:
    """A prompt and the time (seconds from the start) it begins; ``None`` for lines to be
    spread evenly over the piece."""

    time: float | None
    text: str


def even_cues(lines: list[str], seconds: float) -> list[Cue]:
    """``lines`` spread evenly over ``seconds``: line i from i × seconds / n."""
    return [Cue(i * seconds / len(lines), line) for i, line in enumerate(lines)]


def _lrc(name: str, text: str) -> list[Cue] | None:
    """The timed lines of LRC ``text`` (a line may carry several times), sorted; None when
    no line is timed (then it is plain text)."""
    cues: list[Cue] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or (_LRC_TAG.match(line) and not _LRC_TIME.match(line)):
            continue
        times = []
        while match := _LRC_TIME.match(line):
            minutes, seconds = match.groups()
            times.append(int(minutes) * 60 + float(seconds.replace(":", ".")))
            line = line[match.end() :].strip()
        if not times:
            if cues:
                raise InputError(f"lyrics '{name}' line {number}: no [mm:ss] time before it")
            continue  # untimed lines before the first timed one: a title
        cues += [Cue(t, line) for t in times if line]
    return sorted(cues, key=lambda c: c.time or 0.0) if cues else None


def _midi_lyrics(path: Path) -> list[Cue]:
    """The lyric (or, in karaoke files, text) events of a MIDI file joined into lines,
    each timed at its first syllable."""
    import mido

    try:
        midi = mido.MidiFile(str(path))
    except Exception as err:  # mido raises many types on a corrupt file
        raise InputError(f"'{path}' is not a readable MIDI file ({err})") from None
    syllables: list[tuple[float, str]] = []
    now = 0.0
    kinds = {"lyrics"}
    if not any(m.type == "lyrics" for track in midi.tracks for m in track):
        kinds = {"text"}  # .kar files put the words in text events
    for message in midi:  # merged tracks, times in seconds
        now += message.time
        if message.type in kinds and not message.text.startswith("@"):  # @T title, @L …
            syllables.append((now, message.text))
    lines: list[Cue] = []
    words, start, ended = "", 0.0, True
    for time, text in syllables:
        breaks = text[:1] in "/\\" or ended
        text = text.lstrip("/\\")
        if breaks and words.strip():
            lines.append(Cue(start, " ".join(words.split())))
            words = ""
        if not words.strip():
            start = time
        ended = text.endswith(("\r", "\n"))
        words += text.replace("\r", " ").replace("\n", " ")
    if words.strip():
        lines.append(Cue(start, " ".join(words.split())))
    return lines


def read_lyrics(path: str | Path) -> list[Cue]:
    """The lines of the lyrics at ``path`` with their times: an LRC file's own, a MIDI
    file's lyric events', or (plain text) ``None`` for even spreading. A one-line
    InputError naming the file when it cannot be read or holds no words."""
    path = Path(path)
    if path.suffix.lower() in MIDI_SUFFIXES:
        cues = _midi_lyrics(path)
        if not cues:
            raise InputError(f"MIDI file '{path}' has no lyrics in it")
        return cues[:MAX_LINES]
    try:
        if path.stat().st_size > MAX_LYRICS_BYTES:
            raise InputError(f"lyrics '{path}' are larger than {MAX_LYRICS_BYTES:,} bytes")
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"lyrics '{path}' are not UTF-8 text") from None
    except OSError as err:
        raise InputError(f"lyrics '{path}' cannot be read ({err.strerror or err})") from None
    cues = _lrc(str(path), text)
    if cues is None:
        cues = [Cue(None, " ".join(line.split())) for line in text.splitlines() if line.strip()]
    if not cues:
        raise InputError(f"lyrics '{path}' hold no words")
    return cues[:MAX_LINES]


def timed(cues: list[Cue], seconds: float) -> list[Cue]:
    """``cues`` with every time set: untimed lines spread evenly over ``seconds``."""
    if all(c.time is not None for c in cues):
        return cues
    return even_cues([c.text for c in cues], seconds)
