"""The rule that picks a text LM's training settings from the corpus and the budget."""

from __future__ import annotations

import pytest
import torch

from museforge.text import plan as rule
from museforge.text.plan import expected_steps, plan_training


def fixed(seconds: float):
    calls = []

    def measure(model, batch):
        calls.append((model["n_embd"], batch))
        return seconds

    measure.calls = calls
    return measure


def test_passes_over_the_text_set_the_regularisation():
    big = plan_training(10_000_000, {"steps": 1000}, {}, {}, fixed(0.1))
    assert big.passes == pytest.approx(1000 * 32 * 64 / 10_000_000)
    assert big.model["dropout"] == 0.0 and big.training["input_dropout"] == 0.0
    mid = plan_training(100_000, {"steps": 1000}, {}, {}, fixed(0.1))  # ~20 passes
    assert mid.model["dropout"] == 0.1 and mid.training["input_dropout"] == 0.0
    small = plan_training(30_000, {"steps": 1000}, {}, {}, fixed(0.1))  # ~68 passes
    assert small.training["input_dropout"] > 0 and small.model["dropout"] > 0
    # A small text in a script of thousands of characters, read as often: more of both.
    sparse = plan_training(30_000, {"steps": 1000}, {}, {}, fixed(0.1), vocab_size=3000)
    assert sparse.model["dropout"] > small.model["dropout"]
    assert sparse.training["input_dropout"] > small.training["input_dropout"]
    latin = plan_training(30_000, {"steps": 1000}, {}, {}, fixed(0.1), vocab_size=80)
    assert latin.model == small.model and latin.training == small.training
    sparse_mid = plan_training(100_000, {"steps": 1000}, {}, {}, fixed(0.1), vocab_size=5000)
    assert sparse_mid.model == mid.model  # ~20 passes: repetition decides first
    for p in (big, mid, small):
        assert p.training["schedule"] == "cosine" and p.run == {"batch_size": 32}
        assert 10 <= p.training["eval_every"] <= 100


def test_a_time_budget_is_turned_into_steps_by_timing_a_step():
    measure = fixed(0.05)
    p = plan_training(1_000_000, {"time_budget": "1m"}, {}, {}, measure)
    assert p.steps == 1200 and measure.calls == [(64, 32)]
    assert expected_steps({"steps": 500, "time_budget": 60}, lambda: 0.05) == 500
    assert expected_steps({"steps": 5000, "time_budget": 60}, lambda: 0.05) == 1200


def test_a_tiny_corpus_stops_once_more_passes_stop_helping():
    p = plan_training(5_000, {"time_budget": 600}, {}, {}, fixed(0.01))
    assert p.passes == pytest.approx(rule.MAX_PASSES, rel=0.01)
    assert p.run["steps"] == p.steps < 60_000  # the run anneals and ends by then
    assert p.training["eval_every"] <= 5 * 5_000 / (32 * 64) + 1  # every few passes


def test_the_users_settings_win():
    p = plan_training(
        30_000,
        {"steps": 100, "batch_size": 8},
        {"dropout": 0.0, "n_embd": 128},
        {"lr": 1e-3, "schedule": "plateau"},
        fixed(0.1),
    )
    assert p.model["dropout"] == 0.0 and p.model["n_embd"] == 128
    assert p.training["lr"] == 1e-3 and p.training["schedule"] == "plateau"
    assert p.run == {"batch_size": 8}
    assert "transformer" in p.describe() and "passes" in p.describe()


def test_the_text_task_follows_the_plan_and_says_so():
    from museforge.text.kinds import text_task

    task, info = text_task({}, {}, "songs-poems", 0, run={"steps": 40})
    notice, novel, ngram = info["notices"]
    assert notice.startswith("chose from the data and budget: about 40 steps")
    assert "never showed" in novel and task.cfg.novel_share >= 0
    assert "n-gram of up to 8 characters" in ngram and task.cfg.ngram_order == 8
    assert task.cfg.ngram_chars == info["train_chars"] == task.model.ngram_ids.numel()
    assert torch.equal(task.model.ngram_ids.long(), task.train_ids)
    assert task.cfg.n_embd == rule.N_EMBD and task.cfg.context == rule.CONTEXT
    assert task.training.schedule == "cosine" and task.run_defaults == {"batch_size": 32}
    timed, _ = text_task({}, {}, "songs-poems", 0, run={"time_budget": "2s"})
    assert timed.training.eval_every >= rule.MIN_EVAL_EVERY  # planned from a timed step
    classic, info = text_task({}, {"preset": "classic-char-gpt"}, "songs-poems", 0)
    assert info["notices"] == [] and classic.cfg.n_embd == 128  # a preset is left alone


def test_init_fine_tunes_from_a_model_of_the_same_family(zh_model_path, en_model_path):
    import torch

    from museforge.core.artifact import load_artifact
    from museforge.errors import DataError
    from museforge.text.kinds import FINE_TUNE_LR, text_task

    base = load_artifact(zh_model_path)
    task, info = text_task({}, {"init": str(zh_model_path)}, "song100", 0, run={"steps": 5})
    assert task.cfg.vocab == base.model.cfg.vocab and task.cfg.n_embd == base.model.cfg.n_embd
    network = {k: v for k, v in base.model.state_dict().items() if not k.startswith("ngram_")}
    assert base.model.cfg.ngram_order and network  # the base counts its own text
    for name, tensor in network.items():
        assert torch.equal(task.model.state_dict()[name], tensor)
    assert task.cfg.ngram_order == 0  # the fine-tune does not take the base's text
    assert task.training.lr == FINE_TUNE_LR
    assert info["notices"][0].startswith(f"fine-tuning from {zh_model_path}")
    assert info["init"]["sha256"] == base.sha256
    with pytest.raises(DataError, match="writes en, but the data is zh"):
        text_task({}, {"init": str(en_model_path)}, "song100", 0, run={"steps": 5})
    with pytest.raises(DataError, match="keeps its base's n_embd"):
        text_task({"n_embd": 8}, {"init": str(zh_model_path)}, "song100", 0, run={"steps": 5})


def test_a_wider_model_takes_a_lower_rate():
    narrow = plan_training(100_000, {"steps": 100}, {}, {}, fixed(0.1))
    wide = plan_training(100_000, {"steps": 100}, {"n_embd": 128}, {}, fixed(0.1))
    assert wide.training["lr"] == pytest.approx(narrow.training["lr"] / 2)
