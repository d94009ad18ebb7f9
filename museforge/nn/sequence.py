"""One constructor for the token-sequence networks every LM kind chooses between."""

from __future__ import annotations

from museforge.nn.lstm import LSTMLM, LSTMShape
from museforge.nn.transformer import TransformerLM, TransformerShape

ARCHS = ("transformer", "lstm")
TIED = "net.head.weight"  # the output layer shares the embedding's storage


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
