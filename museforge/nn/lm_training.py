"""Training a next-token LM on any token sequence with the shared Trainer.

Characters of poems and events of melodies train the same way: windows of ``context + 1``
ids cut from one long stream, a warm-up then a plateau, cosine or constant schedule, and
validation on a held-out stream every ``eval_every`` steps. Small corpora are the norm
(300 poems is ~30k characters), so the task keeps the best weights seen so far, anneals
from them when validation stalls and stops once it has not improved for ``patience``
evaluations; the artifact holds the best weights, not the last.

A model for :class:`SequenceLMTask` maps ids ``(batch, time)`` to logits
``(batch, time, vocab)`` and has ``cfg.context``, ``unk_id`` and ``weights()`` (see
:class:`museforge.nn.sequence.TiedLM`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from museforge.core.train import optimizer_step

LN2 = math.log(2.0)
SCHEDULES = ("plateau", "cosine", "constant")


@dataclass(frozen=True)
class SequenceLMTraining:
    """How a sequence LM is trained (stored in the artifact's recipe)."""

    lr: float = 1e-3
    # plateau: warm up, then cut the rate by ``decay`` (restarting from the best weights)
    # whenever validation stalls for ``decay_patience`` evaluations, at most ``max_decays``
    # times; cosine: warm up, then decay to min_lr over the budget; constant.
    schedule: str = "plateau"
    warmup: int = 100
    min_lr_ratio: float = 0.1
    decay: float = 0.3
    decay_patience: int = 3
    max_decays: int = 3
    weight_decay: float = 0.1
    beta2: float = 0.99
    grad_clip: float = 1.0  # global gradient norm; 0 = no clipping
    input_dropout: float = 0.0  # share of input tokens replaced by the unknown marker
    eval_every: int = 100  # steps; 0 = never (no early stopping)
    patience: int = 10  # evaluations without improvement before stopping; 0 = never stop

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES} (got {self.schedule!r})")
        if not 0.0 <= self.input_dropout < 1.0:
            raise ValueError(f"input_dropout must be in [0, 1) (got {self.input_dropout})")
        if not 0.0 < self.decay < 1.0:
            raise ValueError(f"decay must be in (0, 1) (got {self.decay})")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive (got {self.lr})")
        if self.grad_clip < 0:
            raise ValueError(f"grad_clip must be 0 (off) or positive (got {self.grad_clip})")


class BestWeights(nn.Module):
    """The best weights by validation loss, kept as a module so checkpoints carry them,
    with the plateau schedule's state (stalled evaluations, rate scale, decays so far)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = copy.deepcopy(model)
        self.register_buffer("best_loss", torch.tensor(float("inf")))
        self.register_buffer("stale", torch.tensor(0))
        self.register_buffer("lr_scale", torch.tensor(1.0))
        self.register_buffer("decays", torch.tensor(0))

    @torch.no_grad()
    def offer(self, model: nn.Module, loss: float) -> bool:
        """Keep ``model``'s weights if ``loss`` is the best yet; True when it was."""
        if loss < float(self.best_loss):
            self.model.load_state_dict(model.state_dict())
            self.best_loss.fill_(loss)
            self.stale.zero_()
            return True
        self.stale += 1
        return False


def window_starts(n: int, context: int) -> list[int]:
    """Starts of windows of ``context + 1`` ids covering ``n`` ids; the last may overlap."""
    if n <= context + 1:
        return [0]
    return [*range(0, n - context - 1, context), n - context - 1]


@torch.no_grad()
def token_values(
    score: Callable[[torch.Tensor], torch.Tensor], ids: torch.Tensor, context: int, batch: int = 64
) -> torch.Tensor:
    """``score`` of every token of ``ids`` after the first, in order, each once.

    ``score`` maps windows ``(B, context + 1)`` of ids to a value per target ``(B,
    context)``; windows are scored independently, and where the last window overlaps the
    one before, the overlapping tokens are taken from the first."""
    starts = window_starts(ids.numel(), context)
    values, covered = [], 0
    for b in range(0, len(starts), batch):
        part = torch.stack([ids[s : s + context + 1] for s in starts[b : b + batch]])
        for row, start in zip(score(part), starts[b : b + batch], strict=True):
            values.append(row[max(covered - start - 1, 0) :])  # skip targets already scored
            covered = start + row.shape[0] + 1
    return torch.cat(values)


def target_logprobs(logprobs: torch.Tensor, part: torch.Tensor) -> torch.Tensor:
    """Of next-token log-probabilities ``(B, T, V)`` for windows ``part`` ``(B, T + 1)``:
    those of the tokens that came ``(B, T)``."""
    return logprobs.gather(-1, part[:, 1:, None])[..., 0]


