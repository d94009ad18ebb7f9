"""Rendering a Piece: MIDI and MusicXML round trips, WAV by FluidSynth and by the NumPy
synth, the piano roll's geometry, and save_piece as the gallery sees it."""

from __future__ import annotations

import json
import shutil
import wave
from pathlib import Path

import mido
import numpy as np
import pytest

from museforge.errors import InputError
from museforge.gallery.provenance import read_png_provenance, sidecar_path
from museforge.gallery.store import Gallery, companions
from museforge.music import render
from museforge.music.score import Key, Note, Part, Piece
from museforge.music.synth import synthesize

PROVENANCE = {"verb": "sample", "seed": 7, "title": "Früh — 春", "model": {"kind": "music-lm"}}
HAS_FLUIDSYNTH = shutil.which("fluidsynth") is not None and render.find_soundfont() is not None


def duet() -> Piece:
    """Two parts in 3/4, E minor, a chord in the lower part and a held note over a bar."""
    upper = [Note(76, 0.0, 1.0, 90, 0), Note(79, 1.0, 0.5, 70, 0), Note(78, 1.5, 4.5, 80, 0)]
    lower = [Note(52, 0.0, 3.0, 60, 1), Note(55, 0.0, 3.0, 60, 1), Note(47, 3.0, 3.0, 64, 1)]
    return Piece(
        tuple(upper + lower),
        parts=(Part("flute", 73), Part("strings", 48)),
        tempo=90.0,
        time_signature=(3, 4),
        key=Key(4, "minor"),
        title="Duet",
    )


def scale(seconds: float, tempo: float = 120.0) -> Piece:
    """Crotchets up and down a C major scale lasting ``seconds``."""
    steps = [0, 2, 4, 5, 7, 9, 11, 12, 11, 9, 7, 5, 4, 2]
    count = round(seconds * tempo / 60)
    notes = tuple(Note(60 + steps[i % len(steps)], float(i), 1.0) for i in range(count))
    return Piece(notes, tempo=tempo)


def midi_notes(path: Path) -> tuple[mido.MidiFile, set[tuple[int, float, float, int, int]]]:
    """(pitch, start, duration, velocity, channel) of every note in a MIDI file."""
    midi = mido.MidiFile(str(path))
    found, sounding = set(), {}
    for track in midi.tracks:
        now = 0
        for msg in track:
            now += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                assert (msg.channel, msg.note) not in sounding, "a note struck twice unreleased"
                sounding[(msg.channel, msg.note)] = (now, msg.velocity)
            elif msg.type in ("note_off", "note_on"):
                start, vel = sounding.pop((msg.channel, msg.note))
                tpb = midi.ticks_per_beat
                found.add((msg.note, start / tpb, (now - start) / tpb, vel, msg.channel))
    assert not sounding, "notes left hanging"
    return midi, found


def wav_info(path: Path) -> tuple[int, int, float, np.ndarray]:
    with wave.open(str(path)) as w:
        rate, channels = w.getframerate(), w.getnchannels()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return rate, channels, len(data) / channels / rate, data


# --- MIDI ------------------------------------------------------------------------------


def test_midi_round_trip_keeps_notes_meter_key_tempo_programs_and_provenance(tmp_path):
    piece = duet()
    path = render.write_midi(tmp_path / "duet.mid", piece, PROVENANCE)
    midi, notes = midi_notes(path)
    assert midi.type == 1 and midi.ticks_per_beat == 480 and len(midi.tracks) == 3
    want = {(n.pitch, n.start, n.duration, n.velocity, n.part) for n in piece.notes}
    assert notes == want  # channels 0 and 1 are the parts
    meta = {m.type: m for m in midi.tracks[0] if m.is_meta}
    assert mido.tempo2bpm(meta["set_tempo"].tempo) == pytest.approx(90.0, abs=1e-3)
    assert (meta["time_signature"].numerator, meta["time_signature"].denominator) == (3, 4)
    assert meta["key_signature"].key == "Em"
    assert meta["track_name"].name == "Duet"
    programs = [m.program for t in midi.tracks for m in t if m.type == "program_change"]
    assert programs == [73, 48]
    assert render.read_midi_provenance(path) == PROVENANCE
    assert [p.name for p in tmp_path.iterdir()] == ["duet.mid"]  # no temporary left over


