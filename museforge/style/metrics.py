"""Structural similarity (SSIM, Wang et al. 2004) between two images in [0, 1]."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from museforge.style.images import luminance

WINDOW, SIGMA = 11, 1.5
K1, K2 = 0.01, 0.03
DATA_RANGE = 1.0


def _gaussian(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    r = torch.arange(WINDOW, dtype=torch.float64) - (WINDOW - 1) / 2
    g = torch.exp(-(r**2) / (2 * SIGMA**2))
    return (g / g.sum()).to(device, dtype)


def _blur_valid(x: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian filter of N×1×H×W, no padding: N×1×(H-10)×(W-10)."""
    g = _gaussian(x.dtype, x.device)
    return F.conv2d(F.conv2d(x, g.view(1, 1, 1, -1)), g.view(1, 1, -1, 1))


def ssim(x: torch.Tensor, y: torch.Tensor) -> float:
    """Mean SSIM of two N×C×H×W images in [0, 1] (C = 1, or 3: compared on luminance).

    Gaussian window 11, σ 1.5, K1 0.01, K2 0.03, population covariances, and only windows
    that fit inside the image, as skimage's structural_similarity with gaussian_weights=True,
    use_sample_covariance=False, data_range=1. Raises ValueError on mismatched or tiny inputs.
    """
    if x.shape != y.shape:
        raise ValueError(
            f"ssim needs images of the same size, got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"ssim needs N×1×H×W or N×3×H×W images, got {tuple(x.shape)}")
    if min(x.shape[-2:]) < WINDOW:
        raise ValueError(f"ssim needs images at least {WINDOW}×{WINDOW}, got {tuple(x.shape)}")
    # float64: E[x²] - E[x]² cancels badly in float32 next to C2 ≈ 1e-3; MPS has no float64.
    device = torch.device("cpu") if x.device.type == "mps" else x.device
    a = luminance(x.detach().to(device, torch.float64))
    b = luminance(y.detach().to(device, torch.float64))
    n = a.shape[0]
    mu_a, mu_b, aa, bb, ab = _blur_valid(torch.cat([a, b, a * a, b * b, a * b])).split(n)
    var_a, var_b, cov = aa - mu_a**2, bb - mu_b**2, ab - mu_a * mu_b
    c1, c2 = (K1 * DATA_RANGE) ** 2, (K2 * DATA_RANGE) ** 2
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    return float((num / den).mean())
