"""A convolutional variational autoencoder (β-VAE) for images.

The decoder outputs per-pixel logits and the reconstruction term is a Bernoulli-style
cross-entropy against intensities in [0, 1], the usual choice for digit and face data
whose pixels sit near black and white; ``beta`` weights the KL term (Higgins et al.).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from museforge.core.grid import make_grid
from museforge.core.latent import preview_inputs
from museforge.core.train import optimizer_step
from museforge.image.data import ImageDataset
from museforge.image.progress import DistanceProbe
from museforge.nn.blocks import DownStack, UpStack


@dataclass(frozen=True)
class VAEConfig:
    """Architecture of a VAE (stored in the artifact)."""

    image_size: int = 28
    channels: int = 1
    z_dim: int = 16
    num_classes: int = 0
    width: int = 32

    def __post_init__(self) -> None:
        if self.channels not in (1, 3, 4):
            raise ValueError(f"channels must be 1, 3 or 4 (RGBA) (got {self.channels})")


@dataclass(frozen=True)
class VAETraining:
    """How a VAE is trained (stored in the artifact's recipe)."""

    beta: float = 1.0
    lr: float = 1e-3
    weight_decay: float = 0.0


class VAE(nn.Module):
    """Encoder to a diagonal Gaussian posterior; decoder from latent (+ class) to image."""

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = DownStack(cfg.image_size, cfg.channels, cfg.width, norm="none")
        self.to_stats = nn.Linear(self.encoder.out_features + cfg.num_classes, 2 * cfg.z_dim)
        self.decoder = UpStack(cfg.z_dim + cfg.num_classes, cfg.image_size, cfg.channels, cfg.width)

    @property
    def z_dim(self) -> int:
        return self.cfg.z_dim

    @property
    def num_classes(self) -> int:
        return self.cfg.num_classes

    def _with_labels(self, h: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        if not self.cfg.num_classes:
            return h
        return torch.cat([h, F.one_hot(labels, self.cfg.num_classes).to(h.dtype)], dim=1)

    def encode(self, x: torch.Tensor, labels: torch.Tensor | None = None):
        """Posterior mean and log-variance for images ``x`` in [-1, 1]."""
        mu, logvar = self.to_stats(self._with_labels(self.encoder(x), labels)).chunk(2, dim=1)
        return mu, logvar.clamp(-12, 8)

    def decode_logits(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(self._with_labels(z, labels))

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images in [-1, 1] (the decoder's mean) for latents ``z``."""
        return torch.sigmoid(self.decode_logits(z, labels)) * 2 - 1


def elbo_terms(
    model: VAE, x: torch.Tensor, labels: torch.Tensor | None, noise: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image reconstruction NLL and KL (nats), averaged over the batch."""
    mu, logvar = model.encode(x, labels)
    eps = torch.randn(mu.shape, generator=noise).to(mu)
    z = mu + eps * torch.exp(0.5 * logvar)
    logits = model.decode_logits(z, labels)
    target = (x + 1) / 2
    recon = F.binary_cross_entropy_with_logits(logits, target, reduction="sum") / x.shape[0]
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.shape[0]
    return recon, kl


class VAETask:
    """Trains a :class:`VAE` on an :class:`ImageDataset` for the shared Trainer."""

    kind = "image-vae"

    def __init__(self, cfg: VAEConfig, training: VAETraining, data: ImageDataset, seed: int):
        self.cfg, self.training, self.data = cfg, training, data
        torch.manual_seed(seed)
        self.vae = VAE(cfg)
        self.opt = torch.optim.AdamW(
            self.vae.parameters(), training.lr, weight_decay=training.weight_decay
        )
        self.num_examples = len(data)
        self._preview_z, self._preview_y = preview_inputs(cfg.z_dim, cfg.num_classes, seed)
        self._probe = DistanceProbe(data, cfg.z_dim, cfg.num_classes, seed)

    def modules(self) -> dict[str, nn.Module]:
        return {"vae": self.vae}

    def distance_to_data(self) -> float:
        """How far its drawn pictures are from the training pictures."""
        self.vae.eval()
        return self._probe(self.vae.generate)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"vae": self.opt}

    def train_step(self, indices: torch.Tensor, noise: torch.Generator) -> dict[str, float]:
        self.vae.train()
        x = self.data.images[indices]
        labels = self.data.labels[indices] if self.cfg.num_classes else None
        recon, kl = elbo_terms(self.vae, x, labels, noise)
        loss = recon + self.training.beta * kl
        optimizer_step(loss, self.vae, self.opt)
        return {"loss": loss.item(), "recon": recon.item(), "kl": kl.item()}

    @torch.no_grad()
    def preview(self) -> Image.Image:
        self.vae.eval()
        return make_grid(self.vae.generate(self._preview_z, self._preview_y), nrow=8)

    def export(self) -> tuple[VAEConfig, dict[str, torch.Tensor]]:
        return self.cfg, self.vae.state_dict()
