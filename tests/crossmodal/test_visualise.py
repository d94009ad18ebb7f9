"""Music you can see: beats move the walk, loudness sets how far it goes, the seed fixes it;
the video holds the frames and the music."""

from __future__ import annotations

import sys

import av
import mido
import numpy as np
import pytest
import soundfile
import torch

from museforge.cli import main
from museforge.core.artifact import load_artifact
from museforge.crossmodal.lyrics import Cue, even_cues
from museforge.crossmodal.visualise import (
    latent_path,
    music_features,
    prompt_plan,
    visualisation,
    visualise,
)
from museforge.errors import InputError
from museforge.gallery.store import Gallery

RATE = 22050


def clicks_and_swell(seconds: float = 4.0) -> np.ndarray:
    """A tone that swells from quiet to loud, with a click every half second."""
    t = np.arange(int(seconds * RATE)) / RATE
    wave = 0.4 * np.sin(2 * np.pi * 220 * t) * np.linspace(0.05, 1, len(t))
    for beat in np.arange(0.25, seconds, 0.5):
        start = int(beat * RATE)
        wave[start : start + 200] += np.random.default_rng(int(beat * 10)).uniform(-0.8, 0.8, 200)
    return np.clip(wave, -1, 1).astype(np.float32)


def test_beats_kick_the_walk_and_loudness_widens_it():
    features = music_features(clicks_and_swell(), RATE, fps=24)
    assert features.frames == 96 and features.chroma.shape == (96, 12)
    assert np.allclose(features.chroma.sum(1), 1)
    beats = [int(b * 24) for b in np.arange(0.25, 4.0, 0.5)]
    assert all(features.onset[b - 1 : b + 2].max() > 0.5 for b in beats)
    path = latent_path(features, 16, seed=3)
    steps = (path[1:] - path[:-1]).norm(dim=1)
    after = torch.tensor([steps[b : b + 2].max() for b in beats[1:]])
    assert after.mean() > 1.5 * steps.median()  # the walk jumps on the beats
    norms = path.norm(dim=1)
    assert norms[60:].mean() > 1.3 * norms[:30].mean()  # louder: further out
    assert torch.equal(path, latent_path(features, 16, seed=3))
    assert not torch.allclose(path, latent_path(features, 16, seed=4))


def test_what_a_model_cannot_draw_is_refused_before_the_music_is_read(gan_model):
    from types import SimpleNamespace

    from museforge.crossmodal.visualise import check_model

    notes = SimpleNamespace(kind="sound-vae", model=object(), path="notes")
    with pytest.raises(InputError, match="'notes' \\(sound-vae\\) does not draw pictures"):
        check_model(notes, None, None)
    words = SimpleNamespace(kind="text-to-image", model=object(), path="words")
    with pytest.raises(InputError, match="give --prompts or --lyrics"):
        check_model(words, None, None)
    gan = load_artifact(gan_model)
    with pytest.raises(InputError, match="not class-conditional"):
        check_model(gan, None, 3)
    check_model(gan, None, None)


def test_prompts_are_spread_over_the_piece_and_blend():
    plan = prompt_plan(even_cues(["a", "b", "c"], 3.0), 12, fps=4)
    assert plan[0] == (0, 1, 0.0) and plan[-1][0] == 2
    assert any(0 < share < 1 for _, _, share in plan)  # each blends into the next
    with pytest.raises(InputError, match="at least one prompt"):
        prompt_plan([], 5, fps=4)


def test_timed_words_start_when_they_are_sung():
    cues = [Cue(2.0, "sun"), Cue(4.0, "moon")]
    plan = prompt_plan(cues, 24, fps=4)  # 6 s
    assert plan[:8] == [(0, 1, 0.0)] * 8  # before and at the first line: its words alone
    assert plan[12] == (0, 1, 0.0) and plan[14] == (0, 1, pytest.approx(0.5))
    assert plan[16:] == [(1, 1, 0.0)] * 8  # from 4 s the second line alone