def test_midi_repeated_and_doubled_notes_are_never_left_hanging(tmp_path):
    notes = (
        Note(60, 0.0, 2.0),  # still sounding when the next C is struck
        Note(60, 1.0, 1.0),
        Note(64, 0.0, 1.0),  # doubled: the same pitch at the same time
        Note(64, 0.0, 0.5),
        Note(67, 2.0, 1.0, part=1),
    )
    piece = Piece(notes, parts=tuple(Part(f"p{i}") for i in range(11)))
    path = render.write_midi(tmp_path / "r.mid", piece, None)
    _, found = midi_notes(path)  # asserts every note_on has exactly one note_off
    assert found == {(60, 0.0, 1.0, 80, 0), (60, 1.0, 1.0, 80, 0), (64, 0.0, 1.0, 80, 0),
                     (67, 2.0, 1.0, 80, 1)}  # fmt: skip
    channels = [render._channel(i) for i in range(11)]
    assert 9 not in channels and channels[9] == 10  # the drum channel is skipped


def test_midi_provenance_errors_name_the_file(tmp_path):
    bad = tmp_path / "broken.mid"
    bad.write_bytes(b"MThd\x00\x00\x00\x06\x00\x01")  # a header cut short
    with pytest.raises(InputError, match=r"broken\.mid.*not a readable MIDI"):
        render.read_midi_provenance(bad)
    with pytest.raises(InputError, match=r"missing\.mid.*does not exist"):
        render.read_midi_provenance(tmp_path / "missing.mid")
    plain = render.write_midi(tmp_path / "plain.mid", duet(), None)
    with pytest.raises(InputError, match=r"plain\.mid.*no museforge provenance"):
        render.read_midi_provenance(plain)
    deep = mido.MidiFile()  # provenance nested deeper than Python's JSON reader recurses
    text = render.PROVENANCE_PREFIX + "[" * 100_000
    deep.tracks.append(mido.MidiTrack([mido.MetaMessage("text", text=text)]))
    deep.save(tmp_path / "deep.mid")
    with pytest.raises(InputError, match=r"deep\.mid.*not valid JSON"):
        render.read_midi_provenance(tmp_path / "deep.mid")


def test_unplayable_pitch_is_refused_and_nothing_is_written(tmp_path):
    piece = Piece((Note(130, 0.0, 1.0),))
    with pytest.raises(InputError, match=r"odd\.mid.*pitch 130"):
        render.write_midi(tmp_path / "odd.mid", piece, {})
    assert list(tmp_path.iterdir()) == []


# --- MusicXML --------------------------------------------------------------------------


def test_musicxml_round_trip_has_chords_parts_and_lyrics(tmp_path):
    from music21 import converter

    piece = duet()
    path = render.write_musicxml(tmp_path / "duet.musicxml", piece, ["Hel-", "lo", "world"])
    score = converter.parse(str(path))
    assert len(score.parts) == 2
    upper = list(score.parts[0].flatten().notes)
    lower = list(score.parts[1].flatten().notes)
    # The held F# crosses the bar line and is written tied; its tie continuation has no lyric.
    assert [n.pitch.midi for n in upper] == [76, 79, 78, 78]
    assert [n.lyric for n in upper[:3]] == ["Hel", "lo", "world"]
    assert upper[0].lyrics[0].syllabic == "begin"
    assert sorted(p.midi for p in lower[0].pitches) == [52, 55]  # simultaneous → a chord
    assert lower[1].pitch.midi == 47
    assert score.parts[0].getInstrument().midiProgram == 73
    flat = score.flatten()
    assert flat.getElementsByClass("TimeSignature")[0].ratioString == "3/4"
    k = flat.getElementsByClass("KeySignature")[0]
    assert (k.tonic.name, k.mode) == ("E", "minor")
    assert flat.getElementsByClass("MetronomeMark")[0].number == 90
    # The same piece gives the same bytes (music21 would draw random part ids).
    again = render.write_musicxml(tmp_path / "again.musicxml", piece, ["Hel-", "lo", "world"])
    assert again.read_bytes() == path.read_bytes()


