"""Training settings for a text LM chosen from the corpus and the budget.

One rule for every corpus, validated by ``museforge bench text`` on a panel of corpora no
starter model learns from (docs/text.md, "How the defaults were chosen"):

* **Model**: a narrow transformer (4 layers of 64 dimensions, context 64, batch 32). On two
  CPU cores a budget of minutes is spent best on many steps of a small model: the classic
  128-dimensional model sees half as many characters in the same time.
* **Schedule**: a high rate (1e-2; 3e-3 for a tiny corpus a step reads a tenth of; lower
  in proportion for a model wider than 64)
  annealed over the run to 2% (cosine), the run being the budget (time or steps) or the
  point where more passes stop helping (100), whichever is first.
* **Regularisation from repetition**: the run's expected passes over the training text
  (steps × batch × context ÷ characters; for a time budget the steps come from timing a few
  steps of the planned model on this machine) set dropout and input dropout (characters
  hidden from the input): none for a corpus seen a few times, more the more it repeats,
  and more again for a small text with under 30 occurrences per distinct character.
* **Validation** about ten times per run, and at least every few passes on a small corpus,
  so the best weights are kept before a small corpus is learnt by heart.

Settings the user gives (``--set model.dropout=…``) always win over the rule.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from museforge.core.train import parse_duration

CONTEXT = 64
BATCH = 32
N_EMBD = 64
LR = 1e-2
SMALL_LR = 3e-3  # a tiny corpus, seen many times a minute, overfits at the high rate
SMALL_PASSES_PER_STEP = 0.1  # ... that is, a step reads a tenth of it (~20k characters)
MIN_LR_RATIO = 0.02
WARMUP = 50
EVALUATIONS = 10  # validations per run
MIN_EVAL_EVERY = 10  # steps
# (passes at least, dropout, input dropout): the last row whose bound the run reaches.
REGULARISATION = ((0.0, 0.0, 0.0), (10.0, 0.1, 0.0), (45.0, 0.1, 0.2))
# ... and from 45 passes over a text with few occurrences per character (a small text in
# a script of thousands of characters), more of both: its rare characters' embeddings
# are learnt by heart first.
SPARSE_CHARS_PER_TYPE = 30
SPARSE_REGULARISATION = (45.0, 0.2, 0.3)
MAX_PASSES = 100.0  # past this many passes a run stops helping: anneal by then
PROBE_STEPS = 4


@dataclass(frozen=True)
class Plan:
    """The chosen settings and why: expected steps and passes over the training text."""

    model: dict[str, Any]
    training: dict[str, Any]
    run: dict[str, Any]
    steps: int
    passes: float

    def describe(self) -> str:
        m, t = self.model, self.training
        return (
            f"chose from the data and budget: about {self.steps:,} steps, "
            f"{self.passes:.0f} passes over the text; {m['n_layer']}×{m['n_embd']} "
            f"transformer, context {m['context']}, dropout {m['dropout']:g}, input dropout "
            f"{t['input_dropout']:g}, rate {t['lr']:g} annealed over the run"
        )


def expected_steps(run: dict[str, Any], seconds_per_step: Callable[[], float]) -> int:
    """Steps the run will take: its step count, or its time budget ÷ the measured time of
    a step (whichever ends the run first when both are given)."""
    steps = run.get("steps")
    budget = run.get("time_budget")
    if isinstance(budget, str):
        budget = parse_duration(budget)
    by_time = None if budget is None else max(1, int(budget / max(seconds_per_step(), 1e-6)))
    found = [s for s in (steps, by_time) if s is not None]
    return min(found) if found else 1000


def plan_training(
    n_chars: int,
    run: dict[str, Any],
    model: dict[str, Any],
    training: dict[str, Any],
    seconds_per_step: Callable[[dict[str, Any], int], float],
    vocab_size: int = 0,
) -> Plan:
    """Settings for ``n_chars`` training characters (of ``vocab_size`` distinct ones; 0 =
    unknown) under the user's ``run`` table; the user's own ``model`` and ``training``
    settings are kept as given.
    ``seconds_per_step(model_settings, batch)`` times a step of a model on this machine."""
    context = max(8, min(model.get("context", CONTEXT), n_chars // 8))
    chosen_model = {"n_layer": 4, "n_head": 4, "n_embd": N_EMBD, "context": context}
    chosen_model |= {k: v for k, v in model.items() if k in chosen_model}
    batch = int(run.get("batch_size", BATCH))
    planned = expected_steps(run, lambda: seconds_per_step(chosen_model, batch))
    passes_per_step = batch * chosen_model["context"] / max(n_chars, 1)
    useful = max(1, int(MAX_PASSES / passes_per_step))
    steps = min(planned, useful)
    passes = steps * passes_per_step
    rows = REGULARISATION
    if vocab_size and n_chars / vocab_size < SPARSE_CHARS_PER_TYPE:
        rows = (*rows, SPARSE_REGULARISATION)
    dropout, hidden = next((d, i) for p, d, i in reversed(rows) if passes >= p)
    every = max(MIN_EVAL_EVERY, min(steps // EVALUATIONS, int(5 / passes_per_step)))
    chosen_training = {
        "schedule": "cosine",
        # A wider model (a user's, or a base's) takes a proportionally lower rate: the
        # 128-dim sweeps were best near 5e-3 (docs/text.md).
        "lr": (SMALL_LR if passes_per_step > SMALL_PASSES_PER_STEP else LR)
        * min(1.0, N_EMBD / chosen_model["n_embd"]),
        "min_lr_ratio": MIN_LR_RATIO,
        "warmup": min(WARMUP, max(1, steps // 10)),
        "input_dropout": hidden,
        "eval_every": every,
    }
    chosen_run: dict[str, Any] = {"batch_size": batch}
    if steps < planned:
        chosen_run["steps"] = steps  # more passes would not help: anneal and stop by then
    return Plan(
        model={**chosen_model, "dropout": dropout, **model},
        training={**chosen_training, **training},
        run=chosen_run,
        steps=steps,
        passes=passes,
    )


def time_steps(
    make_step: Callable[[], Callable[[], None]], probe_steps: int = PROBE_STEPS
) -> float:
    """Seconds per training step: one warm-up step, then the mean of ``probe_steps``."""
    step = make_step()
    step()
    start = time.perf_counter()
    for _ in range(probe_steps):
        step()
    return (time.perf_counter() - start) / probe_steps
