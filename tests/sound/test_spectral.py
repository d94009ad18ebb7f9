import math

import numpy as np
import pytest
import torch

from museforge.sound.spectral import Spectral, harmonic_prior, unwrap, wrap


def test_features_turn_back_into_the_same_samples():
    spectral = Spectral(rate=8000, n_fft=256, hop=64, frames=32)
    t = torch.arange(spectral.samples) / spectral.rate
    wave = 0.4 * torch.sin(2 * math.pi * 330 * t) * torch.exp(-3 * t)
    chirp = 0.2 * torch.sin(2 * math.pi * (100 + 400 * t) * t)
    wave = torch.stack([wave, chirp])
    features = spectral.features(wave)
    assert features.shape == (2, 2, 128, 32)
    assert features[:, 1].abs().max() <= 1.0
    assert torch.allclose(spectral.wave(features), wave, atol=1e-3)


def test_short_clips_are_padded_with_silence():
    spectral = Spectral(rate=8000, n_fft=256, hop=64, frames=32)
    features = spectral.features(torch.ones(1, 100) * 0.1)
    assert features.shape == (1, 2, 128, 32)
    assert features[0, 0, :, -5:].max() < features[0, 0, :, 0].max()


def test_unwrap_matches_numpy():
    phase = torch.cumsum(torch.rand(3, 50, generator=torch.Generator().manual_seed(1)) * 3, -1)
    wrapped = wrap(phase)
    assert np.allclose(unwrap(wrapped).numpy(), np.unwrap(wrapped.numpy()), atol=1e-5)


def test_a_steady_partial_has_the_if_the_prior_expects():
    spectral = Spectral(rate=16000, n_fft=1024, hop=256, frames=16)
    f0 = 440.0 * 2 ** ((57 - 69) / 12)  # MIDI 57, 220 Hz
    t = torch.arange(spectral.samples) / spectral.rate
    features = spectral.features((0.5 * torch.sin(2 * math.pi * f0 * t))[None])
    prior = harmonic_prior(spectral, torch.tensor([57]))
    peak = int(features[0, 0, :, 8].argmax())
    assert prior[0, 0, peak, 0] > 0.9  # the loudest bin is on the comb
    assert features[0, 1, peak, 8] == pytest.approx(float(prior[0, 1, peak, 0]), abs=0.02)


def test_unpitched_notes_have_no_prior():
    prior = harmonic_prior(Spectral(), torch.tensor([-1, 60]))
    assert prior[0].abs().max() == 0
    combs = prior[1, 0, :, 0]
    assert combs.max() > 0.9 and (combs > 0.5).sum() >= 10  # many partials of middle C
