"""Reading one music file (MIDI via mido; MusicXML and ABC via music21) into a Piece.

Limits for one file: :data:`MAX_FILE_BYTES`, :data:`MAX_NOTES` notes and :data:`MAX_SECONDS`
of music; longer files are refused, not cut. MIDI: one part per (track, channel) with its
first program change, percussion (channel 10) dropped, a re-struck sounding note ends the
earlier one, notes never released end with their track. music21 files: ties merged, chords
split, grace notes and chord symbols dropped, a pickup shifted so downbeats fall on bar
starts; the key comes from the score (a bare key signature picks major or relative minor by
the Krumhansl–Kessler profiles; no signature: the best of all 24 keys).
"""

from __future__ import annotations

import re
import warnings
import zipfile
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import numpy as np

from museforge.core.media import MIDI_SUFFIXES, MUSIC_SUFFIXES
from museforge.errors import InputError
from museforge.music.score import Key, Note, Part, Piece, parse_key

MAX_FILE_BYTES = 20_000_000
MAX_NOTES = 200_000
MAX_SECONDS = 30 * 60
# A compressed MusicXML file is a zip: refused when it could expand into a bomb.
MAX_MXL_MEMBERS = 100
MAX_MXL_BYTES = 4 * MAX_FILE_BYTES
# music21 spends seconds to minutes on some time signatures (1000/4, 6/100) before
# piece_from_music21 would refuse them, so meters are checked before music21 builds
# anything: N/D with N up to MAX_BEATS (or a sum such as 2+3) and D one of
# METER_DENOMINATORS, or none at all.
MAX_BEATS = 32
METER_DENOMINATORS = (1, 2, 4, 8, 16)
# music21 re-bars an ABC bar longer than its meter under a time signature of the excess
# (2047/4 for a note 500 bars long), with the same cost; no usable bar is this long.
MAX_ABC_BAR_QUARTERS = 32
_METER = re.compile(r"([0-9]{1,4}(?:\+[0-9]{1,4})*)/([0-9]{1,4})")
_ABC_FREE_METERS = frozenset({"", "c", "c|", "none"})
_ABC_TUNE = re.compile(r"^(?=X:)", re.MULTILINE)
_ABC_METER = re.compile(r"M:([^\n\]]*)")
_XML_TIME = re.compile(r"<beats>([^<]*)</beats>\s*<beat-type>([^<]*)</beat-type>")

# Krumhansl–Kessler key profiles, tonic first.
_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
_MINOR_MODES = frozenset({"minor", "dorian", "phrygian", "aeolian", "locrian"})


def read_music_file(path: str | Path) -> Piece:
    """One MIDI, MusicXML or ABC file as a Piece (not quantised; an ABC file's first tune).

    Raises InputError naming the file when it is missing, empty, corrupt, has no notes or
    goes past the limits (:data:`MAX_NOTES` notes, :data:`MAX_SECONDS` seconds).
    """
    return read_pieces(Path(path), first_only=True)[0][0]


def read_pieces(path: Path, first_only: bool = False) -> tuple[list[Piece], list[str]]:
    """Every piece in one file (an ABC file may hold many tunes) and a note for each tune
    that could not be used. Raises InputError naming the file when nothing in it is usable."""
    suffix = path.suffix.lower()
    if suffix not in MUSIC_SUFFIXES:
        known = ", ".join(sorted(MUSIC_SUFFIXES))
        raise InputError(f"'{path}': unsupported file type '{suffix}' (use {known})")
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InputError(f"'{path}' does not exist") from None
    except OSError as err:
        raise InputError(f"'{path}' cannot be read ({err.strerror})") from None
    if size == 0:
        raise InputError(f"'{path}' is empty")
    if size > MAX_FILE_BYTES:
        limit = MAX_FILE_BYTES // 1_000_000
        raise InputError(f"'{path}' is {size / 1e6:.1f} MB, over the {limit} MB limit")
    if suffix in MIDI_SUFFIXES:
        piece = _read_midi(path)
        check_limits(piece, path)
        return [piece], []
    return _read_music21(path, first_only)


