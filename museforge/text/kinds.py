"""Registers the text model kind, its training task, its verbs and (through
:mod:`museforge.text.corpus`) its data sets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from museforge.core.data import skipped_record
from museforge.core.registry import apply_preset, config_from_dict, register_kind, verb
from museforge.errors import DataError
from museforge.nn.lm_training import SequenceLMTraining
from museforge.text import verbs
from museforge.text.corpus import load_text_corpus, split_corpus
from museforge.text.lm import TextLM, TextLMConfig, build_vocab, lossy_ids
from museforge.text.plan import plan_training, time_steps
from museforge.text.task import CLASSIC_CHAR_GPT, TextLMTask

HOLDOUT, SPLIT_SEED = 0.1, 0
PRESETS = {"classic-char-gpt": CLASSIC_CHAR_GPT}


def _seconds_per_step(vocab: tuple[str, ...], ids: torch.Tensor) -> Callable[[dict, int], float]:
    """Times a training step of a planned model on this machine (for a time budget)."""

    def measure(model: dict[str, Any], batch: int) -> float:
        cfg = TextLMConfig(vocab=vocab, **model)
        task = TextLMTask(cfg, SequenceLMTraining(eval_every=0), ids, ids[:1], seed=0)
        high = max(1, task.num_examples)
        noise = torch.Generator().manual_seed(0)

        def make_step() -> Callable[[], None]:
            return lambda: task.train_step(torch.randint(high, (batch,), generator=noise), noise)

        return time_steps(make_step)

    return measure


def text_task(
    model: dict[str, Any],
    training: dict[str, Any],
    data: str,
    seed: int,
    run: dict[str, Any] | None = None,
):
    """A TextLMTask for the Trainer, plus the data description for the manifest."""
    preset = PRESETS.get(training.get("preset", ""))
    model, training = apply_preset(PRESETS, model, training)
    corpus = load_text_corpus(data)
    train, val = split_corpus(corpus, holdout=HOLDOUT, seed=SPLIT_SEED)
    train_text, val_text = train.text(), val.text()
    vocab = model.get("vocab") or build_vocab(corpus.text())
    index = {c: i for i, c in enumerate(vocab)}
    train_ids = lossy_ids(index, train_text)
    notices = []
    if preset is None:
        plan = plan_training(
            len(train_text), run or {}, model, training, _seconds_per_step(tuple(vocab), train_ids)
        )
        model, training = plan.model, plan.training
        notices.append(plan.describe())
    if len(train_text) < model.get("context", 128) + 2:
        raise DataError(
            f"data '{data}': {len(train_text)} training characters is too little for a "
            f"context of {model.get('context', 128)}; give more text or --set model.context=16"
        )
    model = {**model, "vocab": tuple(vocab)}
    model.setdefault("language", corpus.language)
    cfg = config_from_dict(TextLMConfig, model, "model settings")
    train_cfg = config_from_dict(SequenceLMTraining, training, "training settings")
    data_info = {
        "source": corpus.source,
        "language": corpus.language,
        "fingerprint": train.fingerprint,
        "full_fingerprint": corpus.fingerprint,
        "n_train": len(train),
        "n_holdout": len(val),
        "train_chars": len(train_text),
        "holdout_chars": len(val_text),
        "holdout": HOLDOUT,
        "split_seed": SPLIT_SEED,
        "notices": notices,
        **skipped_record(corpus.skipped),
    }
    task = TextLMTask(cfg, train_cfg, train_ids, lossy_ids(index, val_text), seed)
    task.run_defaults = {"batch_size": preset[2]} if preset else plan.run
    return task, data_info


register_kind(
    "text-lm",
    modality="text",
    description="character-level transformer or LSTM LM: free text, poems in strict forms, lyrics",
    config_cls=TextLMConfig,
    model_cls=TextLM,
    task_factory=text_task,
    default_run={"batch_size": 32},  # the plan's batch (museforge.text.plan)
    variant=lambda config: config.get("language"),  # zh or en: which form settings apply
)
verb("text-lm", command="write")(verbs.sample)
verb("text-lm", command="continue")(verbs.continue_)
verb("text-lm")(verbs.poem)
verb("text-lm")(verbs.lyrics)
verb("text-lm", studio=False)(verbs.evaluate)
