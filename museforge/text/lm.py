"""Character-level language models for poems and prose: a transformer or an LSTM.

The vocabulary (one entry per character, plus the end-of-poem marker and an unknown
marker) is part of the config, so an artifact alone can encode prompts and decode samples.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch

from museforge.errors import InputError
from museforge.nn.sequence import SequenceArch, TiedLM, sequence_net_for
from museforge.text.corpus import END

UNK = "\x01"


@dataclass(frozen=True, kw_only=True)
class TextLMConfig(SequenceArch):
    """Architecture and vocabulary of a text LM (stored in the artifact)."""

    vocab: tuple[str, ...]
    language: str = "en"  # zh | en: which poetic forms apply
    context: int = 128  # characters the transformer sees (training window for both)
    # Probability kept for characters the training text never showed (``novel``, and the
    # unknown marker), shared equally among them; the rest is the network's (Good–Turing).
    novel_share: float = 0.0
    novel: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 <= self.novel_share < 1.0:
            raise ValueError(f"novel_share must be in [0, 1) (got {self.novel_share})")
        if not set(self.novel) <= set(self.vocab):
            raise ValueError("novel characters must be in the vocabulary")
        if len(set(self.vocab)) != len(self.vocab) or any(len(c) != 1 for c in self.vocab):
            raise ValueError("vocab must be distinct single characters")
        if END not in self.vocab or UNK not in self.vocab:
            raise ValueError("vocab must hold the end and unknown markers")
        if self.context < 8:
            raise ValueError(f"context must be at least 8 characters (got {self.context})")


def build_vocab(text: str) -> tuple[str, ...]:
    """The sorted characters of ``text`` plus the end and unknown markers."""
    return tuple(sorted(set(text) | {END, UNK}))


MAX_NOVEL_SHARE = 0.5


def novel_estimate(vocab: Iterable[str], train_ids: torch.Tensor) -> tuple[float, tuple[str, ...]]:
    """Good–Turing: the chance that the next character is one the training text never
    showed is about the share of its characters that occur there exactly once. Returns that
    share (at most ``MAX_NOVEL_SHARE``) and the vocabulary's unseen characters (the
    unknown marker stands for any character outside the vocabulary)."""
    vocab = tuple(vocab)
    counts = torch.bincount(train_ids, minlength=len(vocab))
    once = int((counts == 1).sum())
    share = min(MAX_NOVEL_SHARE, once / max(train_ids.numel(), 1))
    unseen = (c for c, n in zip(vocab, counts.tolist(), strict=True) if n == 0 and c != UNK)
    return share, tuple(unseen)


def lossy_ids(index: dict[str, int], text: str) -> torch.Tensor:
    """Ids of ``text`` by ``index`` (character → id), unseen characters as the unknown marker."""
    unk = index[UNK]
    return torch.tensor([index.get(c, unk) for c in text], dtype=torch.long)


class TextLM(TiedLM):
    """A character LM: ``net`` maps ids to next-character logits; helpers map text to ids."""

    def __init__(self, cfg: TextLMConfig):
        super().__init__()
        self.cfg = cfg
        self.net = sequence_net_for(cfg, len(cfg.vocab))
        self.index = {c: i for i, c in enumerate(cfg.vocab)}
        novel = torch.full((len(cfg.vocab),), -math.inf)
        ids = [self.index[c] for c in {*cfg.novel, UNK}]
        if cfg.novel_share > 0:
            novel[ids] = math.log(cfg.novel_share / len(ids))
        self.register_buffer("novel_logprob", novel, persistent=False)

    @property
    def vocab(self) -> tuple[str, ...]:
        return self.cfg.vocab

    @property
    def end_id(self) -> int:
        return self.index[END]

    @property
    def unk_id(self) -> int:
        return self.index[UNK]

    def unknown_chars(self, text: str) -> list[str]:
        """Characters of ``text`` the model has never seen, in order of appearance."""
        return list(dict.fromkeys(c for c in text if c not in self.index))

    def encode(self, text: str, what: str = "text") -> torch.Tensor:
        """Ids of ``text``; InputError naming any character outside the vocabulary."""
        unknown = self.unknown_chars(text)
        if unknown:
            shown = "".join(unknown[:10]) + ("…" if len(unknown) > 10 else "")
            raise InputError(
                f"{what} has characters the model has never seen: {shown!r} "
                f"({len(unknown)} distinct); rephrase without them"
            )
        return torch.tensor([self.index[c] for c in text], dtype=torch.long)

    def encode_lossy(self, text: str) -> torch.Tensor:
        """Ids of ``text`` with unseen characters mapped to the unknown marker."""
        return lossy_ids(self.index, text)

    def decode(self, ids: list[int] | torch.Tensor) -> str:
        return "".join(self.cfg.vocab[int(i)] for i in ids)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Next-character logits; out of training, with ``novel_share`` of the probability
        given to the characters training never showed (log-probabilities then). Training
        leaves it out: for the characters it sees it only shifts the loss by a constant."""
        logits = self.net(idx)
        share = self.cfg.novel_share
        if share == 0 or self.training:
            return logits
        seen = torch.log_softmax(logits.float(), dim=-1) + math.log1p(-share)
        return torch.logaddexp(seen, self.novel_logprob)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
