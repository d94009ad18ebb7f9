"""Learned style features: the network, its training task and loading by name."""

from __future__ import annotations

import pytest
import torch

from museforge.core.artifact import save_artifact
from museforge.errors import InputError
from museforge.nn.features import random_feature_net
from museforge.style.feature_task import FeatureTask, FeatureTraining, augment, pooled_stats
from museforge.style.learned import LearnedFeaturesConfig, load_learned, style_feature_net
from tests.style.conftest import TINY_WIDTH, tiny_pictures


def test_config_refuses_bad_width_and_layer() -> None:
    with pytest.raises(ValueError, match="width"):
        LearnedFeaturesConfig(width=2)
    with pytest.raises(ValueError, match="content_layer"):
        LearnedFeaturesConfig(content_layer="relu9_1")


def test_only_computes_the_layers_asked_for() -> None:
    net = random_feature_net(4)
    x = torch.rand(1, 3, 32, 32)
    full = net(x)
    part = net(x, only=("relu2_1",))
    assert set(part) == {"relu2_1"}
    assert torch.equal(part["relu2_1"], full["relu2_1"])
    assert set(net(x, only=("pixels",))) == {"pixels"}


def test_augment_turns_and_crops() -> None:
    pictures = tiny_pictures(4, side=40).images
    gen = torch.Generator().manual_seed(1)
    batch, turns = augment(pictures, 32, gen)
    assert batch.shape == (4, 3, 32, 32) and batch.dtype == torch.float32
    assert float(batch.min()) >= 0 and float(batch.max()) <= 1
    assert set(turns.tolist()) <= {0, 1, 2, 3}


def test_pooled_stats_are_means_and_spreads() -> None:
    x = torch.randn(2, 5, 4, 4)
    stats = pooled_stats(x)
    assert stats.shape == (2, 10)
    assert torch.allclose(stats[:, :5], x.mean((2, 3)))


def test_training_learns_to_tell_the_classes_apart() -> None:
    data = tiny_pictures()
    task = FeatureTask(
        LearnedFeaturesConfig(width=TINY_WIDTH), FeatureTraining(crop=32, picture_size=40), data, 0
    )
    gen = torch.Generator().manual_seed(0)

    def step() -> dict[str, float]:
        return task.train_step(torch.randint(task.num_examples, (16,), generator=gen), gen)

    logs = [step() for _ in range(80)]
    early = sum(log["class_acc"] for log in logs[:10]) / 10
    late = sum(log["class_acc"] for log in logs[-10:]) / 10
    assert late > max(early, 0.7)
    assert logs[-1]["loss"] < logs[0]["loss"]
    assert set(task.validate()) == {"val_class_acc", "val_turn_acc"}
    _, state = task.export()
    assert not any(k.startswith("heads") for k in state)  # only the feature network ships


def test_loading_by_name_and_path(learned_features) -> None:
    net = style_feature_net(f"learned:{learned_features}")
    assert net.name == f"learned:{learned_features.name}"
    feats = net(torch.rand(1, 3, 24, 24))
    assert feats["relu3_1"].shape[1] == 4 * TINY_WIDTH
    assert not any(p.requires_grad for p in net.parameters())


def test_missing_or_foreign_artifacts_are_one_line_errors(tmp_path, learned_features) -> None:
    with pytest.raises(InputError, match="do not exist") as err:
        load_learned(tmp_path / "nowhere")
    assert "\n" not in str(err.value)
    from museforge.style.fastnet import StyleNet, StyleNetConfig

    other = save_artifact(
        tmp_path / "a-style-net",
        "style-net",
        StyleNetConfig(),
        StyleNet(StyleNetConfig()).state_dict(),
    )
    with pytest.raises(InputError, match="not learned style features"):
        load_learned(other)
