"""Registers the image model kinds, their training tasks and their verbs."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch

from museforge.core.data import get_dataset, skipped_record
from museforge.core.registry import apply_preset, config_from_dict, register_kind, verb
from museforge.errors import DataError, InputError
from museforge.image import verbs
from museforge.image.autoencoder import KIND as AUTOENCODER
from museforge.image.autoencoder import (
    AutoencoderConfig,
    AutoencoderModel,
    AutoencoderTask,
    AutoencoderTraining,
)
from museforge.image.data import (
    MAX_AUTO_SIZE,
    ImageDataset,
    load_image_dataset,
    native_size,
    split_dataset,
)
from museforge.image.flow import FlowImage, FlowImageConfig, FlowImageTask, FlowImageTraining
from museforge.image.gan import CLASSIC_DCGAN, GAN, GANConfig, GANTask, GANTraining
from museforge.image.vae import VAE, VAEConfig, VAETask, VAETraining
from museforge.nn.blocks import plan_resolutions
from museforge.nn.latent_flow import reused_autoencoder

HOLDOUT, SPLIT_SEED = 0.1, 0
PRESETS = {"classic-dcgan": ({"d_norm": "batch"}, dataclasses.asdict(CLASSIC_DCGAN))}


def _default_size(native: int) -> int:
    """The size to train at when none is given: the data's own (at most MAX_AUTO_SIZE) when
    the networks can halve it, odd sizes rounded up to a multiple of 8, and 32 for pictures
    under 16 px (too small to halve usefully)."""
    if native < 16:
        return 32
    size = min(native, MAX_AUTO_SIZE)
    try:
        plan_resolutions(size)
    except ValueError:
        size = min(-(-size // 8) * 8, MAX_AUTO_SIZE)
    return size


def _image_task(
    task_cls,
    config_cls,
    training_cls,
    model,
    training,
    data,
    seed,
    multiple=1,
    prepare: Callable[[dict[str, Any], ImageDataset], dict[str, Any]] | None = None,
):
    """The task and the data record for a picture kind; a size chosen from the data is
    rounded up to a ``multiple`` the kind's networks need; ``prepare`` (given the model
    settings and the data, before the config is built) may change the settings and
    returns more arguments for the task."""
    model, training = apply_preset(PRESETS, model, training)
    asked = model.pop("conditional", None)
    channels, size = model.get("channels"), model.get("image_size")
    builtin = get_dataset(data, "image")
    folder = builtin is None
    chosen = []  # what was decided from the data, said at the start
    if size is None:  # only then is a look at the data's own size needed
        native = native_size(data)
        size = -(-_default_size(native or MAX_AUTO_SIZE) // multiple) * multiple
        if native is not None and folder:
            chosen.append(
                f"{size}×{size} px (the pictures' most common size is {native} px; "
                "--image-size to choose)"
            )
    full = load_image_dataset(data, image_size=size, channels=channels)
    # A folder's sub-folders are its classes, used unless asked not to; built-in sets
    # train unconditional unless asked (their recipes and benchmarks are written so).
    conditional = bool(asked) if asked is not None else folder and full.num_classes >= 2
    if conditional and not full.num_classes:
        raise DataError(
            f"data '{data}' has no class labels, so it cannot train a conditional model"
        )
    if folder and asked is None and full.num_classes >= 2:
        names = ", ".join(full.class_names[:6]) + (", …" if full.num_classes > 6 else "")
        chosen.append(
            f"conditional on {full.num_classes} classes from the sub-folders ({names}; "
            "--unconditional to ignore them)"
        )
    if folder and channels is None and full.channels == 4:
        chosen.append("RGBA (most pictures have transparency; --set model.channels=3 to flatten)")
    model.setdefault("image_size", size)
    model.setdefault("channels", full.channels)
    model.setdefault("num_classes", full.num_classes if conditional else 0)
    task_args = prepare(model, full) if prepare else {}
    cfg = config_from_dict(config_cls, model, "model settings")
    train_cfg = config_from_dict(training_cls, training, "training settings")
    train, holdout = split_dataset(full, holdout=HOLDOUT, seed=SPLIT_SEED)
    data_info = {
        "source": full.source,
        **({"licence": builtin.licence} if builtin else {}),
        "fingerprint": train.fingerprint,
        "full_fingerprint": full.fingerprint,
        "n_train": len(train),
        "n_holdout": len(holdout),
        "holdout": HOLDOUT,
        "split_seed": SPLIT_SEED,
        "class_names": list(full.class_names),
        **skipped_record(full.skipped),
    }
    task = task_cls(cfg, train_cfg, train, seed, **task_args)
    if folder and getattr(train_cfg, "augment", None) == "auto":
        augment = task.training.augment  # as the task resolved it for this many pictures
        what = augment.replace(",", " and ") if augment else "none"
        chosen.append(f"augmentation {what} ({len(train)} training pictures)")
    if chosen:
        data_info["notices"] = ["chose from the data: " + "; ".join(chosen)]
    return task, data_info


def gan_task(model: dict[str, Any], training: dict[str, Any], data: str, seed: int):
    """A GANTask for the Trainer, plus the data description for the manifest."""
    return _image_task(GANTask, GANConfig, GANTraining, model, training, data, seed)


def vae_task(model: dict[str, Any], training: dict[str, Any], data: str, seed: int):
    """A VAETask for the Trainer, plus the data description for the manifest."""
    return _image_task(VAETask, VAEConfig, VAETraining, model, training, data, seed)


def flow_task(model: dict[str, Any], training: dict[str, Any], data: str, seed: int):
    """A FlowImageTask for the Trainer, plus the data description for the manifest. The
    flow reuses the autoencoder of ``model.autoencoder`` (a model that has one), or by
    default the shipped one when it reads the pictures' channels, and then trains for the
    whole run; ``model.autoencoder=none`` trains one in the run first."""
    model = dict(model)
    reuse: dict[str, Any] = {}
    if model.get("autoencoder"):  # asked for: its channels are the pictures' unless given
        reuse["source"], _ = reused_autoencoder(model, model.get("channels"))

    def prepare(settings: dict[str, Any], full: ImageDataset) -> dict[str, Any]:
        if "source" not in reuse:
            reuse["source"], reuse["notice"] = reused_autoencoder(settings, full.channels)
        source = reuse["source"]
        return {"autoencoder": source.model.autoencoder if source else None}

    task, info = _image_task(
        FlowImageTask,
        FlowImageConfig,
        FlowImageTraining,
        model,
        training,
        data,
        seed,
        multiple=8,
        prepare=prepare,
    )
    if reuse["source"]:
        source = reuse["source"]
        info["autoencoder"] = {"path": str(source.path), "sha256": source.sha256}
    if reuse.get("notice"):
        info["notices"] = [*info.get("notices", []), reuse["notice"]]
    return task, info


# the mixed real pictures the shipped autoencoder learns from, registered by style
GENERAL_PICTURES = ("style-pictures", "style", "features")


def autoencoder_task(model: dict[str, Any], training: dict[str, Any], data: str, seed: int):
    """An AutoencoderTask for the Trainer on ``style-pictures`` (clip art, emoji, sprites,
    portraits, photos) or any picture set or folder, plus the data record."""
    cfg = config_from_dict(AutoencoderConfig, model, "model settings")
    train_cfg = config_from_dict(AutoencoderTraining, training, "training settings")
    side = train_cfg.picture_size
    if data == GENERAL_PICTURES[0]:
        if cfg.channels != 3:
            raise InputError(f"'{data}' holds RGB pictures: leave model.channels at 3")
        pictures = get_dataset(*GENERAL_PICTURES).loader(side)
        images, fingerprint = pictures.images, pictures.fingerprint
        info: dict[str, Any] = {"licences": pictures.sources}
    else:
        full = load_image_dataset(data, image_size=side, channels=cfg.channels)
        images = full.images.add(1).mul(127.5).round().clamp(0, 255).to(torch.uint8)
        fingerprint = full.fingerprint
        builtin = get_dataset(data, "image")
        info = {**({"licence": builtin.licence} if builtin else {}), **skipped_record(full.skipped)}
    data_info = {"source": data, "fingerprint": fingerprint, "n_images": len(images), **info}
    return AutoencoderTask(cfg, train_cfg, images, seed), data_info


register_kind(
    "image-gan",
    modality="image",
    description="DCGAN-family GAN with spectral norm, hinge loss, EMA and DiffAugment",
    config_cls=GANConfig,
    model_cls=GAN,
    task_factory=gan_task,
)
register_kind(
    "image-vae",
    modality="image",
    description="convolutional β-VAE: sampling, encoding, reconstruction, latent walks",
    config_cls=VAEConfig,
    model_cls=VAE,
    task_factory=vae_task,
)
register_kind(
    "image-flow",
    modality="image",
    description="rectified flow in an autoencoder's latent grid, unconditional or told the "
    "class: the truest pictures of a short run on a folder",
    config_cls=FlowImageConfig,
    model_cls=FlowImage,
    task_factory=flow_task,
)

register_kind(
    AUTOENCODER,
    modality="image",
    description="picture autoencoder alone: the latent grid latent flows draw in, trained "
    "on many kinds of pictures and reused by image-flow and text-to-image",
    config_cls=AutoencoderConfig,
    model_cls=AutoencoderModel,
    task_factory=autoencoder_task,
    default_run={"batch_size": 64},
)

for _kind in verbs.PICTURE_KINDS:
    for _fn in (verbs.sample, verbs.interpolate, verbs.breed, verbs.project):
        verb(_kind)(_fn)
    verb(_kind, "mutate")(verbs.mutate_along)
    verb(_kind, studio=False)(verbs.evaluate)
verb("image-vae")(verbs.encode)
verb("image-vae")(verbs.reconstruct)
verb(AUTOENCODER, "reconstruct")(verbs.rebuild)
