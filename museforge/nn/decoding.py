"""Drawing tokens from logits: temperature, top-k and nucleus (top-p), seeded per-row draws.

Shared by every sequence model (text, music). Logits arrive with their disallowed
entries already -inf, and those are never drawn.
"""

from __future__ import annotations

import torch

# From this top-p on, nucleus sampling draws from the whole row and rejects draws outside
# the nucleus (at most 1 / top-p draws expected) rather than sorting the row.
REJECTION_TOP_P = 0.5


def _uniforms(gens: list[torch.Generator]) -> torch.Tensor:
    """One uniform in [0, 1) per row, each from its own generator, as a column."""
    if len(gens) == 1:
        return torch.rand(1, 1, generator=gens[0])
    return torch.stack([torch.rand(1, generator=g) for g in gens]).view(-1, 1)


def _inverse_cdf(
    cdf: torch.Tensor, gens: list[torch.Generator], last: torch.Tensor | None = None
) -> torch.Tensor:
    """Index per row where ``cdf`` reaches a uniform share of its total at ``last`` (the
    end of the row by default). The share is in (0, 1], so an entry of probability 0 is
    never picked unless the whole row is 0, which picks index 0."""
    total = cdf[:, -1:] if last is None else cdf.gather(-1, last)
    share = 1.0 - _uniforms(gens)
    return (cdf < share * total).sum(dim=-1)


def draw(probs: torch.Tensor, gens: list[torch.Generator]) -> torch.Tensor:
    """One index per row by inverse CDF, each row from its own generator (so row i is
    the same whether 1 or 20 rows are drawn)."""
    return _inverse_cdf(probs.cumsum(dim=-1), gens)


def sample_logits(
    logits: torch.Tensor,
    gens: list[torch.Generator],
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
) -> torch.Tensor:
    """One index per row from temperature-scaled logits kept by top-k and top-p.

    Each row draws from its own generator, so row i is the same whether 1 or 20 rows
    are drawn. A row with nothing allowed (all -inf) yields index 0; callers check for
    that case themselves. The per-token cost matters when one stream is sampled on a
    CPU, and a full sort of a vocabulary of thousands costs about a quarter of a small
    model's step (tang300: 2,600 characters), so sorting is avoided where it can be:

    * top-k sorts only the k likeliest (``topk``);
    * top-p of at least ``REJECTION_TOP_P`` draws from the whole row and keeps the draw
      when it lies in the nucleus, drawing again otherwise: the kept draws follow the
      nucleus renormalised, and each is kept with probability at least top-p;
    * a smaller top-p sorts the row.

    The nucleus is the likeliest entries up to and including the one whose mass
    crosses top-p (the rejection path keeps every entry tied with that one).
    """
    width = logits.shape[-1]
    if 0 < top_k < width or top_p < REJECTION_TOP_P:
        return _sample_sorted(logits, gens, temperature, min(top_k or width, width), top_p)
    probs = torch.softmax(logits / temperature, dim=-1).nan_to_num_(0.0)
    cdf = probs.cumsum(dim=-1)
    picks = _inverse_cdf(cdf, gens)
    if top_p >= 1.0:
        return picks
    pending = torch.arange(len(gens))
    while len(pending):
        row_probs = probs[pending]
        chosen = row_probs.gather(-1, picks[pending, None])
        mass_above = (row_probs * (row_probs > chosen)).sum(dim=-1)
        pending = pending[mass_above > top_p]
        if len(pending):
            picks[pending] = _inverse_cdf(cdf[pending], [gens[i] for i in pending.tolist()])
    return picks


def _sample_sorted(
    logits: torch.Tensor, gens: list[torch.Generator], temperature: float, k: int, top_p: float
) -> torch.Tensor:
    """:func:`sample_logits` in likeliest-first order: the k likeliest entries, the
    nucleus a prefix of them, one softmax and one cumulative sum for filter and draw."""
    if k < logits.shape[-1]:
        values, order = logits.topk(k, dim=-1)
    else:
        values, order = logits.sort(dim=-1, descending=True)
    probs = torch.softmax(values / temperature, dim=-1).nan_to_num_(0.0)
    cdf = probs.cumsum(dim=-1)
    kept = (cdf - probs <= top_p).sum(dim=-1, keepdim=True).clamp_(1, k)
    rank = _inverse_cdf(cdf, gens, kept - 1)
    picks = order.gather(-1, rank[:, None]).squeeze(-1)
    return picks.masked_fill_(cdf[:, -1] == 0, 0)  # nothing allowed: index 0, as documented
