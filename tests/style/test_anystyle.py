"""The any-style network: AdaIN, mixing, shapes, and training its decoder."""

from __future__ import annotations

import pytest
import torch

from museforge.nn.features import random_feature_net
from museforge.style.anystyle import AnyStyleConfig, AnyStyleNet, adain, channel_stats, mix_stats
from museforge.style.anystyle_task import AnyStyleTask, AnyStyleTraining
from tests.style.conftest import TINY_WIDTH, tiny_pictures


def test_adain_gives_the_content_the_style_statistics() -> None:
    content, style = torch.randn(1, 6, 8, 8), 3 + 2 * torch.randn(1, 6, 5, 7)
    mean, std = channel_stats(adain(content, channel_stats(style)))
    s_mean, s_std = channel_stats(style)
    assert torch.allclose(mean, s_mean, atol=1e-4)
    assert torch.allclose(std, s_std, atol=1e-3)


def test_mixing_weights_blend_the_statistics() -> None:
    a = (torch.zeros(1, 2, 1, 1), torch.ones(1, 2, 1, 1))
    b = (torch.full((1, 2, 1, 1), 4.0), torch.full((1, 2, 1, 1), 3.0))
    mean, std = mix_stats([a, b], [3, 1])
    assert torch.allclose(mean, torch.full_like(mean, 1.0))
    assert torch.allclose(std, torch.full_like(std, 1.5))


def test_config_refuses_unknown_layers() -> None:
    with pytest.raises(ValueError, match="layer"):
        AnyStyleConfig(layer="relu5_1")


@pytest.mark.parametrize("layer", ["relu2_1", "relu3_1", "relu4_1"])
def test_any_picture_size_comes_back_the_same_size(layer: str) -> None:
    net = AnyStyleNet(AnyStyleConfig(width=TINY_WIDTH, layer=layer, decoder_width=4)).eval()
    net.encoder.load_state_dict(random_feature_net(TINY_WIDTH).state_dict())
    content = torch.rand(1, 3, 37, 29)
    with torch.no_grad():
        out = net(content, net.style_stats(torch.rand(1, 3, 40, 40)))
    assert out.shape == content.shape
    assert float(out.min()) >= 0 and float(out.max()) <= 1


def test_strength_mixes_the_content_features_with_the_styled_ones() -> None:
    net = AnyStyleNet(AnyStyleConfig(width=TINY_WIDTH, decoder_width=4)).eval()
    net.encoder.load_state_dict(random_feature_net(TINY_WIDTH).state_dict())
    seen: list[torch.Tensor] = []
    net.decoder.register_forward_pre_hook(lambda _, args: seen.append(args[0]))
    content = torch.rand(1, 3, 32, 32)
    style = net.style_stats(torch.rand(1, 3, 32, 32) * 0.3)
    with torch.no_grad():
        for strength in (0.0, 0.5, 1.0):
            net(content, style, strength=strength)
        own = net.encode(content)
    assert torch.allclose(seen[0], own)
    assert torch.allclose(seen[2], adain(own, style))
    assert torch.allclose(seen[1], (seen[0] + seen[2]) / 2, atol=1e-6)


def test_decoder_training_lowers_the_loss(learned_features) -> None:
    training = AnyStyleTraining(
        features=f"learned:{learned_features}", crop=32, picture_size=40, lr=3e-3
    )
    cfg = AnyStyleConfig(width=TINY_WIDTH, decoder_width=4)
    task = AnyStyleTask(cfg, training, tiny_pictures(), 0)
    encoder_before = {k: v.clone() for k, v in task.net.encoder.state_dict().items()}
    gen = torch.Generator().manual_seed(0)
    losses = [task.train_step(torch.randint(len(task.data), (4,), generator=gen), gen)["loss"]]
    for _ in range(40):
        losses.append(
            task.train_step(torch.randint(len(task.data), (4,), generator=gen), gen)["loss"]
        )
    assert sum(losses[-5:]) / 5 < losses[0]
    after = task.net.encoder.state_dict()
    assert all(torch.equal(encoder_before[k], after[k]) for k in after)  # frozen
    assert task.preview().size == (3 * 32, 4 * 32)


def test_features_of_another_width_are_refused(learned_features) -> None:
    training = AnyStyleTraining(features=f"learned:{learned_features}", crop=32, picture_size=40)
    with pytest.raises(ValueError, match="width"):
        AnyStyleTask(AnyStyleConfig(width=8), training, tiny_pictures(8), 0)
