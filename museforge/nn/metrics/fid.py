"""Fréchet distance between Gaussians fitted to two feature sets (Heusel et al., 2017).

features -> statistics (mean, covariance) -> metric, as in pytorch-fid / torch-fidelity.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

# Imaginary parts of (Σa Σb)^½ above this are not rounding noise but a real failure.
IMAGINARY_TOLERANCE = 1e-3


def fid_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and unbiased covariance (D×D) of an N×D feature array (N ≥ 2)."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"FID needs an N×D feature array with N ≥ 2, got shape {x.shape}")
    return x.mean(axis=0), np.cov(x, rowvar=False).reshape(x.shape[1], x.shape[1])


def _sqrtm_product(cov_a: np.ndarray, cov_b: np.ndarray) -> np.ndarray:
    return np.asarray(linalg.sqrtm(cov_a @ cov_b))


def fid_from_statistics(
    mu_a: np.ndarray, cov_a: np.ndarray, mu_b: np.ndarray, cov_b: np.ndarray, eps: float = 1e-6
) -> float:
    """||μa − μb||² + Tr(Σa + Σb − 2(ΣaΣb)^½).

    With near-singular covariances (fewer samples than dimensions, dead features) the
    matrix square root can fail; then ``eps``·I is added to both covariances.
    """
    if mu_a.shape != mu_b.shape or cov_a.shape != cov_b.shape:
        raise ValueError(f"feature sizes differ: {mu_a.shape} vs {mu_b.shape}")
    covmean = _sqrtm_product(cov_a, cov_b)
    if not np.isfinite(covmean).all() or np.abs(covmean.imag).max() > IMAGINARY_TOLERANCE:
        offset = np.eye(cov_a.shape[0]) * eps
        covmean = _sqrtm_product(cov_a + offset, cov_b + offset)
    if np.iscomplexobj(covmean):
        if np.abs(covmean.imag).max() > IMAGINARY_TOLERANCE:
            raise ValueError("FID: the covariance product has no real square root")
        covmean = covmean.real  # tiny imaginary parts are numerical noise
    diff = mu_a - mu_b
    value = diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(covmean)
    return float(value)


def fid_from_features(a: np.ndarray, b: np.ndarray) -> float:
    """FID between two N×D feature arrays (the sets may differ in size)."""
    return fid_from_statistics(*fid_statistics(a), *fid_statistics(b))
