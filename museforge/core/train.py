"""The one training loop every model kind shares.

A model kind supplies a :class:`TrainTask` (its networks, optimisers and one step); the
:class:`Trainer` supplies the rest: step or wall-clock budgets, progress with ETA,
atomic checkpoints, clean stop on Ctrl-C, exact resume, seeds, ``metrics.jsonl``,
preview images and, under ``torchrun``, data parallelism.
"""

from __future__ import annotations

import io
import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from PIL import Image

from museforge.core import distributed
from museforge.core.artifact import save_artifact
from museforge.core.atomic import atomic_write_bytes, atomic_write_text, atomic_write_with
from museforge.core.outlook import KEY, outlook, read_distances
from museforge.core.seeding import stream
from museforge.errors import InputError, MuseforgeError, one_line

CHECKPOINT_FILE = "checkpoint.pt"
METRICS_FILE = "metrics.jsonl"


class TrainingInterrupted(MuseforgeError):
    """Training stopped by the user; a resumable checkpoint was written."""


class TrainTask(Protocol):
    """What a model kind gives the trainer."""

    kind: str
    num_examples: int

    def modules(self) -> dict[str, torch.nn.Module]: ...

    def optimizers(self) -> dict[str, torch.optim.Optimizer]: ...

    def train_step(self, indices: torch.Tensor, noise: torch.Generator) -> dict[str, float]: ...

    def preview(self) -> Image.Image | None: ...

    def export(self) -> tuple[Any, dict[str, torch.Tensor]]: ...


# Optional task hooks, used when present:
#   set_progress(fraction)  share of the budget done, before each step (schedules)
#   validate() -> metrics   every ``eval_every`` steps and at the end (held-out loss)
#   should_stop             True once the task wants to stop early (early stopping)


@dataclass(frozen=True)
class TrainSettings:
    """Kind-independent settings of one training run."""

    steps: int | None = None
    time_budget: float | None = None  # seconds of training, summed over resumes
    batch_size: int = 64  # per process
    seed: int = 0
    checkpoint_every: float = 60.0  # seconds
    preview_every: int = 500  # steps; 0 turns previews off
    log_every: int = 25  # steps

    def __post_init__(self) -> None:
        if self.steps is None and self.time_budget is None:
            raise InputError("give steps or a time budget (e.g. 5m) to train for")
        if self.steps is not None and self.steps < 1:
            raise InputError(f"steps must be at least 1 (got {self.steps})")
        if self.time_budget is not None and self.time_budget <= 0:
            raise InputError(f"time budget must be positive (got {self.time_budget} s)")
        if self.batch_size < 1:
            raise InputError(f"batch size must be at least 1 (got {self.batch_size})")


@dataclass
class TrainResult:
    """What a finished or interrupted run reports."""

    out_dir: Path
    step: int
    elapsed: float
    interrupted: bool
    metrics: dict[str, float] = field(default_factory=dict)
    stopped_early: bool = False  # the task's early stopping ended the run
    outlook: str | None = None  # what more time would bring (museforge.core.outlook)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hr)?\s*$")


def parse_duration(text: str) -> float:
    """Seconds in ``"90"``, ``"90s"``, ``"5m"`` or ``"1.5h"``."""
    match = _DURATION.match(str(text))
    if not match:
        raise InputError(f"cannot read duration '{one_line(text)}' (use e.g. 90s, 5m or 1h)")
    scale = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600}[match[2] or "s"]
    return float(match[1]) * scale


