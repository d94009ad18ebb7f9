"""A harmonic-plus-noise synthesizer driven by a network: notes in tune by construction.

As in DDSP (Engel et al. 2020), the decoder does not draw samples or spectrograms: for
each frame it gives a loudness, how that loudness is shared among the partials of the
note's fundamental (a softmax over :data:`HARMONICS` harmonics, those above Nyquist
silenced) and the gains of :data:`NOISE_BANDS` bands of filtered noise (breath, bow,
hammer). An additive synthesizer turns these into samples at exactly the pitch asked
for; the network learns the timbre — which partials, how they rise and fade — and the
noise. Training compares the synthesized and real notes by a multi-scale spectral loss
(magnitudes and log magnitudes at several FFT sizes), which ignores the phase.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

HARMONICS = 64
NOISE_BANDS = 32
LOSS_FFTS = (2048, 1024, 512, 256, 128, 64)


def scaled_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """DDSP's positive activation: 2·sigmoid(x)^ln 10 + 1e-7 (gains over many decades)."""
    return 2 * torch.sigmoid(x) ** math.log(10) + 1e-7


class HarmonicDecoder(nn.Module):
    """Vector (latent + class + pitch) → per-frame synthesizer controls."""

    def __init__(self, in_features: int, frames: int, width: int):
        super().__init__()
        if frames % 8:
            raise ValueError(f"the harmonic decoder needs frames in multiples of 8 (got {frames})")
        channels = 8 * width
        self.start = (channels, frames // 8)
        self.project = nn.Linear(in_features, channels * (frames // 8))
        layers: list[nn.Module] = []
        for _ in range(3):  # frames/8 → frames
            layers += [
                nn.Upsample(scale_factor=2.0, mode="linear"),
                nn.Conv1d(channels, channels, 3, 1, 1),
                nn.GroupNorm(8, channels),
                nn.LeakyReLU(0.2),
            ]
        self.body = nn.Sequential(*layers)
        self.out = nn.Conv1d(channels, 1 + HARMONICS + NOISE_BANDS, 1)

    def forward(self, v: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.body(self.project(v).view(v.shape[0], *self.start))
        out = self.out(h)  # (batch, 1 + harmonics + bands, frames)
        return {
            "loudness": scaled_sigmoid(out[:, :1]),
            "shares": out[:, 1 : 1 + HARMONICS],  # logits; softmax after masking
            "noise": scaled_sigmoid(out[:, 1 + HARMONICS :] - 5.0),  # starts quiet
        }


def midi_hz(pitches: torch.Tensor) -> torch.Tensor:
    """MIDI pitch → frequency in Hz (A4 = 69 = 440 Hz)."""
    return 440.0 * 2.0 ** ((pitches.float() - 69) / 12)


def harmonic_amplitudes(controls: dict[str, torch.Tensor], f0: torch.Tensor, rate: int):
    """Per-frame amplitude of each harmonic (batch, HARMONICS, frames): the loudness
    shared by a softmax over the harmonics below Nyquist."""
    k = torch.arange(1, HARMONICS + 1, device=f0.device, dtype=torch.float32)
    audible = (f0[:, None] * k[None, :] < rate / 2)[:, :, None]
    logits = controls["shares"].masked_fill(~audible, -1e4)
    return controls["loudness"] * torch.softmax(logits, dim=1) * audible


def additive(amplitudes: torch.Tensor, f0: torch.Tensor, rate: int, samples: int) -> torch.Tensor:
    """Sum of harmonics of ``f0`` (batch,) whose frame-rate ``amplitudes`` (batch, K,
    frames) are interpolated linearly between frames; ``samples`` must be
    ``hop · (frames − 1)``.

    Between frame f and f + 1 the sum is (1 − α)·Σₖ aₖ(f)·sinₖ + α·Σₖ aₖ(f + 1)·sinₖ, and
    sin ω(f·hop + h) = sin ωf·hop · cos ωh + cos ωf·hop · sin ωh, so each sum is two
    small batched matrix products: no tensor of every harmonic at every sample is made.
    """
    batch, harmonics, frames = amplitudes.shape
    hop = samples // (frames - 1)
    if hop * (frames - 1) != samples:
        raise ValueError(f"{samples} samples are not {frames - 1} frames of a hop")
    with torch.no_grad():  # the angles, in double precision (phases reach 10^5 radians)
        k = torch.arange(1, harmonics + 1, dtype=torch.float64)
        omega = 2 * math.pi * f0.double().cpu()[:, None] * k / rate  # (batch, K) per sample
        at_frame = omega[:, :, None] * (torch.arange(frames - 1, dtype=torch.float64) * hop)
        within = omega[:, :, None] * torch.arange(hop, dtype=torch.float64)
        sin_f, cos_f = (torch.sin(at_frame).to(amplitudes), torch.cos(at_frame).to(amplitudes))
        sin_h, cos_h = (torch.sin(within).to(amplitudes), torch.cos(within).to(amplitudes))
        alpha = torch.arange(hop, device=amplitudes.device, dtype=amplitudes.dtype) / hop

    def summed(a: torch.Tensor) -> torch.Tensor:  # (batch, K, frames-1) → (batch, frames-1, hop)
        return torch.bmm((a * sin_f).transpose(1, 2), cos_h) + torch.bmm(
            (a * cos_f).transpose(1, 2), sin_h
        )

    left, right = summed(amplitudes[:, :, :-1]), summed(amplitudes[:, :, 1:])
    return (left * (1 - alpha) + right * alpha).reshape(batch, samples)


def white_noise(batch: int, samples: int, noise: torch.Generator | None) -> torch.Tensor:
    """Uniform white noise in [-1, 1): fresh rows from ``noise`` (training), or without it
    one fixed row for every note, so that a note sounds the same whatever else is drawn
    beside it."""
    if noise is None:
        fixed = torch.rand(1, samples, generator=torch.Generator().manual_seed(0))
        return fixed.expand(batch, -1) * 2 - 1
    return torch.rand(batch, samples, generator=noise) * 2 - 1


def filtered_noise(gains: torch.Tensor, white: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """``white`` noise (batch, samples) shaped frame by frame by band ``gains`` (batch,
    bands, frames)."""
    frames, samples = gains.shape[2], white.shape[1]
    white = white.to(gains)
    window = torch.hann_window(n_fft, device=gains.device)
    spec = torch.stft(white, n_fft, hop, window=window, center=True, return_complex=True)
    shaped = spec[..., :frames] * _bands_to_bins(gains, spec.shape[1])
    return torch.istft(shaped, n_fft, hop, window=window, center=True, length=samples)


def _bands_to_bins(gains: torch.Tensor, bins: int) -> torch.Tensor:
    """Band gains (batch, bands, frames) spread over ``bins`` frequency bins."""
    return F.interpolate(
        gains.transpose(1, 2), size=bins, mode="linear", align_corners=True
    ).transpose(1, 2)


def spectral_loss(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Multi-scale spectral loss: mean L1 of magnitudes and of log magnitudes, summed
    over the FFT sizes of :data:`LOSS_FFTS` that fit the clip."""
    total = fake.new_zeros(())
    for n_fft in LOSS_FFTS:
        if n_fft > real.shape[-1]:
            continue
        window = torch.hann_window(n_fft, device=real.device)
        mags = [
            torch.stft(x, n_fft, n_fft // 4, window=window, center=True, return_complex=True).abs()
            for x in (fake, real)
        ]
        total = total + (mags[0] - mags[1]).abs().mean()
        total = total + (torch.log(mags[0] + 1e-5) - torch.log(mags[1] + 1e-5)).abs().mean()
    return total
