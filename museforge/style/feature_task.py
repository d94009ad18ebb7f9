"""Training the learned style features on ``style-pictures``, for the shared Trainer.

Each step takes random crops of a batch of pictures, flips some, turns each by a random
quarter turn, and asks two linear heads on the mean and spread of the last layer's channels
which class the picture is (``clipart:animals``, ``sprites:drakes``, ``photo:cells``…) and
how far it was turned. Statistics rather than positions feed the heads because the style
loss matches statistics: features that tell drawn, painted and photographed marks apart
by their statistics are features whose statistics carry a style. Colours are not jittered:
a style's palette is part of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from museforge.core.train import optimizer_step
from museforge.style.feature_data import StylePictures
from museforge.style.learned import LearnedFeatureNet, LearnedFeaturesConfig

HOLDOUT = 0.05
MAX_VALIDATION = 1000
LAST_LAYER = "relu4_1"  # its statistics feed the heads


@dataclass(frozen=True)
class FeatureTraining:
    """How the learned features are trained (stored in the artifact's recipe)."""

    lr: float = 2e-3
    weight_decay: float = 1e-4
    crop: int = 64  # side of the random crops of the pictures
    picture_size: int = 80  # side the pictures are stored at
    rotation_weight: float = 0.5

    def __post_init__(self) -> None:
        if self.lr <= 0 or self.weight_decay < 0 or self.rotation_weight < 0:
            raise ValueError("lr must be positive, weight_decay and rotation_weight not negative")
        if not 16 <= self.crop <= self.picture_size <= 256:
            raise ValueError("need 16 <= crop <= picture_size <= 256")


def pooled_stats(features: torch.Tensor) -> torch.Tensor:
    """Channel means and standard deviations over positions: N×C×H×W -> N×2C."""
    flat = features.flatten(2)
    return torch.cat([flat.mean(2), flat.std(2)], dim=1)


def augment(
    pictures: torch.Tensor, crop: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random crops (float in [0, 1]), random mirror images, random quarter turns; returns
    the batch and each picture's turn (0-3)."""
    n, _, h, w = pictures.shape
    ys = torch.randint(h - crop + 1, (n,), generator=gen).tolist()
    xs = torch.randint(w - crop + 1, (n,), generator=gen).tolist()
    flips = (torch.rand(n, generator=gen) < 0.5).tolist()
    turns = torch.randint(4, (n,), generator=gen)
    out = []
    for i in range(n):
        x = pictures[i, :, ys[i] : ys[i] + crop, xs[i] : xs[i] + crop].float() / 255
        if flips[i]:
            x = x.flip(-1)
        out.append(torch.rot90(x, int(turns[i]), dims=(1, 2)))
    return torch.stack(out), turns


class FeatureTask:
    """Trains a :class:`LearnedFeatureNet` to tell the pictures' classes and turns apart."""

    kind = "style-features"

    def __init__(
        self,
        cfg: LearnedFeaturesConfig,
        training: FeatureTraining,
        data: StylePictures,
        seed: int,
    ):
        self.cfg, self.training = cfg, training
        gen = torch.Generator().manual_seed(seed)
        order = torch.randperm(len(data), generator=gen)
        n_val = min(MAX_VALIDATION, max(1, round(HOLDOUT * len(data))))
        self.val_idx, self.train_idx = order[:n_val], order[n_val:]
        self.data = data
        self.num_examples = len(self.train_idx)
        torch.manual_seed(seed)
        self.net = LearnedFeatureNet(cfg).requires_grad_(True)
        last = self.net.blocks[-1][-1].out_channels
        self.heads = nn.ModuleDict(
            {
                "classes": nn.Linear(2 * last, len(data.classes)),
                "turns": nn.Linear(2 * last, 4),
            }
        )
        params = [*self.net.parameters(), *self.heads.parameters()]
        self.opt = torch.optim.AdamW(params, lr=training.lr, weight_decay=training.weight_decay)
        self._val_gen_seed = seed + 1

    def modules(self) -> dict[str, nn.Module]:
        return {"net": self.net, "heads": self.heads}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"net": self.opt}

    def set_progress(self, fraction: float) -> None:
        """Cosine decay of the learning rate to nothing over the budget."""
        for group in self.opt.param_groups:
            group["lr"] = self.training.lr * 0.5 * (1 + math.cos(math.pi * min(fraction, 1.0)))

    def _logits(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        last = self.net(batch)[LAST_LAYER]
        stats = pooled_stats(last)
        return self.heads["classes"](stats), self.heads["turns"](stats)

    def train_step(self, indices: torch.Tensor, noise: torch.Generator) -> dict[str, float]:
        which = self.train_idx[indices]
        batch, turns = augment(self.data.images[which], self.training.crop, noise)
        classes, turn_logits = self._logits(batch)
        class_loss = F.cross_entropy(classes, self.data.labels[which])
        turn_loss = F.cross_entropy(turn_logits, turns)
        loss = class_loss + self.training.rotation_weight * turn_loss
        optimizer_step(loss, nn.ModuleList([self.net, self.heads]), self.opt)
        return {
            "loss": loss.item(),
            "class_acc": (classes.argmax(1) == self.data.labels[which]).float().mean().item(),
            "turn_acc": (turn_logits.argmax(1) == turns).float().mean().item(),
        }

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Class and turn accuracy on held-out pictures (the same crops every time)."""
        gen = torch.Generator().manual_seed(self._val_gen_seed)
        hits_c = hits_t = 0
        for start in range(0, len(self.val_idx), 200):
            which = self.val_idx[start : start + 200]
            batch, turns = augment(self.data.images[which], self.training.crop, gen)
            classes, turn_logits = self._logits(batch)
            hits_c += int((classes.argmax(1) == self.data.labels[which]).sum())
            hits_t += int((turn_logits.argmax(1) == turns).sum())
        n = len(self.val_idx)
        return {"val_class_acc": hits_c / n, "val_turn_acc": hits_t / n}

    def preview(self) -> None:
        return None

    def export(self) -> tuple[LearnedFeaturesConfig, dict[str, torch.Tensor]]:
        return self.cfg, {k: v.detach().clone() for k, v in self.net.state_dict().items()}
