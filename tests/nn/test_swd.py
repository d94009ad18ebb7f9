"""The sliced Wasserstein distance between picture sets: zero for the same pictures, larger
the further a set is moved, repeatable with its seed, and fine on tiny pictures."""

import torch

from museforge.nn.metrics.swd import picture_swd


def _pictures(n: int, size: int, seed: int) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_the_same_pictures_are_at_distance_zero_and_moved_ones_further():
    real = _pictures(64, 32, 0)
    assert picture_swd(real, real) < 1e-6
    near = (real + 0.1).clamp(-1, 1)
    far = (real + 0.5).clamp(-1, 1)
    assert 0 < picture_swd(near, real) < picture_swd(far, real)


def test_the_seed_fixes_the_directions_and_tiny_pictures_skip_the_patches():
    a, b = _pictures(32, 32, 1), _pictures(32, 32, 2)
    assert picture_swd(a, b, seed=3) == picture_swd(a, b, seed=3)
    assert picture_swd(_pictures(16, 4, 1), _pictures(16, 4, 2)) > 0


def test_blurred_pictures_are_further_from_sharp_ones_than_other_sharp_ones():
    sharp = torch.where(_pictures(64, 32, 4) > 0, 1.0, -1.0)
    other = torch.where(_pictures(64, 32, 5) > 0, 1.0, -1.0)
    blurred = torch.nn.functional.avg_pool2d(other, 3, 1, 1)
    assert picture_swd(blurred, sharp) > picture_swd(other, sharp)
