"""Registers the image model kinds, their training tasks and their verbs."""

from __future__ import annotations

import dataclasses
from typing import Any

from museforge.core.registry import apply_preset, config_from_dict, register_kind, verb
from museforge.errors import DataError
from museforge.image import verbs
from museforge.image.gan import CLASSIC_DCGAN, GAN, GANConfig, GANTask, GANTraining
from museforge.image.vae import VAE, VAEConfig, VAETask, VAETraining
from museforge.nn.blocks import plan_resolutions

HOLDOUT, SPLIT_SEED = 0.1, 0
PRESETS = {"classic-dcgan": ({"d_norm": "batch"}, dataclasses.asdict(CLASSIC_DCGAN))}


def _default_size(native: int) -> int:
    """Keep a data set's own size when the networks can use it, else 32."""
    try:
        plan_resolutions(native)
    except ValueError:
        return 32
    return native if native >= 16 else 32


def _image_task(task_cls, config_cls, training_cls, model, training, data, seed):
    from museforge.image.data import load_image_dataset, split_dataset

    model, training = apply_preset(PRESETS, model, training)
    conditional = bool(model.pop("conditional", False))
    channels, size = model.get("channels"), model.get("image_size")
    if size is None:  # only then is a look at the data's own size needed
        full = load_image_dataset(data, channels=channels)
        size = _default_size(full.image_size)
        if size != full.image_size:
            full = load_image_dataset(data, image_size=size, channels=channels)
    else:
        full = load_image_dataset(data, image_size=size, channels=channels)
    if conditional and not full.num_classes:
        raise DataError(
            f"data '{data}' has no class labels, so it cannot train a conditional model"
        )
    model.setdefault("image_size", size)
    model.setdefault("channels", full.channels)
    model.setdefault("num_classes", full.num_classes if conditional else 0)
    cfg = config_from_dict(config_cls, model, "model settings")
    train_cfg = config_from_dict(training_cls, training, "training settings")
    train, holdout = split_dataset(full, holdout=HOLDOUT, seed=SPLIT_SEED)
    data_info = {
        "source": full.source,
        "fingerprint": train.fingerprint,
        "full_fingerprint": full.fingerprint,
        "n_train": len(train),
        "n_holdout": len(holdout),
        "holdout": HOLDOUT,
        "split_seed": SPLIT_SEED,
        "class_names": list(full.class_names),
        "skipped_files": len(full.skipped),
        "skipped": list(full.skipped[:20]),
    }
    task = task_cls(cfg, train_cfg, train, seed)
    return task, data_info


def gan_task(model: dict[str, Any], training: dict[str, Any], data: str, seed: int):
    """A GANTask for the Trainer, plus the data description for the manifest."""
    return _image_task(GANTask, GANConfig, GANTraining, model, training, data, seed)


def vae_task(model: dict[str, Any], training: dict[str, Any], data: str, seed: int):
    """A VAETask for the Trainer, plus the data description for the manifest."""
    return _image_task(VAETask, VAEConfig, VAETraining, model, training, data, seed)


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

for _kind in ("image-gan", "image-vae"):
    for _fn in (verbs.sample, verbs.interpolate, verbs.breed, verbs.project, verbs.evaluate):
        verb(_kind)(_fn)
    verb(_kind, "mutate")(verbs.mutate_along)
verb("image-vae")(verbs.encode)
verb("image-vae")(verbs.reconstruct)