def nll_per_token(model: Any, ids: torch.Tensor, batch: int = 64) -> float:
    """Mean negative log-likelihood (nats) of every token of ``ids`` after the first
    (windows of the model's context, see :func:`token_values`)."""
    model.eval()

    def score(part: torch.Tensor) -> torch.Tensor:
        return -target_logprobs(torch.log_softmax(model(part[:, :-1]).float(), dim=-1), part)

    if ids.numel() < 2:
        return 0.0  # no token after the first
    return float(token_values(score, ids, model.cfg.context, batch).mean())


class SequenceLMTask:
    """Trains a next-token LM on encoded training ids for the shared Trainer.

    A subclass names its ``kind`` and ``model_cls`` (built as ``model_cls(cfg)``).
    """

    kind: str
    model_cls: type[nn.Module]

    def __init__(
        self,
        cfg: Any,
        training: SequenceLMTraining,
        train_ids: torch.Tensor,
        val_ids: torch.Tensor,
        seed: int,
    ):
        self.cfg, self.training = cfg, training
        self.train_ids, self.val_ids = train_ids, val_ids
        self.run_defaults: dict[str, int] = {}  # data-aware run settings a recipe may override
        torch.manual_seed(seed)
        self.model = self.model_cls(cfg)
        self.best = BestWeights(self.model)
        decay = [p for n, p in self.model.named_parameters() if p.dim() >= 2]
        rest = [p for n, p in self.model.named_parameters() if p.dim() < 2]
        self.opt = torch.optim.AdamW(
            [{"params": decay, "weight_decay": training.weight_decay}, {"params": rest}],
            lr=training.lr,
            betas=(0.9, training.beta2),
            weight_decay=0.0,
        )
        self.num_examples = train_ids.numel() - cfg.context - 1
        self.eval_every = training.eval_every
        self._fraction = 0.0
        self._offsets = torch.arange(cfg.context + 1)
        self._first_param = decay[0]

    def modules(self) -> dict[str, nn.Module]:
        return {"model": self.model, "best": self.best}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"model": self.opt}

    def set_progress(self, fraction: float) -> None:
        """The trainer's share of the budget done, for the learning-rate schedule."""
        self._fraction = min(max(fraction, 0.0), 1.0)

    def _lr(self, step: int) -> float:
        t = self.training
        if t.schedule == "constant":
            return t.lr
        if step < t.warmup:
            return t.lr * (step + 1) / t.warmup
        if t.schedule == "plateau":
            return t.lr * float(self.best.lr_scale)
        cosine = 0.5 * (1 + math.cos(math.pi * self._fraction))
        return t.lr * (t.min_lr_ratio + (1 - t.min_lr_ratio) * cosine)

    def train_step(self, indices: torch.Tensor, noise: torch.Generator) -> dict[str, float]:
        self.model.train()
        batch = self.train_ids[indices[:, None] + self._offsets]
        opt_state = self.opt.state.get(self._first_param)
        lr = self._lr(int(opt_state["step"]) if opt_state else 0)
        for group in self.opt.param_groups:
            group["lr"] = lr
        inputs = batch[:, :-1]
        if self.training.input_dropout > 0:
            # Hiding tokens from the input (never from the targets) keeps a model of a
            # tiny corpus from leaning on exact recall of the preceding tokens.
            hide = torch.rand(inputs.shape, generator=noise) < self.training.input_dropout
            inputs = inputs.masked_fill(hide, self.model.unk_id)
        logits = self.model(inputs)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
        optimizer_step(loss, self.model, self.opt, clip=self.training.grad_clip)
        return {"loss": loss.item(), "bpc": loss.item() / LN2}

    def validation_loss(self) -> float:
        """Mean loss (nats per token) of the current weights on the held-out ids."""
        return nll_per_token(self.model, self.val_ids)

    def validate(self) -> dict[str, float]:
        """Validation loss of the current weights; remembers the best weights."""
        loss = self.validation_loss()
        t, best = self.training, self.best
        improved = best.offer(self.model, loss)
        stalled = not improved and int(best.stale) >= t.decay_patience
        if t.schedule == "plateau" and stalled and int(best.decays) < t.max_decays:
            # Anneal from the best point rather than from wherever training drifted.
            self.model.load_state_dict(best.model.state_dict())
            best.lr_scale.mul_(t.decay)
            best.decays += 1
            best.stale.zero_()
        return {
            "val_loss": loss,
            "val_bpc": loss / LN2,
            "best_val_bpc": float(best.best_loss) / LN2,
            "lr_scale": float(best.lr_scale),
        }

    @property
    def should_stop(self) -> bool:
        """Early stopping: validation stopped improving (plateau: even after every decay)."""
        t, best = self.training, self.best
        if t.schedule == "plateau":
            return int(best.decays) >= t.max_decays and int(best.stale) >= t.decay_patience
        return 0 < t.patience <= int(best.stale)

    def preview(self) -> None:
        return None

    def export(self) -> tuple[Any, dict[str, torch.Tensor]]:
        source = self.best.model if math.isfinite(float(self.best.best_loss)) else self.model
        return self.cfg, source.weights()