def check_limits(piece: Piece, name: Path | str) -> None:
    """Raise InputError when ``piece`` has no notes, too many, or lasts too long."""
    if not piece.notes:
        raise InputError(f"'{name}' has no notes")
    if len(piece.notes) > MAX_NOTES:
        raise InputError(f"'{name}' has {len(piece.notes)} notes, over the {MAX_NOTES} limit")
    if piece.seconds > MAX_SECONDS:
        raise InputError(
            f"'{name}' lasts {piece.seconds / 60:.0f} minutes, over the "
            f"{MAX_SECONDS // 60}-minute limit"
        )


def _meter_problem(text: str, sums: bool = True) -> str | None:
    """Why the time signature ``text`` (``3/4``; with ``sums``, ``2+3/8``) is refused."""
    found = _METER.fullmatch("".join(text.split()))
    if (
        found
        and (sums or "+" not in text)
        and int(found[2]) in METER_DENOMINATORS
        and sum(int(n) for n in found[1].split("+")) <= MAX_BEATS
    ):
        return None
    shown = oneline(text)[:24] or "(empty)"
    return f"has an unusable time signature {shown}"


def _score_text(path: Path) -> str:
    """The XML of a MusicXML file, of every score in an .mxl zip (bombs refused)."""
    if path.suffix.lower() != ".mxl":
        return path.read_bytes().decode("utf-8", errors="replace")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_MXL_MEMBERS or sum(i.file_size for i in infos) > MAX_MXL_BYTES:
                raise InputError(f"'{path}' expands to too much for a compressed MusicXML file")
            texts, budget = [], MAX_MXL_BYTES
            for info in infos:
                if info.filename.lower().endswith((".xml", ".musicxml")):
                    with zf.open(info) as member:
                        data = member.read(budget + 1)  # headers can understate sizes
                    budget -= len(data)
                    if budget < 0:
                        raise InputError(f"'{path}' expands to too much for an .mxl file")
                    texts.append(data.decode("utf-8", errors="replace"))
    except InputError:
        raise
    except Exception as err:  # untrusted zips fail in many ways; each means "unreadable"
        raise InputError(f"'{path}' is not a readable .mxl file ({oneline(err)})") from None
    return "\n".join(texts)


def _abc_problem(tune: str, header: str = "") -> str | None:
    """Why an ABC tune (or the file's header) would stall music21, or None: a time
    signature past the limits, or a bar far longer than any meter."""
    # Every "M:" counts, wherever it is: music21 finds fields past a "]" too, and its
    # tokenizer already builds a time signature for each one it finds.
    for field in _ABC_METER.findall(header + tune):
        if field.strip().lower() in _ABC_FREE_METERS:
            continue
        # music21 reads an ABC sum as digits (2+3/8 as 23/8; 9+9+9/8 as 999/8)
        if problem := _meter_problem(field, sums=False):
            return problem
    from music21 import abcFormat

    handler = abcFormat.ABCHandler()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            handler.process(header + tune)  # music21's own reading of the notes' lengths
    except Exception:  # music21 raises many kinds; parsing the file will say why
        return None
    bar = 0.0
    for token in handler.tokens:
        if isinstance(token, abcFormat.ABCBar):
            bar = 0.0
        elif isinstance(token, abcFormat.ABCNote):
            bar += float(token.quarterLength or 0)
            if bar > MAX_ABC_BAR_QUARTERS:
                return f"has a bar longer than {MAX_ABC_BAR_QUARTERS} quarter notes"
    return None


