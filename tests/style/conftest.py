"""Small learned style features and pictures shared by the style tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from museforge.core.artifact import save_artifact
from museforge.core.registry import load_all
from museforge.nn.features import random_feature_net
from museforge.style.feature_data import StylePictures
from museforge.style.learned import KIND, LearnedFeatureNet, LearnedFeaturesConfig

TINY_WIDTH = 4


def tiny_pictures(n: int = 48, side: int = 40) -> StylePictures:
    """Two classes a small network can tell apart however they are turned: fine noise and
    smooth ramps, in random colours."""
    gen = torch.Generator().manual_seed(0)
    ramp = torch.linspace(0, 1, side)
    smooth = (ramp[:, None] * ramp[None, :]).expand(3, -1, -1)
    images, labels = [], []
    for i in range(n):
        colour = torch.rand(3, 1, 1, generator=gen)
        base = torch.rand(3, side, side, generator=gen) if i % 2 else smooth
        x = 0.2 + 0.6 * base * colour
        images.append(x.clamp(0, 1).mul(255).round().to(torch.uint8))
        labels.append(i % 2)
    return StylePictures(
        torch.stack(images), torch.tensor(labels), ("a", "b"), {"test": "MIT"}, "tiny"
    )


@pytest.fixture(scope="session")
def learned_features(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An artifact of learned style features (width 4, the random network's weights)."""
    load_all()
    net = LearnedFeatureNet(LearnedFeaturesConfig(width=TINY_WIDTH))
    net.load_state_dict(random_feature_net(TINY_WIDTH).state_dict())
    path = tmp_path_factory.mktemp("features") / "tiny-features"
    return save_artifact(path, KIND, net.cfg, net.state_dict())