# --- WAV -------------------------------------------------------------------------------


@pytest.mark.skipif(not HAS_FLUIDSYNTH, reason="fluidsynth or FluidR3_GM.sf2 not installed")
def test_fluidsynth_renders_the_expected_length_and_instruments_change_it(tmp_path):
    piece = scale(4.0)
    heard = []
    path, renderer = render.render_wav(tmp_path / "a.wav", piece, notify=heard.append)
    assert renderer == "fluidsynth" and heard == []
    rate, channels, seconds, data = wav_info(path)
    assert (rate, channels) == (44100, 2)
    assert seconds == pytest.approx(piece.seconds, abs=1.0)
    assert np.abs(data.astype(np.int32)).max() > 1000
    organ, _ = render.render_wav(tmp_path / "b.wav", piece, programs={0: 19})
    assert wav_info(organ)[3].tobytes() != data.tobytes()


def test_numpy_fallback_when_fluidsynth_is_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(render.shutil, "which", lambda name: None)
    piece = scale(5.0)
    heard = []
    path, renderer = render.render_wav(tmp_path / "a.wav", piece, notify=heard.append)
    assert renderer == "numpy"
    assert heard == [
        "FluidSynth not found (apt install fluidsynth fluid-soundfont-gm); used the built-in synth"
    ]
    rate, channels, seconds, data = wav_info(path)
    assert (rate, channels) == (22050, 1)
    assert seconds == pytest.approx(piece.seconds, abs=1.0)
    assert np.abs(data.astype(np.int32)).max() > 10000


def test_fallback_when_the_soundfont_is_missing_or_fluidsynth_fails(tmp_path, monkeypatch):
    monkeypatch.delenv("MUSEFORGE_SOUNDFONT", raising=False)
    monkeypatch.setattr(render, "SOUNDFONTS", (tmp_path / "none.sf2",))
    monkeypatch.setattr(render.shutil, "which", lambda name: "/usr/bin/fluidsynth")
    heard = []
    _, renderer = render.render_wav(tmp_path / "a.wav", scale(1.0), notify=heard.append)
    assert renderer == "numpy" and heard[0].startswith("no General MIDI soundfont found")

    fake = tmp_path / "fluidsynth"  # a FluidSynth that fails as a broken install would
    fake.write_text("#!/bin/sh\necho 'boom: no audio' >&2\nexit 3\n")
    fake.chmod(0o755)
    (tmp_path / "font.sf2").write_bytes(b"RIFF")
    monkeypatch.setattr(render, "SOUNDFONTS", (tmp_path / "font.sf2",))
    monkeypatch.setattr(render.shutil, "which", lambda name: str(fake))
    _, renderer = render.render_wav(tmp_path / "b.wav", scale(1.0), notify=heard.append)
    assert renderer == "numpy"
    assert heard[1] == ("FluidSynth failed (exit 3: boom: no audio); used the built-in synth")
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith("sf2")) == [
        "a.wav", "b.wav", "fluidsynth"
    ]  # fmt: skip


