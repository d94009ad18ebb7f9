"""Sampling: reproducible per-sample streams, controls, constraints and dead ends."""

from __future__ import annotations

import pytest
import torch

from museforge.errors import InputError, VerbError
from museforge.text.sampling import (
    SamplingSettings,
    _ngram_bans,
    _penalise,
    generate,
)


class OnlyChars:
    """A toy form: exactly ``length`` characters, each drawn from ``chars``."""

    def __init__(self, vocab, chars: str, length: int):
        self.mask = torch.tensor([c in chars for c in vocab])
        self.length, self.count = length, 0

    def allowed(self):
        return None if self.done else self.mask  # complete: nothing may follow

    def advance(self, char: str) -> None:
        self.count += 1

    @property
    def done(self) -> bool:
        return self.count >= self.length


class DeadEnd(OnlyChars):
    def allowed(self):
        return torch.zeros_like(self.mask)


def test_sample_i_does_not_depend_on_n(zh_model):
    s = SamplingSettings(max_chars=30)
    three = generate(zh_model.model, "", 3, seed=5, settings=s)
    one = generate(zh_model.model, "", 1, seed=5, settings=s)
    assert three[0] == one[0]
    assert generate(zh_model.model, "", 3, seed=5, settings=s) == three
    assert generate(zh_model.model, "", 3, seed=6, settings=s) != three


def test_max_chars_bounds_output_and_prompt_is_continued(zh_model):
    texts = generate(zh_model.model, "春", 4, 0, SamplingSettings(max_chars=12, stop_at_end=False))
    assert all(len(t) == 12 for t in texts)


def test_constraint_mask_is_obeyed(zh_model):
    vocab = zh_model.model.vocab
    texts = generate(
        zh_model.model,
        "",
        4,
        0,
        SamplingSettings(max_chars=50, temperature=2.0),
        make_constraint=lambda i: OnlyChars(vocab, "山水云", 9),
    )
    assert all(len(t) == 9 and set(t) <= set("山水云") for t in texts)


class AtLeast(OnlyChars):
    """Complete after ``length`` characters, and may go on with more of them."""

    def allowed(self):
        return self.mask


def test_a_complete_form_may_go_on_until_the_model_ends_it(zh_model):
    vocab = zh_model.model.vocab
    texts = generate(
        zh_model.model,
        "",
        8,
        0,
        SamplingSettings(max_chars=12, temperature=2.0),
        make_constraint=lambda i: AtLeast(vocab, "山水云", 3),
    )
    assert all(3 <= len(t) <= 12 and set(t) <= set("山水云") for t in texts)
    assert max(len(t) for t in texts) > 3  # not cut the moment the form was complete


def test_dead_ends_are_retried_then_reported(zh_model):
    with pytest.raises(VerbError, match="could not complete"):
        generate(
            zh_model.model,
            "",
            2,
            0,
            SamplingSettings(max_chars=20),
            make_constraint=lambda i: DeadEnd(zh_model.model.vocab, "山", 3),
        )


def test_unseen_prompt_characters_are_named(zh_model):
    with pytest.raises(InputError, match="never seen"):
        generate(zh_model.model, "Ω", 1, 0)


def test_no_repeat_ngram_bans_completing_a_seen_ngram(zh_model):
    banned = _ngram_bans([[1, 2, 3, 1, 2]], 3, 5)
    assert banned[0].tolist() == [False, False, False, True, False]
    settings = SamplingSettings(max_chars=80, stop_at_end=False, no_repeat_ngram=3)
    for text in generate(zh_model.model, "", 4, 0, settings):
        grams = [text[i : i + 3] for i in range(len(text) - 2)]
        assert len(grams) == len(set(grams))


@pytest.mark.parametrize(
    "bad",
    [
        {"temperature": 0},
        {"top_p": 0},
        {"top_k": -1},
        {"repetition_penalty": 0.5},
        {"no_repeat_ngram": 1},
        {"max_chars": 0},
    ],
)
def test_bad_settings_are_one_line_errors(bad):
    with pytest.raises(InputError):
        SamplingSettings(**bad)


def test_repetition_penalty_shrinks_only_seen_characters():
    logits = torch.tensor([[2.0, -1.0, 3.0, 0.5]])
    out = _penalise(logits, [[0, 1, 1]], 2.0)
    assert out.tolist() == [[1.0, -2.0, 3.0, 0.5]]  # positive halved, negative doubled
    probs_before = torch.softmax(logits, -1)[0]
    probs_after = torch.softmax(out, -1)[0]
    assert probs_after[0] < probs_before[0] and probs_after[1] < probs_before[1]
