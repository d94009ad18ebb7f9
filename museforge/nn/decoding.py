"""Drawing tokens from logits: temperature, top-k and nucleus (top-p), seeded per-row draws.

Shared by every sequence model (text, music). Logits arrive with their disallowed
entries already -inf, and those are never drawn.
"""

from __future__ import annotations

import torch


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


def sample_logits(
    logits: torch.Tensor,
    gens: list[torch.Generator],
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
) -> torch.Tensor:
    """One index per row from temperature-scaled logits kept by top-k and top-p.

    The same distribution as filtering, then :func:`draw`, with the work done once in
    likeliest-first order: the nucleus is a prefix of the sorted row, so one sort, one
    softmax and one cumulative sum serve filtering and the inverse-CDF draw alike (the
    per-token cost matters when one stream is sampled on a CPU). A row with nothing
    allowed (all -inf) yields index 0; callers check for that case themselves.
    """
    sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
    if top_k and top_k < logits.shape[-1]:
        sorted_logits[:, top_k:] = float("-inf")
    probs = torch.softmax(sorted_logits / temperature, dim=-1).nan_to_num_(0.0)
    cdf = probs.cumsum(dim=-1)
    # Keep the likeliest entries up to and including the one whose mass crosses top_p.
    kept = (cdf - probs <= top_p).sum(dim=-1, keepdim=True).clamp_(1, logits.shape[-1])
    total = cdf.gather(-1, kept - 1)
    if len(gens) == 1:
        u = torch.rand(1, 1, generator=gens[0])
    else:
        u = torch.stack([torch.rand(1, generator=g) for g in gens]).view(-1, 1)
    rank = (cdf < u * total).sum(dim=-1, keepdim=True).clamp_max_(kept - 1)
    return order.gather(-1, rank).squeeze(-1)
