"""An LSTM language model over token ids, with the same interface as the transformer.

Embedding → stacked LSTM (dropout between layers and on its output) → a linear layer tied
to the embedding (so the hidden size equals the embedding size). Sampling carries the
(h, c) state instead of a cache, so it has no context limit.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class LSTMShape:
    """Sizes of an :class:`LSTMLM`."""

    vocab_size: int
    n_layer: int = 2
    n_embd: int = 256
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1) (got {self.dropout})")


class LSTMLM(nn.Module):
    """Next-token logits; ``forward`` for training, ``start``/``step`` to sample."""

    def __init__(self, shape: LSTMShape):
        super().__init__()
        self.shape = shape
        self.embed = nn.Embedding(shape.vocab_size, shape.n_embd)
        nn.init.normal_(self.embed.weight, std=0.05)
        self.lstm = nn.LSTM(
            shape.n_embd,
            shape.n_embd,
            num_layers=shape.n_layer,
            dropout=shape.dropout if shape.n_layer > 1 else 0.0,
            batch_first=True,
        )
        self.drop = nn.Dropout(shape.dropout)
        self.head = nn.Linear(shape.n_embd, shape.vocab_size, bias=True)
        self.head.weight = self.embed.weight

    def _run(self, idx: torch.Tensor, hidden):
        out, hidden = self.lstm(self.drop(self.embed(idx)), hidden)
        return self.head(self.drop(out)), hidden

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, V) for every position of ``idx`` (B, T)."""
        return self._run(idx, None)[0]

    def start(self, idx: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """Run a prompt (B, T ≥ 1): logits of the last position and the recurrent state."""
        logits, hidden = self._run(idx, None)
        return logits[:, -1], {"hidden": hidden}

    def step(self, token: torch.Tensor, state: dict) -> tuple[torch.Tensor, dict]:
        """Feed one token per row (B,); logits of the next position and the new state."""
        logits, hidden = self._run(token[:, None], state["hidden"])
        return logits[:, -1], {"hidden": hidden}
