"""An audio GAN in the spectrogram domain, after GANSynth: notes as log magnitude and
instantaneous frequency, drawn from noise for a family and a pitch.

The generator is the spectrogram decoder of :mod:`museforge.sound.nets` (each stage told
the pitch's harmonic comb) ending in a tanh; the critic reads the two channels and the
same comb with spectrally normalised convolutions, and is told the family and pitch by a
projection (the inner product of their embedding with its features, Miyato & Koyama
2018). Hinge loss, Adam (0, 0.99), and an exponential moving average of the generator,
which is what is exported. The phase is the IF summed along time (Griffin–Lim on request).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from PIL import Image
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from museforge.core.grid import make_grid
from museforge.core.train import optimizer_step
from museforge.nn.gan import EMAGenerator, discriminator_loss, generator_loss
from museforge.sound.data import SoundDataset, preview_notes
from museforge.sound.nets import EMBED, Conditions, SpecDecoder, SpecEncoder
from museforge.sound.picture import spectrogram_tensor
from museforge.sound.spectral import NoteSettings, harmonic_prior


@dataclass(frozen=True)
class SoundGANConfig(NoteSettings):
    """Architecture of a sound GAN (stored in the artifact)."""

    z_dim: int = 64
    width: int = 16
    steps: int = 5


@dataclass(frozen=True)
class SoundGANTraining:
    """How a sound GAN is trained (stored in the artifact's recipe)."""

    lr_g: float = 2e-4
    lr_d: float = 2e-4
    ema_decay: float = 0.999


class SoundGenerator(nn.Module):
    """Noise, family and pitch → features (2, bins, frames) in [-1, 1]."""

    def __init__(self, cfg: SoundGANConfig):
        super().__init__()
        self.cfg, self.spectral = cfg, cfg.spectral
        self.conditions = Conditions(cfg.num_classes)
        told = cfg.z_dim + 2 * EMBED
        self.body = SpecDecoder(told, 2, self.spectral.bins, cfg.frames, cfg.width, cfg.steps)

    def forward(self, z, labels, pitches) -> torch.Tensor:
        prior = harmonic_prior(self.spectral, pitches.cpu()).to(z)
        return torch.tanh(self.body(torch.cat([z, self.conditions(labels, pitches)], 1), prior))


class SoundCritic(nn.Module):
    """Features, family and pitch → a realness score (projection conditioning)."""

    def __init__(self, cfg: SoundGANConfig):
        super().__init__()
        self.spectral = cfg.spectral
        self.body = SpecEncoder(2, self.spectral.bins, cfg.frames, cfg.width, cfg.steps, sn=True)
        self.score = spectral_norm(nn.Linear(self.body.out_features, 1))
        self.project = spectral_norm(nn.Linear(2 * EMBED, self.body.out_features, bias=False))
        self.conditions = Conditions(cfg.num_classes)

    def forward(self, features, labels, pitches) -> torch.Tensor:
        prior = harmonic_prior(self.spectral, pitches.cpu()).to(features)
        h = self.body(features, prior)
        told = self.project(self.conditions(labels, pitches))
        return self.score(h).squeeze(1) + (h * told).sum(1) / h.shape[1] ** 0.5


class SoundGAN(nn.Module):
    """Generator and critic; sampling uses the generator (the EMA's, once exported)."""

    def __init__(self, cfg: SoundGANConfig):
        super().__init__()
        self.cfg, self.spectral = cfg, cfg.spectral
        self.generator = SoundGenerator(cfg)
        self.critic = SoundCritic(cfg)

    @property
    def z_dim(self) -> int:
        return self.cfg.z_dim

    @property
    def num_classes(self) -> int:
        return self.cfg.num_classes

    def render(self, z, labels, pitches, griffin_lim: int = 0, noise=None) -> torch.Tensor:
        """Waves (batch, samples) in [-1, 1] (``noise`` is unused: a GAN's notes have no
        random part beyond their latent)."""
        features = self.generator(z, labels, pitches)
        return self.spectral.wave(features, griffin_lim).clamp(-1, 1)


class SoundGANTask:
    """Trains a :class:`SoundGAN` on a :class:`SoundDataset` for the shared Trainer."""

    kind = "sound-gan"

    def __init__(
        self, cfg: SoundGANConfig, training: SoundGANTraining, data: SoundDataset, seed: int
    ):
        self.cfg, self.training, self.data = cfg, training, data
        torch.manual_seed(seed)
        self.gan = SoundGAN(cfg)
        self.ema = EMAGenerator(self.gan.generator, training.ema_decay)
        betas = (0.0, 0.99)
        self.opt_g = torch.optim.Adam(self.gan.generator.parameters(), training.lr_g, betas=betas)
        self.opt_d = torch.optim.Adam(self.gan.critic.parameters(), training.lr_d, betas=betas)
        self.num_examples = len(data)
        self._preview = preview_notes(data, cfg.z_dim, seed)

    def modules(self) -> dict[str, nn.Module]:
        return {"gan": self.gan, "ema": self.ema}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"g": self.opt_g, "d": self.opt_d}

    def train_step(self, indices: torch.Tensor, noise: torch.Generator) -> dict[str, float]:
        G, D = self.gan.generator, self.gan.critic
        G.train()
        D.train()
        real = self.gan.spectral.features(self.data.waves[indices])
        labels, pitches = self.data.labels[indices], self.data.pitches[indices]
        z = torch.randn(len(indices), self.cfg.z_dim, generator=noise)
        fake = G(z, labels, pitches)  # the real notes' families and pitches
        d_loss = discriminator_loss(
            "hinge", D(real, labels, pitches), D(fake.detach(), labels, pitches)
        )
        optimizer_step(d_loss, D, self.opt_d)
        D.requires_grad_(False)
        g_loss = generator_loss("hinge", D(fake, labels, pitches))
        optimizer_step(g_loss, G, self.opt_g)
        D.requires_grad_(True)
        self.ema.update(G)
        return {"d_loss": d_loss.item(), "g_loss": g_loss.item()}

    @torch.no_grad()
    def preview(self) -> Image.Image:
        """Spectrograms of 16 notes from fixed latents at the data's own labels (EMA)."""
        drawn = self.ema.model.eval()(*self._preview)
        return make_grid(spectrogram_tensor(drawn), nrow=8)

    def export(self) -> tuple[SoundGANConfig, dict[str, torch.Tensor]]:
        model = SoundGAN(self.cfg)
        model.critic.load_state_dict(self.gan.critic.state_dict())
        model.generator.load_state_dict(self.ema.model.state_dict())
        return self.cfg, model.state_dict()
