"""Training a text LM: loss falls, early stopping keeps the best weights, artifacts load."""

from __future__ import annotations

import json

import pytest
import torch

from museforge.core.artifact import load_artifact
from museforge.core.recipe import Recipe, train_from_recipe
from museforge.nn.lm_training import SequenceLMTraining, nll_per_token, window_starts
from museforge.text.corpus import END
from museforge.text.lm import UNK, TextLM, TextLMConfig, build_vocab, novel_estimate
from museforge.text.task import TextLMTask
from tests.text.conftest import TINY_TEXT


def _task(text: str, **training) -> TextLMTask:
    cfg = TextLMConfig(vocab=build_vocab(text), **TINY_TEXT, dropout=0.0)
    probe = TextLM(cfg)
    ids = probe.encode(text)
    split = int(len(ids) * 0.8)
    return TextLMTask(cfg, SequenceLMTraining(**training), ids[:split], ids[split:], seed=0)


REPEATING = ("春眠不觉晓，处处闻啼鸟。\n夜来风雨声，花落知多少。" + END) * 40


def test_loss_falls_on_a_repeating_text():
    task = _task(REPEATING, lr=3e-3, warmup=5)
    gen = torch.Generator().manual_seed(0)
    losses = []
    for step in range(60):
        task.set_progress(step / 60)
        idx = torch.randint(0, task.num_examples, (8,), generator=gen)
        losses.append(task.train_step(idx, gen)["loss"])
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5
    assert task.validate()["val_bpc"] < 2.0


def test_best_weights_survive_a_worse_evaluation():
    task = _task(REPEATING)
    first = task.validate()["val_loss"]
    with torch.no_grad():
        for p in task.model.parameters():
            p.add_(torch.randn_like(p))  # wreck the live weights
    assert task.validate()["val_loss"] > first
    _, state = task.export()
    fresh = TextLM(task.cfg)
    fresh.load_state_dict(state)
    ids = task.val_ids
    assert nll_per_token(fresh, ids) == pytest.approx(first, rel=1e-5)


def test_patience_stops_training():
    task = _task(REPEATING, schedule="constant", patience=2)
    task.validate()
    assert not task.should_stop
    task.best.best_loss.fill_(-1.0)  # nothing can beat this
    task.validate()
    task.validate()
    assert task.should_stop


def test_plateau_decays_the_rate_from_the_best_weights_then_stops():
    task = _task(REPEATING, schedule="plateau", decay=0.5, decay_patience=2, max_decays=2)
    task.validate()
    best_state = {k: v.clone() for k, v in task.best.model.state_dict().items()}
    task.best.best_loss.fill_(-1.0)  # from now on every evaluation is a stall
    with torch.no_grad():
        for p in task.model.parameters():
            p.add_(1.0)  # drift away from the best weights
    task.validate()
    assert task._lr(1000) == pytest.approx(task.training.lr)
    task.validate()  # second stall: decay once, back to the best weights
    assert task._lr(1000) == pytest.approx(0.5 * task.training.lr)
    for key, value in task.model.state_dict().items():
        torch.testing.assert_close(value, best_state[key])
    assert not task.should_stop
    task.validate()
    task.validate()  # second decay
    assert task._lr(1000) == pytest.approx(0.25 * task.training.lr)
    assert not task.should_stop
    task.validate()
    task.validate()
    assert task.should_stop


def test_window_starts_cover_every_character():
    for n in (5, 33, 64, 65, 200):
        starts = window_starts(n, 32)
        covered = set()
        for s in starts:
            covered.update(range(s + 1, min(s + 33, n)))
        assert covered == set(range(1, n))