def _usable_abc(path: Path) -> tuple[str | None, list[int], list[str]]:
    """An ABC file's tunes music21 can be trusted with (see :func:`_abc_problem`): the
    text to parse instead of the file when some tunes were left out (else None), the kept
    tunes' numbers (1 up) and a note per tune left out. InputError when none is left."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    header, *tunes = _ABC_TUNE.split(text)  # the file header, then one part per X: line
    if not tunes:  # no X: line: the whole file is one tune
        header, tunes = "", [header]
    if problem := _abc_problem(header):
        raise InputError(f"'{path}' {problem}")
    kept, notes = [], []
    for number, tune in enumerate(tunes, 1):
        if problem := _abc_problem(tune, header):
            notes.append(f"{path.stem} #{number}: {problem}")
        else:
            kept.append(number)
    if not kept:
        more = f" (and {len(notes) - 1} more tunes)" if len(notes) > 1 else ""
        raise InputError(f"'{path}' {notes[0].split(': ', 1)[1]}{more}")
    if len(kept) == len(tunes):
        return None, kept, []
    return header + "".join(tunes[n - 1] for n in kept), kept, notes


def _read_music21(path: Path, first_only: bool) -> tuple[list[Piece], list[str]]:
    from music21 import converter, stream

    source: Path | str = path
    numbers: list[int] | None = None  # an ABC file's tune numbers (tunes may be left out)
    problems: list[str] = []
    try:
        if path.suffix.lower() == ".abc":
            text, numbers, problems = _usable_abc(path)
            source = text if text is not None else path
        else:
            for beats, beat_type in _XML_TIME.findall(_score_text(path)):
                if problem := _meter_problem(f"{beats}/{beat_type}"):
                    raise InputError(f"'{path}' {problem}")
    except OSError as err:
        raise InputError(f"'{path}' cannot be read ({err.strerror})") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if isinstance(source, str):
                parsed = converter.parse(source, format="abc", forceSource=True)
            else:
                parsed = converter.parse(source, forceSource=True)
    except Exception as err:  # music21 raises many kinds; all mean "cannot read this"
        kind = path.suffix[1:]
        raise InputError(f"'{path}' cannot be read as {kind} ({oneline(err)})") from None
    scores = list(parsed.scores) if isinstance(parsed, stream.Opus) else [parsed]
    if first_only:
        scores = scores[:1]
    pieces: list[Piece] = []
    for i, score in enumerate(scores):
        number = numbers[i] if numbers and i < len(numbers) else i + 1
        several = len(scores) > 1 or bool(problems)  # tunes left out are named by number
        title = f"{path.stem} #{number}" if several else path.stem
        try:
            piece = piece_from_music21(score, title=title)
            check_limits(piece, title)
            pieces.append(piece)
        except InputError as err:
            reason = str(err).removeprefix(f"'{title}' ")
            problems.append(f"{title}: {reason}")
        # music21's objects from a hostile file fail in many ways (a tempo of 0 divides
        # by zero); each means this tune cannot be used
        except Exception as err:
            problems.append(f"{title}: cannot be read ({oneline(err)})")
    if not pieces:
        reason = problems[0].split(": ", 1)[1] if problems else "has no notes"
        more = f" (and {len(problems) - 1} more tunes)" if len(problems) > 1 else ""
        raise InputError(f"'{path}' {reason}{more}")
    return pieces, problems


def oneline(err: BaseException) -> str:
    """An exception as one short line, for skip notes and error messages."""
    text = " ".join(str(err).split()) or type(err).__name__
    return text[:120]


# --- music21 -----------------------------------------------------------------------------


def piece_from_music21(
    score, default_tempo: float = 120.0, parts: tuple[Part, ...] | None = None, title: str = ""
) -> Piece:
    """A music21 Score (or single-part Stream) as a Piece: ties merged, chords split into
    notes, grace notes and chord symbols dropped, a pickup shifted onto the end of bar 0.
    ``parts`` overrides the names and programs read from the score.

    Raises InputError (without a file name) when the stream has no notes or an unusable meter.
    """
    from music21 import harmony, key, meter, tempo

    streams = list(score.parts) or [score]
    ts = score.recurse().getElementsByClass(meter.TimeSignature)
    meters = [(t.numerator, t.denominator) for t in ts]
    if not meters:
        raise InputError("has no time signature")
    if len(set(meters)) > 1:
        names = " → ".join(dict.fromkeys(f"{n}/{d}" for n, d in meters))
        raise InputError(f"changes meter ({names})")
    if meters[0][1] not in (1, 2, 4, 8, 16):
        raise InputError(f"has an unusable time signature {meters[0][0]}/{meters[0][1]}")
    bar = meters[0][0] * 4 / meters[0][1]
    shift = pickup_shift(streams[0], bar)

    # Ties are merged here rather than by stream.stripTies, which deep-copies the score
    # and took over half the time of reading a folk tune.
    rows: list[list] = []  # [pitch, start, length, velocity, part]
    for index, part in enumerate(streams):
        tied: dict[int, list] = {}  # pitch → the row a tie continues
        for element in part.flatten().notes:
            if isinstance(element, harmony.ChordSymbol) or element.duration.isGrace:
                continue
            length = float(element.quarterLength)
            if length <= 0:
                continue
            velocity = element.volume.velocity or 80
            start = float(element.offset) + shift
            for sub in element.notes if element.isChord else [element]:
                pitch = round(sub.pitch.ps)
                tie = sub.tie.type if sub.tie is not None else None
                row = tied.pop(pitch, None)
                if row is not None and tie in ("continue", "stop"):
                    row[2] = start + length - row[1]
                else:
                    row = [pitch, start, length, int(velocity), index]
                    rows.append(row)
                if tie in ("start", "continue"):
                    tied[pitch] = row
    notes = [Note(*row) for row in rows]
    if not notes:
        raise InputError("has no notes")

    if parts is None:
        parts = tuple(_music21_part(part, i) for i, part in enumerate(streams))
    marks = score.recurse().getElementsByClass(tempo.MetronomeMark)
    bpm = next((m.getQuarterBPM() for m in marks if m.getQuarterBPM()), None)
    signature = score.recurse().getElementsByClass(key.KeySignature).first()
    if isinstance(signature, key.Key) and signature.mode:
        minor = signature.mode in _MINOR_MODES
        found = Key(signature.tonic.pitchClass, "minor" if minor else "major")
    elif signature is not None:
        major = (signature.sharps * 7) % 12
        found = estimate_key(notes, [Key(major, "major"), Key((major + 9) % 12, "minor")])
    else:
        found = estimate_key(notes)
    return Piece(tuple(notes), parts, float(bpm or default_tempo), meters[0], found, title)


def pickup_shift(part, bar: float) -> float:
    """How far to move notes so the first full bar starts on a multiple of ``bar``."""
    from music21 import stream

    measures = part.getElementsByClass(stream.Measure)
    if not measures:
        return 0.0
    first = measures[0]
    if first.paddingLeft:
        return float(first.paddingLeft)
    length = float(first.highestTime)
    if len(measures) > 1 and 0 < length < bar and first.number == 0:
        return bar - length
    return 0.0


def _music21_part(part, index: int) -> Part:
    instrument = part.getInstrument(returnDefault=False) if hasattr(part, "getInstrument") else None
    program = getattr(instrument, "midiProgram", None)
    name = (getattr(part, "partName", None) or "").strip() or f"part {index + 1}"
    return Part(name, int(program) if program is not None else 0)


def estimate_key(notes: Iterable[Note], candidates: Iterable[Key] | None = None) -> Key:
    """The key whose Krumhansl–Kessler profile best matches the duration-weighted pitch
    classes (among ``candidates``, default all 24)."""
    hist = np.zeros(12)
    for n in notes:
        hist[n.pitch % 12] += n.duration
    keys = (
        list(candidates)
        if candidates is not None
        else [Key(t, m) for m in ("major", "minor") for t in range(12)]
    )
    if not hist.any():
        return keys[0]

    def score(k: Key) -> float:
        profile = np.roll(_MAJOR if k.mode == "major" else _MINOR, k.tonic)
        return float(np.corrcoef(hist, profile)[0, 1])

    return max(keys, key=score)


# --- MIDI --------------------------------------------------------------------------------


def _read_midi(path: Path) -> Piece:
    import mido

    try:
        midi = mido.MidiFile(path)
    except Exception as err:  # mido raises OSError, EOFError, ValueError, KeyError ...
        if "MThd" in str(err):
            raise InputError(f"'{path}' is not a MIDI file (no MThd header)") from None
        raise InputError(f"'{path}' is a corrupt MIDI file ({oneline(err)})") from None
    if midi.type == 2:
        raise InputError(f"'{path}' is a type 2 MIDI file (independent patterns): unsupported")
    if midi.ticks_per_beat <= 0:
        raise InputError(f"'{path}' is a corrupt MIDI file (bad ticks per beat)")
    try:
        seconds = midi.length
    except Exception as err:
        raise InputError(f"'{path}' is a corrupt MIDI file ({oneline(err)})") from None
    if seconds > MAX_SECONDS:
        raise InputError(
            f"'{path}' lasts {seconds / 60:.0f} minutes, over the {MAX_SECONDS // 60}-minute limit"
        )
    tpq = midi.ticks_per_beat
    meta: dict[str, object] = {}
    parts: dict[tuple[int, int], list[Note]] = {}
    programs: dict[tuple[int, int], int] = {}
    names: dict[int, str] = {}
    drums = 0
    count = 0
    for t, track in enumerate(midi.tracks):
        tick = 0
        sounding: dict[tuple[int, int], tuple[int, int]] = {}  # (channel, pitch) → (tick, vel)

        def close(ch: int, pitch: int, end: int, t: int = t, sounding: dict = sounding) -> None:
            begin, vel = sounding.pop((ch, pitch))
            if end > begin:
                note = Note(pitch, begin / tpq, (end - begin) / tpq, vel)
                parts.setdefault((t, ch), []).append(note)

        for msg in track:
            tick += msg.time
            kind = msg.type
            if kind == "note_on" and msg.velocity > 0:
                if msg.channel == 9:
                    drums += 1
                    continue
                count += 1
                if count > MAX_NOTES:
                    raise InputError(f"'{path}' has over {MAX_NOTES} notes (the limit)")
                if (msg.channel, msg.note) in sounding:  # a re-struck note ends the last one
                    close(msg.channel, msg.note, tick)
                sounding[(msg.channel, msg.note)] = (tick, msg.velocity)
            elif kind in ("note_off", "note_on"):
                if (msg.channel, msg.note) in sounding:
                    close(msg.channel, msg.note, tick)
            elif kind == "program_change":
                programs.setdefault((t, msg.channel), msg.program)
            elif kind == "track_name" and msg.name.strip():
                names.setdefault(t, msg.name.strip())
            elif kind in ("set_tempo", "time_signature", "key_signature"):
                meta.setdefault(kind, msg)
        for ch, pitch in list(sounding):  # notes never released end with their track
            close(ch, pitch, tick)
    if not parts:
        detail = " (only percussion on channel 10)" if drums else ""
        raise InputError(f"'{path}' has no notes{detail}")
    notes: list[Note] = []
    part_list: list[Part] = []
    for index, (t, ch) in enumerate(sorted(parts)):
        notes += [replace(n, part=index) for n in parts[(t, ch)]]
        name = names.get(t) or f"channel {ch + 1}"
        if sum(1 for tt, _ in parts if tt == t) > 1:
            name += f" (channel {ch + 1})"
        part_list.append(Part(name, programs.get((t, ch), 0)))
    tempo = meta.get("set_tempo")
    bpm = 60_000_000 / tempo.tempo if tempo is not None and tempo.tempo > 0 else 120.0
    sig = meta.get("time_signature")
    meter = (sig.numerator, sig.denominator) if sig is not None else (4, 4)
    found = _midi_key(meta.get("key_signature"), notes)
    try:
        return Piece(tuple(notes), tuple(part_list), bpm, meter, found, path.stem)
    except ValueError as err:
        raise InputError(f"'{path}': {err}") from None


def _midi_key(message, notes: list[Note]) -> Key:
    if message is None:
        return estimate_key(notes)
    name = str(message.key)
    try:
        return parse_key(f"{name[:-1]} minor" if name.endswith("m") else f"{name} major")
    except InputError:
        return estimate_key(notes)
