"""A conditional VAE of single notes: the timbre in a latent.

The encoder reads a note's log magnitude and instantaneous frequency (see
:mod:`museforge.sound.spectral`) and is told the note's class (an instrument family, or a
folder's sub-folder) and pitch, so the latent is left to hold what they do not say: the
timbre — brightness, attack, decay, breath. Two notes' latents morph one timbre into the
other at any pitch; one latent is an instrument (``museforge play``).

Two decoders, chosen by ``decoder``:

- ``harmonic`` (default): per-frame controls of a harmonic-plus-noise synthesizer
  (:mod:`museforge.sound.harmonic`, after DDSP), trained by a multi-scale spectral loss;
  the note is in tune by construction.
- ``spectrogram``: the log magnitude and IF themselves (after GANSynth), each stage told
  the pitch's harmonic comb, trained by squared error (the IF counted only where there
  is sound: the phase of silence is noise). With ``conditioned`` off it is the plain
  baseline of ``bench audio``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image
from torch import nn

from museforge.core.grid import make_grid
from museforge.core.train import optimizer_step
from museforge.sound.data import SoundDataset, preview_notes
from museforge.sound.harmonic import (
    HarmonicDecoder,
    additive,
    filtered_noise,
    harmonic_amplitudes,
    midi_hz,
    spectral_loss,
    white_noise,
)
from museforge.sound.nets import EMBED, Conditions, SpecDecoder, SpecEncoder
from museforge.sound.picture import spectrogram_tensor
from museforge.sound.spectral import NoteSettings, harmonic_prior

DECODERS = ("harmonic", "spectrogram")
RECON_SCALE = 1000.0  # the harmonic decoder's spectral loss (a mean) per mille, against the KL


@dataclass(frozen=True)
class SoundVAEConfig(NoteSettings):
    """Architecture of a sound VAE (stored in the artifact)."""

    z_dim: int = 32
    width: int = 16
    steps: int = 5
    conditioned: bool = True  # False: told neither class nor pitch (a baseline)
    decoder: str = "harmonic"  # or "spectrogram"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {', '.join(DECODERS)} (got {self.decoder!r})")
        if self.decoder == "harmonic" and not self.conditioned:
            raise ValueError("the harmonic decoder plays the pitch it is told: keep conditioned")


@dataclass(frozen=True)
class SoundVAETraining:
    """How a sound VAE is trained (stored in the artifact's recipe)."""

    beta: float = 1.0
    lr: float = 1e-3


class SoundVAE(nn.Module):
    """Encoder to a diagonal Gaussian; decoder from latent + class + pitch to features."""

    def __init__(self, cfg: SoundVAEConfig):
        super().__init__()
        self.cfg = cfg
        self.spectral = cfg.spectral
        bins, frames = self.spectral.bins, cfg.frames
        self.conditions = Conditions(cfg.num_classes)
        self.encoder = SpecEncoder(2, bins, frames, cfg.width, cfg.steps)
        self.to_stats = nn.Linear(self.encoder.out_features + 2 * EMBED, 2 * cfg.z_dim)
        told = cfg.z_dim + 2 * EMBED
        if cfg.decoder == "harmonic":
            self.decoder = HarmonicDecoder(told, frames, cfg.width)
        else:
            self.decoder = SpecDecoder(told, 2, bins, frames, cfg.width, cfg.steps)

    @property
    def z_dim(self) -> int:
        return self.cfg.z_dim

    @property
    def num_classes(self) -> int:
        return self.cfg.num_classes

    def prior(self, pitches: torch.Tensor) -> torch.Tensor:
        return harmonic_prior(self.spectral, pitches.cpu()).to(self.conditions.classes.weight)

    def told(self, labels, pitches) -> tuple[torch.Tensor, torch.Tensor]:
        """What the networks are told: the class and pitch, or nothing (an unconditioned
        model sees class 0 and "unpitched" for every note)."""
        if self.cfg.conditioned:
            return labels, pitches
        return torch.zeros_like(labels), torch.full_like(pitches, -1)

    def encode(self, features, labels, pitches) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance of features (batch, 2, bins, frames)."""
        labels, pitches = self.told(labels, pitches)
        h = self.encoder(features, self.prior(pitches))
        stats = self.to_stats(torch.cat([h, self.conditions(labels, pitches)], 1))
        mu, logvar = stats.chunk(2, dim=1)
        return mu, logvar.clamp(-12, 8)

    def decode(self, z, labels, pitches) -> Any:
        """The decoder's output for latents ``z`` of notes of class ``labels`` at
        ``pitches``: synthesizer controls, or spectrogram features."""
        labels, pitches = self.told(labels, pitches)
        v = torch.cat([z, self.conditions(labels, pitches)], 1)
        if self.cfg.decoder == "harmonic":
            return self.decoder(v)
        return self.decoder(v, self.prior(pitches))

    def synthesize(
        self, controls: Any, pitches, noise: torch.Generator | None = None, griffin_lim: int = 0
    ):
        """Samples (batch, samples) from the decoder's output (unclamped); ``griffin_lim``
        refines a spectrogram decoder's phase."""
        sp = self.spectral
        if self.cfg.decoder == "spectrogram":
            return sp.wave(controls, griffin_lim)
        f0 = torch.where(
            pitches >= 0, midi_hz(pitches), torch.zeros_like(pitches, dtype=torch.float)
        )
        amplitudes = harmonic_amplitudes(controls, f0.to(controls["loudness"]), sp.rate)
        tone = additive(amplitudes, f0.to(amplitudes), sp.rate, sp.samples)
        white = white_noise(len(pitches), sp.samples, noise)
        return tone + filtered_noise(controls["noise"], white, sp.n_fft, sp.hop)

    def render(self, z, labels, pitches, griffin_lim: int = 0, noise=None) -> torch.Tensor:
        """Waves (batch, samples) in [-1, 1] for latents ``z`` (the noise is fixed: the
        same inputs give the same samples, a note the same whatever is drawn with it)."""
        controls = self.decode(z, labels, pitches)
        return self.synthesize(controls, pitches, noise, griffin_lim).clamp(-1, 1)


def reconstruction_error(drawn: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Squared error summed per note (log magnitude everywhere, IF where there is sound),
    averaged over the batch."""
    loud = ((target[:, 0] + 1) / 2).clamp(0, 1)
    err = (drawn[:, 0] - target[:, 0]) ** 2 + loud * (drawn[:, 1] - target[:, 1]) ** 2
    return err.flatten(1).sum(1).mean()


class SoundVAETask:
    """Trains a :class:`SoundVAE` on a :class:`SoundDataset` for the shared Trainer."""

    kind = "sound-vae"

    def __init__(
        self, cfg: SoundVAEConfig, training: SoundVAETraining, data: SoundDataset, seed: int
    ):
        self.cfg, self.training, self.data = cfg, training, data
        torch.manual_seed(seed)
        self.vae = SoundVAE(cfg)
        self.opt = torch.optim.Adam(self.vae.parameters(), training.lr)
        self.num_examples = len(data)
        self._preview = preview_notes(data, cfg.z_dim, seed)

    def modules(self) -> dict[str, nn.Module]:
        return {"vae": self.vae}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"vae": self.opt}

    def train_step(self, indices: torch.Tensor, noise: torch.Generator) -> dict[str, float]:
        self.vae.train()
        labels, pitches = self.data.labels[indices], self.data.pitches[indices]
        waves = self.data.waves[indices]
        target = self.vae.spectral.features(waves)
        mu, logvar = self.vae.encode(target, labels, pitches)
        z = mu + torch.randn(mu.shape, generator=noise).to(mu) * torch.exp(0.5 * logvar)
        drawn = self.vae.decode(z, labels, pitches)
        if self.cfg.decoder == "harmonic":
            fake = self.vae.synthesize(drawn, pitches, noise)
            recon = RECON_SCALE * spectral_loss(fake, waves)
        else:
            recon = reconstruction_error(drawn, target)
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / mu.shape[0]
        loss = recon + self.training.beta * kl
        optimizer_step(loss, self.vae, self.opt)
        return {"loss": loss.item(), "recon": recon.item(), "kl": kl.item()}

    @torch.no_grad()
    def preview(self) -> Image.Image:
        """Spectrograms of 16 notes drawn from fixed latents at the data's own labels."""
        self.vae.eval()
        waves = self.vae.render(*self._preview)
        return make_grid(spectrogram_tensor(self.vae.spectral.features(waves)), nrow=8)

    def export(self) -> tuple[SoundVAEConfig, dict[str, torch.Tensor]]:
        return self.cfg, self.vae.state_dict()
