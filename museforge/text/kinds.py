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
from museforge.text.lm import TextLM, TextLMConfig, build_vocab, lossy_ids, novel_estimate
from museforge.text.plan import plan_training, time_steps
from museforge.text.task import CLASSIC_CHAR_GPT, TextLMTask

HOLDOUT, SPLIT_SEED = 0.1, 0
NGRAM_ORDER = 8  # contexts of up to 7 characters (docs/text.md, "The n-gram")
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


# What a fine-tuned model takes from its base: everything but dropout.
BASE_FIELDS = ("arch", "n_layer", "n_head", "n_embd", "position", "bias", "context", "language")
FINE_TUNE_LR = 3e-3  # a base's weights are far along: a third of the rate from scratch


def _base(path: str, language: str) -> Any:
    """The text model to fine-tune from (``training.init``), checked."""
    from museforge.core.artifact import load_artifact

    base = load_artifact(path)
    if base.kind != "text-lm":
        raise DataError(f"init model '{path}' is a {base.kind}; fine-tuning needs a text-lm")
    if base.model.cfg.language != language:
        raise DataError(
            f"init model '{path}' writes {base.model.cfg.language}, but the data is {language}"
        )
    return base


def text_task(
    model: dict[str, Any],
    training: dict[str, Any],
    data: str,
    seed: int,
    run: dict[str, Any] | None = None,
):
    """A TextLMTask for the Trainer, plus the data description for the manifest.

    With ``training.init`` (a text model's folder) the model starts from that model's
    weights, architecture and vocabulary (fine-tuning); characters of the data it does not
    know are read as its unknown marker, and said so."""
    preset = PRESETS.get(training.get("preset", ""))
    model, training = apply_preset(PRESETS, model, training)
    training = dict(training)
    init = training.pop("init", None)
    corpus = load_text_corpus(data)
    train, val = split_corpus(corpus, holdout=HOLDOUT, seed=SPLIT_SEED)
    train_text, val_text = train.text(), val.text()
    notices = []
    base = None
    if init:
        base = _base(str(init), corpus.language)
        fixed = {k: getattr(base.model.cfg, k) for k in BASE_FIELDS}
        changed = sorted(k for k in fixed if k in model and model[k] != fixed[k])
        if changed:
            raise DataError(f"a fine-tuned model keeps its base's {', '.join(changed)}")
        model = {**model, **fixed, "vocab": base.model.cfg.vocab}
        training.setdefault("lr", FINE_TUNE_LR)
        unknown = base.model.unknown_chars(corpus.text())
        notices.append(
            f"fine-tuning from {init}"
            + (
                f"; {len(unknown)} characters of the data are new to it and read as unknown: "
                f"{''.join(unknown[:20])!r}"
                if unknown
                else ""
            )
        )
    vocab = model.get("vocab") or build_vocab(corpus.text())
    index = {c: i for i, c in enumerate(vocab)}
    train_ids = lossy_ids(index, train_text)
    if preset is None:
        plan = plan_training(
            len(train_text),
            run or {},
            model,
            training,
            _seconds_per_step(tuple(vocab), train_ids),
            vocab_size=len(vocab),
        )
        model, training = plan.model, plan.training
        notices.append(plan.describe())
        if base is None and "novel_share" not in model:
            share, novel = novel_estimate(vocab, train_ids)
            model = {**model, "novel_share": share, "novel": novel}
            notices.append(
                f"{share:.1%} of the probability kept for characters the training text never "
                "showed (its share of characters seen once)"
            )
        if base is None:
            model = {"ngram_order": NGRAM_ORDER, **model}
    if model.get("ngram_order"):
        model = {**model, "ngram_chars": train_ids.numel()}
        notices.append(
            f"an n-gram of up to {model['ngram_order']} characters of the training text is mixed "
            "with the network "
            f"(weight fitted on the held-out text); the model keeps those {len(train_text):,} "
            "characters to count from"
        )
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
    if base is not None:
        # The network's weights; the n-gram (of the base's text, or of this one's) is not.
        state = task.model.state_dict()
        state |= {k: v for k, v in base.model.state_dict().items() if not k.startswith("ngram_")}
        task.model.load_state_dict(state)
        task.best.model.load_state_dict(state)
        data_info["init"] = {"model": str(init), "sha256": base.sha256}
    if cfg.ngram_order:
        task.model.set_ngram_text(train_ids)
        task.best.model.set_ngram_text(train_ids)
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
