"""The image evaluation protocol (docs/evaluation.md): generated images in, one dict out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from museforge.errors import InputError
from museforge.image.data import ImageDataset
from museforge.image.features import (
    FEATURE_DIM,
    RECIPE,
    RECIPE_VERSION,
    extract_features,
    feature_net_for,
)
from museforge.nn.metrics.fid import fid_from_features
from museforge.nn.metrics.kid import kid_from_features
from museforge.nn.metrics.memorisation import memorisation_check, write_worst_cases
from museforge.nn.metrics.precision_recall import precision_recall

PRC_K = 3
NEAR_COPY_RATIO = 0.5
WORST_CASES = 8


def evaluate_images(
    generated: torch.Tensor,
    train: ImageDataset,
    holdout: ImageDataset,
    out_dir: Path | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Score N×C×H×W ``generated`` images in [-1, 1] against the ``train`` split.

    FID and KID (in the feature space of a net trained on ``train``), k-NN precision and
    recall, the same FID/KID for ``holdout`` vs ``train`` as the real-data floor, and the
    pixel-space memorisation check. With ``out_dir``, the closest generated/training pairs
    are written there as PNGs. ``seed`` picks KID's subsets. Returns a JSON-ready dict.
    """
    generated = generated.detach().cpu().float()
    if generated.ndim != 4 or generated.shape[1:] != train.images.shape[1:]:
        raise InputError(
            f"generated images have shape {tuple(generated.shape[1:])}, "
            f"the training images {tuple(train.images.shape[1:])}"
        )
    net = feature_net_for(train)
    real = extract_features(net, train.images)
    fake = extract_features(net, generated)
    held = extract_features(net, holdout.images)
    kid_mean, kid_std = kid_from_features(fake, real, seed=seed)
    floor_kid_mean, floor_kid_std = kid_from_features(held, real, seed=seed)
    precision, recall = precision_recall(real, fake, k=PRC_K)
    report = memorisation_check(generated, train.images, holdout.images, ratio=NEAR_COPY_RATIO)
    memorisation: dict[str, Any] = {**report.summary(), "ratio": NEAR_COPY_RATIO}
    if out_dir is not None:
        paths = write_worst_cases(report, generated, train.images, Path(out_dir), WORST_CASES)
        memorisation["worst_cases"] = [p.name for p in paths]
    return {
        "fid": fid_from_features(fake, real),
        "kid_mean": kid_mean,
        "kid_std": kid_std,
        "precision": precision,
        "recall": recall,
        "prc_k": PRC_K,
        "fid_real_floor": fid_from_features(held, real),
        "kid_mean_real_floor": floor_kid_mean,
        "kid_std_real_floor": floor_kid_std,
        "memorisation": memorisation,
        "n_generated": len(generated),
        "n_train": len(train),
        "n_holdout": len(holdout),
        "seed": seed,
        "feature_net": {
            "recipe_version": RECIPE_VERSION,
            **RECIPE,
            "mode": net.mode,
            "dim": FEATURE_DIM,
            "train_accuracy": net.train_accuracy,
            "data_fingerprint": train.fingerprint,
        },
    }
