import numpy as np
import pytest
import soundfile

from museforge.errors import DataError
from museforge.sound import notes as notes_module
from museforge.sound.data import estimate_pitch, load_sounds, split_sounds
from museforge.sound.notes import NoteSpec, family_of, gm_notes
from tests.conftest import PITCHES, RATE, tone

TINY_NOTES = NoteSpec(
    rate=16000, samples=8192, programs=(0, 56), pitches=(48, 69), velocities=(100,)
)


def test_gm_notes_are_rendered_labelled_and_cached(tmp_path, monkeypatch):
    notes = gm_notes(TINY_NOTES, cache_dir=tmp_path)
    assert notes.waves.shape == (4, 8192)
    assert notes.programs.tolist() == [0, 0, 56, 56]
    assert notes.pitches.tolist() == [48, 69, 48, 69]
    assert [family_of(int(p)) for p in notes.programs] == ["piano", "piano", "brass", "brass"]
    peaks = np.abs(notes.waves).max(axis=1)
    assert (peaks > 1000).all()  # every note sounds
    for wave, pitch in zip(notes.waves, notes.pitches, strict=True):
        # each clip holds its own note: the cuts fall on the onsets
        assert estimate_pitch(wave.astype(np.float32) / 32767, 16000) == pytest.approx(pitch, abs=1)

    def no_fluidsynth():
        raise AssertionError("rendered again instead of read from the cache")

    monkeypatch.setattr(notes_module, "soundfont", no_fluidsynth)
    again = gm_notes(TINY_NOTES, cache_dir=tmp_path)
    assert np.array_equal(again.waves, notes.waves)


def test_impossible_note_settings_are_refused(tmp_path):
    with pytest.raises(DataError, match="pitches must be 0-127"):
        gm_notes(NoteSpec(pitches=(200,)), cache_dir=tmp_path)


def test_missing_fluidsynth_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(notes_module.shutil, "which", lambda name: None)
    with pytest.raises(DataError, match="apt install fluidsynth"):
        gm_notes(TINY_NOTES, cache_dir=tmp_path / "empty")


def test_a_folder_gives_classes_pitches_and_reasons_for_skips(tones_folder, tmp_path):
    root = tmp_path / "mine"
    for name in ("bright", "soft"):
        (root / name).mkdir(parents=True)
        for f in (tones_folder / name).iterdir():
            (root / name / f.name).write_bytes(f.read_bytes())
    (root / "soft" / "broken.wav").write_bytes(b"RIFF not really a wave")
    soundfile.write(str(root / "soft" / "quiet.wav"), np.zeros(RATE, np.float32), RATE)
    soundfile.write(str(root / "soft" / "long.ogg"), tone(60, False, seconds=31), RATE)
    soundfile.write(str(root / "loose.wav"), tone(60, False), RATE)
    data = load_sounds(f"folder:{root}", RATE, 1920)
    assert data.class_names == ("bright", "soft")
    assert len(data) == 4 * len(PITCHES)
    assert data.waves.shape == (20, 1920)
    assert sorted(set(data.pitches.tolist())) == list(PITCHES)  # pYIN found every pitch
    reasons = "\n".join(data.skipped)
    assert "broken.wav: cannot be decoded as audio" in reasons
    assert "quiet.wav: is silent" in reasons
    assert "long.ogg: is too long (31.0 s" in reasons
    assert "loose.wav: is not in a class sub-folder" in reasons
    train, held = split_sounds(data, 0.1, 0)
    assert len(train) + len(held) == len(data) and len(held) == 2


def test_an_empty_folder_is_a_clear_error(tmp_path):
    (tmp_path / "none").mkdir()
    (tmp_path / "none" / "notes.txt").write_text("no sounds here")
    with pytest.raises(DataError, match="has no usable sounds"):
        load_sounds(f"folder:{tmp_path / 'none'}", RATE, 1920)


def test_unknown_sets_name_the_choices():
    with pytest.raises(DataError, match="gm-notes, gm-notes-full, folder:PATH"):
        load_sounds("nsynth", RATE, 1920)


def test_noise_is_unpitched():
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, RATE).astype(np.float32)
    assert estimate_pitch(noise, RATE) == -1
