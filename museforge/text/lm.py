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
from museforge.text.ngram import MAX_ORDER, CharNgram, contexts_of, mix

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
    # A character n-gram of the training text mixed with the network (text.ngram): the
    # longest context is ngram_order - 1 characters (0 = none); ngram_chars is the length
    # of the training text the model keeps to count from.
    ngram_order: int = 0
    ngram_chars: int = 0

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
        if not 0 <= self.ngram_order <= MAX_ORDER:
            raise ValueError(
                f"ngram_order must be 0 (none) to {MAX_ORDER} (got {self.ngram_order})"
            )
        if self.ngram_chars < 0 or (self.ngram_order > 0) != (self.ngram_chars > 0):
            raise ValueError("ngram_chars (the text kept to count from) goes with ngram_order > 0")
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
        self._ngram: CharNgram | None = None
        if cfg.ngram_order:
            self.register_buffer("ngram_ids", torch.zeros(cfg.ngram_chars, dtype=torch.int32))
            self.register_buffer("ngram_weight", torch.tensor(0.0))

    def set_ngram_text(self, ids: torch.Tensor) -> None:
        """Keep the training text's ids ``ids`` for the n-gram."""
        self.ngram_ids.copy_(ids)
        self._ngram = None

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        self._ngram = None
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    @property
    def ngram(self) -> CharNgram:
        """The n-gram tables, counted from the kept training text when first asked."""
        if self._ngram is None:
            ids = self.ngram_ids.long().clamp(0, len(self.cfg.vocab) - 1)
            self._ngram = CharNgram(ids, len(self.cfg.vocab), self.cfg.ngram_order)
        return self._ngram

    @property
    def ngram_share(self) -> float:
        """The n-gram's weight in the mixture (0 without one; a stored value outside
        [0, 0.99] is read as the nearest inside)."""
        if not self.cfg.ngram_order:
            return 0.0
        weight = float(self.ngram_weight)
        return min(max(weight, 0.0), 0.99) if math.isfinite(weight) else 0.0

    @property
    def mixes(self) -> bool:
        """Whether the n-gram takes part (a model with one, and a weight fitted for it)."""
        return self.ngram_share > 0

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
        """Next-character logits; out of training, log-probabilities: the network's mixed
        with the n-gram's (if any), and ``novel_share`` given to the characters training
        never showed. This is the model that scores text (validation, ``evaluate``, the
        reranking of poems). Training leaves both out: the n-gram is counted, not trained,
        and the novel share only shifts the loss of the characters training sees by a
        constant. Sampling reads the network alone (``net``): drawn from the counts, short
        lines come out as copies of training lines."""
        if self.training or (self.cfg.novel_share == 0 and not self.mixes):
            return self.net(idx)
        net = self.network_logprobs(idx)
        if self.mixes:
            net = mix(net, self.ngram_logprobs(idx), self.ngram_share)
        return torch.logaddexp(net, self.novel_logprob)

    def network_logprobs(self, idx: torch.Tensor) -> torch.Tensor:
        """The network's next-character log-probabilities, less the novel share."""
        logits = self.net(idx).float()
        return torch.log_softmax(logits, dim=-1) + math.log1p(-self.cfg.novel_share)

    def ngram_logprobs(self, idx: torch.Tensor) -> torch.Tensor:
        """The n-gram's next-character log-probabilities after every position of ``idx``
        (only the characters within ``idx`` as context), less the novel share."""
        contexts = contexts_of(idx, self.cfg.ngram_order - 1)
        probs = self.ngram.probs(contexts.reshape(-1, contexts.shape[-1]))
        return probs.log().view(*idx.shape, -1) + math.log1p(-self.cfg.novel_share)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
