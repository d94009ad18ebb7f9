"""Losses of style transfer as pure functions: feature statistics, style, content, smoothness.

Each layer's loss is divided by the squared norm of its target, so layers of very
different activation scales (random features, VGG) count alike and the default weights
mean the same for every feature network.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def feature_stats(
    features: torch.Tensor, mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Channel means (N×C×1) and covariance (N×C×C) of N×C×H×W features over positions.

    Centred second moments rather than the raw Gram matrix: with ReLU features the Gram is
    dominated by the outer product of the means, so matching it mostly matches colours;
    matching means and covariance separately also carries the structure (measured on random
    features, docs/style.md). ``mask`` (N×1×h×w in [0, 1], any size) weights each position.
    """
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    if mask is None:
        weights = torch.full((n, 1, h * w), 1.0 / (h * w), dtype=flat.dtype, device=flat.device)
    else:
        m = F.interpolate(mask, size=(h, w), mode="area").reshape(n, 1, h * w)
        weights = m / m.sum(dim=2, keepdim=True).clamp_min(1e-6)
    mean = (flat * weights).sum(dim=2, keepdim=True)
    centred = flat - mean
    return mean, (centred * weights) @ centred.transpose(1, 2)


Stats = tuple[torch.Tensor, torch.Tensor]


def style_targets(per_image: list[dict[str, Stats]], weights: list[float]) -> dict[str, Stats]:
    """Blend the statistics of several style images with ``weights`` (normalised to sum 1)."""
    total = sum(weights)
    blended = {}
    for name in per_image[0]:
        mean = sum(w / total * feats[name][0] for feats, w in zip(per_image, weights, strict=True))
        cov = sum(w / total * feats[name][1] for feats, w in zip(per_image, weights, strict=True))
        blended[name] = (mean, cov)
    return blended


def _relative(value: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Squared error relative to the target's norm; a single target (N=1) serves a batch,
    each image's error counting once (the mean over the batch)."""
    target = target.expand_as(value)
    return (value - target).pow(2).sum() / target.pow(2).sum().clamp_min(1e-12)


def style_loss(
    features: dict[str, torch.Tensor],
    targets: dict[str, Stats],
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean over layers of the relative squared errors of feature means and covariances."""
    losses = []
    for name, (mean_t, cov_t) in targets.items():
        mean, cov = feature_stats(features[name], mask)
        losses.append(_relative(mean, mean_t) + _relative(cov, cov_t))
    return torch.stack(losses).mean()


def content_loss(
    features: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]
) -> torch.Tensor:
    """Mean over layers of the relative squared error between activations."""
    return torch.stack([_relative(features[k], t) for k, t in targets.items()]).mean()


def tv_loss(images: torch.Tensor, circular: bool = False) -> torch.Tensor:
    """Mean squared difference of neighbouring pixels (wrapping round when ``circular``)."""
    if circular:
        dy = images - images.roll(1, dims=-2)
        dx = images - images.roll(1, dims=-1)
    else:
        dy = images[..., 1:, :] - images[..., :-1, :]
        dx = images[..., :, 1:] - images[..., :, :-1]
    return dy.pow(2).mean() + dx.pow(2).mean()
