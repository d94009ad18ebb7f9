"""Registers the text–image modality: its data sets, the text–image encoder and its verbs."""

from __future__ import annotations

from typing import Any

from museforge.core.registry import config_from_dict, register_kind, verb
from museforge.crossmodal import data, verbs
from museforge.crossmodal.encoder import EncoderConfig, TextImageEncoder, build_vocab
from museforge.crossmodal.encoder_task import (
    HOLDOUT,
    SPLIT_SEED,
    EncoderTask,
    EncoderTraining,
    split,
)

KIND = "text-image-encoder"


def encoder_task(model: dict[str, Any], training: dict[str, Any], source: str, seed: int):
    """An EncoderTask for the Trainer, plus the data description for the manifest."""
    settings = dict(model)
    size = int(settings.get("image_size", EncoderConfig.image_size))
    full = data.load_captioned(source, image_size=size)
    train, holdout = split(full)
    settings["vocab"] = build_vocab([t for c in train.captions for t in c.values()])
    cfg = config_from_dict(EncoderConfig, settings, "model settings")
    train_cfg = config_from_dict(EncoderTraining, training, "training settings")
    info = {
        "source": source,
        "licence": full.licence,
        "fingerprint": train.fingerprint,
        "full_fingerprint": full.fingerprint,
        "languages": list(full.languages),
        "n_train": len(train),
        "n_holdout": len(holdout),
        "holdout": HOLDOUT,
        "split_seed": SPLIT_SEED,
        "skipped_files": len(full.skipped),
        "skipped": list(full.skipped[:20]),
    }
    return EncoderTask(cfg, train_cfg, train, holdout, seed), info


data.register()
register_kind(
    KIND,
    modality="crossmodal",
    description="CLIP-style text–image encoder: captions (English, Chinese) and pictures in "
    "one space",
    config_cls=EncoderConfig,
    model_cls=TextImageEncoder,
    task_factory=encoder_task,
    default_run={"batch_size": 64},
)
verb(KIND)(verbs.encode)
verb(KIND, studio=False)(verbs.evaluate)
