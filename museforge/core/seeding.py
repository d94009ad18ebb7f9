"""Reproducible random streams: one named ``torch.Generator`` per purpose and seed.

Deriving each stream from ``(seed, name)`` keeps purposes independent: drawing more noise
for previews never shifts the data order, and the same seed always gives the same latents.
"""

from __future__ import annotations

import hashlib
import random

import numpy as np
import torch


def derive_seed(seed: int, *names: object) -> int:
    """A 63-bit seed derived from ``seed`` and any labels (stream name, rank, index)."""
    text = ":".join([str(int(seed)), *map(str, names)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1


def stream(seed: int, *names: object) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded from ``seed`` and the stream's labels."""
    gen = torch.Generator()
    gen.manual_seed(derive_seed(seed, *names))
    return gen


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch's global generators (for code we do not control)."""
    random.seed(seed)
    np.random.seed(derive_seed(seed, "numpy") % 2**32)
    torch.manual_seed(derive_seed(seed, "torch"))
