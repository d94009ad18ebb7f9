"""Drawing tokens: the kept set, the frequencies within it, per-row streams."""

from __future__ import annotations

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


def test_top_p_keeps_the_smallest_set_that_reaches_p():
    freq = _counts(PROBS, top_p=0.7)  # 0.5 alone falls short; 0.5 + 0.3 crosses 0.7
    assert freq[0] == 0 and freq[2] == 0
    assert freq[1] > 0.55 and freq[3] > 0.3


def test_low_temperature_approaches_the_argmax_and_masked_entries_never_come():
    probs = PROBS.clone()
    probs[1] = 0.0  # log 0 = -inf: not allowed
    freq = _counts(probs, temperature=0.05)
    assert freq[1] == 0 and freq[3] > 0.99


def test_each_row_depends_only_on_its_own_generator():
    logits = torch.randn(3, 50)
    together = sample_logits(logits, [torch.Generator().manual_seed(s) for s in (7, 8, 9)])
    for row, seed in enumerate((7, 8, 9)):
        alone = sample_logits(logits[row : row + 1], [torch.Generator().manual_seed(seed)])
        assert alone.item() == together[row].item()


def test_a_row_with_nothing_allowed_yields_index_zero_without_nan():
    logits = torch.full((1, 5), float("-inf"))
    assert sample_logits(logits, [torch.Generator().manual_seed(0)], top_p=0.9).item() == 0
