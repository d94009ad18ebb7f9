"""A chord model: a bidirectional GRU reads a melody beat by beat (its key-relative pitch
classes, place in the bar, mode) and scores every chord class at every beat.

It learns from harmonised music — the chords all parts sound at each beat of Bach's
chorales, named by :func:`museforge.music.chords.chord_labels` — and writes chord symbols
for any melody at the harmonic rhythm asked for (:func:`museforge.music.chords.choose`).
The same idea as Magenta's lead-sheet models, sized for a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from museforge.core.train import optimizer_step
from museforge.music.chords import FEATURES, chord_labels, classes, melody_features
from museforge.music.score import Piece


@dataclass(frozen=True)
class ChordModelConfig:
    """Architecture of a chord model (stored in the artifact)."""

    vocabulary: str = "triads"  # triads | sevenths
    hidden: int = 96
    layers: int = 2
    dropout: float = 0.2

    def __post_init__(self) -> None:
        classes(self.vocabulary)  # an unknown vocabulary fails here, in one line
        if self.hidden < 4 or self.layers < 1:
            raise ValueError("hidden must be ≥ 4 and layers ≥ 1")


@dataclass(frozen=True)
class ChordTraining:
    """How a chord model is trained (stored in the artifact's recipe)."""

    lr: float = 2e-3
    eval_every: int = 100


class ChordNet(nn.Module):
    """Melody features (batch × beats × FEATURES) → chord-class logits per beat."""

    def __init__(self, cfg: ChordModelConfig):
        super().__init__()
        self.cfg = cfg
        self.n_classes = len(classes(cfg.vocabulary))
        self.inp = nn.Linear(FEATURES, cfg.hidden)
        self.gru = nn.GRU(
            cfg.hidden,
            cfg.hidden,
            num_layers=cfg.layers,
            batch_first=True,
            bidirectional=True,
            dropout=cfg.dropout if cfg.layers > 1 else 0.0,
        )
        self.drop = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(2 * cfg.hidden, self.n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.gru(torch.relu(self.inp(x)))
        return self.out(self.drop(h))

    @torch.no_grad()
    def log_probs(self, piece: Piece) -> np.ndarray:
        """beats × classes log-probabilities for a melody (part 0 of ``piece``)."""
        self.eval()
        x = torch.from_numpy(melody_features(piece))[None]
        return F.log_softmax(self(x)[0], dim=-1).numpy()


def encode_pieces(pieces: list[Piece], vocabulary: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """(features, labels) per piece with at least one labelled beat."""
    out = []
    for piece in pieces:
        labels = chord_labels(piece, vocabulary)
        if (labels >= 0).any():
            out.append((melody_features(piece), labels))
    return out


def _batch(items: list[tuple[np.ndarray, np.ndarray]]) -> tuple[torch.Tensor, torch.Tensor]:
    length = max(len(f) for f, _ in items)
    x = torch.zeros(len(items), length, FEATURES)
    y = torch.full((len(items), length), -1, dtype=torch.long)
    for i, (f, labels) in enumerate(items):
        x[i, : len(f)] = torch.from_numpy(f)
        y[i, : len(labels)] = torch.from_numpy(labels)
    return x, y


@torch.no_grad()
def accuracy(net: ChordNet, items: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """Cross-entropy and exact / root accuracy per labelled beat."""
    net.eval()
    table = classes(net.cfg.vocabulary)
    roots = torch.tensor([d for d, _ in table])
    x, y = _batch(items)
    logits = net(x)
    known = y >= 0
    loss = F.cross_entropy(logits[known], y[known]).item()
    guess = logits.argmax(-1)[known]
    exact = (guess == y[known]).float().mean().item()
    root = (roots[guess] == roots[y[known]]).float().mean().item()
    return {"val_loss": loss, "val_accuracy": exact, "val_root_accuracy": root}


class ChordTask:
    """Trains a :class:`ChordNet` on (features, labels) of whole pieces for the Trainer."""

    kind = "chord-model"

    def __init__(
        self,
        cfg: ChordModelConfig,
        training: ChordTraining,
        train: list[tuple[np.ndarray, np.ndarray]],
        val: list[tuple[np.ndarray, np.ndarray]],
        seed: int,
    ):
        self.cfg, self.training, self.train, self.val = cfg, training, train, val
        torch.manual_seed(seed)
        self.net = ChordNet(cfg)
        self.opt = torch.optim.AdamW(self.net.parameters(), lr=training.lr, weight_decay=0.01)
        self.num_examples = len(train)
        self.eval_every = training.eval_every

    def modules(self) -> dict[str, nn.Module]:
        return {"net": self.net}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"net": self.opt}

    def train_step(self, indices: torch.Tensor, noise: torch.Generator) -> dict[str, float]:
        self.net.train()
        x, y = _batch([self.train[int(i)] for i in indices])
        logits = self.net(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=-1)
        optimizer_step(loss, self.net, self.opt, clip=1.0)
        return {"loss": loss.item()}

    def validate(self) -> dict[str, float]:
        return accuracy(self.net, self.val)

    def preview(self) -> None:
        return None

    def export(self) -> tuple[ChordModelConfig, dict[str, torch.Tensor]]:
        return self.cfg, self.net.state_dict()
