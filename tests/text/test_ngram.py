"""The character n-gram a text LM mixes with its network: Kneser–Ney probabilities, the
fitted weight, and the mixture in scoring, sampling and the artifact."""

from __future__ import annotations

import math
from collections import Counter, defaultdict

import pytest
import torch

from museforge.core.artifact import load_artifact
from museforge.nn.lm_training import SequenceLMTraining, nll_per_token
from museforge.text.lm import TextLM, TextLMConfig, build_vocab
from museforge.text.ngram import DISCOUNT, CharNgram, contexts_of, fit_weight, mix
from museforge.text.sampling import SamplingSettings, generate
from museforge.text.task import TextLMTask
from tests.text.conftest import TINY_TEXT, train_tiny_text


def reference_probs(ids: list[int], vocab: int, order: int, context: list[int]) -> list[float]:
    """Interpolated Kneser–Ney written out directly from its definition (dicts, loops):
    raw counts for the longest contexts, counts of distinct preceding characters for the
    shorter ones, a uniform choice among the seen characters at the bottom."""
    raw: dict[tuple, Counter] = defaultdict(Counter)
    for i in range(order - 1, len(ids)):
        raw[tuple(ids[i - order + 1 : i])][ids[i]] += 1  # oldest first
    tables = {order - 1: raw}
    for k in range(order - 2, -1, -1):
        table: dict[tuple, Counter] = defaultdict(Counter)
        for ctx, after in tables[k + 1].items():
            for char in after:
                table[ctx[1:]][char] += 1
        tables[k] = table
    seen = sorted(set(ids))
    p = [1 / len(seen) if c in seen else 0.0 for c in range(vocab)]
    history = list(reversed(context))  # oldest first
    for k in range(order):
        ctx = tuple(history[len(history) - k :]) if k else ()
        if k > len(history) or ctx not in tables[k]:
            break
        after = tables[k][ctx]
        total = sum(after.values())
        backoff = DISCOUNT * len(after) / total
        p = [max(after.get(c, 0) - DISCOUNT, 0) / total + backoff * p[c] for c in range(vocab)]
    return p


def test_probabilities_match_the_definition_and_sum_to_one():
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 4, (400,), generator=gen)  # 4 of 6 characters ever occur
    ngram = CharNgram(ids, vocab_size=6, order=4)
    contexts = torch.tensor([[0, 1, 2], [3, 3, -1], [-1, -1, -1], [1, 0, 3], [5, 1, 1]])
    probs = ngram.probs(contexts)
    assert probs.sum(-1) == pytest.approx(torch.ones(5), abs=1e-5)
    assert (probs[:, 4:] == 0).all()  # never seen in training: left to the novel share
    for row, context in zip(probs, contexts.tolist(), strict=True):
        known = [c for c in context if c >= 0]
        expected = reference_probs(ids.tolist(), 6, 4, known)
        assert row.tolist() == pytest.approx(expected, abs=1e-5)


def test_a_context_seen_often_predicts_what_always_followed_it():
    text = [0, 1, 2, 3, 4, 5, 6, 7] * 30 + [7, 6, 5, 4, 3, 2, 1, 0] * 5
    ngram = CharNgram(torch.tensor(text), vocab_size=8, order=8)
    after = contexts_of(torch.tensor([[0, 1, 2, 3, 4, 5, 6]]), 7)[0, -1]
    assert ngram.probs(after[None])[0, 7] > 0.9
    assert ngram.probs(torch.full((1, 7), -1))[0].max() < 0.2  # no context: near the unigram


def test_contexts_are_nearest_first_and_padded_before_the_start():
    contexts = contexts_of(torch.tensor([[10, 11, 12]]), 2)
    assert contexts.tolist() == [[[10, -1], [11, 10], [12, 11]]]


