"""A character n-gram model (interpolated Kneser–Ney) that a text LM mixes in.

A small network trained for a few minutes on a small corpus keeps only part of the exact
sequences its text repeats; counting them costs a second. The text LM keeps its training
text (as ids) and builds these tables from it when first asked; its network's and the
tables' probabilities are mixed with one weight, fitted on the held-out split during
training (:func:`fit_weight`).

Contexts are read nearest character first. The contexts of length ``k`` seen in training
get ids ``0..C_k-1``: a context is its nearest ``k - 1`` characters' id and one more
character, so a table per length is one sorted key array (no hashing). The longest
contexts count what followed them; shorter ones count how many distinct characters came
before them with that continuation (Kneser–Ney), each interpolated with the next shorter
one and, at the end, with a uniform choice among the characters training showed.
"""

from __future__ import annotations

import math

import numpy as np
import torch

MAX_ORDER = 12
# Absolute discount of every count: the classic 0.75 mixed with the network better than
# counts-of-counts estimates (single or modified) on the panel's English and Chinese corpora.
DISCOUNT = 0.75
WEIGHT_GRID = 20  # weights tried when fitting the mixture: 0, 0.05, …, 0.95, then refined


class CharNgram:
    """Interpolated Kneser–Ney over character contexts of up to ``order - 1`` characters,
    built from training ids (vocabulary size ``vocab_size``).

    Every context of every length has one row in flat arrays (``first[k]`` is the row of
    length ``k``'s context 0): where its entries start and how many, and the weight it
    leaves to the shorter context; each entry holds a character and its discounted
    probability."""

    def __init__(self, ids: torch.Tensor, vocab_size: int, order: int):
        if not 1 <= order <= MAX_ORDER:
            raise ValueError(f"n-gram order must be 1..{MAX_ORDER} (got {order})")
        ids = ids.long().flatten()
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
            raise ValueError("n-gram training ids fall outside the vocabulary")
        V, n = vocab_size, ids.numel()
        self.order, self.vocab_size = order, V
        # keys[k]: sorted keys (parent id * V + farthest char) of the contexts of length k
        keys = [torch.zeros(1, dtype=torch.long)]
        context_of = [torch.zeros(n, dtype=torch.long)]  # per position: its context's id
        for k in range(1, order):
            parent = context_of[-1]
            key = torch.full((n,), -1, dtype=torch.long)
            valid = torch.zeros(n, dtype=torch.bool)
            valid[k:] = parent[k:] >= 0
            key[valid] = parent[valid] * V + ids[:-k][valid[k:]]
            unique, inverse = torch.unique(key[valid], return_inverse=True)
            ids_k = torch.full((n,), -1, dtype=torch.long)
            ids_k[valid] = inverse
            keys.append(unique)
            context_of.append(ids_k)
        longest = order - 1
        at = context_of[longest] >= 0
        tables = [torch.unique(context_of[longest][at] * V + ids[at], return_counts=True)]
        for k in range(longest - 1, -1, -1):
            # How many distinct characters came before this context with this continuation.
            longer = tables[-1][0]
            parent = keys[k + 1][longer // V] // V
            tables.append(torch.unique(parent * V + longer % V, return_counts=True))
        tables.reverse()
        # Queries are answered with numpy, whose small operations cost a fraction of
        # torch's (scoring the Chinese fortunes' held-out text: 0.9 s against 5.5 s).
        self.keys = [k.numpy() for k in keys]
        sizes = np.array([k.size for k in self.keys])
        self.first = np.cumsum(sizes) - sizes
        context = torch.cat([e // V + int(f) for (e, _), f in zip(tables, self.first, strict=True)])
        counts = torch.cat([c for _, c in tables]).double()
        rows = int(sizes.sum())
        total = torch.zeros(rows, dtype=torch.double).index_add_(0, context, counts)
        types = torch.bincount(context, minlength=rows)
        self.types = types.numpy()
        self.start = (torch.cumsum(types, 0) - types).numpy()
        backoff = torch.where(total > 0, DISCOUNT * types / total.clamp(min=1), 1.0)
        self.backoff = backoff.float().numpy()
        self.next = torch.cat([e % V for e, _ in tables]).numpy()
        self.prob = ((counts - DISCOUNT) / total[context]).float().numpy()
        seen = torch.bincount(ids, minlength=V).numpy() > 0
        uniform = seen.astype(np.float32) / max(int(seen.sum()), 1)
        self.unigram = self._add(uniform[None], np.zeros((1, 1), dtype=np.int64))[0]

    def _add(self, base: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Interpolated probabilities ``(Q, V)``: ``base`` (1 or Q, V) for no context,
        under the contexts ``rows`` (Q, lengths: flat rows, shortest first, -1 = none)."""
        found = rows >= 0
        row = np.maximum(rows, 0)
        backoff = np.where(found, self.backoff[row], np.float32(1))
        # An entry of a length-k context weighs the backoffs of every longer one.
        scale = np.cumprod(backoff[:, ::-1], axis=1)[:, ::-1]
        p = base * scale[:, :1]
        for k in range(rows.shape[1]):
            q = np.flatnonzero(found[:, k])
            if q.size == 0:
                break  # no longer context can be known where this one is not
            r = row[q, k]
            types = self.types[r]
            which = np.repeat(np.arange(q.size), types)
            offset = np.arange(which.size) - (np.cumsum(types) - types)[which]
            entry = self.start[r][which] + offset
            above = scale[q, k + 1] if k + 1 < rows.shape[1] else np.float32(1)
            weight = self.prob[entry] * (above[which] if np.ndim(above) else above)
            p[q[which], self.next[entry]] += weight  # one entry per character and context
        return p

    def probs(self, contexts: torch.Tensor) -> torch.Tensor:
        """Next-character probabilities ``(Q, V)`` after ``contexts`` ``(Q, order - 1)``:
        ids nearest character first, -1 where the text has no character that far back."""
        chars = contexts.detach().cpu().numpy()
        q, V = chars.shape[0], self.vocab_size
        context = np.zeros(q, dtype=np.int64)
        rows = np.full((q, max(self.order - 1, 1)), -1, dtype=np.int64)
        for k in range(1, self.order):
            keys = self.keys[k]
            if keys.size == 0:  # a training text shorter than this context
                break
            key = context * V + chars[:, k - 1]
            pos = np.minimum(np.searchsorted(keys, key), keys.size - 1)
            found = (context >= 0) & (chars[:, k - 1] >= 0) & (keys[pos] == key)
            if not found.any():
                break
            context = np.where(found, pos, -1)
            rows[:, k - 1] = np.where(found, pos + self.first[k], -1)
        return torch.from_numpy(self._add(self.unigram[None], rows))


def contexts_of(idx: torch.Tensor, length: int) -> torch.Tensor:
    """For ids ``(B, T)``: the context of every position's next character, ``(B, T,
    length)``, nearest character (the position's own) first, -1 before the start."""
    b = idx.shape[0]
    padded = torch.cat((torch.full((b, length), -1, dtype=idx.dtype), idx), dim=1)
    windows = padded.unfold(1, length, 1)[:, 1:]  # (B, T, length), oldest first
    return windows.flip(-1)


def mix(net: torch.Tensor, ngram: torch.Tensor, weight: float) -> torch.Tensor:
    """log((1 - weight) · p_net + weight · p_ngram), from both log-probabilities."""
    if weight <= 0:
        return net
    return torch.logaddexp(net + math.log1p(-weight), ngram + math.log(weight))


def fit_weight(net: torch.Tensor, ngram: torch.Tensor, novel: torch.Tensor | None = None) -> float:
    """The mixture weight that minimises held-out loss: ``net`` and ``ngram`` are each
    token's log-probability under the network and the n-gram tables (for the characters
    training showed); ``novel`` the log-probability kept for unseen ones (or None)."""

    def loss(weight: float) -> float:
        mixed = mix(net, ngram, weight)
        if novel is not None:
            mixed = torch.logaddexp(mixed, novel)
        return float(-mixed.mean())

    grid = [i / WEIGHT_GRID for i in range(WEIGHT_GRID)]
    best = min(grid, key=loss)
    fine = [best + d / (WEIGHT_GRID * 5) for d in range(-4, 5)]
    return min((w for w in fine if 0 <= w < 1), key=loss)
