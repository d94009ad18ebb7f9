"""Drawing tokens: the kept set, the frequencies within it, per-row streams."""

from __future__ import annotations

import pytest
import torch

from museforge.nn.decoding import sample_logits

# Probabilities 0.05, 0.5, 0.15, 0.3 at indices 0..3: the order is not the ranking.
PROBS = torch.tensor([0.05, 0.5, 0.15, 0.3])


def _counts(probs: torch.Tensor, draws: int = 4000, **kw) -> torch.Tensor:
    """Share of ``draws`` rows (one generator each) that picked each index."""
    gens = [torch.Generator().manual_seed(i) for i in range(draws)]
    picks = sample_logits(probs.log().expand(draws, -1).clone(), gens, **kw)
    return torch.bincount(picks, minlength=probs.shape[-1]).float() / draws


def test_without_filters_the_frequencies_follow_the_probabilities():
    assert torch.allclose(_counts(PROBS), PROBS, atol=0.03)


def test_top_k_keeps_the_k_likeliest_renormalised():
    freq = _counts(PROBS, top_k=2)
    assert freq[0] == 0 and freq[2] == 0
    assert abs(freq[1] - 0.5 / 0.8) < 0.03


@pytest.mark.parametrize("top_p", [0.7, 0.45])  # drawn by rejection, and by sorting
def test_top_p_keeps_the_smallest_set_that_reaches_p_renormalised(top_p):
    freq = _counts(PROBS, top_p=top_p)
    if top_p == 0.7:  # 0.5 alone falls short; 0.5 + 0.3 crosses 0.7
        assert freq[0] == 0 and freq[2] == 0
        assert abs(freq[1] - 0.5 / 0.8) < 0.03 and abs(freq[3] - 0.3 / 0.8) < 0.03
    else:  # 0.5 alone crosses 0.45
        assert freq[1] == 1


def test_top_k_and_top_p_together_keep_the_smaller_set():
    freq = _counts(PROBS, top_k=3, top_p=0.7)  # top-3 renormalised: 0.53, 0.32, 0.16
    assert freq[0] == 0 and freq[2] == 0 and freq[1] > 0.55


def test_low_temperature_approaches_the_argmax_and_masked_entries_never_come():
    probs = PROBS.clone()
    probs[1] = 0.0  # log 0 = -inf: not allowed
    freq = _counts(probs, temperature=0.05)
    assert freq[1] == 0 and freq[3] > 0.99


@pytest.mark.parametrize(("top_k", "top_p"), [(0, 1.0), (0, 0.6), (0, 0.3), (10, 0.9)])
def test_each_row_depends_only_on_its_own_generator(top_k, top_p):
    logits = torch.randn(8, 50) * 2  # broad rows: the rejection path redraws some of them
    seeds = range(7, 15)
    kw = {"top_k": top_k, "top_p": top_p}
    together = sample_logits(logits, [torch.Generator().manual_seed(s) for s in seeds], **kw)
    for row, seed in enumerate(seeds):
        alone = sample_logits(logits[row : row + 1], [torch.Generator().manual_seed(seed)], **kw)
        assert alone.item() == together[row].item()


@pytest.mark.parametrize(("top_k", "top_p"), [(0, 1.0), (0, 0.9), (0, 0.3), (2, 1.0)])
def test_a_row_with_nothing_allowed_yields_index_zero_without_nan(top_k, top_p):
    logits = torch.full((1, 5), float("-inf"))
    gens = [torch.Generator().manual_seed(0)]
    assert sample_logits(logits, gens, top_k=top_k, top_p=top_p).item() == 0
