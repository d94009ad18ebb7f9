"""Training a Coconet: erasure masks, the masked loss, held-out NLL and the training task."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from museforge.core.seeding import stream
from museforge.core.train import optimizer_step
from museforge.music.coconet.encoding import from_classes
from museforge.music.coconet.network import VOICES, Coconet, CoconetConfig
from museforge.music.coconet.sampling import gibbs, rule_breaking


def sample_masks(batch: int, length: int, gen: torch.Generator) -> torch.Tensor:
    """Erasure masks [B, 4, T]: half Bernoulli at a uniform random rate (orderless NADE),
    a quarter whole voices (alto+tenor+bass half of those: harmonising), a quarter a time
    block in random voices (infilling). At least one cell is always erased."""
    kind = torch.randint(0, 4, (batch, 1, 1), generator=gen)
    rate = torch.rand(batch, 1, 1, generator=gen)
    bernoulli = torch.rand(batch, VOICES, length, generator=gen) < rate
    some_voices = torch.rand(batch, VOICES, 1, generator=gen) < 0.5
    atb = torch.tensor([False, True, True, True]).view(1, VOICES, 1)
    voices = torch.where(torch.rand(batch, 1, 1, generator=gen) < 0.5, atb, some_voices)
    start = torch.randint(0, length, (batch, 1, 1), generator=gen)
    span = torch.randint(1, length + 1, (batch, 1, 1), generator=gen)
    steps = torch.arange(length).view(1, 1, length)
    block = (steps >= start) & (steps < start + span) & some_voices
    mask = torch.where(kind < 2, bernoulli, torch.where(kind == 2, voices, block))
    mask = mask.expand(batch, VOICES, length).clone()
    cell = torch.randint(0, VOICES * length, (batch,), generator=gen)
    mask.view(batch, -1)[torch.arange(batch), cell] = True
    return mask


def masked_nll(logits: torch.Tensor, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-example mean negative log-likelihood (nats) over the erased cells, [B]."""
    nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x.reshape(-1), reduction="none")
    nll = nll.view(mask.shape) * mask
    return nll.flatten(1).sum(1) / mask.flatten(1).sum(1).clamp(min=1)


@torch.no_grad()
def grid_nll(
    model: Coconet, x: torch.Tensor, pos: torch.Tensor, mask: torch.Tensor, batch: int = 256
) -> float:
    """Mean NLL (nats) per erased cell of windows ``x`` under erasure ``mask``."""
    model.eval()
    total, count = 0.0, 0
    for i in range(0, x.shape[0], batch):
        xb, mb = x[i : i + batch], mask[i : i + batch]
        logits = model(xb, mb, pos[i : i + batch])
        nll = F.cross_entropy(logits[mb], xb[mb], reduction="sum")
        total, count = total + float(nll), count + int(mb.sum())
    return total / max(count, 1) if count else math.nan


