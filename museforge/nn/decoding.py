"""Drawing tokens from logits: top-k and nucleus (top-p) filtering, seeded per-row draws.

Shared by every sequence model (text, music). Filters take logits whose disallowed
entries are already -inf and keep them so.
"""

from __future__ import annotations

import torch


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the ``k`` largest logits per row (0 = keep all)."""
    if not k:
        return logits
    kth = torch.topk(logits, min(k, logits.shape[-1]), dim=-1).values[:, -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Keep the smallest set of likeliest entries whose probability reaches ``p`` (1 = all)."""
    if p >= 1.0:
        return logits
    sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
    probs = torch.softmax(sorted_logits, dim=-1)
    drop = probs.cumsum(dim=-1) - probs > p  # keep the first entry that crosses p
    sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
    # ``order`` is a permutation of each row, so the scatter writes every entry.
    return torch.empty_like(logits).scatter_(-1, order, sorted_logits)


def draw(probs: torch.Tensor, gens: list[torch.Generator]) -> torch.Tensor:
    """One index per row by inverse CDF, each row from its own generator (so row i is
    the same whether 1 or 20 rows are drawn)."""
    if len(gens) == 1:
        u = torch.rand(1, 1, generator=gens[0])
    else:
        u = torch.stack([torch.rand(1, generator=g) for g in gens]).view(-1, 1)
    cdf = probs.cumsum(dim=-1)
    picks = (cdf < u * cdf[:, -1:]).sum(dim=-1)
    return picks.clamp_max(probs.shape[-1] - 1)