def test_synth_plays_the_right_pitch_and_timbre_follows_the_program():
    a4 = Piece((Note(69, 0.0, 4.0),), tempo=60.0)
    samples = synthesize(a4)
    spectrum = np.abs(np.fft.rfft(samples[:22050]))
    assert np.fft.rfftfreq(22050, 1 / 22050)[spectrum.argmax()] == pytest.approx(440, abs=2)
    organ = synthesize(Piece(a4.notes, parts=(Part("organ", 19),), tempo=60.0))
    assert not np.allclose(organ, samples)
    with pytest.raises(InputError, match="no part 3"):
        render.render_wav("unused.wav", a4, programs={3: 19})


# --- piano roll ------------------------------------------------------------------------


def test_piano_roll_size_follows_length_and_range_and_is_capped():
    short, long_ = render.piano_roll(scale(4.0)), render.piano_roll(scale(16.0))
    assert long_.width > short.width and long_.width - 1 == 4 * (short.width - 1)
    assert short.height == (72 - 60 + 1 + 4) * 5  # the notes' range ±2 semitones, 5 px each
    assert render.piano_roll(scale(600.0)).width == 2401
    assert render.piano_roll(Piece(())).size[0] > 0


def test_piano_roll_draws_high_notes_above_low_ones_in_part_colours():
    piece = Piece(
        (Note(84, 0.0, 4.0, part=0), Note(48, 0.0, 4.0, part=1)),
        parts=(Part("high"), Part("low")),
    )
    img = np.asarray(render.piano_roll(piece, step_px=4, row_px=5))
    column = img[:, 8]
    rows = {tuple(c) for c in column}
    high, low = tuple(render._COLOURS[0]), tuple(render._COLOURS[1])
    assert high in rows and low in rows
    first_row = {c: int(np.flatnonzero((column == c).all(axis=1))[0]) for c in (high, low)}
    assert first_row[high] == 2 * 5  # two empty semitones above the top note
    assert first_row[low] == (84 + 2 - 48) * 5 > first_row[high]


# --- save_piece ------------------------------------------------------------------------


def test_save_piece_writes_everything_and_the_gallery_indexes_it_as_music(tmp_path):
    folder = tmp_path / "gallery" / "music"
    paths = render.save_piece(
        folder, "duet-7", duet(), PROVENANCE, lyrics=["la"] * 3, programs={1: 19}
    )
    names = [p.name for p in paths]
    assert names == ["duet-7.mid", "duet-7.png", "duet-7.musicxml", "duet-7.wav"]
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [*names, "duet-7.mid.json", "duet-7.musicxml.json", "duet-7.wav.json"]
    )  # nothing staged is left behind
    wav_side = json.loads(sidecar_path(folder / "duet-7.wav").read_text())
    assert wav_side["renderer"] in ("fluidsynth", "numpy") and wav_side["seed"] == 7
    assert wav_side["file"] == "duet-7.wav" and wav_side["title"] == PROVENANCE["title"]
    assert render.read_midi_provenance(folder / "duet-7.mid")["file"] == "duet-7.mid"
    midi = mido.MidiFile(str(folder / "duet-7.mid"))
    assert [m.program for t in midi.tracks for m in t if m.type == "program_change"] == [73, 19]
    assert read_png_provenance(folder / "duet-7.png")["renderer"] == "piano-roll"
    gallery = Gallery(tmp_path / "gallery")
    try:  # one artwork, the MIDI; roll, score and audio travel with it as its companions
        assert gallery.reindex() == 1
        (record,) = gallery.list()
        assert (record.path, record.modality, record.seed) == ("music/duet-7.mid", "music", 7)
        assert record.provenance["renderer"] == "mido"
        found = companions(folder / "duet-7.mid")
        assert {role: p.name for role, p in found.items()} == {
            "audio": "duet-7.wav", "score": "duet-7.musicxml", "roll": "duet-7.png"
        }  # fmt: skip
    finally:
        gallery.close()


def test_save_piece_failure_leaves_nothing_behind(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(render, "write_musicxml", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        render.save_piece(tmp_path, "x", duet(), PROVENANCE, wav=False)
    assert list(tmp_path.iterdir()) == []