def fixed_masks(n: int, length: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Held-out erasures, the same for every model: (random-rate masks, alto+tenor+bass)."""
    random_masks = sample_masks(n, length, stream(seed, "val-mask"))
    atb = torch.zeros(n, VOICES, length, dtype=torch.bool)
    atb[:, 1:] = True
    return random_masks, atb


@dataclass(frozen=True)
class CoconetTraining:
    """How a Coconet is trained (stored in the artifact's recipe)."""

    lr: float = 2e-3
    warmup: int = 50
    min_lr_ratio: float = 0.05  # cosine decay over the budget down to lr × this
    weight_decay: float = 1e-4
    grad_clip: float = 1.0
    transpose: bool = True  # also train on transpositions -5..+6 semitones (in range)
    eval_every: int = 200
    val_windows: int = 1024  # held-out windows scored at each evaluation (a fixed subset)
    # On-policy voice-leading penalty (0 = off): this weight × the probability the model
    # gives rule-breaking pitches in its own harmonisation chains (see CoconetTask).
    rule_weight: float = 0.0
    chains: int = 256  # harmonisation chains the penalty is taken on
    rule_temperature: float = 0.7  # the chains' sampling temperature (harmonise's default)
    # Share of the budget trained on the data alone before the penalty starts: a young
    # model's chains carry no signal and the penalty then stunts it (docs/music.md).
    rule_from: float = 0.0

    def __post_init__(self) -> None:
        if self.lr <= 0 or self.val_windows < 1:
            raise ValueError("lr must be positive and val_windows at least 1")
        if self.rule_weight < 0 or self.chains < 1 or self.rule_temperature <= 0:
            raise ValueError("rule_weight ≥ 0, chains ≥ 1 and rule_temperature > 0 are needed")
        if not 0 <= self.rule_from < 1:
            raise ValueError("rule_from must be in [0, 1)")


class CoconetTask:
    """Trains a :class:`Coconet` on chorale windows for the shared Trainer.

    With ``rule_weight`` > 0 each step also prices voice leading on-policy (after RL Tuner,
    Jaques et al. 2017, with the data NLL as the anchor): a pool of the model's own raw
    alto/tenor/bass chains under training sopranos is kept; at erased cells of a batch of
    them the loss adds ``rule_weight`` × the probability of the pitches the rules would veto
    there (:func:`rule_breaking`), then those cells are redrawn from the model to advance
    the chains. Every ``eval_every`` steps a sixteenth of the chains restart from new
    sopranos. The penalty starts once ``rule_from`` of the budget is done. The chains are
    not checkpointed: a resumed run starts fresh ones.
    """

    kind = "chorale-coconet"

    def __init__(
        self,
        cfg: CoconetConfig,
        training: CoconetTraining,
        train: tuple[torch.Tensor, torch.Tensor],
        val: tuple[torch.Tensor, torch.Tensor],
        seed: int,
    ):
        self.cfg, self.training = cfg, training
        self.x, self.pos = train
        pick = torch.randperm(val[0].shape[0], generator=stream(0, "val-pick"))
        pick = pick[: training.val_windows]
        self.val_x, self.val_pos = val[0][pick].long(), val[1][pick]
        self.val_masks = fixed_masks(self.val_x.shape[0], cfg.window)
        torch.manual_seed(seed)
        self.model = Coconet(cfg)
        self.opt = torch.optim.AdamW(
            self.model.parameters(), lr=training.lr, weight_decay=training.weight_decay
        )
        self.num_examples = self.x.shape[0]
        self.eval_every = training.eval_every
        self._fraction = 0.0
        self._chains: tuple[torch.Tensor, torch.Tensor] | None = None

    def modules(self) -> dict[str, nn.Module]:
        return {"model": self.model}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"model": self.opt}

    def set_progress(self, fraction: float) -> None:
        self._fraction = min(max(fraction, 0.0), 1.0)

    def _steps_done(self) -> int:
        """Optimiser steps taken so far (restored with the optimiser on resume)."""
        state = self.opt.state.get(next(self.model.parameters()))
        return int(state["step"]) if state else 0

    def _lr(self) -> float:
        t = self.training
        step = self._steps_done()
        if step < t.warmup:
            return t.lr * (step + 1) / t.warmup
        cosine = 0.5 * (1 + math.cos(math.pi * self._fraction))
        return t.lr * (t.min_lr_ratio + (1 - t.min_lr_ratio) * cosine)

    def train_step(self, indices: torch.Tensor, noise: torch.Generator) -> dict[str, float]:
        self.model.train()
        x, pos = self.x[indices].long(), self.pos[indices]
        mask = sample_masks(x.shape[0], x.shape[2], noise)
        for group in self.opt.param_groups:
            group["lr"] = self._lr()
        loss = masked_nll(self.model(x, mask, pos), x, mask).mean()
        metrics = {"loss": loss.item()}
        if self.training.rule_weight > 0 and self._fraction >= self.training.rule_from:
            penalty = self._rule_penalty(x.shape[0], noise)
            loss = loss + self.training.rule_weight * penalty
            metrics["rule_mass"] = penalty.item()
        optimizer_step(loss, self.model, self.opt, clip=max(self.training.grad_clip, 0.0))
        return metrics

    def _new_chains(self, n: int, noise: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` raw harmonisations (16 Gibbs steps) of random training windows' sopranos."""
        pick = torch.randint(0, self.num_examples, (n,), generator=noise)
        x, pos = self.x[pick].long(), self.pos[pick]
        region = torch.zeros_like(x, dtype=torch.bool)
        region[:, 1:] = True
        x = gibbs(self.model, x, region, pos, 16, noise, self.training.rule_temperature)
        self.model.train()
        return x, pos

    def _rule_penalty(self, batch: int, noise: torch.Generator) -> torch.Tensor:
        """Mean probability of rule-breaking pitches at erased alto/tenor/bass cells of
        ``batch`` chains; advances those chains by one Gibbs draw of the erased cells."""
        t = self.training
        if self._chains is None:
            self._chains = self._new_chains(t.chains, noise)
        elif self._steps_done() % self.eval_every == 0:
            fresh = torch.randint(0, t.chains, (max(t.chains // 16, 1),), generator=noise)
            self._chains[0][fresh], self._chains[1][fresh] = self._new_chains(len(fresh), noise)
        chains, chain_pos = self._chains
        pick = torch.randint(0, t.chains, (batch,), generator=noise)
        x, pos = chains[pick], chain_pos[pick]
        rate = torch.rand(batch, 1, 1, generator=noise)
        mask = torch.rand(x.shape, generator=noise) < rate
        mask[:, 0] = False  # the soprano is given
        cell = torch.randint(x.shape[2], VOICES * x.shape[2], (batch,), generator=noise)
        mask.view(batch, -1)[torch.arange(batch), cell] = True
        probs = torch.softmax(self.model(x, mask, pos) / t.rule_temperature, -1)
        pitches = torch.from_numpy(from_classes(x.numpy(), self.cfg)).long()
        vetoed = rule_breaking(pitches, self.cfg)
        mass = (probs[..., :-1] * vetoed).sum(-1)
        with torch.no_grad():
            drawn = torch.multinomial(probs.detach()[mask], 1, generator=noise).squeeze(1)
            x[mask] = drawn
            chains[pick] = x
        return (mass * mask).sum() / mask.sum()

    def validate(self) -> dict[str, float]:
        """NLL per erased cell on held-out windows: random erasures and alto+tenor+bass."""
        if self.val_x.shape[0] == 0:
            return {}
        random_masks, atb = self.val_masks
        metrics = {
            "val_nll": grid_nll(self.model, self.val_x, self.val_pos, random_masks),
            "val_harmonise_nll": grid_nll(self.model, self.val_x, self.val_pos, atb),
        }
        self.model.train()
        return metrics

    def preview(self) -> None:
        return None

    def export(self) -> tuple[CoconetConfig, dict[str, torch.Tensor]]:
        return self.cfg, self.model.state_dict()
