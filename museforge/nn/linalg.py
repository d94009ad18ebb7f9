"""Small linear algebra shared by the modalities."""

from __future__ import annotations

import torch


def psd_power(matrix: torch.Tensor, p: float, floor: float = 0.0) -> torch.Tensor:
    """A symmetric positive semi-definite matrix to the power p, its eigenvalues first
    raised to at least ``floor`` (so that negative powers exist for flat directions)."""
    vals, vecs = torch.linalg.eigh((matrix + matrix.T) / 2)
    return (vecs * vals.clamp_min(floor).pow(p)) @ vecs.T
