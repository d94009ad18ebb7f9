import math

import pytest
import torch
import torch.nn.functional as F

from museforge.sound.harmonic import (
    HARMONICS,
    HarmonicDecoder,
    additive,
    harmonic_amplitudes,
    midi_hz,
    spectral_loss,
)


def test_additive_synthesis_equals_the_sum_of_interpolated_partials():
    amplitudes = torch.rand(2, 6, 9, generator=torch.Generator().manual_seed(0))
    f0, rate, samples = torch.tensor([220.0, 523.25]), 8000, 8 * 32
    t = torch.arange(samples) / rate
    k = torch.arange(1, 7).float()
    smooth = F.interpolate(amplitudes, size=samples + 1, mode="linear", align_corners=True)
    expected = (
        smooth[..., :samples] * torch.sin(2 * math.pi * f0[:, None, None] * k[:, None] * t)
    ).sum(1)
    assert torch.allclose(additive(amplitudes, f0, rate, samples), expected, atol=1e-4)
    with pytest.raises(ValueError, match="not 8 frames of a hop"):
        additive(amplitudes, f0, rate, samples + 3)


def test_a_drawn_note_is_at_the_pitch_asked_whatever_the_mix_of_partials():
    decoder = HarmonicDecoder(10, frames=64, width=8)
    controls = decoder(torch.randn(3, 10, generator=torch.Generator().manual_seed(1)))
    controls["loudness"] = torch.ones_like(controls["loudness"])  # a held note
    pitches = torch.tensor([45, 60, 76])
    f0 = midi_hz(pitches)
    amplitudes = harmonic_amplitudes(controls, f0, 16000)
    assert amplitudes.shape == (3, HARMONICS, 64)
    nyquist = (f0[:, None] * torch.arange(1, HARMONICS + 1) >= 8000)[:, :, None]
    assert amplitudes.masked_select(nyquist.expand_as(amplitudes)).abs().max() == 0
    waves = additive(amplitudes, f0, 16000, 256 * 63)
    power = torch.fft.rfft(waves.detach() * torch.hann_window(waves.shape[1])).abs() ** 2
    hz = torch.fft.rfftfreq(waves.shape[1], 1 / 16000)
    for p, f in zip(power, f0, strict=True):
        partial = hz / f
        near = (partial - partial.round()).abs() * f < 4.0  # within 4 Hz of a harmonic
        assert p[near].sum() > 0.99 * p.sum()  # all the energy is on the harmonics of f0


def test_the_spectral_loss_is_zero_only_for_the_same_sound():
    t = torch.arange(4096) / 8000
    a = torch.sin(2 * math.pi * 440 * t)[None]
    assert spectral_loss(a, a) == 0
    shifted = torch.sin(2 * math.pi * 440 * t + 1.0)[None]  # the same partial, other phase
    other = torch.sin(2 * math.pi * 660 * t)[None]
    assert spectral_loss(shifted, a) < 0.2 * spectral_loss(other, a)
