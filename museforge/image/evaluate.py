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
    FeatureNet,
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
SURE = 0.5  # a class probability at which the classifier counts as sure


def evaluate_images(
    generated: torch.Tensor,
    train: ImageDataset,
    holdout: ImageDataset,
    out_dir: Path | None = None,
    seed: int = 0,
    labels: torch.Tensor | None = None,
) -> dict[str, Any]:
    """Score N×C×H×W ``generated`` images in [-1, 1] against the ``train`` split.

    FID and KID (in the feature space of a net trained on ``train``), k-NN precision and
    recall, the same FID/KID for ``holdout`` vs ``train`` as the real-data floor, and the
    pixel-space memorisation check. With ``out_dir``, the closest generated/training pairs
    are written there as PNGs. ``seed`` picks KID's subsets. On a set with classes, the
    feature net is also a classifier trained apart from the model: ``classes`` says which
    class it sees in each picture (and, given the ``labels`` the pictures were drawn for,
    how often that is the one asked for). Returns a JSON-ready dict.
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
    scores = {
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
    if net.mode == "classes":
        scores["classes"] = class_scores(net, generated, holdout, labels)
    return scores


@torch.inference_mode()
def _classify(net: FeatureNet, images: torch.Tensor) -> torch.Tensor:
    net.eval()
    parts = [net(images[i : i + 500]).softmax(1) for i in range(0, len(images), 500)]
    return torch.cat(parts)


def class_scores(
    net: FeatureNet,
    generated: torch.Tensor,
    holdout: ImageDataset,
    labels: torch.Tensor | None,
) -> dict[str, Any]:
    """What the classifier sees: the share of pictures it gives to each class and the share
    it is sure of (probability ≥ 0.5); with ``labels``, the share drawn as the class asked
    for, overall and per class; and its accuracy on held-out real pictures (the ceiling)."""
    names = list(holdout.class_names)
    probs = _classify(net, generated)
    seen = probs.argmax(1)
    out: dict[str, Any] = {
        "names": names,
        "seen_share": {n: float((seen == c).float().mean()) for c, n in enumerate(names)},
        "sure_share": float((probs.max(1).values >= SURE).float().mean()),
    }
    if holdout.labels is not None and len(holdout):
        real = _classify(net, holdout.images).argmax(1)
        out["real_accuracy"] = float((real == holdout.labels).float().mean())
    if labels is not None:
        right = seen == labels
        out["asked_share"] = float(right.float().mean())
        out["asked_share_per_class"] = {
            n: float(right[labels == c].float().mean()) if bool((labels == c).any()) else None
            for c, n in enumerate(names)
        }
    return out
