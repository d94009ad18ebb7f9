"""Kernel Inception Distance: unbiased MMD² with a cubic kernel (Bińkowski et al., 2018).

features -> kernel matrices on random subsets -> MMD² per subset -> mean and spread,
following the reference implementation (and torch-fidelity's ``metric_kid``).
"""

from __future__ import annotations

import numpy as np


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """k(x, y) = (x·y / d + 1)³ for every pair of rows; an Nx×Ny matrix."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(k_xx: np.ndarray, k_yy: np.ndarray, k_xy: np.ndarray) -> float:
    """Unbiased MMD² of two equal-size samples from their kernel matrices.

    The within-set sums leave out the diagonal (k(x, x) would bias them upwards).
    """
    m = k_xx.shape[0]
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2.0 * k_xy.sum() / (m * m))


def kid_from_features(
    a: np.ndarray, b: np.ndarray, subsets: int = 50, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """(mean, std) of MMD² over ``subsets`` random subsets drawn without replacement.

    ``subset_size`` is clipped to the smaller set; values near 0 mean the same
    distribution, and the mean can be slightly negative because the estimate is unbiased.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"KID needs two N×D arrays of the same D, got {a.shape} and {b.shape}")
    m = min(subset_size, len(a), len(b))
    if m < 2 or subsets < 1:
        raise ValueError(f"KID needs subsets ≥ 1 of at least 2 samples (got {subsets} of {m})")
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        k_xy = polynomial_kernel(x, y)
        values.append(mmd2_unbiased(polynomial_kernel(x, x), polynomial_kernel(y, y), k_xy))
    return float(np.mean(values)), float(np.std(values))
