"""Registers the image model kinds, their training tasks and their verbs."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from museforge.core.artifact import load_artifact
from museforge.core.data import get_dataset, skipped_record
from museforge.core.registry import apply_preset, config_from_dict, register_kind, verb
from museforge.errors import DataError, InputError
from museforge.image import verbs
from museforge.image.data import MAX_AUTO_SIZE, load_image_dataset, native_size, split_dataset
from museforge.image.flow import FlowImage, FlowImageConfig, FlowImageTask, FlowImageTraining
from museforge.image.gan import CLASSIC_DCGAN, GAN, GANConfig, GANTask, GANTraining
from museforge.image.vae import VAE, VAEConfig, VAETask, VAETraining
from museforge.nn.autoencoder import PictureAutoencoder
from museforge.nn.blocks import plan_resolutions

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
    task_cls, config_cls, training_cls, model, training, data, seed, multiple=1, **task_args
):
    """The task and the data record for a picture kind; a size chosen from the data is
    rounded up to a ``multiple`` the kind's networks need; ``task_args`` go to the task."""
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
    """A FlowImageTask for the Trainer, plus the data description for the manifest; with
    ``model.autoencoder`` (a model that has one), that autoencoder is reused and the flow
    trains for the whole run."""
    model = dict(model)
    path = model.pop("autoencoder", None)
    reused = _autoencoder_of(str(path), model) if path else None
    task, info = _image_task(
        FlowImageTask,
        FlowImageConfig,
        FlowImageTraining,
        model,
        training,
        data,
        seed,
        multiple=8,
        autoencoder=reused.model.autoencoder if reused else None,
    )
    if reused:
        info["autoencoder"] = {"path": str(reused.path), "sha256": reused.sha256}
    return task, info


def _autoencoder_of(path: str, model: dict[str, Any]) -> Any:
    """The model at ``path`` whose autoencoder a new flow reuses; its latent settings (and
    picture channels, unless given) are copied into ``model``."""
    source = load_artifact(Path(path))
    ae = getattr(source.model, "autoencoder", None)
    if not isinstance(ae, PictureAutoencoder):
        raise InputError(
            f"model.autoencoder '{path}' has no autoencoder: give an image-flow model or a "
            "text-to-image latent flow"
        )
    channels = ae.image_channels
    if model.setdefault("channels", channels) != channels:
        raise InputError(
            f"the autoencoder of '{path}' reads {channels}-channel pictures, not "
            f"{model['channels']}: leave model.channels unset or train without model.autoencoder"
        )
    model["latent_channels"] = ae.channels
    model["autoencoder_width"] = ae.width
    return source


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

for _kind in verbs.PICTURE_KINDS:
    for _fn in (verbs.sample, verbs.interpolate, verbs.breed, verbs.project):
        verb(_kind)(_fn)
    verb(_kind, "mutate")(verbs.mutate_along)
    verb(_kind, studio=False)(verbs.evaluate)
verb("image-vae")(verbs.encode)
verb("image-vae")(verbs.reconstruct)
