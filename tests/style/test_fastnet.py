"""The feed-forward style network: any size in, same size out, in [0, 1], deterministic."""

from __future__ import annotations

import pytest
import torch

from museforge.style.fastnet import StyleNet, StyleNetConfig

TINY = StyleNetConfig(width=4, res_blocks=1, edge_kernel=3)


def _net(cfg: StyleNetConfig = TINY, seed: int = 0) -> StyleNet:
    torch.manual_seed(seed)
    return StyleNet(cfg).eval()


@pytest.mark.parametrize("shape", [(1, 3, 37, 53), (2, 3, 16, 20), (1, 3, 9, 64), (1, 3, 40, 40)])
def test_any_size_comes_back_at_that_size_in_range(shape) -> None:
    x = torch.rand(shape, generator=torch.Generator().manual_seed(1))
    y = _net()(x)
    assert y.shape == x.shape
    assert y.min() >= 0 and y.max() <= 1 and torch.isfinite(y).all()


def test_default_network_handles_odd_sizes() -> None:
    net = _net(StyleNetConfig())
    with torch.inference_mode():
        assert net(torch.rand(1, 3, 37, 53)).shape == (1, 3, 37, 53)


def test_same_seed_same_weights_same_output() -> None:
    x = torch.rand(1, 3, 30, 26, generator=torch.Generator().manual_seed(2))
    a, b, c = _net(seed=3), _net(seed=3), _net(seed=4)
    assert torch.equal(a(x), b(x))
    assert torch.equal(a(x), a(x))
    assert not torch.equal(a(x), c(x))


def test_images_in_a_batch_do_not_interact() -> None:
    # Instance norm: each picture is normalised on its own, unlike batch norm.
    net = _net()
    x = torch.rand(2, 3, 24, 28, generator=torch.Generator().manual_seed(5))
    assert torch.allclose(net(x)[1:], net(x[1:]), atol=1e-6)


def test_padding_does_not_leak_into_the_picture_shape_or_grads() -> None:
    # The pad is cropped off again: gradients reach every input pixel and nothing else.
    net = _net()
    x = torch.rand(1, 3, 21, 23, requires_grad=True)
    net.train()(x).sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape and x.grad.abs().sum() > 0


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="width"):
        StyleNetConfig(width=2)
    with pytest.raises(ValueError, match="edge_kernel"):
        StyleNetConfig(edge_kernel=4)
    with pytest.raises(ValueError, match="N×3×H×W"):
        _net()(torch.rand(1, 1, 16, 16))