def test_a_video_holds_every_frame_and_the_music(gan_model, tmp_path):
    loaded = load_artifact(gan_model)
    wave = clicks_and_swell(2.0)
    made = visualise(loaded, wave, RATE, tmp_path / "clip.mp4", seed=1, fps=12, size=(64, 36))
    assert made["frames"] == 24
    with av.open(str(tmp_path / "clip.mp4")) as box:
        kinds = sorted(s.type for s in box.streams)
        frames = [f.to_ndarray(format="rgb24") for f in box.decode(video=0)]
        assert kinds == ["audio", "video"]
        assert float(box.duration) / 1e6 == pytest.approx(2.0, abs=0.15)
    assert len(frames) == 24 and frames[0].shape == (36, 64, 3)
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean() > 1  # it moves
    visualise(loaded, wave, RATE, tmp_path / "clip.gif", fps=6, size=(32, 18))
    assert (tmp_path / "clip.gif").is_file()
    with pytest.raises(InputError, match=r"\.mp4 or \.gif"):
        visualise(loaded, wave, RATE, tmp_path / "clip.avi", fps=6, size=(32, 18))


def test_the_command_renders_midi_first(gan_model, tmp_path, monkeypatch, capsys):
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    for pitch in (60, 64, 67, 72):
        track.append(mido.Message("note_on", note=pitch, velocity=90, time=0))
        track.append(mido.Message("note_off", note=pitch, velocity=0, time=240))
    mid.save(str(tmp_path / "tune.mid"))
    out = tmp_path / "tune.mp4"
    args = ["visualise", tmp_path / "tune.mid", "--model", gan_model, "--out", out]
    monkeypatch.setattr(
        sys, "argv", ["museforge", *map(str, [*args, "--fps", "8", "--size", "64x36"])]
    )
    with pytest.raises(SystemExit) as done:
        main()
    assert (done.value.code or 0) == 0, capsys.readouterr().err
    assert "wrote" in capsys.readouterr().out and out.is_file()
    monkeypatch.setattr(
        sys, "argv", ["museforge", *map(str, [*args[:1], tmp_path / "x.wav", *args[2:]])]
    )
    with pytest.raises(SystemExit) as failed:
        main()
    assert failed.value.code == 1 and "is not a file" in capsys.readouterr().err


def test_a_visualisation_is_one_gallery_item_with_its_poster_and_provenance(gan_model, tmp_path):
    loaded = load_artifact(gan_model)
    music = tmp_path / "swell.wav"
    soundfile.write(str(music), clicks_and_swell(1.0), RATE)
    gallery = Gallery(tmp_path / "gallery")
    result = visualisation(loaded, music, seed=2, fps=8, size=(64, 36))
    (art,) = gallery.save(result, "visualise")
    record = gallery.get(art)
    assert record.modality == "video" and record.path == "visualise/visualise-swell-s2.mp4"
    assert record.seed == 2 and record.provenance["frames"] == 8
    assert record.provenance["source"]["file"] == "swell.wav"
    assert gallery.list() == [gallery.get(art)]  # the poster is part of it, not an artwork
    assert (tmp_path / "gallery" / "visualise" / "visualise-swell-s2.png").is_file()
    with pytest.raises(InputError, match="is a video: make it again with `museforge visualise`"):
        gallery.remix(art)
    again = visualisation(loaded, music, seed=2, fps=8, size=(64, 36))
    path = tmp_path / "again"
    again.write_to(path)  # the same seed makes the same frames
    with (
        av.open(str(tmp_path / "gallery" / record.path)) as a,
        av.open(str(path / "visualise-swell-s2.mp4")) as b,
    ):
        first = [f.to_ndarray(format="rgb24") for f in a.decode(video=0)]
        second = [f.to_ndarray(format="rgb24") for f in b.decode(video=0)]
    assert len(first) == 8 and all(np.array_equal(x, y) for x, y in zip(first, second, strict=True))
