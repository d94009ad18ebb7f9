"""Registers the text model kind, its training task, its verbs and (through
:mod:`museforge.text.corpus`) its data sets."""

from __future__ import annotations

from typing import Any

from museforge.core.data import skipped_record
from museforge.core.registry import apply_preset, config_from_dict, register_kind, verb
from museforge.errors import DataError
from museforge.nn.lm_training import SequenceLMTraining
from museforge.text import verbs
from museforge.text.corpus import load_text_corpus, split_corpus
from museforge.text.lm import TextLM, TextLMConfig, build_vocab, lossy_ids
from museforge.text.task import CLASSIC_CHAR_GPT, TextLMTask

HOLDOUT, SPLIT_SEED = 0.1, 0
PRESETS = {"classic-char-gpt": CLASSIC_CHAR_GPT}
SMALL_CORPUS = 100_000  # characters: below this, regularise harder


def data_defaults(n_chars: int, context: int | None = None) -> tuple[dict, dict, dict]:
    """Model, training and run defaults that suit a training text of ``n_chars`` characters.

    Small poetry corpora overfit within a few hundred steps: more dropout, input-character
    dropout, and a plateau schedule that anneals from the best weights. Larger corpora are
    still learning when a budget of minutes ends: a narrower model (64-dim) that takes
    twice as many steps, larger batches, light dropout and a high rate annealed over the
    budget to near zero (cosine). Measured on tang300 and songs-poems (docs/text.md).
    Every corpus keeps at least a few hundred training windows by shrinking the context
    if needed.
    """
    ctx = context or 128
    ctx = max(8, min(ctx, n_chars // 8))
    if n_chars < SMALL_CORPUS:
        return {"context": ctx, "dropout": 0.2}, {"input_dropout": 0.1}, {}
    model = {"context": ctx, "dropout": 0.1, "n_embd": 64}
    return model, {"schedule": "cosine", "lr": 1.2e-2, "min_lr_ratio": 0.02}, {"batch_size": 32}


def text_task(model: dict[str, Any], training: dict[str, Any], data: str, seed: int):
    """A TextLMTask for the Trainer, plus the data description for the manifest."""
    preset = PRESETS.get(training.get("preset", ""))
    model, training = apply_preset(PRESETS, model, training)
    corpus = load_text_corpus(data)
    train, val = split_corpus(corpus, holdout=HOLDOUT, seed=SPLIT_SEED)
    train_text, val_text = train.text(), val.text()
    model_defaults, training_defaults, run_defaults = data_defaults(
        len(train_text), model.get("context")
    )
    model = {**model_defaults, **model}
    training = {**training_defaults, **training}
    if len(train_text) < model["context"] + 2:
        raise DataError(
            f"data '{data}': {len(train_text)} training characters is too little for a "
            f"context of {model['context']}; give more text or --set model.context=16"
        )
    model.setdefault("vocab", build_vocab(corpus.text()))
    model.setdefault("language", corpus.language)
    cfg = config_from_dict(TextLMConfig, model, "model settings")
    train_cfg = config_from_dict(SequenceLMTraining, training, "training settings")
    index = {c: i for i, c in enumerate(cfg.vocab)}
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
        **skipped_record(corpus.skipped),
    }
    task = TextLMTask(
        cfg, train_cfg, lossy_ids(index, train_text), lossy_ids(index, val_text), seed
    )
    task.run_defaults = {"batch_size": preset[2]} if preset else run_defaults
    return task, data_info


register_kind(
    "text-lm",
    modality="text",
    description="character-level transformer or LSTM LM: free text, poems in strict forms, lyrics",
    config_cls=TextLMConfig,
    model_cls=TextLM,
    task_factory=text_task,
    default_run={"batch_size": 16},  # small corpora: more, smaller steps generalise better;
    # large ones get 32 from data_defaults
    variant=lambda config: config.get("language"),  # zh or en: which form settings apply
)
verb("text-lm", command="write")(verbs.sample)
verb("text-lm", command="continue")(verbs.continue_)
verb("text-lm")(verbs.poem)
verb("text-lm")(verbs.lyrics)
verb("text-lm", studio=False)(verbs.evaluate)
