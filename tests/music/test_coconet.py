"""Coconet: grid round trips, masked loss falls, harmonise/infill keep what they must."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from museforge.core.artifact import LoadedModel
from museforge.core.registry import call_verb
from museforge.errors import InputError
from museforge.music.coconet.encoding import grid_to_piece, piece_to_grid, piece_windows
from museforge.music.coconet.network import Coconet, CoconetConfig
from museforge.music.coconet.sampling import (
    VetoStats,
    harmonise_line,
    rule_breaking,
    ruled_draw,
    window_starts,
)
from museforge.music.coconet.training import CoconetTask, CoconetTraining, sample_masks
from museforge.music.render import write_midi
from museforge.music.score import Note, Part, Piece
from museforge.music.verbs_chorale import evaluate, harmonise, infill, parse_region, sample
from museforge.music.voiceleading import allowed_pitches, count_errors

PARTS = tuple(Part(n, 52) for n in ("soprano", "alto", "tenor", "bass"))
# I – IV – V – I in C (S, A, T, B); pieces below are transpositions with varied rhythm.
PROGRESSION = [(72, 67, 64, 48), (72, 69, 65, 53), (71, 67, 62, 55), (72, 67, 64, 48)]
TINY = CoconetConfig(window=16, hidden=32, layers=2)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny convolutions on shared cores run far faster on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def chorale(transpose: int = 0, bars: int = 4) -> Piece:
    """Quarter-note chords, a held half note, a repeated note and eighths: chorale-like."""
    notes = []
    for i in range(bars * 4):
        chord = PROGRESSION[i % 4]
        for v, pitch in enumerate(chord):
            start = float(i)
            if v == 0 and i % 8 == 1:
                continue  # the soprano holds the previous note (a half note)
            length = 2.0 if v == 0 and i % 8 == 0 else 1.0
            if v == 1 and i % 4 == 2:  # the alto in eighths: a passing note
                notes += [Note(pitch + transpose, start, 0.5, part=v)]
                notes += [Note(pitch + 2 + transpose, start + 0.5, 0.5, part=v)]
                continue
            notes.append(Note(pitch + transpose, start, length, part=v))
    return Piece(tuple(notes), PARTS, tempo=80.0, title="test chorale")


def loaded_model(cfg: CoconetConfig = TINY, seed: int = 0) -> LoadedModel:
    torch.manual_seed(seed)
    model = Coconet(cfg).eval()
    manifest = {"kind": "chorale-coconet", "weights": {"sha256": "0" * 64}, "versions": {}}
    return LoadedModel(model=model, manifest=manifest, path=Path("tiny-coconet"))


def test_grid_round_trip_is_exact():
    piece = chorale(bars=4)
    pitches, onsets = piece_to_grid(piece)
    assert pitches.shape == (4, 64)
    back = grid_to_piece(pitches, onsets, piece)
    assert back.sorted_notes() == piece.sorted_notes()
    assert (back.parts, back.tempo, back.title) == (piece.parts, piece.tempo, piece.title)
    # Without onsets the repeated soprano C (bars 1–2) merges into one held note.
    merged = grid_to_piece(pitches, None, piece)
    assert len(merged.notes) < len(piece.notes)


def test_windows_and_masks():
    x, pos = piece_windows([chorale(bars=4), chorale(transpose=40)], TINY)
    assert x.shape == (4, 4, 16)  # bars 1–4 of the first; the second leaves the range
    assert int(pos[1, 0]) == 0 and int(pos[0, 5]) == 5
    mask = sample_masks(64, 16, torch.Generator().manual_seed(0))
    assert mask.shape == (64, 4, 16) and bool(mask.flatten(1).any(1).all())
    assert window_starts(40, 16) == [0, 8, 16, 24]


def test_erased_cells_never_reach_the_logits():
    """Whatever an erased cell holds, every logit is the same (no peeking at answers)."""
    torch.manual_seed(0)
    model = Coconet(TINY).eval()
    x, pos = piece_windows([chorale(bars=4)], TINY)
    x = x.long()
    mask = torch.rand(x.shape, generator=torch.Generator().manual_seed(1)) < 0.5
    other = torch.where(mask, (x + 7) % TINY.classes, x)
    with torch.no_grad():
        assert torch.equal(model(x, mask, pos), model(other, mask, pos))
        seen = model(other, torch.zeros_like(mask), pos)
    assert not torch.allclose(seen, model(x, torch.zeros_like(mask), pos))


def test_masked_loss_falls():
    pieces = [chorale(t, bars=4) for t in range(-5, 6)]
    train = piece_windows(pieces, TINY)
    task = CoconetTask(TINY, CoconetTraining(lr=5e-3, warmup=1), train, train, seed=0)
    before = task.validate()["val_nll"]
    noise = torch.Generator().manual_seed(0)
    order = torch.Generator().manual_seed(1)
    for _ in range(30):
        task.train_step(torch.randint(0, task.num_examples, (16,), generator=order), noise)
    after = task.validate()
    assert after["val_nll"] < 0.75 * before
    assert after["val_harmonise_nll"] < before


def test_rule_breaking_agrees_with_allowed_pitches_cell_by_cell():
    gen = torch.Generator().manual_seed(0)
    cfg = CoconetConfig()
    pitches = torch.randint(cfg.low, cfg.high + 1, (3, 4, 12), generator=gen)
    pitches[:, :, 5] = pitches[:, :, 4]  # held notes: no parallel motion
    pitches[torch.rand(pitches.shape, generator=gen) < 0.1] = -1
    vetoed = rule_breaking(pitches, cfg)
    candidates = np.arange(cfg.low, cfg.high + 1)

    def column(b, t):
        if not 0 <= t < 12:
            return None
        return [None if p < 0 else p for p in pitches[b, :, t].tolist()]

    for b in range(3):
        for t in range(12):
            for v in range(4):
                allowed = allowed_pitches(
                    v, candidates, column(b, t - 1), column(b, t), column(b, t + 1)
                )
                assert np.array_equal(vetoed[b, v, t].numpy(), ~allowed), (b, v, t)
    assert 0.1 < float(vetoed.float().mean()) < 0.95


def test_rule_penalty_trains_on_the_models_own_chains():
    pieces = [chorale(t, bars=4) for t in range(-5, 6)]
    train = piece_windows(pieces, TINY)
    settings = CoconetTraining(lr=5e-3, warmup=1, rule_weight=5.0, chains=8, eval_every=5)
    task = CoconetTask(TINY, settings, train, train, seed=0)
    noise, order = torch.Generator().manual_seed(0), torch.Generator().manual_seed(1)
    masses = []
    for _ in range(40):
        out = task.train_step(torch.randint(0, task.num_examples, (8,), generator=order), noise)
        masses.append(out["rule_mass"])
    chains, _ = task._chains
    assert chains.shape == (8, 4, 16)
    sopranos = {tuple(row) for row in train[0][:, 0].tolist()}
    assert all(tuple(row) in sopranos for row in chains[:, 0].tolist())  # never rewritten
    assert sum(masses[-10:]) < 0.5 * sum(masses[:10])
    with pytest.raises(ValueError, match="rule_weight"):
        CoconetTraining(rule_weight=-1)


def test_rule_penalty_waits_for_its_share_of_the_budget():
    train = piece_windows([chorale(t, bars=4) for t in range(3)], TINY)
    settings = CoconetTraining(rule_weight=5.0, chains=4, rule_from=0.5)
    task = CoconetTask(TINY, settings, train, train, seed=0)
    noise, batch = torch.Generator().manual_seed(0), torch.arange(4)
    task.set_progress(0.49)
    assert "rule_mass" not in task.train_step(batch, noise) and task._chains is None
    task.set_progress(0.5)
    assert task.train_step(batch, noise)["rule_mass"] > 0
    assert task._chains is not None
    with pytest.raises(ValueError, match="rule_from"):
        CoconetTraining(rule_from=1.0)


def test_harmonise_keeps_soprano_and_is_deterministic(tmp_path):
    melody = Piece(tuple(n for n in chorale().notes if n.part == 0), (Part("melody"),))
    path = write_midi(tmp_path / "melody.mid", melody)
    loaded = loaded_model()
    result = harmonise(loaded, str(path), seed=3, steps=4)
    [(_, piece, prov)] = result.pieces
    assert len(piece.parts) == 4 and {n.part for n in piece.notes} == {0, 1, 2, 3}
    assert piece.part_notes(0) == melody.sorted_notes()
    assert piece.end == melody.end
    assert prov["verb"] == "harmonise" and prov["seed"] == 3
    assert prov["lineage"]["content"]["source"] == str(path)
    again = harmonise(loaded, str(path), seed=3, steps=4).pieces[0][1]
    assert again.sorted_notes() == piece.sorted_notes()
    other = harmonise(loaded, str(path), seed=4, steps=4).pieces[0][1]
    assert other.sorted_notes() != piece.sorted_notes()


def test_harmonise_moves_a_low_melody_up_and_refuses_a_wide_one(tmp_path):
    low = Piece(
        tuple(n.__class__(n.pitch - 24, n.start, n.duration) for n in chorale().part_notes(0))
    )
    path = write_midi(tmp_path / "low.mid", low)
    result = harmonise(loaded_model(), str(path), steps=2)
    assert result.pieces[0][2]["octave_shift"] == 24
    wide = Piece((Note(40, 0.0, 1.0), Note(90, 1.0, 1.0)))
    with pytest.raises(InputError, match="soprano range"):
        harmonise(loaded_model(), str(write_midi(tmp_path / "wide.mid", wide)))
    with pytest.raises(InputError, match="does not exist"):
        harmonise(loaded_model(), str(tmp_path / "missing.mid"))


def test_infill_keeps_everything_outside_the_region(tmp_path):
    piece = chorale(bars=4)
    path = write_midi(tmp_path / "chorale.mid", piece)
    result = infill(loaded_model(), str(path), bars="2-3", voices="atb", seed=1, steps=4)
    filled = result.pieces[0][1]
    region, span, letters = parse_region(piece, "2-3", "atb")
    assert span == [2, 3] and letters == "atb" and int(region.sum()) == 3 * 32
    before, _ = piece_to_grid(piece)
    after, _ = piece_to_grid(filled)
    assert np.array_equal(np.where(region, 0, before), np.where(region, 0, after))
    assert not np.array_equal(before, after)  # the random model did write something
    # Notes wholly outside the region survive note for note (soprano everywhere).
    outside = [n for n in piece.sorted_notes() if n.part == 0 or n.start + n.duration <= 4.0]
    assert set(outside) <= set(filled.notes)
    with pytest.raises(InputError, match=r"^bars 3-9 is outside the piece's bars 1–4"):
        infill(loaded_model(), str(path), bars="3-9")
    with pytest.raises(InputError, match=r"^voices must be distinct letters"):
        infill(loaded_model(), str(path), voices="axb")


def test_sample_is_four_parts_of_the_asked_length():
    result = call_verb(loaded_model(), "sample", n=2, bars=2, seed=0, steps=3)
    assert len(result.pieces) == 2
    for _, piece, prov in result.pieces:
        assert len(piece.parts) == 4 and piece.end <= 8.0
        assert prov["args"]["bars"] == 2 and "settings" not in prov
    with pytest.raises(InputError, match=r"^bars must be 1\.\.64 \(got 65\)"):
        call_verb(loaded_model(), "sample", bars=65)
    with pytest.raises(InputError, match=r"^temperature must be 0\.05\.\.5"):
        call_verb(loaded_model(), "sample", temperature=0.0)


def test_rules_cut_voice_leading_errors_and_keep_the_soprano():
    """The untrained model writes near-random pitches; the rules veto the faulty ones."""
    loaded = loaded_model()
    melody = chorale(bars=4)
    soprano = Piece(tuple(melody.part_notes(0)), PARTS, tempo=80.0, title="soprano")
    raw = harmonise_line(loaded.model, soprano, seed=5, steps=6, temperature=1.0, rules=False)
    ruled = harmonise_line(loaded.model, soprano, seed=5, steps=6, temperature=1.0, rules=True)
    raw_errors, ruled_errors = count_errors(raw), count_errors(ruled)
    assert raw_errors.total >= 10
    assert ruled_errors.total < raw_errors.total / 4
    assert ruled.part_notes(0) == soprano.sorted_notes()
    again = harmonise_line(loaded.model, soprano, seed=5, steps=6, temperature=1.0, rules=True)
    assert again.sorted_notes() == ruled.sorted_notes()
    other = harmonise_line(loaded.model, soprano, seed=6, steps=6, temperature=1.0, rules=True)
    assert other.sorted_notes() != ruled.sorted_notes()


def test_rules_are_recorded_and_can_be_switched_off(tmp_path):
    melody = Piece(tuple(n for n in chorale().notes if n.part == 0), (Part("melody"),))
    path = str(write_midi(tmp_path / "melody.mid", melody))
    on = call_verb(loaded_model(), "harmonise", melody=path, seed=1, steps=3)
    off = call_verb(loaded_model(), "harmonise", melody=path, seed=1, steps=3, rules=False)
    assert on.pieces[0][2]["args"]["rules"] is True
    assert off.pieces[0][2]["args"]["rules"] is False
    assert on.pieces[0][1].sorted_notes() != off.pieces[0][1].sorted_notes()
    fragment = call_verb(loaded_model(), "sample", n=1, bars=1, steps=2, rules=False)
    assert fragment.pieces[0][2]["args"]["rules"] is False
    # The one record of the call: every argument after defaults, next to what is not one.
    prov = on.pieces[0][2]
    assert prov["args"] == {
        "melody": path,
        "seed": 1,
        "steps": 3,
        "temperature": 0.7,
        "rules": True,
        "instrument": None,
    }
    assert "settings" not in prov and prov["lineage"]["content"]["source"] == path
    assert set(prov["voice_leading"]) >= {"total", "chords"} and "octave_shift" in prov


def test_evaluate_scores_rules_raw_and_bach_on_held_out_chorales(tmp_path):
    folder = tmp_path / "chorales"
    folder.mkdir()
    for shift in range(6):  # six pieces: the held-out share is one of them
        write_midi(folder / f"c{shift}.mid", chorale(transpose=shift - 2, bars=4))
    loaded = loaded_model()
    loaded.manifest["data"] = {"source": f"folder:{folder}", "holdout": 0.2, "split_seed": 0}
    data = evaluate(loaded, n=2, bars=4, steps=3, temperature=1.0).data
    assert data["harmonised_pieces"] == 1 and data["val_windows"] >= 1
    assert data["voice_leading_bach"]["total"] == 0.0  # the progression has no errors
    # The untrained model's raw pitches are near random; the rules veto a lot of them.
    assert data["voice_leading"]["total"] < data["voice_leading_raw"]["total"]
    veto = data["veto"]
    assert veto["draws"] >= 3 * 16 and 0.2 < veto["removed_mass"] < 1.0
    assert 0.0 <= veto["dead_ends"] < 0.5
    json.dumps(data)  # plain numbers: evaluate --json writes it as is
    assert "veto" not in evaluate(loaded, n=1, bars=2, steps=2, rules=False).data


def test_ruled_draw_falls_back_to_the_model_when_every_pitch_is_vetoed():
    cfg = TINY
    x = torch.full((1, 4, 3), cfg.classes - 1, dtype=torch.long)
    x[0, 0, :] = 50 - cfg.low  # a soprano below the alto's whole range (55–74)
    mask = torch.zeros(1, 4, 3, dtype=torch.bool)
    mask[0, 1, 1] = True  # the alto of the middle chord: every pitch crosses or is out
    probs = torch.zeros(1, cfg.classes)
    probs[0, 70 - cfg.low] = 1.0  # the model insists on A4
    veto = VetoStats()
    ruled_draw(x, mask, probs, torch.Generator().manual_seed(0), cfg, veto=veto)
    assert int(x[0, 1, 1]) == 70 - cfg.low
    assert (veto.draws, veto.dead_ends, veto.removed_mass) == (1, 1, 0.0)
    # Where some pitch is allowed the vetoed one is never drawn.
    x[0, 0, :] = 72 - cfg.low
    x[0, 2, :] = 60 - cfg.low
    probs.zero_()
    probs[0, 68 - cfg.low] = 1e-6  # the model's only allowed pitch, however unlikely
    probs[0, 74 - cfg.low] = 0.5  # above the soprano: a crossing
    ruled_draw(x, mask, probs, torch.Generator().manual_seed(0), cfg, veto=veto)
    assert int(x[0, 1, 1]) == 68 - cfg.low
    summary = veto.summary()  # the second draw lost all but 1e-6 of 0.5 to the veto
    assert summary["draws"] == 2 and summary["dead_ends"] == 0.5
    assert summary["removed_mass"] == pytest.approx((1 - 1e-6 / 0.500001) / 2)


def test_instruments_per_part_reach_the_piece_and_provenance(tmp_path):
    melody = Piece(tuple(n for n in chorale().notes if n.part == 0), (Part("melody"),))
    path = str(write_midi(tmp_path / "melody.mid", melody))
    spec = "violin,viola,cello,contrabass"
    result = call_verb(loaded_model(), "harmonise", melody=path, steps=2, instrument=spec)
    [(_, piece, prov)] = result.pieces
    assert [p.program for p in piece.parts] == [40, 41, 42, 43]
    assert prov["args"]["instrument"] == spec
    chorale_path = str(write_midi(tmp_path / "chorale.mid", chorale()))
    filled = infill(loaded_model(), chorale_path, steps=2, instrument="bass=bassoon")
    assert [p.program for p in filled.pieces[0][1].parts] == [52, 52, 52, 70]
    [(_, fragment, _)] = sample(loaded_model(), n=1, bars=1, steps=2, instrument="2=oboe").pieces
    assert [p.program for p in fragment.parts] == [52, 68, 52, 52]
    with pytest.raises(InputError, match="unknown instrument"):
        harmonise(loaded_model(), path, steps=2, instrument="kazoophone")
