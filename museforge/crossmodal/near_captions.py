"""Captions that read almost alike, as hard negatives for contrastive training.

In a random batch the wrong captions of a picture differ from the right one in many
words, so an encoder can match pictures by their easiest attribute (colour, background)
and never learn the hard one (the shape). Showing each picture beside a caption that
differs in one word or so — "a small red heart …" for "a small red star …" — makes every
word count (as NegCLIP does with swapped words). Nearness is the cosine between hashed
bags of character pairs, so it needs no tokenizer and works for Chinese as for English.
"""

from __future__ import annotations

import zlib
from itertools import pairwise

import torch
import torch.nn.functional as F

from museforge.crossmodal.encoder import normalise

DIM, CHUNK = 4096, 1024


def _pairs(text: str) -> torch.Tensor:
    bag = torch.zeros(DIM)
    padded = f" {text} "
    for a, b in pairwise(padded):
        bag[zlib.crc32((a + b).encode()) % DIM] += 1
    return bag


class NearCaptions:
    """For each distinct caption, up to ``k`` other captions most alike in character
    pairs (never itself, nor a caption that reads the same once normalised)."""

    def __init__(self, texts: list[str], k: int = 8):
        self.texts = list(dict.fromkeys(normalise(t) for t in texts))
        self.index = {t: i for i, t in enumerate(self.texts)}
        self.near: list[list[int]] = []
        n = len(self.texts)
        if n < 2:
            self.near = [[] for _ in range(n)]
            return
        bags = F.normalize(torch.stack([_pairs(t) for t in self.texts]), dim=1)
        for start in range(0, n, CHUNK):
            sim = bags[start : start + CHUNK] @ bags.T
            rows = torch.arange(sim.shape[0])
            sim[rows, rows + start] = -2.0  # never itself
            self.near.extend(sim.topk(min(k, n - 1), dim=1).indices.tolist())

    def pick(self, text: str, noise: torch.Generator) -> str | None:
        """One caption near ``text`` at random, or None when it has no neighbour."""
        row = self.index.get(normalise(text))
        options = self.near[row] if row is not None else []
        if not options:
            return None
        return self.texts[options[int(torch.randint(len(options), (1,), generator=noise))]]
