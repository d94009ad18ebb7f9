"""Keeping the best of several drafts: each scored by the model's own likelihood.

A poem drawn under a form is one of many the model could have written; drawing a few and
keeping the one the model finds likeliest (lowest bits per character of the whole text,
from a poem boundary to the end marker) trades sampling time for coherence, as
best-of-n reranking does for larger language models.
"""

from __future__ import annotations

import math

import torch

from museforge.nn.lm_training import nll_per_token
from museforge.text.lm import TextLM

MAX_CANDIDATES = 32


@torch.inference_mode()
def bits_per_char(model: TextLM, text: str) -> float:
    """Mean bits per character of ``text`` as one whole piece: read from a piece boundary,
    the end marker after it scored too (so a piece that stops mid-thought scores worse)."""
    end = torch.tensor([model.end_id])
    ids = torch.cat((end, model.encode_lossy(text), end))
    return nll_per_token(model, ids) / math.log(2)


def best_of(model: TextLM, texts: list[str], candidates: int) -> tuple[list[int], list[float]]:
    """For consecutive groups of ``candidates`` texts: the index of each group's likeliest
    text and its bits per character."""
    chosen, scores = [], []
    for start in range(0, len(texts), candidates):
        group = [(bits_per_char(model, texts[i]), i) for i in range(start, start + candidates)]
        score, index = min(group)
        chosen.append(index)
        scores.append(score)
    return chosen, scores
