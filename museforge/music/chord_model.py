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
from museforge.music.chords import (
    FEATURES,
    RHYTHMS,
    beats_per_bar,
    chord_labels,
    classes,
    melody_features,
    span_size,
)
from museforge.music.score import Piece


@dataclass(frozen=True)
class ChordModelConfig:
    """Architecture of a chord model (stored in the artifact)."""

    vocabulary: str = "triads"  # triads | sevenths
    hidden: int = 96
    layers: int = 2
    dropout: float = 0.2
    # Told the harmonic rhythm (an input), trained on one chord per span of it (the chord
    # on the span's first harmonised beat): it learns slower harmony for half bars and bars.
    rhythm_aware: bool = True

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
        self.inp = nn.Linear(FEATURES + (len(RHYTHMS) if cfg.rhythm_aware else 0), cfg.hidden)
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
    def log_probs(self, piece: Piece, rhythm: str = "beat") -> np.ndarray:
        """beats × classes log-probabilities for a melody (part 0 of ``piece``), for chords
        at ``rhythm`` (a model not told the rhythm scores every beat alike)."""
        self.eval()
        x = torch.from_numpy(self.inputs(melody_features(piece), RHYTHMS.index(rhythm)))[None]
        return F.log_softmax(self(x)[0], dim=-1).numpy()

    def inputs(self, features: np.ndarray, rhythm: int) -> np.ndarray:
        """The network's input: the features, and the rhythm's one-hot if it is told it."""
        if not self.cfg.rhythm_aware:
            return features
        flags = np.zeros((len(features), len(RHYTHMS)), np.float32)
        flags[:, rhythm] = 1.0
        return np.concatenate([features, flags], axis=1)


Item = tuple[np.ndarray, np.ndarray, int]  # features, labels per beat, beats per bar


def encode_pieces(pieces: list[Piece], vocabulary: str) -> list[Item]:
    """(features, labels, beats per bar) per piece with at least one labelled beat."""
    out = []
    for piece in pieces:
        labels = chord_labels(piece, vocabulary)
        if (labels >= 0).any():
            out.append((melody_features(piece), labels, beats_per_bar(piece)))
    return out


def span_targets(labels: np.ndarray, per_bar: int, rhythm: int) -> np.ndarray:
    """Every beat of a span labelled with the chord of the span's first harmonised beat."""
    size = span_size(per_bar, RHYTHMS[rhythm])
    out = labels.copy()
    for a in range(0, len(labels), size):
        known = labels[a : a + size][labels[a : a + size] >= 0]
        out[a : a + size] = known[0] if len(known) else -1
    return out


def _batch(
    net: ChordNet, items: list[Item], rhythms: list[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    length = max(len(item[0]) for item in items)
    width = net.inp.in_features
    x = torch.zeros(len(items), length, width)
    y = torch.full((len(items), length), -1, dtype=torch.long)
    for i, ((f, labels, per_bar), r) in enumerate(zip(items, rhythms, strict=True)):
        x[i, : len(f)] = torch.from_numpy(net.inputs(f, r))
        targets = span_targets(labels, per_bar, r) if net.cfg.rhythm_aware else labels
        y[i, : len(labels)] = torch.from_numpy(targets)
    return x, y


@torch.no_grad()
def accuracy(net: ChordNet, items: list[Item]) -> dict[str, float]:
    """Cross-entropy and exact / root accuracy per labelled beat (a chord per beat)."""
    net.eval()
    table = classes(net.cfg.vocabulary)
    roots = torch.tensor([d for d, _ in table])
    x, y = _batch(net, items, [0] * len(items))
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
        train: list[Item],
        val: list[Item],
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
        items = [self.train[int(i)] for i in indices]
        rhythms = torch.randint(len(RHYTHMS), (len(items),), generator=noise).tolist()
        x, y = _batch(self.net, items, rhythms)
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
