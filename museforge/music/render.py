"""Writing a Piece to files people can use: MIDI, MusicXML, WAV, a piano-roll PNG, and a
score engraved by LilyPond (:mod:`museforge.music.engrave`) as PDF, PNG and SVG.

MIDI always (mido, provenance in a text meta event); MusicXML through music21 (opens in
MuseScore); WAV through FluidSynth with the General MIDI soundfont, or the NumPy synth of
:mod:`museforge.music.synth` with a one-line notice when FluidSynth or the soundfont is
missing.
:func:`save_piece` writes them all with provenance, as the gallery indexes them.
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import mido
import numpy as np
from PIL import Image, ImageDraw

from museforge.core.atomic import atomic_write_with
from museforge.core.instruments import LentInstrument, NoteEvent
from museforge.errors import InputError
from museforge.gallery.provenance import SCORE_COMPANIONS, save_png, save_sidecar, sidecar_path
from museforge.music.engrave import EngraveError, engrave, engraving_wanted
from museforge.music.instruments import lent_instrument
from museforge.music.score import KEY_NAMES, STEP, Piece
from museforge.music.synth import SYNTH_RATE, synthesize, write_wav

log = logging.getLogger(__name__)

TICKS_PER_BEAT = 480
PROVENANCE_PREFIX = "museforge:"  # the text meta event in track 0 that carries provenance
DRUM_CHANNEL = 9  # General MIDI percussion: parts never land there
SOUNDFONTS = (
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    Path("/usr/share/sounds/sf2/default-GM.sf2"),
)
FLUID_RATE = 44100
SILENCE = 16  # 16-bit sample level taken as silence (about -66 dBFS)
INSTALL_HINT = "apt install fluidsynth fluid-soundfont-gm"
Notify = Callable[[str], None]


def _channel(part: int) -> int:
    """Part index → MIDI channel, skipping the drum channel (parts past 15 share channels)."""
    ch = part % 15
    return ch + 1 if ch >= DRUM_CHANNEL else ch


def _ticks(quarters: float) -> int:
    return round(quarters * TICKS_PER_BEAT)


def _mido_key(piece: Piece) -> str:
    return KEY_NAMES[piece.key.tonic] + ("m" if piece.key.mode == "minor" else "")


def _check_playable(path: Path, piece: Piece) -> None:
    for note in piece.notes:
        if not 0 <= note.pitch <= 127:
            raise InputError(f"cannot write '{path}': pitch {note.pitch} is outside MIDI's 0-127")
    for part in piece.parts:
        if not 0 <= part.program <= 127:
            raise InputError(f"cannot write '{path}': program {part.program} is not 0-127")


def midi_file(piece: Piece, provenance: dict[str, Any] | None = None) -> mido.MidiFile:
    """The piece as a type-1 ``MidiFile``: a meta track, then one track per part."""
    meta = mido.MidiTrack()
    meta.append(mido.MetaMessage("track_name", name=piece.title or "museforge", time=0))
    meta.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(piece.tempo), time=0))
    num, den = piece.time_signature
    meta.append(mido.MetaMessage("time_signature", numerator=num, denominator=den, time=0))
    meta.append(mido.MetaMessage("key_signature", key=_mido_key(piece), time=0))
    if provenance is not None:
        # ASCII JSON, so mido's latin-1 text events carry any title or poem unchanged.
        text = PROVENANCE_PREFIX + json.dumps(provenance, sort_keys=True, separators=(",", ":"))
        meta.append(mido.MetaMessage("text", text=text, time=0))
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    midi.tracks.append(meta)
    for index in range(len(piece.parts)):
        midi.tracks.append(_part_track(piece, index))
    return midi


def _part_track(piece: Piece, index: int) -> mido.MidiTrack:
    part, ch = piece.parts[index], _channel(index)
    # (tick, order, message): offs sort before ons at the same tick so repeated notes re-strike.
    events: list[tuple[int, int, mido.Message]] = []
    last: dict[int, tuple[int, int]] = {}  # pitch → (onset tick, index of its note_off)
    for note in piece.part_notes(index):
        on = _ticks(note.start)
        off = max(_ticks(note.start + note.duration), on + 1)
        if note.pitch in last:
            begun, k = last[note.pitch]
            t, order, msg = events[k]
            if begun == on:  # a doubled note: one note, the longer of the two
                events[k] = (max(t, off), order, msg)
                continue
            events[k] = (min(t, on), order, msg)  # still sounding: end it where this begins
        vel = min(127, max(1, int(note.velocity)))
        events.append((on, 1, mido.Message("note_on", channel=ch, note=note.pitch, velocity=vel)))
        last[note.pitch] = (on, len(events))
        events.append((off, 0, mido.Message("note_off", channel=ch, note=note.pitch)))
    events.sort(key=lambda e: (e[0], e[1]))
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("track_name", name=part.name, time=0))
    track.append(mido.Message("program_change", channel=ch, program=part.program, time=0))
    now = 0
    for tick, _, msg in events:
        track.append(msg.copy(time=tick - now))
        now = tick
    return track


def write_midi(path: str | Path, piece: Piece, provenance: dict[str, Any] | None = None) -> Path:
    """Write ``piece`` as a type-1 MIDI file (480 ticks per beat) atomically.

    Track 0 holds tempo, time and key signatures, the title and ``provenance`` as a text
    meta event ``museforge:{json}``; each part gets a track, a channel and a program change.
    """
    path = Path(path)
    _check_playable(path, piece)
    midi = midi_file(piece, provenance)
    return atomic_write_with(path, lambda tmp: midi.save(filename=str(tmp)))


def _one_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def read_midi_provenance(path: str | Path) -> dict[str, Any]:
    """The provenance a museforge MIDI file carries, or an InputError saying why not."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"'{path}' does not exist or is not a file")
    try:
        midi = mido.MidiFile(filename=str(path))
    except Exception as err:  # mido raises OSError, EOFError, ValueError, KeyError... on bad data
        raise InputError(f"'{path}' is not a readable MIDI file ({_one_line(err)})") from None
    for track in midi.tracks[:1]:
        for msg in track:
            if msg.type == "text" and msg.text.startswith(PROVENANCE_PREFIX):
                try:
                    data = json.loads(msg.text[len(PROVENANCE_PREFIX) :])
                except (ValueError, RecursionError):  # bad JSON; nesting too deep
                    raise InputError(
                        f"'{path}': its museforge provenance is not valid JSON"
                    ) from None
                if isinstance(data, dict):
                    return data
    raise InputError(f"'{path}' carries no museforge provenance (not made by museforge?)")


