"""A flow's own reading of the words: learned queries attend over the text tower's states.

The text–image encoder sums a caption up in one vector trained contrastively, and in-batch
negatives seldom ask it to tell apart what only a detail of the picture shows: on
captioned-shapes "a small red star …" and "a small red square …" lie a cosine distance of
0.06 apart, colours 0.5. A flow fed that vector alone hears shape faintly. The reader
keeps the tower frozen and looks at its per-character states instead: a few learned
queries attend over them (multi-head, pads masked) and what they gather becomes a second
sentence vector beside the encoder's, trained with the flow. Measured on captioned-shapes
(3,000 flow steps on the same autoencoder, guidance 3.5): colour and shape as asked
0.635 -> 0.777 on seen pairs and 0.475 -> 0.678 on held-out pairs (docs/crossmodal.md).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

HEADS = 4


class WordReader(nn.Module):
    """Token states (B×L×``width``) and their pad mask -> a vector of ``dim`` numbers, of
    length √dim like the sentence vector beside it."""

    def __init__(self, width: int, queries: int, dim: int):
        super().__init__()
        self.queries = nn.Parameter(torch.randn(queries, width) * 0.02)
        self.attend = nn.MultiheadAttention(width, HEADS, batch_first=True)
        self.out = nn.Linear(queries * width, dim)

    def forward(self, states: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        pad = pad.clone()
        pad[:, 0] = False  # a caption always has its end marker; never attend to nothing
        asks = self.queries.expand(len(states), -1, -1)
        gathered, _ = self.attend(asks, states, states, key_padding_mask=pad, need_weights=False)
        vec = self.out(gathered.flatten(1))
        return F.normalize(vec, dim=-1) * vec.shape[1] ** 0.5