class EpochSampler:
    """Batches of example indices: a fresh seeded permutation per epoch, sharded by rank."""

    def __init__(self, n: int, batch_size: int, seed: int, rank: int = 0, world: int = 1):
        if n < 1:
            raise InputError("the training set is empty")
        self.n, self.batch_size, self.seed = n, min(batch_size, n), seed
        self.rank, self.world = rank, world
        self.epoch, self.position = 0, 0
        self._order = self._permutation()

    def _permutation(self) -> torch.Tensor:
        perm = torch.randperm(self.n, generator=stream(self.seed, "epoch", self.epoch))
        shard = perm[self.rank :: self.world]
        return shard if len(shard) >= self.batch_size else perm

    def next(self) -> torch.Tensor:
        if self.position + self.batch_size > len(self._order):
            self.epoch, self.position = self.epoch + 1, 0
            self._order = self._permutation()
        batch = self._order[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        return batch

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self._order = self._permutation()


def optimizer_step(
    loss: torch.Tensor,
    module: torch.nn.Module,
    opt: torch.optim.Optimizer,
    clip: float | None = None,
) -> None:
    """Backward ``loss``, average ``module``'s gradients across processes, clip their
    global norm to ``clip`` (None or 0: no clipping), step ``opt``."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    distributed.average_gradients(module)
    if clip:
        torch.nn.utils.clip_grad_norm_(module.parameters(), clip)
    opt.step()


StepCallback = Callable[[int, dict[str, float]], None]


class Trainer:
    """Runs a :class:`TrainTask` into ``out_dir`` (artifact, checkpoint, metrics, previews)."""

    def __init__(
        self,
        task: TrainTask,
        settings: TrainSettings,
        out_dir: str | Path,
        recipe: dict[str, Any] | None = None,
        data_info: dict[str, Any] | None = None,
        progress: bool = True,
        callbacks: list[StepCallback] | None = None,
    ):
        self.task, self.settings, self.out_dir = task, settings, Path(out_dir)
        self.recipe, self.data_info = dict(recipe or {}), dict(data_info or {})
        self.progress, self.callbacks = progress, list(callbacks or [])
        self.proc = distributed.init_from_env()
        self.step, self.elapsed = 0, 0.0
        self.sampler = EpochSampler(
            task.num_examples,
            settings.batch_size,
            settings.seed,
            self.proc.rank,
            self.proc.world_size,
        )
        self.noise = stream(settings.seed, "noise", self.proc.rank)

    # -- checkpoints ---------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path:
        return self.out_dir / CHECKPOINT_FILE

    def _checkpoint_state(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "elapsed": self.elapsed,
            "sampler": self.sampler.state_dict(),
            "noise": self.noise.get_state(),
            "torch_rng": torch.get_rng_state(),
            "modules": {k: m.state_dict() for k, m in self.task.modules().items()},
            "optimizers": {k: o.state_dict() for k, o in self.task.optimizers().items()},
        }

    def save_checkpoint(self) -> None:
        """Write the full training state atomically (main process only)."""
        if not self.proc.is_main:
            return
        buffer = io.BytesIO()
        torch.save(self._checkpoint_state(), buffer)
        atomic_write_bytes(self.checkpoint_path, buffer.getvalue())

    def load_checkpoint(self) -> None:
        """Restore everything :meth:`save_checkpoint` wrote (tensors only, no pickle)."""
        try:
            state = torch.load(self.checkpoint_path, map_location="cpu", weights_only=True)
        except Exception as err:  # torch raises several types for a bad file
            raise MuseforgeError(f"{self.checkpoint_path}: unreadable checkpoint ({err})") from None
        self.step, self.elapsed = int(state["step"]), float(state["elapsed"])
        self.sampler.load_state_dict(state["sampler"])
        if self.proc.is_main:
            self.noise.set_state(state["noise"])
        torch.set_rng_state(state["torch_rng"])
        for name, module in self.task.modules().items():
            module.load_state_dict(state["modules"][name])
        for name, opt in self.task.optimizers().items():
            opt.load_state_dict(state["optimizers"][name])

    # -- outputs -------------------------------------------------------------------------
    def _log(self, record: dict[str, Any]) -> None:
        if self.proc.is_main:
            with open(self.out_dir / METRICS_FILE, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")

    def _trim_metrics(self) -> None:
        """Drop metric lines logged after the checkpoint we resume from."""
        path = self.out_dir / METRICS_FILE
        if not (self.proc.is_main and path.exists()):
            return
        kept = [
            line
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and json.loads(line).get("step", 0) <= self.step
        ]
        atomic_write_text(path, "".join(f"{line}\n" for line in kept))

    def _preview(self) -> None:
        if not self.proc.is_main:
            return
        image = self.task.preview()
        if image is not None:
            target = self.out_dir / "previews" / f"step-{self.step:08d}.png"
            atomic_write_with(target, image.save)
        measure = getattr(self.task, "distance_to_data", None)
        value = None if measure is None else measure()  # None: nothing to measure yet
        if value is not None:
            self._log({"step": self.step, "time": round(self.elapsed, 3), KEY: value})

    def _preview_due(self) -> bool:
        """Every ``preview_every`` steps, and under a time budget at each tenth of it, so
        that a short run still shows its pictures improving."""
        every = self.settings.preview_every
        if not every:
            return False
        if self.step % every == 0:
            self._next_tenth = self._tenth_after()
            return True
        if self.settings.time_budget is not None and self._fraction() >= self._next_tenth:
            self._next_tenth = self._tenth_after()
            return self._fraction() < 1
        return False

    def _tenth_after(self) -> float:
        """The next tenth of the run after where it is now."""
        return math.floor(self._fraction() * 10 + 1) / 10

    def save_artifact(self, metrics: dict[str, float]) -> None:
        """Write the model artifact for the current weights (main process only)."""
        if not self.proc.is_main:
            return
        config, state = self.task.export()
        recipe = {
            **self.recipe,
            "kind": self.task.kind,
            "settings": asdict(self.settings),
            "world_size": self.proc.world_size,
            "steps_done": self.step,
            "train_seconds": round(self.elapsed, 2),
        }
        save_artifact(
            self.out_dir, self.task.kind, config, state, recipe, self.data_info, {"train": metrics}
        )

    # -- the loop ------------------------------------------------------------------------
    def _done(self) -> bool:
        s = self.settings
        done = (s.steps is not None and self.step >= s.steps) or (
            s.time_budget is not None and self.elapsed >= s.time_budget
        )
        return distributed.any_process(done)

    def fit(self, resume: bool = False) -> TrainResult:
        """Train until the budget is spent; on Ctrl-C save and raise TrainingInterrupted."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if resume:
            if not self.checkpoint_path.exists():
                raise InputError(f"nothing to resume: no {CHECKPOINT_FILE} in '{self.out_dir}'")
            self.load_checkpoint()
            self._trim_metrics()
        elif self.checkpoint_path.exists():
            raise InputError(
                f"'{self.out_dir}' already holds a training run; add --resume to continue it "
                "or choose another --out"
            )
        for module in self.task.modules().values():
            distributed.broadcast_module(module)

        sums: dict[str, float] = {}
        count, interrupted = 0, False
        last_metrics: dict[str, float] = {}
        last_ckpt = time.monotonic()
        window_start, window_examples = time.monotonic(), 0
        bar = _ProgressBar(self.settings, enabled=self.progress and self.proc.is_main)
        t0, elapsed0 = time.monotonic(), self.elapsed
        self._next_tenth = self._tenth_after()
        set_progress = getattr(self.task, "set_progress", None)
        validate = getattr(self.task, "validate", None)
        eval_every = int(getattr(self.task, "eval_every", 0) or 0)
        val_metrics: dict[str, float] = {}
        stopped_early = False
        try:
            with bar:
                while not self._done():
                    if set_progress is not None:
                        set_progress(self._fraction())
                    metrics = self.task.train_step(self.sampler.next(), self.noise)
                    self.step += 1
                    self.elapsed = elapsed0 + time.monotonic() - t0
                    window_examples += self.sampler.batch_size * self.proc.world_size
                    for key, value in metrics.items():
                        sums[key] = sums.get(key, 0.0) + float(value)
                    count += 1
                    for callback in self.callbacks:
                        callback(self.step, metrics)
                    if self.step % self.settings.log_every == 0 or self._at_end():
                        last_metrics = {k: v / count for k, v in sums.items()}
                        rate = window_examples / max(time.monotonic() - window_start, 1e-9)
                        self._log(
                            {
                                "step": self.step,
                                "time": round(self.elapsed, 3),
                                **last_metrics,
                                "examples_per_s": round(rate, 1),
                            }
                        )
                        sums, count = {}, 0
                        window_start, window_examples = time.monotonic(), 0
                    if validate is not None and eval_every and self.step % eval_every == 0:
                        val_metrics = self._validate()
                        if distributed.any_process(bool(getattr(self.task, "should_stop", 0))):
                            stopped_early = True
                            break
                    if self._preview_due():
                        self._preview()
                    if time.monotonic() - last_ckpt >= self.settings.checkpoint_every:
                        self.save_checkpoint()
                        last_ckpt = time.monotonic()
                    bar.update(self.step, self.elapsed, metrics)
        except KeyboardInterrupt:
            interrupted = True
        if count:
            last_metrics = {k: v / count for k, v in sums.items()}
        if validate is not None and not interrupted and (not eval_every or self.step % eval_every):
            val_metrics = self._validate()
        last_metrics = {**last_metrics, **val_metrics}
        self.save_checkpoint()
        self.save_artifact(last_metrics)
        if self.settings.preview_every:
            self._preview()
        result = TrainResult(
            self.out_dir, self.step, self.elapsed, interrupted, last_metrics, stopped_early
        )
        if self.proc.is_main:
            result.outlook = outlook(read_distances(self.out_dir / METRICS_FILE))
        if not interrupted:  # every rank is here: leave the process group together
            distributed.shutdown()
        if interrupted:
            raise TrainingInterrupted(
                f"training interrupted at step {self.step}; checkpoint saved in "
                f"'{self.out_dir}' (continue with --resume)"
            )
        return result

    def _validate(self) -> dict[str, float]:
        metrics = self.task.validate()  # type: ignore[attr-defined]
        self._log({"step": self.step, "time": round(self.elapsed, 3), **metrics})
        return metrics

    def _fraction(self) -> float:
        s, parts = self.settings, []
        if s.steps is not None:
            parts.append(self.step / s.steps)
        if s.time_budget is not None:
            parts.append(self.elapsed / s.time_budget)
        return max(parts)

    def _at_end(self) -> bool:
        s = self.settings
        return s.steps is not None and self.step >= s.steps


class _ProgressBar:
    """A rich progress bar with the latest losses and an ETA (step or time budget)."""

    def __init__(self, settings: TrainSettings, enabled: bool):
        self.settings, self.enabled = settings, enabled
        self._progress: Any = None

    def __enter__(self) -> _ProgressBar:
        if self.enabled:
            from rich.progress import (
                BarColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]step {task.fields[step]}"),
                BarColumn(),
                TextColumn("{task.fields[losses]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                transient=False,
            )
            self._progress.start()
            total = self.settings.steps or self.settings.time_budget
            self._task = self._progress.add_task("train", total=total, step=0, losses="")
        return self

    def update(self, step: int, elapsed: float, metrics: dict[str, float]) -> None:
        if self._progress is None:
            return
        losses = " ".join(f"{k}={v:.3f}" for k, v in metrics.items())
        done = step if self.settings.steps is not None else elapsed
        if self.settings.steps is not None and self.settings.time_budget is not None:
            done = max(step / self.settings.steps, elapsed / self.settings.time_budget)
            done *= self.settings.steps
        self._progress.update(self._task, completed=done, step=step, losses=losses)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
