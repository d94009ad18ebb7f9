import pytest
import torch

from museforge.core.seeding import stream
from museforge.nn.augment import cutout, diff_augment, parse_policy, translation


def test_translation_shifts_content_without_changing_mass_much():
    x = torch.zeros(4, 1, 16, 16)
    x[:, :, 6:10, 6:10] = 1
    y = translation(x, stream(0, "t"))
    assert y.shape == x.shape
    # A 4×4 square moved by at most 2 px stays whole inside a 16×16 frame.
    assert torch.equal(y.sum(dim=(1, 2, 3)), x.sum(dim=(1, 2, 3)))
    assert not torch.equal(y, x)


def test_cutout_zeroes_a_quarter_of_each_image():
    x = torch.ones(8, 3, 16, 16)
    y = cutout(x, stream(0, "c"))
    zeroed = (y[:, 0] == 0).float().mean(dim=(1, 2))
    assert torch.all(zeroed <= 0.25 + 1e-6) and torch.all(zeroed > 0.05)


def test_augment_is_seeded_and_differentiable():
    x = torch.randn(4, 3, 16, 16, requires_grad=True)
    a = diff_augment(x, "color,translation,cutout", stream(1, "a"))
    b = diff_augment(x, "color,translation,cutout", stream(1, "a"))
    assert torch.equal(a, b)
    a.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_unknown_policy_is_rejected():
    with pytest.raises(ValueError, match="unknown DiffAugment"):
        parse_policy("translation,rotate")
