"""Registers the text–image modality: its data sets, the text–image encoder and its verbs."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from museforge.core.artifact import load_artifact
from museforge.core.data import skipped_record
from museforge.core.latent import encode_latent
from museforge.core.registry import config_from_dict, register_kind, verb
from museforge.crossmodal import data, verbs_encoder, verbs_imagine, verbs_pictures
from museforge.crossmodal.captioned import CaptionedImages
from museforge.crossmodal.encoder import EncoderConfig, TextImageEncoder, build_vocab
from museforge.crossmodal.encoder_task import (
    HOLDOUT,
    SPLIT_SEED,
    EncoderTask,
    EncoderTraining,
    split,
)
from museforge.crossmodal.flow_task import FlowTask, FlowTraining
from museforge.crossmodal.imagine import TRAIN_ARCH, ImagineConfig, TextToImage
from museforge.crossmodal.imagine_task import ImagineTask, ImagineTraining
from museforge.crossmodal.vocabulary import caption_vocabulary
from museforge.errors import InputError
from museforge.nn.latent_flow import reused_autoencoder

KIND = "text-image-encoder"
IMAGINE = "text-to-image"


def data_record(
    source: str, full: CaptionedImages, train: CaptionedImages, holdout: CaptionedImages
) -> dict[str, Any]:
    """What a captioned set and its split were, for the model's manifest."""
    return {
        "source": source,
        "licence": full.licence,
        "fingerprint": train.fingerprint,
        "full_fingerprint": full.fingerprint,
        "languages": list(full.languages),
        "n_train": len(train),
        "n_holdout": len(holdout),
        "holdout": HOLDOUT,
        "split_seed": SPLIT_SEED,
        **skipped_record(full.skipped),
    }


def encoder_task(model: dict[str, Any], training: dict[str, Any], source: str, seed: int):
    """An EncoderTask for the Trainer, plus the data description for the manifest."""
    settings = dict(model)
    size = int(settings.get("image_size", EncoderConfig.image_size))
    full = data.load_captioned(source, image_size=size)
    train, holdout = split(full)
    settings["vocab"] = build_vocab([t for c in train.captions for t in c.values()])
    cfg = config_from_dict(EncoderConfig, settings, "model settings")
    train_cfg = config_from_dict(EncoderTraining, training, "training settings")
    return EncoderTask(cfg, train_cfg, train, holdout, seed), data_record(
        source, full, train, holdout
    )


def imagine_task(model: dict[str, Any], training: dict[str, Any], source: str, seed: int):
    """An ImagineTask for the Trainer: the text tower comes from the encoder artifact named
    by ``model.encoder``; the data description for the manifest, with the words of the
    training captions (prompts are checked against them, the studio suggests them) and
    their mean sentence (the neutral words that guidance and "more" start from)."""
    settings = dict(model)
    encoder_path = settings.pop("encoder", None)
    if not encoder_path:
        raise InputError(
            "text-to-image learns from a text–image encoder's sentences: train one first "
            "(museforge train text-image-encoder --data SAME) and give it with "
            "--set model.encoder=PATH"
        )
    encoder = load_artifact(Path(str(encoder_path)))
    if encoder.kind != KIND:
        raise InputError(f"model.encoder '{encoder_path}' is a {encoder.kind}, not a {KIND}")
    reused, notice = _reused_autoencoder(settings)
    enc_cfg = encoder.model.cfg
    settings["encoder"] = dataclasses.asdict(enc_cfg)
    settings.setdefault("arch", TRAIN_ARCH)
    settings.setdefault("image_size", enc_cfg.image_size)
    cfg = config_from_dict(ImagineConfig, settings, "model settings")
    flow = cfg.is_flow
    train_cls = FlowTraining if flow else ImagineTraining
    train_cfg = config_from_dict(train_cls, training, "training settings")
    full = data.load_captioned(source, image_size=cfg.image_size)
    train, holdout = split(full)
    info = data_record(source, full, train, holdout)
    info["encoder"] = {"path": str(encoder.path), "sha256": encoder.sha256}
    info["vocabulary"] = caption_vocabulary(train.captions)
    if flow:
        autoencoder = reused.model.autoencoder if reused else None
        task = FlowTask(cfg, train_cfg, train, encoder.model, seed, autoencoder)
    else:
        task = ImagineTask(cfg, train_cfg, train, encoder.model, seed)
    if reused:
        info["autoencoder"] = {"path": str(reused.path), "sha256": reused.sha256}
    if notice:
        info["notices"] = [*info.get("notices", []), notice]
    # The neutral sentence: the mean of every training caption's, which the task holds
    # (lang -> N×D, zero rows where a picture has no caption in that language).
    rows = torch.cat(list(task.sentences.values()))
    info["mean_sentence"] = encode_latent(rows[rows.any(1)].mean(0))
    return task, info


def _reused_autoencoder(settings: dict[str, Any]) -> tuple[Any, str | None]:
    """The model whose autoencoder a latent flow reuses (named by ``model.autoencoder``,
    which makes the model a latent flow, or the shipped one by default), its latent
    settings copied into ``settings``, and a notice when chosen by default."""
    asked = settings.get("autoencoder")
    if not asked and settings.get("arch", TRAIN_ARCH) != "latent-flow":
        settings.pop("autoencoder", None)
        return None, None
    given = "channels" in settings  # not a text-to-image setting: refused with the rest
    source, notice = reused_autoencoder(settings, 3)
    if not given:
        settings.pop("channels", None)  # only for the check: text-to-image draws RGB
    if source is not None:
        settings["arch"] = "latent-flow"
    return source, notice


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
verb(KIND)(verbs_encoder.encode)
verb(KIND, studio=False)(verbs_encoder.evaluate)
register_kind(
    IMAGINE,
    modality="crossmodal",
    description="text-to-image: words (English, Chinese) into pictures, by a flow in an "
    "autoencoder's latents (or in pixels, or a DF-GAN)",
    config_cls=ImagineConfig,
    model_cls=TextToImage,
    task_factory=imagine_task,
    default_run={"batch_size": 32},
)
verb(IMAGINE)(verbs_imagine.imagine)
verb(IMAGINE)(verbs_imagine.interpolate)
for _fn in (verbs_pictures.breed, verbs_pictures.mutate, verbs_pictures.project):
    verb(IMAGINE)(_fn)
verb(IMAGINE, "condition", command="more")(verbs_pictures.more)
verb(IMAGINE, studio=False)(verbs_imagine.evaluate)
