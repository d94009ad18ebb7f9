"""One constructor for the token-sequence networks every LM kind chooses between."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from museforge.nn.lstm import LSTMLM, LSTMShape
from museforge.nn.transformer import TransformerLM, TransformerShape

ARCHS = ("transformer", "lstm")
TIED = "net.head.weight"  # the output layer shares the embedding's storage


@dataclass(frozen=True, kw_only=True)
class SequenceArch:
    """The architecture every LM kind's config shares (stored in its artifact); each
    kind's config adds its own fields, ``context`` among them."""

    arch: str = "transformer"
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.1
    position: str = "rope"
    bias: bool = False

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS} (got {self.arch!r})")


def sequence_net(
    arch: str,
    vocab_size: int,
    context: int,
    n_layer: int,
    n_head: int,
    n_embd: int,
    dropout: float,
    position: str = "rope",
    bias: bool = False,
) -> TransformerLM | LSTMLM:
    """A transformer (``context`` tokens, ``position`` rope or learned) or an LSTM."""
    if arch == "transformer":
        shape = TransformerShape(
            vocab_size, context, n_layer, n_head, n_embd, dropout, position, bias
        )
        return TransformerLM(shape)
    if arch == "lstm":
        return LSTMLM(LSTMShape(vocab_size, n_layer, n_embd, dropout))
    raise ValueError(f"arch must be one of {ARCHS} (got {arch!r})")


def sequence_net_for(cfg: Any, vocab_size: int) -> TransformerLM | LSTMLM:
    """:func:`sequence_net` from an LM config's fields (arch, context, sizes, position)."""
    return sequence_net(
        cfg.arch,
        vocab_size,
        cfg.context,
        cfg.n_layer,
        cfg.n_head,
        cfg.n_embd,
        cfg.dropout,
        cfg.position,
        cfg.bias,
    )


class TiedLM(nn.Module):
    """Base of the LM kinds: ``net`` ties its output layer to its embedding, and the
    artifact stores that weight once (safetensors rejects shared storage)."""

    net: TransformerLM | LSTMLM

    def weights(self) -> dict[str, torch.Tensor]:
        """The state dict without the tied output weight."""
        return {k: v for k, v in self.state_dict().items() if k != TIED}

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        state = dict(state_dict)
        if TIED not in state and "net.embed.weight" in state:
            state[TIED] = state["net.embed.weight"]
        return super().load_state_dict(state, strict=strict, assign=assign)
