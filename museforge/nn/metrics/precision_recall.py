"""Improved precision and recall with k-NN manifolds (Kynkäänniemi et al., 2019).

features -> k-th nearest-neighbour radius of every point (the manifold estimate) ->
share of the other set's points that fall inside at least one ball.
"""

from __future__ import annotations

import numpy as np
import torch

# Rows per torch.cdist call: a 1024 × 10,000 float64 block is about 80 MB.
CHUNK = 1024


def knn_radii(points: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each point to its k-th nearest other point of the same set."""
    radii = [
        # k + 1: the smallest distance is the point to itself.
        torch.cdist(points[i : i + CHUNK], points).kthvalue(k + 1, dim=1).values
        for i in range(0, len(points), CHUNK)
    ]
    return torch.cat(radii)


def manifold_coverage(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor) -> float:
    """Share of ``points`` within ``radii[j]`` of at least one ``centres[j]``."""
    inside = [
        (torch.cdist(points[i : i + CHUNK], centres) <= radii.unsqueeze(0)).any(dim=1)
        for i in range(0, len(points), CHUNK)
    ]
    return torch.cat(inside).double().mean().item()


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
    """(precision, recall) of N×D ``fake`` features against ``real`` ones.

    Precision: share of fakes inside the real manifold (are samples realistic?).
    Recall: share of reals inside the fake manifold (is the data's variety covered?).
    """
    r = torch.as_tensor(np.asarray(real), dtype=torch.float64)
    f = torch.as_tensor(np.asarray(fake), dtype=torch.float64)
    if r.ndim != 2 or f.ndim != 2 or r.shape[1] != f.shape[1]:
        raise ValueError(f"need two N×D arrays of the same D, got {r.shape} and {f.shape}")
    if k < 1 or min(len(r), len(f)) <= k:
        raise ValueError(f"k={k} needs more than k samples in each set ({len(r)}, {len(f)})")
    precision = manifold_coverage(f, r, knn_radii(r, k))
    recall = manifold_coverage(r, f, knn_radii(f, k))
    return precision, recall
