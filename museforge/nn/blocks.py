"""Convolutional up- and down-sampling stacks shared by generators, decoders and critics."""

from __future__ import annotations

import itertools

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def plan_resolutions(image_size: int) -> tuple[int, int]:
    """(base size, number of ×2 steps): 28 -> (7, 2), 32 -> (4, 3), 64 -> (4, 4).

    Halve while the size stays even and at least 4, so odd bases like 7 (MNIST) work.
    """
    if image_size < 8:
        raise ValueError(f"image size {image_size} is too small (at least 8)")
    base, steps = image_size, 0
    while base % 2 == 0 and base // 2 >= 4:
        base, steps = base // 2, steps + 1
    if steps == 0:
        raise ValueError(f"image size {image_size} cannot be halved; use an even size ≥ 8")
    return base, steps


def channel_plan(width: int, steps: int, cap: int = 512) -> list[int]:
    """Feature channels from the lowest resolution up: width·2^(steps-1) ... width."""
    return [min(cap, width * 2 ** (steps - 1 - i)) for i in range(steps)]


class UpStack(nn.Module):
    """Vector -> image: a linear map to the base grid, then transposed convolutions.

    The last layer maps straight to the output channels at full size, which keeps the
    widest feature maps at low resolution: sampling stays fast on a CPU.
    """

    def __init__(self, in_features: int, image_size: int, out_channels: int, width: int):
        super().__init__()
        base, steps = plan_resolutions(image_size)
        chans = channel_plan(width, steps)
        self.base, self.top = base, chans[0]
        self.project = nn.Linear(in_features, chans[0] * base * base)
        layers: list[nn.Module] = [nn.BatchNorm2d(chans[0]), nn.ReLU()]
        for c_in, c_out in itertools.pairwise(chans):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1), nn.BatchNorm2d(c_out), nn.ReLU()]
        layers.append(nn.ConvTranspose2d(chans[-1], out_channels, 4, 2, 1))
        self.body = nn.Sequential(*layers)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        h = self.project(v).view(v.shape[0], self.top, self.base, self.base)
        return self.body(h)


class DownStack(nn.Module):
    """Image -> flat features by stride-2 convolutions with LeakyReLU.

    ``norm`` is ``"spectral"`` (SN-GAN critics), ``"batch"`` (classic DCGAN) or ``"none"``.
    """

    def __init__(self, image_size: int, in_channels: int, width: int, norm: str = "none"):
        super().__init__()
        base, steps = plan_resolutions(image_size)
        chans = list(reversed(channel_plan(width, steps)))
        layers: list[nn.Module] = []
        c_in = in_channels
        for i, c_out in enumerate(chans):
            conv = nn.Conv2d(c_in, c_out, 4, 2, 1)
            if norm == "spectral":
                conv = spectral_norm(conv)
            layers.append(conv)
            # The classic DCGAN leaves the first critic layer un-normalised.
            if norm == "batch" and i > 0:
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.LeakyReLU(0.2))
            c_in = c_out
        self.body = nn.Sequential(*layers)
        self.out_features = chans[-1] * base * base

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).flatten(1)
