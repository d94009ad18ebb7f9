import json
import zipfile

import mido
import numpy as np
import pytest
import soundfile
import torch

from museforge.core.artifact import load_artifact
from museforge.core.registry import call_verb
from museforge.errors import InputError
from museforge.gallery.store import Gallery
from museforge.sound.play import midi_notes
from tests.conftest import RATE, tone


@pytest.fixture(scope="module")
def model(sound_model):
    return load_artifact(sound_model)


def test_training_lowers_the_reconstruction_error(sound_model):
    lines = (sound_model / "metrics.jsonl").read_text().splitlines()
    losses = [json.loads(line)["recon"] for line in lines if '"recon"' in line]
    assert losses[-1] < 0.8 * losses[0]
    manifest = json.loads((sound_model / "model.json").read_text())
    assert manifest["data"]["class_names"] == ["bright", "soft"]
    assert manifest["data"]["pitch_range"] == [55, 72]
    assert manifest["data"]["licence"] == "the user's own"


def test_sampled_notes_are_reproducible_and_recorded(model):
    first = call_verb(model, "sample", n=3, seed=4, pitch=64, family="soft")
    again = call_verb(model, "sample", n=3, seed=4, pitch=64, family="soft")
    assert [a.wave.shape for a in first.artworks] == [(1920,)] * 3
    assert all(
        np.array_equal(a.wave, b.wave) for a, b in zip(first.artworks, again.artworks, strict=True)
    )
    prov = first.artworks[0].provenance
    assert (prov["pitch"], prov["family"], prov["seed"]) == (64, "soft", 4)
    assert np.abs(first.artworks[0].wave).max() <= 1.0
    other = call_verb(model, "sample", n=3, seed=5, pitch=64, family="soft")
    assert not np.array_equal(other.artworks[0].wave, first.artworks[0].wave)
    with pytest.raises(InputError, match="family must be one of bright, soft"):
        call_verb(model, "sample", family="brass")


def test_a_note_is_one_gallery_sound_with_its_spectrogram(model, tmp_path):
    gallery = Gallery(tmp_path / "gallery")
    ids = gallery.save(call_verb(model, "sample", n=2, seed=1), "notes")
    assert len(ids) == 2 and gallery.count() == 2  # spectrogram PNGs are not pictures
    record = gallery.get(ids[0])
    assert record.modality == "sound" and record.path.endswith(".wav")
    wav = tmp_path / "gallery" / record.path
    samples, rate = soundfile.read(str(wav))
    assert rate == RATE and samples.shape == (1920,)
    with soundfile.SoundFile(str(wav)) as read:  # the RIFF INFO summary
        assert read.copy_metadata()["comment"].startswith(f"museforge: model {model.sha256[:12]}")
    assert wav.with_suffix(".png").is_file()
    assert json.loads(wav.with_name(wav.name + ".json").read_text())["modality"] == "sound"


def test_a_morph_is_one_item_whose_notes_are_its_children(model, tmp_path):
    gallery = Gallery(tmp_path / "gallery")
    result = call_verb(model, "interpolate", seed_a=1, seed_b=2, frames=4, pitch=60)
    ends = call_verb(
        model, "sample", n=1, seed=1, pitch=60, family=result.artworks[0].provenance["family"]
    )
    assert np.allclose(result.artworks[0].wave, ends.artworks[0].wave, atol=1e-5)
    assert len(result.artworks[-1].wave) == 4 * 1920  # the whole morph, note after note
    gallery.save(result, "morphs")
    listed = gallery.list()
    assert len(listed) == 1 and listed[0].path.endswith("morph-s1-s2.wav")
    assert len(gallery.children(listed[0].id)) == 4


def test_breed_and_encode_start_from_sounds(model, tmp_path):
    paths = call_verb(model, "sample", n=2, seed=3).write_to(tmp_path)
    parents = [p for p in paths if p.suffix == ".wav"]
    children = call_verb(model, "breed", parents=parents, children=3, seed=1)
    assert len(children.artworks) == 3
    assert {r["file"] for r in children.artworks[0].provenance["parents"]} == {
        p.name for p in parents
    }
    assert children.artworks[0].provenance["pitch"] in {
        json.loads(p.with_name(p.name + ".json").read_text())["pitch"] for p in parents
    }
    mine = tmp_path / "mine.wav"
    soundfile.write(str(mine), tone(67, True), RATE)
    encoded = call_verb(model, "encode", sounds=[mine])
    assert encoded.data["mine.wav"]["pitch"] == 67  # found by pYIN
    assert len(encoded.data["mine.wav"]["latent"]) == model.model.z_dim
    soundfile.write(str(tmp_path / "quiet.wav"), np.zeros(RATE, np.float32), RATE)
    with pytest.raises(InputError, match=r"quiet\.wav' is silent"):
        call_verb(model, "encode", sounds=[tmp_path / "quiet.wav"])
    stranger = tmp_path / "stranger.wav"
    soundfile.write(str(stranger), tone(60, False), RATE)
    (tmp_path / "stranger.wav.json").write_text(json.dumps({"model": {"sha256": "0" * 64}}))
    with pytest.raises(InputError, match="not by this model"):
        call_verb(model, "breed", parents=[parents[0], stranger])


