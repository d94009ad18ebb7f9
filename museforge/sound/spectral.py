"""Sounds as pictures a network can draw: log magnitude and instantaneous frequency.

As in GANSynth (Engel et al. 2019), a note's short-time Fourier transform becomes two
channels: the log magnitude, and the instantaneous frequency (IF) — the phase's advance
from one frame to the next, unwrapped and divided by π. Harmonic sounds have a steady IF
where a raw phase would look like noise, so a generator can learn it; the phase is
rebuilt by summing the IF along time, so a clip's features turn back into exactly its
samples. Optionally a few Griffin–Lim iterations, started from that phase, make a drawn
magnitude and its phase agree.

The Nyquist bin is dropped (``n_fft / 2`` bins) and the clip is ``hop · (frames − 1)``
samples, so both axes halve cleanly in convolution stacks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

LOG_FLOOR = 1e-2  # magnitude added before the log (about -90 dB of a full-scale sine)
LOG_CENTRE, LOG_SCALE = 0.5, 5.0  # log magnitudes mapped to about [-1, 1]


@dataclass(frozen=True)
class Spectral:
    """The STFT settings of one model: ``n_fft``, ``hop`` and ``frames`` per clip."""

    rate: int = 16000
    n_fft: int = 1024
    hop: int = 256
    frames: int = 64

    @property
    def bins(self) -> int:
        return self.n_fft // 2

    @property
    def samples(self) -> int:
        """Samples per clip: the STFT of this many (centred) has exactly ``frames`` frames."""
        return self.hop * (self.frames - 1)

    @property
    def seconds(self) -> float:
        return self.samples / self.rate

    def _window(self, device: torch.device) -> torch.Tensor:
        return torch.hann_window(self.n_fft, device=device)

    def stft(self, wave: torch.Tensor) -> torch.Tensor:
        """Complex STFT of ``wave`` (..., samples): (..., bins, frames)."""
        spec = torch.stft(
            wave.reshape(-1, wave.shape[-1]),
            self.n_fft,
            self.hop,
            window=self._window(wave.device),
            center=True,
            return_complex=True,
        )[:, : self.bins, : self.frames]
        return spec.reshape(*wave.shape[:-1], self.bins, spec.shape[-1])

    def features(self, wave: torch.Tensor) -> torch.Tensor:
        """Clips (batch, samples) → features (batch, 2, bins, frames): normalised log
        magnitude and IF in [-1, 1]."""
        spec = self.stft(fit_samples(wave, self.samples))
        log_mag = (torch.log(spec.abs() + LOG_FLOOR) - LOG_CENTRE) / LOG_SCALE
        phase = unwrap(torch.angle(spec))
        advance = torch.diff(phase, dim=-1, prepend=torch.zeros_like(phase[..., :1]))
        return torch.stack([log_mag, wrap(advance) / math.pi], dim=1)

    def magnitude(self, features: torch.Tensor) -> torch.Tensor:
        """The linear magnitude of features (batch, 2, bins, frames)."""
        return (torch.exp(features[:, 0] * LOG_SCALE + LOG_CENTRE) - LOG_FLOOR).clamp_min(0)

    def wave(self, features: torch.Tensor, griffin_lim: int = 0) -> torch.Tensor:
        """Features (batch, 2, bins, frames) → clips (batch, samples). The phase is the
        IF summed along time; ``griffin_lim`` iterations then refine it."""
        mag = self.magnitude(features)
        phase = torch.cumsum(features[:, 1].clamp(-1, 1) * math.pi, dim=-1)
        spec = torch.polar(mag, phase)
        for _ in range(griffin_lim):
            again = self.stft(self._istft(spec))
            spec = torch.polar(mag, torch.angle(again))
        return self._istft(spec)

    def _istft(self, spec: torch.Tensor) -> torch.Tensor:
        full = torch.cat([spec, torch.zeros_like(spec[..., :1, :])], dim=-2)  # Nyquist back
        return torch.istft(
            full,
            self.n_fft,
            self.hop,
            window=self._window(spec.device),
            center=True,
            length=self.samples,
        )


@dataclass(frozen=True)
class NoteSettings:
    """What every sound model's config starts with: its notes' rate and STFT grid (a clip
    is ``hop · (frames − 1)`` samples) and how many classes it is told."""

    sample_rate: int = 16000
    n_fft: int = 1024
    hop: int = 256
    frames: int = 64
    num_classes: int = 1

    def __post_init__(self) -> None:
        if self.n_fft & (self.n_fft - 1) or not 256 <= self.n_fft <= 4096:
            raise ValueError(f"n_fft must be a power of two 256-4096 (got {self.n_fft})")
        if not 8000 <= self.sample_rate <= 48000:
            raise ValueError(f"sample_rate must be 8000-48000 (got {self.sample_rate})")
        if self.num_classes < 1:
            raise ValueError(f"num_classes must be at least 1 (got {self.num_classes})")

    @property
    def spectral(self) -> Spectral:
        return Spectral(self.sample_rate, self.n_fft, self.hop, self.frames)


def wrap(phase: torch.Tensor) -> torch.Tensor:
    """Phases wrapped into [-π, π)."""
    return torch.remainder(phase + math.pi, 2 * math.pi) - math.pi


def unwrap(phase: torch.Tensor) -> torch.Tensor:
    """Phases unwrapped along the last axis (as numpy.unwrap)."""
    step = torch.diff(phase, dim=-1)
    jumps = wrap(step) - step
    return phase + torch.cat([torch.zeros_like(phase[..., :1]), torch.cumsum(jumps, -1)], -1)


def fit_samples(wave: torch.Tensor, samples: int) -> torch.Tensor:
    """``wave`` (..., n) cut or padded with silence to ``samples``."""
    n = wave.shape[-1]
    if n >= samples:
        return wave[..., :samples]
    return torch.nn.functional.pad(wave, (0, samples - n))


def harmonic_prior(spectral: Spectral, pitches: torch.Tensor, harmonics: int = 24) -> torch.Tensor:
    """What a note of each MIDI pitch looks like before any timbre: (batch, 2, bins, 1).

    Channel 0 is a comb with a peak at each harmonic's bin (1 at the partial, falling off
    over a bin); channel 1 the IF a steady partial has in its bins. A pitch below 0 (not
    known, or not pitched) gives zeros. Decoders take these as extra inputs, so placing
    the partials is given and the network learns their loudness and evolution: the timbre.
    """
    f0 = 440.0 * 2.0 ** ((pitches.float() - 69) / 12)  # (batch,)
    known = (pitches >= 0).float()
    bin_hz = spectral.rate / spectral.n_fft
    bins = torch.arange(spectral.bins, dtype=torch.float32)  # centre frequencies / bin_hz
    k = torch.arange(1, harmonics + 1, dtype=torch.float32)
    partial_bins = f0[:, None] * k[None, :] / bin_hz  # (batch, harmonics)
    audible = (partial_bins < spectral.bins).float()
    dist = bins[None, None, :] - partial_bins[:, :, None]  # (batch, harmonics, bins)
    closeness = torch.exp(-0.5 * dist**2) * audible[:, :, None]
    comb, nearest = closeness.max(dim=1)  # (batch, bins)
    partial_hz = f0[:, None] * k[None, :]
    advance = wrap(2 * math.pi * partial_hz * spectral.hop / spectral.rate) / math.pi
    expected_if = advance.gather(1, nearest) * (comb > 0.01).float()
    prior = torch.stack([comb, expected_if], dim=1) * known[:, None, None]
    return prior[..., None]