def key_speller(key: Any) -> Callable[[int], Any]:
    """:func:`speller` for a museforge Key."""
    from music21 import key as m21key

    return speller(m21key.Key(KEY_NAMES[key.tonic].replace("b", "-"), key.mode))


def speller(key_obj: Any) -> Callable[[int], Any]:
    """MIDI number → music21 Pitch spelt for the key: its scale's own names (and a minor
    key's raised leading tone), other notes with sharps in sharp keys, flats in flat keys —
    D♯ in B major, not E♭."""
    from music21 import pitch

    names = {p.pitchClass: p.name for p in key_obj.getScale(key_obj.mode).getPitches()}
    if key_obj.mode == "minor":
        leading = key_obj.getLeadingTone()
        names.setdefault(leading.pitchClass, leading.name)

    def spell(midi: int) -> Any:
        plain = pitch.Pitch(midi=midi)
        name = names.get(midi % 12)
        if name is None:
            wrong = "flat" if key_obj.sharps >= 0 else "sharp"
            accidental = plain.accidental.name if plain.accidental else ""
            return plain.getEnharmonic() if accidental == wrong else plain
        spelt = pitch.Pitch(name, octave=plain.octave)
        spelt.octave += round((midi - spelt.midi) / 12)
        return spelt

    return spell