def test_the_fitted_weight_follows_which_model_is_right():
    gen = torch.Generator().manual_seed(0)
    good, bad = torch.full((500,), math.log(0.9)), torch.log(torch.rand(500, generator=gen) * 1e-3)
    assert fit_weight(good, bad) < 0.05 < 0.9 < fit_weight(bad, good)
    half = torch.where(torch.arange(500) % 2 == 0, good, bad)
    other = torch.where(torch.arange(500) % 2 == 0, bad, good)
    weight = fit_weight(half, other)
    loss = float(-mix(half, other, weight).mean())
    assert 0.3 < weight < 0.7
    assert all(loss <= float(-mix(half, other, w).mean()) + 1e-6 for w in (0.0, 0.2, 0.8))


REPEAT = "the cat sat on the mat and the dog sat on the log. " * 30 + "a cat ran. " * 5


def _task(order: int) -> TextLMTask:
    vocab = build_vocab(REPEAT)
    extra = {"ngram_order": order, "ngram_chars": int(len(REPEAT) * 0.8)} if order else {}
    cfg = TextLMConfig(vocab=vocab, **TINY_TEXT, dropout=0.0, **extra)
    ids = TextLM(cfg).encode(REPEAT)
    split = int(len(ids) * 0.8)
    task = TextLMTask(cfg, SequenceLMTraining(eval_every=5), ids[:split], ids[split:], seed=0)
    if order:
        task.model.set_ngram_text(ids[:split])
        task.best.model.set_ngram_text(ids[:split])
    return task


def test_validation_fits_the_weight_and_scoring_uses_it():
    plain, mixed = _task(0), _task(8)
    plain_loss = plain.validate()["val_loss"]
    metrics = mixed.validate()
    assert metrics["ngram_weight"] > 0.5  # an untrained network: the counts know the text
    assert metrics["val_loss"] < 0.5 * plain_loss
    # Scoring through forward (evaluate, the bench) gives what validation reported.
    assert nll_per_token(mixed.model, mixed.val_ids) == pytest.approx(metrics["val_loss"], rel=1e-4)
    _, state = mixed.export()
    fresh = TextLM(mixed.cfg)
    fresh.load_state_dict(state)
    assert float(fresh.ngram_weight) == pytest.approx(metrics["ngram_weight"])
    assert nll_per_token(fresh, mixed.val_ids) == pytest.approx(metrics["val_loss"], rel=1e-4)
    mixed.model.train()
    logits = mixed.model(mixed.val_ids[None, :16])
    assert torch.allclose(logits, mixed.model.net(mixed.val_ids[None, :16]))  # training: net only


def test_sampling_reads_the_network_alone():
    task = _task(8)
    task.validate()
    model = task.model.eval()
    assert float(model.ngram_weight) > 0.5
    settings = SamplingSettings(max_chars=30)
    mixed = generate(model, "the cat sat on the m", 4, seed=3, settings=settings)
    model.ngram_weight.fill_(0)
    assert generate(model, "the cat sat on the m", 4, seed=3, settings=settings) == mixed


def test_a_trained_artifact_keeps_its_text_and_weight(tmp_path):
    path = train_tiny_text("songs-poems", tmp_path / "m", steps=12)
    loaded = load_artifact(path)
    model = loaded.model
    assert model.cfg.ngram_order == 8 and 0 < float(model.ngram_weight) < 1
    assert model.ngram_ids.numel() == loaded.manifest["data"]["train_chars"]
    assert any("n-gram of up to 8 characters" in n for n in loaded.manifest["data"]["notices"])


def test_the_n_gram_can_be_turned_off(tmp_path):
    path = train_tiny_text("songs-poems", tmp_path / "m", steps=4, ngram_order=0)
    model = load_artifact(path).model
    assert model.cfg.ngram_order == 0 and "ngram_ids" not in model.state_dict()


@pytest.mark.parametrize("stored", [float("nan"), 5.0, -1.0])
def test_a_stored_weight_out_of_range_is_read_safely(stored):
    task = _task(8)
    model = task.model.eval()
    model.ngram_weight.fill_(stored)
    assert 0.0 <= model.ngram_share <= 0.99
    assert torch.isfinite(model(task.val_ids[None, :20])).all()
