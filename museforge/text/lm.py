"""Character-level language models for poems and prose: a transformer or an LSTM.

The vocabulary (one entry per character, plus the end-of-poem marker and an unknown
marker) is part of the config, so an artifact alone can encode prompts and decode samples.
"""

from __future__ import annotations

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

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(set(self.vocab)) != len(self.vocab) or any(len(c) != 1 for c in self.vocab):
            raise ValueError("vocab must be distinct single characters")
        if END not in self.vocab or UNK not in self.vocab:
            raise ValueError("vocab must hold the end and unknown markers")
        if self.context < 8:
            raise ValueError(f"context must be at least 8 characters (got {self.context})")


def build_vocab(text: str) -> tuple[str, ...]:
    """The sorted characters of ``text`` plus the end and unknown markers."""
    return tuple(sorted(set(text) | {END, UNK}))


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
        return self.net(idx)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