def test_nll_scores_each_character_once():
    """With an untrained uniform-ish model, mean NLL ≈ ln(vocab) whatever the length."""
    cfg = TextLMConfig(vocab=build_vocab("abcdefgh"), **TINY_TEXT)
    model = TextLM(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    ids = torch.randint(0, len(cfg.vocab), (100,))
    uniform = torch.log(torch.tensor(10.0)).item()
    assert nll_per_token(model, ids) == pytest.approx(uniform, rel=1e-4)


def test_training_run_writes_a_loadable_artifact_with_validation_metrics(zh_model_path):
    manifest = json.loads((zh_model_path / "model.json").read_text(encoding="utf-8"))
    assert manifest["kind"] == "text-lm"
    assert manifest["config"]["language"] == "zh"
    assert "best_val_bpc" in manifest["metrics"]["train"]
    assert manifest["data"]["n_holdout"] > 0
    lines = (zh_model_path / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    assert any("val_bpc" in json.loads(line) for line in lines)
    loaded = load_artifact(zh_model_path)
    assert loaded.model.encode("春风").tolist() == [
        loaded.model.vocab.index("春"),
        loaded.model.vocab.index("风"),
    ]


def test_resume_continues_from_the_checkpoint(tmp_path):
    recipe = Recipe(
        kind="text-lm",
        data="songs-poems",
        model=TINY_TEXT,
        training={"eval_every": 5},
        run={"steps": 10, "batch_size": 4, "preview_every": 0},
    )
    train_from_recipe(recipe, out=tmp_path, progress=False)
    longer = Recipe(**{**recipe.__dict__, "run": {**recipe.run, "steps": 15}})
    result = train_from_recipe(longer, out=tmp_path, resume=True, progress=False)
    assert result.step == 15


@pytest.mark.parametrize(
    ("training", "run", "n_embd", "batch"),
    [
        ({}, {}, 64, 32),  # a large corpus: the narrow model and larger batches
        ({}, {"batch_size": 4}, 64, 4),  # the user's batch wins
        ({"preset": "classic-char-gpt"}, {}, 128, 12),  # a preset brings its own batch
    ],
)
def test_large_corpora_get_data_aware_model_and_batch(tmp_path, training, run, n_embd, batch):
    recipe = Recipe(
        kind="text-lm",
        data="songs-poems",
        training={"eval_every": 1000, **training},
        run={"steps": 1, "preview_every": 0, **run},
    )
    train_from_recipe(recipe, out=tmp_path, progress=False)
    manifest = json.loads((tmp_path / "model.json").read_text(encoding="utf-8"))
    assert manifest["config"]["n_embd"] == n_embd
    assert manifest["recipe"]["settings"]["batch_size"] == batch


def test_novel_characters_get_the_share_of_characters_seen_once():
    vocab = build_vocab("abcde")
    index = {c: i for i, c in enumerate(vocab)}
    train = torch.tensor([index[c] for c in "aaaabbbc"])  # c once in 8; d and e never
    share, novel = novel_estimate(vocab, train)
    assert share == pytest.approx(1 / 8)
    assert set(novel) == {"d", "e", END}  # the unknown marker is always novel, not listed
    torch.manual_seed(0)
    cfg = TextLMConfig(vocab=vocab, **TINY_TEXT, dropout=0.0, novel_share=share, novel=novel)
    model = TextLM(cfg).eval()
    probs = model(train[None, :4]).exp()[0]
    assert torch.allclose(probs.sum(-1), torch.ones(4), atol=1e-5)
    net = torch.softmax(model.net(train[None, :4])[0], -1)
    novel_ids = [index[c] for c in ("d", "e", END, UNK)]  # the share, split between them
    seen_ids = [index[c] for c in "abc"]
    assert torch.allclose(probs[:, novel_ids], (1 - share) * net[:, novel_ids] + share / 4)
    assert torch.allclose(probs[:, seen_ids], (1 - share) * net[:, seen_ids])
    assert torch.equal(model.train()(train[None, :4]), model.net(train[None, :4]))
    with pytest.raises(ValueError, match="novel characters"):
        TextLMConfig(vocab=vocab, novel_share=0.1, novel=("z",))


def test_a_trained_model_keeps_a_share_for_unseen_characters_and_the_classic_none(tmp_path):
    rare = "".join(chr(0x4E00 + i) for i in range(200))  # each once
    src = tmp_path / "rare.txt"
    src.write_text(("天地人和。" * 40 + rare + "\n") * 2, encoding="utf-8")
    shares = {}
    for name, training in (("ours", {}), ("classic", {"preset": "classic-char-gpt"})):
        out = tmp_path / name
        model = {} if training else {**TINY_TEXT, "context": 16}
        recipe = Recipe("text-lm", f"file:{src}", str(out), model, training, {"steps": 2})
        train_from_recipe(recipe, progress=False)
        loaded = load_artifact(out)
        shares[name] = loaded.model.cfg.novel_share
        notices = " ".join(loaded.manifest["data"]["notices"])
        assert ("never showed" in notices) == (name == "ours")
    assert 0 < shares["ours"] <= 0.5
    assert shares["classic"] == 0
