"""Style losses: statistics as numpy computes them, masks, blends and scale invariance."""

import numpy as np
import torch

from museforge.style.losses import (
    content_loss,
    feature_stats,
    style_loss,
    style_targets,
    tv_loss,
)


def test_feature_stats_are_the_channel_means_and_population_covariance():
    f = torch.rand(1, 3, 5, 7, dtype=torch.float64)
    mean, cov = feature_stats(f)
    flat = f[0].reshape(3, -1).numpy()
    assert np.allclose(mean[0, :, 0].numpy(), flat.mean(axis=1))
    assert np.allclose(cov[0].numpy(), np.cov(flat, bias=True))


def test_a_mask_restricts_the_statistics_to_its_region():
    f = torch.rand(1, 4, 8, 8, dtype=torch.float64)
    ones = torch.ones(1, 1, 8, 8, dtype=torch.float64)
    for a, b in zip(feature_stats(f, ones), feature_stats(f), strict=True):
        assert torch.allclose(a, b)
    left = torch.zeros(1, 1, 16, 16, dtype=torch.float64)
    left[..., :8] = 1  # any size: resized to the features
    for a, b in zip(feature_stats(f, left), feature_stats(f[..., :4]), strict=True):
        assert torch.allclose(a, b)


def test_blended_targets_are_the_weighted_mean_and_weights_are_normalised():
    a = {"l": (torch.zeros(1, 2, 1), torch.zeros(1, 2, 2))}
    b = {"l": (torch.ones(1, 2, 1), torch.full((1, 2, 2), 4.0))}
    mean, cov = style_targets([a, b], [3.0, 1.0])["l"]
    assert torch.allclose(mean, torch.full((1, 2, 1), 0.25))
    assert torch.allclose(cov, torch.ones(1, 2, 2))


def test_style_loss_is_zero_for_the_target_positive_otherwise_and_scale_free():
    x, y = torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8) ** 2
    targets = {"l": feature_stats(x)}
    assert float(style_loss({"l": x}, targets)) < 1e-10
    loss = float(style_loss({"l": y}, targets))
    assert loss > 0.01
    scaled = float(style_loss({"l": 10 * y}, {"l": feature_stats(10 * x)}))
    assert abs(scaled - loss) < 1e-4 * loss


def test_content_loss_and_smoothness():
    x = torch.rand(1, 3, 6, 6)
    assert float(content_loss({"c": x}, {"c": x})) == 0
    assert float(content_loss({"c": 2 * x}, {"c": x})) == 1.0  # relative error of 100%
    flat = torch.full((1, 3, 6, 6), 0.3)
    assert float(tv_loss(flat)) == 0
    ramp = torch.linspace(0, 1, 6).expand(1, 3, 6, 6)
    # the ramp is smooth inside but jumps from 1 back to 0 across the wrap
    assert float(tv_loss(ramp, circular=True)) > 4 * float(tv_loss(ramp))
