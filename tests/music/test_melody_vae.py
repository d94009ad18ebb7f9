"""The melody VAE: phrase encoding, training signal, and its four verbs on a tiny model."""

from __future__ import annotations

import random

import mido
import pytest
import torch

from museforge.core.artifact import load_artifact
from museforge.core.latent import decode_latent
from museforge.core.registry import call_verb
from museforge.core.seeding import stream
from museforge.core.train import Trainer, TrainSettings
from museforge.errors import InputError
from museforge.music import verbs_vae
from museforge.music.melody_vae import (
    HOLD,
    REST,
    MelodyVAE,
    MelodyVAEConfig,
    MelodyVAETask,
    MelodyVAETraining,
    canonical,
    phrase_from_piece,
    phrase_tensor,
    phrase_windows,
    piece_from_phrase,
)
from museforge.music.render import write_midi
from museforge.music.score import Key, Note, Piece

CFG = MelodyVAEConfig(z_dim=8, embed=16, enc_hidden=48, dec_hidden=64, dec_layers=1, dropout=0)
SCALE = (0, 2, 4, 5, 7, 9, 11)


def synthetic(n: int, seed: int) -> list[list[int]]:
    """Scale-wise walks whose notes all last 1, 2, 4 or 8 steps: density varies a lot."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        length, degree, tokens = rng.choice([1, 2, 4, 8]), rng.randrange(7, 14), []
        while len(tokens) < CFG.steps:
            degree = max(0, min(20, degree + rng.choice([-2, -1, 1, 2])))
            pitch = 48 + SCALE[degree % 7] + 12 * (degree // 7)
            tokens += [2 + pitch - CFG.low] + [HOLD] * (length - 1)
        out.append(tokens[: CFG.steps])
    return out


def train(steps: int, seed: int = 0) -> MelodyVAETask:
    torch.manual_seed(seed)
    training = MelodyVAETraining(lr=3e-3, kl_warmup=50, free_bits=4, transpose=(0, 0))
    task = MelodyVAETask(
        CFG,
        training,
        phrase_tensor(synthetic(512, 0), CFG),
        phrase_tensor(synthetic(64, 1), CFG),
        0,
    )
    gen = stream(seed, "test")
    for _ in range(steps):
        task.train_step(torch.randint(512, (32,), generator=gen), gen)
    return task


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # Tiny LSTMs: a second thread only contends with the other tests for the cores.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    torch.manual_seed(0)
    training = MelodyVAETraining(lr=3e-3, kl_warmup=50, free_bits=4, transpose=(0, 0))
    train_x, val_x = phrase_tensor(synthetic(512, 0), CFG), phrase_tensor(synthetic(64, 1), CFG)
    task = MelodyVAETask(CFG, training, train_x, val_x, 0)
    settings = TrainSettings(steps=150, batch_size=32, preview_every=0, log_every=50)
    out = tmp_path_factory.mktemp("vae")
    result = Trainer(task, settings, out, progress=False).fit()
    assert result.metrics["val_accuracy"] > 0.3  # validate() ran and reports greedy accuracy
    return load_artifact(out)


def melody_file(folder, name: str, pitches: list[int], length: float = 0.5) -> str:
    notes = tuple(Note(p, i * length, length) for i, p in enumerate(pitches))
    piece = Piece(notes, tempo=90.0, key=Key(7, "major"))
    return str(write_midi(folder / f"{name}.mid", piece))


def test_phrase_piece_round_trip_is_exact():
    rng = random.Random(3)
    for tokens in synthetic(20, 2) + [
        canonical([rng.choice([HOLD, REST, 2, 9, 30]) for _ in range(32)]) for _ in range(50)
    ]:
        piece = piece_from_phrase(tokens, CFG, tempo=80.0, key=Key(2, "minor"))
        assert phrase_from_piece(piece, CFG) == tokens
        assert (piece.tempo, piece.key) == (80.0, Key(2, "minor"))
    notes = (Note(60, 0.0, 1.5), Note(64, 2.0, 0.25), Note(67, 2.25, 4.0), Note(72, 7.75, 0.25))
    piece = Piece(notes)
    assert piece_from_phrase(phrase_from_piece(piece, CFG), CFG).notes == notes


def test_windows_start_on_bar_lines_and_skip_empty_ones():
    # 3/4: windows of 32 steps start every 12 steps; a long silence is skipped.
    notes = [Note(60 + i % 5, i * 0.5, 0.5) for i in range(24)] + [Note(70, 40.0, 1.0)]
    piece = Piece(tuple(notes), time_signature=(3, 4))
    windows = phrase_windows(piece, CFG)
    first = phrase_from_piece(piece, CFG, bar=1)
    assert windows[1] == first and first[0] == 2 + 61 - CFG.low
    assert all(w.count(REST) <= 16 for w in windows)
    assert len(windows) == 3  # bars 0-2 hold notes; bars 3-13 are (mostly) silent


def test_elbo_falls_over_30_steps():
    before = train(0).validate()["val_elbo"]
    after = train(30).validate()["val_elbo"]
    assert after < 0.8 * before


def test_sample_is_deterministic_by_seed(loaded):
    a = verbs_vae.sample(loaded, n=3, seed=5)
    b = verbs_vae.sample(loaded, n=1, seed=5)
    c = verbs_vae.sample(loaded, n=3, seed=6)
    assert [p.notes for _, p, _ in a.pieces][:1] == [b.pieces[0][1].notes]
    assert a.pieces[1][1].notes == verbs_vae.sample(loaded, n=3, seed=5).pieces[1][1].notes
    assert [p.notes for _, p, _ in a.pieces] != [p.notes for _, p, _ in c.pieces]
    _, piece, prov = a.pieces[2]
    assert prov["model"]["sha256"] == loaded.sha256 and prov["index"] == 2
    assert decode_latent(prov["latent"]).shape == (CFG.z_dim,)
    assert piece.notes and piece.time_signature == (4, 4)


def test_encode_and_interpolation_ends(loaded, tmp_path):
    a = melody_file(tmp_path, "a", [60, 62, 64, 65, 67, 65, 64, 62] * 2)
    b = melody_file(tmp_path, "b", [72, 71, 69, 67, 65, 64, 62, 60], length=1.0)
    enc_a, enc_b = verbs_vae.encode(loaded, a), verbs_vae.encode(loaded, b)
    assert len(enc_a.data["latent"]) == CFG.z_dim
    phrase = enc_a.pieces[0][1]
    assert [n.pitch for n in phrase.notes] == [60, 62, 64, 65, 67, 65, 64, 62] * 2
    assert phrase.tempo == pytest.approx(90.0, abs=0.01)  # kept from the source
    assert phrase.key == Key(7, "major")
    walk = verbs_vae.interpolate(loaded, melody_a=a, melody_b=b, steps=4)
    assert len(walk.pieces) == 4
    assert walk.pieces[0][1].notes == enc_a.pieces[1][1].notes
    assert walk.pieces[-1][1].notes == enc_b.pieces[1][1].notes
    prov = walk.pieces[1][2]
    assert [p["file"] for p in prov["parents"]] == ["a.mid", "b.mid"]
    assert prov["ends"] == [f"{walk.pieces[0][0]}.mid", f"{walk.pieces[-1][0]}.mid"]


def test_condition_on_density_moves_the_note_count(loaded):
    def notes(amount: float) -> float:
        counts = [
            len(verbs_vae.condition(loaded, "density", amount, seed=s).pieces[1][1].notes)
            for s in range(6)
        ]
        return sum(counts) / len(counts)

    assert notes(2.0) > notes(-2.0) + 2
    result = verbs_vae.condition(loaded, "note_density", 1.0, seed=0)
    assert result.data["attribute"] == "density"
    low, high = result.data["training_quartile_means"].values()
    assert low < 2.5 and high == 16.0  # notes per bar: whole-note walks vs sixteenth walks


def test_bad_inputs(loaded, tmp_path):
    empty = tmp_path / "empty.mid"
    midi = mido.MidiFile()
    midi.tracks.append(mido.MidiTrack([mido.MetaMessage("end_of_track", time=0)]))
    midi.save(empty)
    with pytest.raises(InputError):
        verbs_vae.encode(loaded, str(empty))
    with pytest.raises(InputError, match="attribute must be one of density, range, pitch"):
        call_verb(loaded, "condition", attribute="loudness")
    short = melody_file(tmp_path, "short", [60, 62])
    with pytest.raises(InputError, match="no 2-bar phrase"):
        verbs_vae.encode(loaded, short, bar=3)
    fresh = loaded.__class__(MelodyVAE(CFG), loaded.manifest, loaded.path)
    with pytest.raises(InputError, match="no attribute vectors"):
        verbs_vae.condition(fresh, "density")
    with pytest.raises(InputError, match=r"n must be 1\.\.1000"):
        call_verb(loaded, "sample", n=0)
    with pytest.raises(InputError, match=r"bar must be at least 0"):
        call_verb(loaded, "encode", melody=short, bar=-1)


def test_the_call_is_recorded_once_with_what_is_not_an_argument(loaded, tmp_path):
    """call_verb records the arguments after defaults; the verb adds only the rest."""
    a = melody_file(tmp_path, "a", [60, 62, 64, 65, 67, 65, 64, 62] * 2)
    result = call_verb(loaded, "condition", attribute="note_density", melody=a)
    prov = result.pieces[1][2]
    assert prov["args"] == {"attribute": "note_density", "amount": 1.0, "melody": a, "seed": 0}
    assert "settings" not in prov and prov["verb"] == "condition"
    assert prov["offset"] == 1.0 and [p["file"] for p in prov["parents"]] == ["a.mid"]
    assert decode_latent(prov["latent"]).shape == (CFG.z_dim,)
