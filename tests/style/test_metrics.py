"""SSIM against scikit-image's reference implementation, and its basic properties."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from museforge.style.images import load_rgb
from museforge.style.metrics import ssim


def _reference(x: torch.Tensor, y: torch.Tensor) -> float:
    """skimage's SSIM with the Wang et al. settings, on luminance for colour images."""

    def grey(t: torch.Tensor) -> np.ndarray:
        a = t[0].double().numpy()
        return a[0] if a.shape[0] == 1 else 0.299 * a[0] + 0.587 * a[1] + 0.114 * a[2]

    return structural_similarity(
        grey(x), grey(y), gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
        data_range=1.0,
    )  # fmt: skip


def _pairs() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    noise = torch.rand(1, 1, 40, 57, generator=g)
    ramp = torch.linspace(0, 1, 64).expand(1, 1, 48, 64)
    photo = load_rgb("astronaut", max_side=96)
    noisy = (noise + 0.1 * torch.randn(noise.shape, generator=g)).clamp(0, 1)
    dim = (0.8 * photo + 0.05 * torch.randn(photo.shape, generator=g)).clamp(0, 1)
    return {
        "independent noise": (noise, torch.rand(1, 1, 40, 57, generator=g)),
        "noise vs noisier": (noise, noisy),
        "ramp vs striped ramp": (ramp, (ramp + 0.2 * (torch.arange(64) % 4 < 2)).clamp(0, 1)),
        "photo vs darker, noisy": (photo, dim),
        "photo vs channel swap": (photo, photo[:, [2, 0, 1]]),
    }


@pytest.mark.parametrize("name", list(_pairs()))
def test_ssim_matches_skimage(name: str) -> None:
    x, y = _pairs()[name]
    assert ssim(x, y) == pytest.approx(_reference(x, y), abs=1e-6)


def test_ssim_of_an_image_with_itself_is_one_and_it_is_symmetric() -> None:
    x, y = _pairs()["photo vs darker, noisy"]
    assert ssim(x, x) == pytest.approx(1.0, abs=1e-12)
    assert ssim(x, y) == pytest.approx(ssim(y, x), abs=1e-12)
    assert ssim(x, y) < 0.95


def test_ssim_of_a_batch_is_the_mean_over_its_images() -> None:
    pairs = _pairs()
    (a, b), (c, d) = pairs["independent noise"], pairs["noise vs noisier"]
    batch = ssim(torch.cat([a, c]), torch.cat([b, d]))
    assert batch == pytest.approx((ssim(a, b) + ssim(c, d)) / 2, abs=1e-12)


def test_ssim_refuses_mismatched_or_tiny_images() -> None:
    with pytest.raises(ValueError, match="same size"):
        ssim(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 31))
    with pytest.raises(ValueError, match="at least 11"):
        ssim(torch.rand(1, 1, 10, 32), torch.rand(1, 1, 10, 32))
    with pytest.raises(ValueError, match="N×1×H×W or N×3×H×W"):
        ssim(torch.rand(1, 2, 32, 32), torch.rand(1, 2, 32, 32))
