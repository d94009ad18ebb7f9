"""Convolution stacks over spectrogram features (channels × bins × frames).

Both axes halve together in each of ``steps`` stages, so ``bins`` and ``frames`` must be
multiples of ``2**steps``. The full-resolution stage is a pixel (un)shuffle rather than a
convolution: narrow convolutions over half a million cells a batch cost most of a step
on a CPU and add little. Each decoder stage is told, as two extra channels, the
harmonic prior of the note's pitch at its own frequency resolution (see
:func:`museforge.sound.spectral.harmonic_prior`): the comb says where the partials are,
the network decides how loud they are and how they evolve.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

PRIOR_CHANNELS = 2
PITCHES = 129  # MIDI 0-127 and "unpitched"
EMBED = 16
FINE = 8  # channels of the decoder's full-resolution output layer


def stage_widths(width: int, steps: int, cap: int = 256) -> list[int]:
    """Channels at each stage from full resolution down: width, 2·width, … (capped)."""
    return [min(cap, width * 2**i) for i in range(steps)]


def _at(prior: torch.Tensor, bins: int, frames: int) -> torch.Tensor:
    """The prior (batch, 2, full bins, 1) pooled to ``bins`` and spread over ``frames``."""
    if prior.shape[2] != bins:
        prior = F.adaptive_max_pool2d(prior, (bins, 1))
    return prior.expand(-1, -1, bins, frames)


class Conditions(nn.Module):
    """A note's class and pitch as one vector (pitch -1, unpitched, has its own entry)."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.classes = nn.Embedding(num_classes, EMBED)
        self.pitches = nn.Embedding(PITCHES, EMBED)

    def forward(self, labels: torch.Tensor, pitches: torch.Tensor) -> torch.Tensor:
        slot = torch.where(pitches < 0, torch.full_like(pitches, PITCHES - 1), pitches)
        return torch.cat([self.classes(labels), self.pitches(slot.clamp(0, PITCHES - 1))], 1)


class SpecEncoder(nn.Module):
    """Features (+ prior channels) → flat vector, by stride-2 convolutions (spectrally
    normalised with ``sn``, for a critic)."""

    def __init__(
        self, in_channels: int, bins: int, frames: int, width: int, steps: int, sn: bool = False
    ):
        super().__init__()
        check_grid(bins, frames, steps)
        widths = stage_widths(width, steps)
        layers: list[nn.Module] = [nn.PixelUnshuffle(2)]
        c_in = 4 * (in_channels + PRIOR_CHANNELS)
        for c_out in widths[1:]:
            conv = nn.Conv2d(c_in, c_out, 4, 2, 1)
            layers += [spectral_norm(conv) if sn else conv, nn.LeakyReLU(0.2)]
            c_in = c_out
        self.body = nn.Sequential(*layers)
        self.out_features = widths[-1] * (bins >> steps) * (frames >> steps)

    def forward(self, x: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
        h = torch.cat([x, _at(prior, x.shape[2], x.shape[3])], dim=1)
        return self.body(h).flatten(1)


class SpecDecoder(nn.Module):
    """Vector → features: a linear map to the coarsest grid, then stages of nearest
    enlargement and 3×3 convolutions, each seeing the prior at its resolution."""

    def __init__(
        self, in_features: int, out_channels: int, bins: int, frames: int, width: int, steps: int
    ):
        super().__init__()
        check_grid(bins, frames, steps)
        widths = list(reversed(stage_widths(width, steps)))
        self.grid = (widths[0], bins >> steps, frames >> steps)
        self.project = nn.Linear(in_features, widths[0] * (bins >> steps) * (frames >> steps))
        self.stages = nn.ModuleList()
        for c_in, c_out in itertools.pairwise(widths):
            self.stages.append(
                nn.Sequential(
                    nn.Conv2d(c_in + PRIOR_CHANNELS, c_out, 3, 1, 1),
                    nn.GroupNorm(min(8, c_out), c_out),
                    nn.LeakyReLU(0.2),
                    nn.Conv2d(c_out, c_out, 3, 1, 1),
                    nn.LeakyReLU(0.2),
                )
            )
        self.enlarge = nn.Sequential(
            nn.Conv2d(widths[-1] + PRIOR_CHANNELS, 4 * FINE, 3, 1, 1),
            nn.PixelShuffle(2),
            nn.LeakyReLU(0.2),
        )
        # at full resolution, where the prior places each partial in its exact bin
        self.out = nn.Conv2d(FINE + PRIOR_CHANNELS, out_channels, 1)

    def forward(self, v: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
        h = self.project(v).view(v.shape[0], *self.grid)
        for stage in self.stages:
            h = F.interpolate(h, scale_factor=2.0, mode="nearest")
            h = stage(torch.cat([h, _at(prior, h.shape[2], h.shape[3])], dim=1))
        h = self.enlarge(torch.cat([h, _at(prior, h.shape[2], h.shape[3])], dim=1))
        return self.out(torch.cat([h, _at(prior, h.shape[2], h.shape[3])], dim=1))


def check_grid(bins: int, frames: int, steps: int) -> None:
    unit = 2**steps
    if bins % unit or frames % unit or bins < unit or frames < unit:
        raise ValueError(
            f"a spectrogram of {bins} bins × {frames} frames cannot halve {steps} times "
            f"(both must be multiples of {unit})"
        )
