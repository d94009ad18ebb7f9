"""Latent-space operations shared by every generator: seeded draws, truncation, slerp,
crossover, mutation, principal directions, and latents written as exact text."""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable

import numpy as np
import torch

from museforge.core.seeding import stream
from museforge.errors import InputError


def draw_latents(z_dim: int, seed: int, n: int, start: int = 0) -> torch.Tensor:
    """n×z_dim standard-normal latents; row i depends only on (seed, start + i).

    Drawing each latent from its own stream means sample 3 of seed 7 is the same picture
    whether 4 or 400 samples were asked for.
    """
    return torch.stack(
        [torch.randn(z_dim, generator=stream(seed, "latent", start + i)) for i in range(n)]
    )


def draw_labels(num_classes: int, seed: int, n: int, label: int | None = None):
    """Class labels for a conditional model: all ``label``, or seeded per index."""
    if not num_classes:
        return None
    if label is not None:
        return torch.full((n,), label, dtype=torch.long)
    return torch.tensor(
        [
            int(torch.randint(num_classes, (1,), generator=stream(seed, "label", i)))
            for i in range(n)
        ]
    )


def preview_inputs(z_dim: int, num_classes: int, seed: int, n: int = 64):
    """Fixed latents (and labels cycling through the classes) for training previews."""
    z = torch.randn(n, z_dim, generator=stream(seed, "preview"))
    return z, (torch.arange(n) % num_classes if num_classes else None)


def truncate(z: torch.Tensor, psi: float) -> torch.Tensor:
    """The truncation trick: pull latents towards the mean (0) by ``psi`` in (0, 1]."""
    return z * psi


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation, which keeps Gaussian latents at a typical norm."""
    a_n, b_n = a / a.norm(), b / b.norm()
    omega = torch.arccos((a_n * b_n).sum().clamp(-1.0, 1.0))
    if omega.abs() < 1e-6:
        return (1 - t) * a + t * b
    so = torch.sin(omega)
    return torch.sin((1 - t) * omega) / so * a + torch.sin(t * omega) / so * b


def crossover(parents: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """A child latent taking each coordinate from a randomly chosen parent (P×D -> D)."""
    choice = torch.randint(parents.shape[0], (parents.shape[1],), generator=gen)
    return parents[choice, torch.arange(parents.shape[1])]


def mutate(z: torch.Tensor, amount: float, gen: torch.Generator) -> torch.Tensor:
    """Blend in fresh noise: sqrt(1-a²)·z + a·ε keeps a standard-normal latent standard."""
    if amount == 0:
        return z.clone()
    eps = torch.randn(z.shape, generator=gen)
    return math.sqrt(max(0.0, 1 - amount**2)) * z + amount * eps


def principal_directions(
    generate: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor, k: int, eps: float = 1e-2
) -> torch.Tensor:
    """The ``k`` unit latent directions along which the picture at ``z`` changes most.

    They are the top right-singular vectors of the generator's Jacobian at ``z`` (the
    local principal directions of the image manifold), signed so that each one's largest
    component is positive, which makes them reproducible.
    """
    # Central differences in one batched pass: exact enough for ranking directions, and
    # far cheaper on a CPU than autograd over thousands of output pixels.
    with torch.no_grad():
        basis = torch.eye(z.numel(), dtype=z.dtype) * eps
        out = generate(torch.cat([z + basis, z - basis]))
        plus, minus = out.flatten(1).chunk(2)
        jac = ((plus - minus) / (2 * eps)).T
    _, _, vh = torch.linalg.svd(jac, full_matrices=False)
    dirs = vh[:k]
    signs = torch.sign(dirs.gather(1, dirs.abs().argmax(1, keepdim=True)))
    return dirs * signs


def encode_latent(z: torch.Tensor) -> str:
    """A latent vector as compact text (exact: float32 bytes in base64)."""
    return base64.b64encode(z.detach().cpu().float().numpy().astype("<f4").tobytes()).decode()


def decode_latent(text: str) -> torch.Tensor:
    """Inverse of :func:`encode_latent`. Latents come back from files anyone can edit, so
    anything but base64 of finite float32 values is an InputError (without a file name:
    callers add it)."""
    try:
        raw = base64.b64decode(text, validate=True) if isinstance(text, str) else None
    except (binascii.Error, ValueError):  # ValueError: characters outside ASCII
        raw = None
    if raw is None or len(raw) % 4:
        raise InputError("the recorded latent is not base64 text of float32 values")
    z = torch.from_numpy(np.frombuffer(raw, dtype="<f4").copy())
    if not torch.isfinite(z).all():
        raise InputError("the recorded latent holds values that are not finite numbers")
    return z


def sweep(amount: float, frames: int) -> list[float]:
    """The offsets a mutate-style verb draws: ``amount`` itself for one frame, else
    ``frames`` evenly from -amount to +amount."""
    return [amount] if frames == 1 else torch.linspace(-amount, amount, frames).tolist()