# museforge's chord qualities as music21 (and MusicXML) chord kinds
CHORD_KINDS = {
    "maj": "major",
    "min": "minor",
    "dim": "diminished",
    "aug": "augmented",
    "dom7": "dominant-seventh",
    "maj7": "major-seventh",
    "min7": "minor-seventh",
    "hdim7": "half-diminished-seventh",
    "dim7": "diminished-seventh",
}


def _music21_score(piece: Piece, lyrics: list[str] | None):
    from music21 import chord, harmony, instrument, key, metadata, meter, note, stream, tempo

    score = stream.Score()
    score.metadata = metadata.Metadata(title=piece.title or "museforge")
    num, den = piece.time_signature
    tonic = KEY_NAMES[piece.key.tonic].replace("b", "-")  # music21 spells flats with '-'
    spell = key_speller(piece.key)
    syllables = list(lyrics or [])
    q = piece.quantised()  # notation is written on the sixteenth grid every model uses
    for index, spec in enumerate(piece.parts):
        part = stream.Part(id=f"P{index + 1}")  # fixed ids: music21 draws random ones,
        part.partName = spec.name  # and the same piece must give the same bytes
        try:
            inst = instrument.instrumentFromMidiProgram(spec.program)
        except Exception:  # music21 knows most but not every GM program
            inst = instrument.Instrument()
            inst.midiProgram = spec.program
        inst.partName = spec.name
        inst.partId, inst.instrumentId = f"P{index + 1}", f"P{index + 1}-I1"
        part.insert(0, inst)
        part.insert(0, meter.TimeSignature(f"{num}/{den}"))
        part.insert(0, key.Key(tonic, piece.key.mode))
        if index == 0:
            part.insert(0, tempo.MetronomeMark(number=round(piece.tempo, 2)))
            for symbol in piece.chords:  # a lead sheet's chords, above the melody
                root = spell(60 + symbol.root).name
                kind = CHORD_KINDS[symbol.quality]
                part.insert(symbol.start, harmony.ChordSymbol(root=root, kind=kind))
        groups: dict[float, list] = {}
        for n in q.part_notes(index):
            groups.setdefault(n.start, []).append(n)
        onsets = sorted(groups)
        for i, start in enumerate(onsets):
            group = groups[start]
            length = max(n.duration for n in group)
            if i + 1 < len(onsets):  # one voice per part: a note ends where the next begins
                length = min(length, onsets[i + 1] - start)
            pitches = sorted({n.pitch for n in group})
            # Pitch objects, not bare MIDI numbers: music21 would otherwise search spellings
            # for a chord, which grows explosively with its size.
            spelt = [spell(p) for p in pitches]
            if len(spelt) == 1:
                obj = note.Note(spelt[0], quarterLength=length)
            else:
                obj = chord.Chord(spelt, quarterLength=length)
            obj.volume.velocity = max(n.velocity for n in group)
            if index == 0 and i < len(syllables):
                obj.addLyric(syllables[i])  # "beau-" → syllabic "begin", as music21 reads it
            part.insert(start, obj)
        score.insert(0, part)
    return score


def write_musicxml(path: str | Path, piece: Piece, lyrics: list[str] | None = None) -> Path:
    """Write ``piece`` as MusicXML through music21, atomically; notes on the sixteenth grid.

    ``lyrics`` gives one syllable per note (or chord) of part 0, in order; a trailing
    hyphen marks a syllable continued on the next note. Extra syllables are dropped.
    """
    path = Path(path)
    score = _music21_score(piece, lyrics)
    return atomic_write_with(path, lambda tmp: score.write("musicxml", fp=str(tmp)))


# --- audio -----------------------------------------------------------------------------


