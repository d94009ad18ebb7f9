"""What every GAN here trains with: critic and generator losses, and an EMA of the generator."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn


def discriminator_loss(kind: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Critic loss on real and fake scores."""
    if kind == "hinge":
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def generator_loss(kind: str, fake: torch.Tensor) -> torch.Tensor:
    """Generator loss on the critic's scores of generated images."""
    return -fake.mean() if kind == "hinge" else F.softplus(-fake).mean()


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """ema ← decay·ema + (1−decay)·model for parameters; buffers are copied."""
    for p_ema, p in zip(ema.parameters(), model.parameters(), strict=True):
        p_ema.lerp_(p, 1 - decay)
    for b_ema, b in zip(ema.buffers(), model.buffers(), strict=True):
        b_ema.copy_(b)


class EMAGenerator(nn.Module):
    """An exponential moving average of a generator (any module), with its own step count.

    The decay warms up as min(decay, (1 + t) / (10 + t)) so that early in training the
    average follows the generator instead of remembering its random initialisation.
    """

    def __init__(self, generator: nn.Module, decay: float):
        super().__init__()
        self.decay = decay
        self.model = copy.deepcopy(generator)
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    def update(self, generator: nn.Module) -> None:
        t = int(self.steps)
        update_ema(self.model, generator, min(self.decay, (1 + t) / (10 + t)))
        self.steps += 1
