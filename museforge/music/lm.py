"""Music language models over event tokens: a transformer or an LSTM, and their training task.

The vocabulary is the fixed event vocabulary of :mod:`museforge.music.tokens`, so the
config holds only the architecture and whether the model writes several parts. Training
is the shared sequence-LM task (:mod:`museforge.nn.lm_training`) on event tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from museforge.music import tokens
from museforge.music.score import Piece
from museforge.nn.lm_training import SequenceLMTask
from museforge.nn.sequence import SequenceArch, TiedLM, sequence_net_for


@dataclass(frozen=True, kw_only=True)
class MusicLMConfig(SequenceArch):
    """Architecture of a music LM (stored in the artifact)."""

    polyphonic: bool = False  # PART tokens: chorales and other multi-part music
    context: int = 256  # tokens the transformer sees
    vocab_size: int = len(tokens.VOCAB)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.vocab_size != len(tokens.VOCAB):
            raise ValueError(
                f"this museforge's event vocabulary has {len(tokens.VOCAB)} tokens, the "
                f"model was made for {self.vocab_size}"
            )
        if self.context < 16:
            raise ValueError(f"context must be at least 16 tokens (got {self.context})")


class MusicLM(TiedLM):
    """Next-event logits; ``net`` offers ``forward`` for training and ``start``/``step``."""

    def __init__(self, cfg: MusicLMConfig):
        super().__init__()
        self.cfg = cfg
        self.net = sequence_net_for(cfg, cfg.vocab_size)

    @property
    def unk_id(self) -> int:
        """The token hidden inputs are replaced with (input dropout): padding."""
        return tokens.PAD

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.net(idx)


class MusicLMTask(SequenceLMTask):
    """The shared LM training loop (windows, early stopping, best weights) on events."""

    kind = "music-lm"
    model_cls = MusicLM


def encode_all(pieces: list[Piece], polyphonic: bool) -> torch.Tensor:
    """One token stream: every piece from BOS to EOS, one after another."""
    ids: list[int] = []
    for piece in pieces:
        ids += tokens.encode(piece, polyphonic=polyphonic)
    return torch.tensor(ids, dtype=torch.long)