def find_soundfont() -> Path | None:
    """The General MIDI soundfont: $MUSEFORGE_SOUNDFONT, else Debian's FluidR3_GM."""
    env = os.environ.get("MUSEFORGE_SOUNDFONT")
    for candidate in ([Path(env)] if env else []) + list(SOUNDFONTS):
        if candidate.is_file():
            return candidate
    return None


def _with_programs(piece: Piece, programs: dict[int, int] | None) -> Piece:
    if not programs:
        return piece
    parts = list(piece.parts)
    for index, program in programs.items():
        if not 0 <= index < len(parts):
            raise InputError(f"no part {index} to set an instrument for ({len(parts)} parts)")
        if not 0 <= int(program) <= 127:
            raise InputError(f"instrument {program} is not a General MIDI program (0-127)")
        parts[index] = replace(parts[index], program=int(program))
    return replace(piece, parts=tuple(parts))


def _fluidsynth(path: Path, piece: Piece, exe: str, soundfont: Path) -> str | None:
    """Render with FluidSynth; None on success, else why it failed."""
    with tempfile.TemporaryDirectory(prefix=".museforge-fluid-", dir=path.parent) as tmp:
        mid, out = Path(tmp) / "in.mid", Path(tmp) / "out.wav"
        midi_file(piece).save(filename=str(mid))
        cmd = [exe, "-ni", "-q", "-g", "0.5", "-r", str(FLUID_RATE)]
        cmd += ["-T", "wav", "-O", "s16", "-F", str(out), str(soundfont), str(mid)]
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=60 + 2 * piece.seconds)
        except (OSError, subprocess.TimeoutExpired) as err:
            return f"FluidSynth failed ({type(err).__name__})"
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:]
        why = f"exit {done.returncode}{': ' + tail[0] if tail else ''}"
        if done.returncode != 0 or not out.is_file() or out.stat().st_size <= 44:
            return f"FluidSynth failed ({why})"
        with wave.open(str(out), "rb") as src:
            channels, frames = src.getnchannels(), src.readframes(src.getnframes())
        frames = np.frombuffer(frames, dtype="<i2").reshape(-1, channels)
        loud = np.flatnonzero(np.abs(frames.astype(np.int32)).max(axis=1) > SILENCE)
        if piece.notes and not loud.size:  # it exits 0 with silence on an unreadable soundfont
            return f"FluidSynth rendered silence ({why})"
        # Cut the inaudible seconds it renders while the reverb dies, keeping 50 ms of quiet.
        keep = max(int(piece.seconds * FLUID_RATE), loud[-1] + 1 if loud.size else 0)
        frames = frames[: keep + FLUID_RATE // 20]
        atomic_write_with(path, lambda dst: write_wav(dst, frames, FLUID_RATE))
    return None


def render_wav(
    path: str | Path,
    piece: Piece,
    programs: dict[int, int] | None = None,
    notify: Notify | None = None,
) -> tuple[Path, str]:
    """Render ``piece`` to a WAV file; returns the path and the renderer that ran.

    ``programs`` maps part index → General MIDI program for this rendering. FluidSynth
    with the GM soundfont ("fluidsynth", 44.1 kHz stereo) when both are installed, else the
    built-in synth ("numpy", 22.05 kHz mono); the fallback sends ``notify`` (or the log)
    one line saying why.
    """
    path = Path(path)
    _check_playable(path, piece)
    piece = _with_programs(piece, programs)
    path.parent.mkdir(parents=True, exist_ok=True)
    exe, soundfont = shutil.which("fluidsynth"), find_soundfont()
    if exe is None:
        why = f"FluidSynth not found ({INSTALL_HINT})"
    elif soundfont is None:
        why = f"no General MIDI soundfont found ({INSTALL_HINT})"
    else:
        why = _fluidsynth(path, piece, exe, soundfont)
        if why is None:
            return path, "fluidsynth"
    (notify or log.warning)(f"{why}; used the built-in synth")
    pcm = (synthesize(piece) * 32767).astype("<i2")
    return atomic_write_with(path, lambda tmp: write_wav(tmp, pcm, SYNTH_RATE)), "numpy"


def render_samples(path: Path, rate: int) -> np.ndarray:
    """A MIDI or score file heard: rendered (as :func:`render_wav` does), mixed to mono
    and resampled to ``rate``; what other modalities read music files with (visualise)."""
    import soundfile
    from scipy.signal import resample_poly

    from museforge.music.readers import read_music_file

    piece = read_music_file(path)
    with tempfile.TemporaryDirectory(prefix="museforge-render-") as tmp:
        rendered, _ = render_wav(Path(tmp) / "music.wav", piece)
        samples, source_rate = soundfile.read(str(rendered), dtype="float32", always_2d=True)
    mono = samples.mean(axis=1)
    g = math.gcd(int(source_rate), int(rate))
    return mono if source_rate == rate else resample_poly(mono, rate // g, source_rate // g)


# --- pictures --------------------------------------------------------------------------

_COLOURS = ((214, 69, 65), (52, 120, 198), (46, 160, 67), (230, 145, 30), (140, 82, 180),
            (22, 160, 160), (200, 80, 150), (120, 120, 40))  # fmt: skip


def piano_roll(
    piece: Piece, step_px: int = 4, row_px: int = 5, max_width: int = 2400
) -> Image.Image:
    """The piece as a piano roll: time across (``step_px`` per sixteenth, the whole
    squeezed into ``max_width``), pitch up (``row_px`` per semitone, the notes' range ±2),
    one colour per part, bar lines and a faint line under every C."""
    if not piece.notes:
        return Image.new("RGB", (max(16, 16 * step_px), 12 * row_px), (250, 250, 248))
    lo = min(n.pitch for n in piece.notes) - 2
    hi = max(n.pitch for n in piece.notes) + 2
    steps = max(1, math.ceil(piece.end / STEP - 1e-9))
    width = min(steps * step_px, max_width) + 1
    x_per_quarter = (width - 1) / (steps * STEP)
    height = (hi - lo + 1) * row_px
    img = Image.new("RGB", (width, height), (250, 250, 248))
    draw = ImageDraw.Draw(img)
    for pitch in range(lo, hi + 1):
        if pitch % 12 == 0:
            y = (hi - pitch + 1) * row_px - 1
            draw.line([(0, y), (width - 1, y)], fill=(228, 228, 224))
    bar = 0.0
    while bar <= piece.end + 1e-9:
        x = round(bar * x_per_quarter)
        draw.line([(x, 0), (x, height - 1)], fill=(190, 190, 186))
        bar += piece.bar_quarters
    for note in piece.sorted_notes():
        x0 = round(note.start * x_per_quarter)
        end = round((note.start + note.duration) * x_per_quarter)
        x1 = max(x0, end - 2)  # a pixel's gap, so repeated notes stay apart
        y0 = (hi - note.pitch) * row_px
        draw.rectangle([x0, y0, x1, y0 + row_px - 1], fill=_COLOURS[note.part % len(_COLOURS)])
    return img


# --- everything at once ----------------------------------------------------------------


def _engraving(
    stage: Path,
    name: str,
    musicxml: Path,
    meta: Callable[[str, str], dict[str, Any]],
    provenance: dict[str, Any],
    notify: Notify | None,
) -> list[Path]:
    """The engraved score's files in ``stage`` (none, with a notice, when it fails)."""
    model = provenance.get("model")
    path = model.get("path") if isinstance(model, dict) else None
    by = f"museforge · {Path(path).name}" if path else "museforge"
    try:
        files = engrave(musicxml, name, by)
    except EngraveError as err:
        (notify or log.warning)(f"score not engraved: {err}; the other files are written")
        return []
    out = []
    for role, suffix in SCORE_COMPANIONS.items():
        path = stage / f"{name}{suffix}"
        if suffix.endswith(".png"):  # with the piece's provenance: a companion, not a picture
            with Image.open(io.BytesIO(files[role])) as sheet:
                save_png(path, sheet.convert("RGB"), meta(suffix, "lilypond"))
        else:
            path.write_bytes(files[role])
        out.append(path)
    return out


def render_lent(path: Path, piece: Piece, lent: LentInstrument) -> Path:
    """``piece`` played by a lent instrument (every part), as a 16-bit WAV at its rate."""
    beat = 60.0 / piece.tempo
    notes = [
        NoteEvent(n.start * beat, (n.start + n.duration) * beat, n.pitch, n.velocity)
        for n in piece.notes
    ]
    if not notes:
        raise InputError(f"cannot write '{path}': the piece has no notes to play")
    samples, rate = lent.render(notes)
    frames = (np.clip(samples, -1, 1) * 32767).round().astype("<i2")
    return atomic_write_with(path, lambda dst: write_wav(dst, frames, rate))


def save_piece(
    folder: str | Path,
    name: str,
    piece: Piece,
    provenance: dict[str, Any],
    wav: bool = True,
    xml: bool = True,
    lyrics: list[str] | None = None,
    programs: dict[int, int] | None = None,
    notify: Notify | None = None,
    instrument: str | int | None = None,
) -> list[Path]:
    """Write NAME.mid, NAME.png (piano roll), NAME.musicxml, NAME.wav and the engraved score
    (NAME.score.pdf, .score.png, .score.svg) into ``folder``.

    A score that cannot be engraved (no LilyPond, or it fails) is left out with a one-line
    ``notify``; the other files are written. Each file carries ``{"modality": "music",
    **provenance}`` plus its name and renderer: embedded in the MIDI and the PNGs, and in a
    ``NAME.EXT.json`` sidecar beside the MIDI, MusicXML and WAV. The gallery indexes the
    MIDI as the artwork and the others as its companions. ``programs`` (part index → GM
    program) changes the instruments in every file; ``instrument``, when it names a lent
    instrument (a sound model), renders the WAV with it. Everything is made in a hidden staging
    folder first, so a failure leaves nothing new behind. Returns the files written, not
    the sidecars.
    """
    folder = Path(folder)
    piece = _with_programs(piece, programs)
    folder.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".stage", dir=folder))
    made: list[Path] = []
    try:

        def meta(ext: str, renderer: str) -> dict[str, Any]:
            return {"modality": "music", **provenance, "file": f"{name}{ext}", "renderer": renderer}

        mid = write_midi(stage / f"{name}.mid", piece, meta(".mid", "mido"))
        save_sidecar(mid, meta(".mid", "mido"))
        made.append(mid)
        made.append(save_png(stage / f"{name}.png", piano_roll(piece), meta(".png", "piano-roll")))
        if xml:
            made.append(write_musicxml(stage / f"{name}.musicxml", piece, lyrics))
            save_sidecar(made[-1], meta(".musicxml", "music21"))
            if engraving_wanted():
                made += _engraving(stage, name, made[-1], meta, provenance, notify)
        if wav:
            lent = lent_instrument(instrument)
            if lent is not None:
                audio = render_lent(stage / f"{name}.wav", piece, lent)
                save_sidecar(audio, {**meta(".wav", "learned"), "instrument": lent.record})
            else:
                audio, renderer = render_wav(stage / f"{name}.wav", piece, notify=notify)
                save_sidecar(audio, meta(".wav", renderer))
            made.append(audio)
        # Sidecars before their files, and the MIDI (the artwork itself) after its companions,
        # so a gallery scan never sees a file without its provenance or a piece half there.
        for path in made[1:] + made[:1]:
            side = sidecar_path(path)
            if side.is_file():
                os.replace(side, sidecar_path(folder / path.name))
            os.replace(path, folder / path.name)
        return [folder / path.name for path in made]
    finally:
        shutil.rmtree(stage, ignore_errors=True)
