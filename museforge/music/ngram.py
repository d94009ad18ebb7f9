"""Baselines for the music benchmark: an interpolated n-gram model and a unigram model.

The n-gram model uses Witten–Bell interpolation down to a uniform distribution, a standard
smoothing that needs no tuning; counts are over the same event tokens the LMs see.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np


class NGramModel:
    """P(token | previous order-1 tokens), Witten–Bell interpolated (order 1 = unigram)."""

    def __init__(self, order: int, vocab_size: int):
        if order < 1:
            raise ValueError(f"order must be at least 1 (got {order})")
        self.order, self.vocab_size = order, vocab_size
        # counts[k][history of length k][token]
        self.counts: list[dict[tuple, Counter]] = [defaultdict(Counter) for _ in range(order)]

    def fit(self, ids: Sequence[int]) -> NGramModel:
        ids = list(ids)
        for i, token in enumerate(ids):
            for k in range(self.order):
                if i - k < 0:
                    break
                self.counts[k][tuple(ids[i - k : i])][token] += 1
        return self

    def distribution(self, history: Sequence[int], order: int | None = None) -> np.ndarray:
        """The probability of every token after ``history`` (``order`` ≤ the fitted one:
        one fit serves every lower order)."""
        probs = np.full(self.vocab_size, 1.0 / self.vocab_size)
        for k in range(min(order or self.order, self.order)):
            if k > len(history):
                break
            seen = self.counts[k].get(tuple(history[len(history) - k :]) if k else ())
            if not seen:
                continue
            total, kinds = sum(seen.values()), len(seen)
            mixed = probs * kinds
            for token, count in seen.items():
                mixed[token] += count
            probs = mixed / (total + kinds)
        return probs

    def nll(self, ids: Sequence[int], order: int | None = None) -> float:
        """Mean negative log-likelihood (nats) of every token after the first."""
        ids, order = list(ids), min(order or self.order, self.order)
        total = 0.0
        for i in range(1, len(ids)):
            history = ids[max(0, i - order + 1) : i]
            total -= math.log(max(self.distribution(history, order)[ids[i]], 1e-12))
        return total / max(len(ids) - 1, 1)