def _melody(path, pitches=(60, 64, 67), seconds=0.25, drums=True):
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=500_000))  # a beat is 0.5 s
    ticks = int(seconds * 960)
    for p in pitches:
        track.append(mido.Message("note_on", note=p, velocity=100, time=0))
        track.append(mido.Message("note_off", note=p, velocity=0, time=ticks))
    if drums:
        track.append(mido.Message("note_on", note=36, velocity=100, channel=9, time=0))
        track.append(mido.Message("note_off", note=36, velocity=0, channel=9, time=ticks))
    mid.save(str(path))
    return path


def test_a_midi_file_is_played_with_the_models_notes(model, tmp_path):
    melody = _melody(tmp_path / "tune.mid")
    notes = midi_notes(melody)
    assert [n.pitch for n in notes] == [60, 64, 67]  # the drum is left out
    assert notes[1].start == pytest.approx(0.25) and notes[1].end == pytest.approx(0.5)
    result = call_verb(model, "play", music=melody, seed=2)
    (art,) = result.artworks
    assert art.provenance["notes"] == 3 and art.provenance["source"]["file"] == "tune.mid"
    onset = [int(n.start * RATE) for n in notes]
    loudness = [float(np.abs(art.wave[s : s + 400]).max()) for s in onset]
    assert min(loudness) > 0.01  # every note sounds at its time
    assert len(art.wave) <= int(0.75 * RATE) + 1920
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"MThd nonsense")
    with pytest.raises(InputError, match=r"bad\.mid' cannot be read"):
        call_verb(model, "play", music=bad)
    with pytest.raises(InputError, match="no notes to play"):
        call_verb(model, "play", music=_melody(tmp_path / "empty.mid", pitches=()))


def test_an_instrument_exports_as_sfz_with_its_samples(model, tmp_path):
    result = call_verb(model, "instrument", seed=2, every=6)
    paths = result.write_to(tmp_path)
    sfz = (tmp_path / "instrument-s2.sfz").read_text()
    regions = [line for line in sfz.splitlines() if line.startswith("<region>")]
    assert len(regions) == 3  # pitches 55, 61, 67 of the model's range 55-72
    assert "default_path=instrument-s2-samples/" in sfz
    assert "lokey=0" in regions[0] and "hikey=127" in regions[-1]
    for line in regions:
        sample = line.split("sample=")[1].split()[0]
        data, rate = soundfile.read(str(tmp_path / "instrument-s2-samples" / sample))
        assert rate == RATE and np.abs(data).max() > 0
    assert tmp_path / "instrument-s2.wav" in paths
    with zipfile.ZipFile(tmp_path / "instrument-s2.sfz.zip") as box:  # one download for a DAW
        names = sorted(box.namelist())
        assert names[-1] == "instrument-s2.sfz" and len(names) == 4
        assert (
            box.read("instrument-s2-samples/p061.wav")
            == (tmp_path / "instrument-s2-samples" / "p061.wav").read_bytes()
        )
    same = call_verb(model, "play", music=_melody(tmp_path / "one.mid", pitches=(61,)), seed=2)
    note = result.samples["p061.wav"]
    assert torch.allclose(
        torch.from_numpy(same.artworks[0].wave[:900]), torch.from_numpy(note[:900] * 1.0), atol=1e-4
    )


def test_evaluate_scores_quality_pitch_variety_and_copies(model, tmp_path):
    report = call_verb(model, "evaluate", n=12, seed=0, out_dir=tmp_path).data
    assert report["n"] == 12 and report["data_matches_training"]
    assert report["fid_real_floor"] >= 0 and report["fid"] > 0
    assert report["pitch_real"]["accuracy"] == 1.0  # the tracker hears the real tones right
    assert 0 <= report["pitch"]["accuracy"] <= 1 and report["pitch"]["notes"] == 12
    assert 0 <= report["ndb"]["ndb_over_k"] <= 1 and report["ndb"]["bins"] == 4
    assert 0 <= report["memorisation"]["near_copy_share"] <= 1
    assert len(report["worst_cases"]) == 8 and (tmp_path / report["worst_cases"][0]).is_file()
