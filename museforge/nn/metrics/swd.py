"""Sliced Wasserstein distance between two sets of pictures: a progress signal that needs
no trained network, so a training run can watch itself.

The Wasserstein-1 distance between two point clouds projected on a random direction is
the mean gap between their sorted projections; averaged over many directions it is the
sliced distance (Rabin et al., 2011), which ProGAN (Karras et al., 2018) used to follow
GAN training. Pictures are compared at two scales: whole, reduced to 16 px (composition
and colour), and as 7×7 patches at their own size (edges and small shapes). Lower is
closer; comparable within one run (same real pictures, same directions), not across data.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

WHOLE_SIZE, PATCH, PATCHES_PER_PICTURE, DIRECTIONS = 16, 7, 16, 128


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, gen: torch.Generator) -> float:
    """The sliced W1 distance of N×D ``a`` and M×D ``b`` (the larger set is subsampled to
    the smaller's size), over :data:`DIRECTIONS` random unit directions from ``gen``."""
    n = min(len(a), len(b))
    a = a[torch.randperm(len(a), generator=gen)[:n]]
    b = b[torch.randperm(len(b), generator=gen)[:n]]
    directions = F.normalize(torch.randn(a.shape[1], DIRECTIONS, generator=gen), dim=0)
    pa, _ = (a @ directions).sort(dim=0)
    pb, _ = (b @ directions).sort(dim=0)
    return float((pa - pb).abs().mean())


def _patches(pictures: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """:data:`PATCHES_PER_PICTURE` random PATCH×PATCH patches of each picture, each less
    its mean (the shape of the patch, not its level), as rows."""
    n, _, h, w = pictures.shape
    ys = torch.randint(h - PATCH + 1, (n, PATCHES_PER_PICTURE), generator=gen)
    xs = torch.randint(w - PATCH + 1, (n, PATCHES_PER_PICTURE), generator=gen)
    step = torch.arange(PATCH)
    rows = (ys[..., None] + step)[..., :, None]  # N×P×PATCH×1
    cols = (xs[..., None] + step)[..., None, :]  # N×P×1×PATCH
    which = torch.arange(n)[:, None, None, None]
    patches = pictures.permute(0, 2, 3, 1)[which, rows, cols].flatten(2)  # N×P×(PATCH²·C)
    patches = patches - patches.mean(dim=2, keepdim=True)
    return patches.flatten(0, 1)


@torch.no_grad()
def picture_swd(fake: torch.Tensor, real: torch.Tensor, seed: int = 0) -> float:
    """Whole-picture plus patch sliced distance of N×C×H×W pictures in [-1, 1]; the same
    ``seed`` gives the same directions and patches, so calls within a run compare."""
    gen = torch.Generator().manual_seed(seed)
    fake, real = fake.float(), real.float()
    size = min(WHOLE_SIZE, fake.shape[-1])
    whole = [
        F.interpolate(x, size=(size, size), mode="area").flatten(1)
        if x.shape[-1] != size
        else x.flatten(1)
        for x in (fake, real)
    ]
    total = sliced_wasserstein(whole[0], whole[1], gen)
    if min(fake.shape[-2:]) >= PATCH:  # the same places in both sets: equal sets give 0
        places = [torch.Generator().manual_seed(seed + 1) for _ in range(2)]
        total += sliced_wasserstein(_patches(fake, places[0]), _patches(real, places[1]), gen)
    return total
