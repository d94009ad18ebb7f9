"""A sound model lends its instrument to music: ``--instrument MODEL@SEED`` plays a
piece's audio with the model's notes, while its MIDI and score keep their programs."""

import json

import numpy as np
import pytest
import soundfile

from museforge.core.artifact import load_artifact
from museforge.core.instruments import NoteEvent, find_instrument
from museforge.core.registry import call_verb
from museforge.errors import InputError
from museforge.music.instruments import assign
from museforge.music.result import MusicArtwork, MusicResult
from museforge.music.score import Note, Part, Piece


def test_a_sound_model_is_an_instrument_music_can_borrow(sound_model, tmp_path):
    lent = find_instrument(f"{sound_model}@2")
    assert lent is not None and lent.record["seed"] == 2
    notes = [NoteEvent(0.0, 0.2, 60, 100), NoteEvent(0.25, 0.5, 67, 100)]
    samples, rate = lent.render(notes)
    assert rate == 8000 and samples.ndim == 1 and np.abs(samples).max() > 0
    # the same timbre as `play --seed 2` of the same notes
    midi = tmp_path / "two.mid"
    import mido

    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=500_000))
    for pitch, rest in ((60, 0), (67, 48)):
        track.append(mido.Message("note_on", note=pitch, velocity=100, time=rest))
        track.append(mido.Message("note_off", note=pitch, velocity=0, time=192))
    mid.save(str(midi))
    played = call_verb(load_artifact(sound_model), "play", music=midi, seed=2).artworks[0].wave
    assert np.allclose(played[:1600], samples[:1600], atol=1e-4)
    assert find_instrument("flute") is None and find_instrument("73") is None
    with pytest.raises(InputError, match="seed after @ must be a whole number"):
        find_instrument(f"{sound_model}@loud")


def test_music_plays_its_audio_on_the_lent_instrument(sound_model, tmp_path):
    spec = f"{sound_model}@1"
    parts = (Part("melody", 73),)
    assert assign(spec, parts) == parts  # the notation keeps its flute
    piece = Piece(
        notes=tuple(Note(p, i * 1.0, 1.0, 90) for i, p in enumerate((60, 62, 64, 65))),
        parts=parts,
        tempo=120,
    )
    art = MusicArtwork("tune", piece, {"seed": 0, "args": {"instrument": spec}})
    result = MusicResult([art])
    result.write_to(tmp_path)
    side = json.loads((tmp_path / "tune.wav.json").read_text())
    assert side["renderer"] == "learned" and side["instrument"]["seed"] == 1
    samples, rate = soundfile.read(str(tmp_path / "tune.wav"))
    assert rate == 8000
    # four beats at 120: the last starts at 1.5 s, is sustained past the model's clip
    # (0.24 s) for its half second, then the drawn note's release (its last quarter)
    assert 2.0 < len(samples) / rate <= 2.0 + 0.24 / 4 + 0.01
    for onset in (0.0, 0.5, 1.0, 1.5):
        assert np.abs(samples[int(onset * rate) : int(onset * rate) + 400]).max() > 0.01
    assert (tmp_path / "tune.mid").is_file()
