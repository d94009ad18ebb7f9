"""A picture autoencoder of its own: the latent grid that latent flows draw in, trained once
on many kinds of real pictures and shipped, as latent diffusion ships its VAE.

A flow trained on a folder or on captioned pictures in minutes otherwise spends a third of
its budget teaching an autoencoder, and one trained for two minutes loses small shapes (it
rebuilt 0.705 of held-out coloured shapes right, where one trained on other pictures
rebuilt 0.89). This kind trains :class:`~museforge.nn.autoencoder.PictureAutoencoder` alone,
on random crops (mirrored at random) of ``style-pictures`` — clip art, emoji, Wesnoth
sprites and portraits and crops of the built-in photos — or of any picture set or folder.
The starter ``models/pictures-autoencoder`` is the one ``image-flow`` and ``text-to-image``
reuse by default for RGB pictures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from museforge.core.grid import make_grid
from museforge.core.train import optimizer_step
from museforge.nn.autoencoder import FACTOR, PictureAutoencoder, reconstruction_loss

KIND = "picture-autoencoder"
HOLDOUT = 0.05
MAX_VALIDATION = 512
MIN_LR_SHARE = 0.05


@dataclass(frozen=True)
class AutoencoderConfig:
    """The autoencoder: pictures of ``channels`` (1, 3 or 4) to a grid a quarter of their
    side with ``latent_channels`` numbers per cell, ``width`` channels wide. Any picture
    whose side is a multiple of 4 goes through; ``image_size`` is the side it learned at."""

    latent_channels: int = 8
    width: int = 64
    channels: int = 3
    image_size: int = 32

    def __post_init__(self) -> None:
        if self.channels not in (1, 3, 4):
            raise ValueError(f"channels must be 1, 3 or 4 (RGBA) (got {self.channels})")
        if not 1 <= self.latent_channels <= 64:
            raise ValueError(f"latent_channels must be 1..64 (got {self.latent_channels})")
        if self.width < 8 or self.width % 8:
            raise ValueError(f"width must be a multiple of 8 (got {self.width})")
        if self.image_size < 8 or self.image_size % FACTOR:
            raise ValueError(f"image_size must be a multiple of {FACTOR}, at least 8")


@dataclass(frozen=True)
class AutoencoderTraining:
    """How the autoencoder is trained (stored in the artifact's recipe): random crops of
    ``model.image_size`` from the pictures stored at ``picture_size``."""

    lr: float = 2e-3
    picture_size: int = 40
    noise: float = 0.1  # latent jitter, of the latents' spread: flows' near misses decode
    grad_clip: float = 1.0

    def __post_init__(self) -> None:
        if self.lr <= 0 or self.grad_clip < 0 or self.noise < 0:
            raise ValueError("lr must be positive, grad_clip and noise not negative")
        if not 8 <= self.picture_size <= 256:
            raise ValueError(f"picture_size must be 8..256 (got {self.picture_size})")


class AutoencoderModel(nn.Module):
    """The artifact's model: its ``autoencoder``, the part flows reuse."""

    def __init__(self, cfg: AutoencoderConfig):
        super().__init__()
        self.cfg = cfg
        self.autoencoder = PictureAutoencoder(cfg.latent_channels, cfg.width, cfg.channels)

    def forward(self, pictures: torch.Tensor) -> torch.Tensor:
        """Pictures in [-1, 1] rebuilt from their latents."""
        return self.autoencoder.decode(self.autoencoder.encode(pictures)).clamp(-1, 1)


def random_crops(pictures: torch.Tensor, side: int, gen: torch.Generator) -> torch.Tensor:
    """Random ``side``-px crops of uint8 pictures, half of them mirrored, in [-1, 1]."""
    n, _, h, w = pictures.shape
    ys = torch.randint(h - side + 1, (n,), generator=gen).tolist()
    xs = torch.randint(w - side + 1, (n,), generator=gen).tolist()
    flips = (torch.rand(n, generator=gen) < 0.5).tolist()
    crops = [
        pictures[i, :, y : y + side, x : x + side]
        for i, (y, x) in enumerate(zip(ys, xs, strict=True))
    ]
    out = torch.stack([c.flip(-1) if f else c for c, f in zip(crops, flips, strict=True)])
    return out.float() / 127.5 - 1


def centre_crops(pictures: torch.Tensor, side: int) -> torch.Tensor:
    """The middle ``side``-px square of uint8 pictures, in [-1, 1]."""
    h, w = pictures.shape[-2:]
    y, x = (h - side) // 2, (w - side) // 2
    return pictures[..., y : y + side, x : x + side].float() / 127.5 - 1


def squared_errors(rebuilt: torch.Tensor, pictures: torch.Tensor) -> torch.Tensor:
    """Each picture's mean squared error, for pictures in [-1, 1] measured on [0, 1]."""
    return ((rebuilt - pictures) / 2).pow(2).flatten(1).mean(1)


def psnr(squared_error: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio (dB) of squared errors measured on [0, 1]."""
    return -10 * squared_error.clamp_min(1e-10).log10()


class AutoencoderTask:
    """Trains an :class:`AutoencoderModel` on uint8 pictures (N×C×S×S) for the Trainer."""

    kind = KIND

    def __init__(
        self,
        cfg: AutoencoderConfig,
        training: AutoencoderTraining,
        pictures: torch.Tensor,
        seed: int,
    ):
        if training.picture_size < cfg.image_size:
            raise ValueError(
                f"training.picture_size ({training.picture_size}) must be at least "
                f"model.image_size ({cfg.image_size})"
            )
        self.cfg, self.training = cfg, training
        gen = torch.Generator().manual_seed(seed)
        order = torch.randperm(len(pictures), generator=gen)
        n_val = min(MAX_VALIDATION, max(1, round(HOLDOUT * len(pictures))))
        self.val_idx, self.train_idx = order[:n_val].sort().values, order[n_val:]
        self.pictures = pictures
        self.num_examples = len(self.train_idx)
        torch.manual_seed(seed)
        self.model = AutoencoderModel(cfg)
        self.opt = torch.optim.Adam(self.model.parameters(), training.lr)

    def modules(self) -> dict[str, nn.Module]:
        return {"model": self.model}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"model": self.opt}

    def set_progress(self, fraction: float) -> None:
        """Cosine decay of the learning rate to a twentieth over the budget."""
        cosine = 0.5 * (1 + math.cos(math.pi * min(fraction, 1.0)))
        for group in self.opt.param_groups:
            group["lr"] = self.training.lr * (MIN_LR_SHARE + (1 - MIN_LR_SHARE) * cosine)

    def train_step(self, indices: torch.Tensor, noise: torch.Generator) -> dict[str, float]:
        batch = random_crops(self.pictures[self.train_idx[indices]], self.cfg.image_size, noise)
        ae = self.model.autoencoder.train()
        loss = reconstruction_loss(ae, batch, noise, self.training.noise)
        optimizer_step(loss, ae, self.opt, clip=self.training.grad_clip)
        return {"loss": loss.item()}

    def _held_out(self) -> torch.Tensor:
        return centre_crops(self.pictures[self.val_idx], self.cfg.image_size)

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Squared error and PSNR of the held-out pictures' middles, rebuilt."""
        pictures = self._held_out()
        self.model.eval()
        rebuilt = torch.cat([self.model(part) for part in pictures.split(128)])
        return {
            "val_mse": F.mse_loss(rebuilt, pictures).item(),
            "val_psnr": float(psnr(squared_errors(rebuilt, pictures).mean())),
        }

    @torch.no_grad()
    def preview(self) -> Image.Image:
        """Held-out pictures (odd rows) above their rebuilding (even rows)."""
        pictures = self._held_out()[:32]
        rebuilt = self.model.eval()(pictures)
        rows = [part[i : i + 8] for i in range(0, len(pictures), 8) for part in (pictures, rebuilt)]
        return make_grid(torch.cat(rows), nrow=min(8, len(pictures)))

    def export(self) -> tuple[AutoencoderConfig, dict[str, torch.Tensor]]:
        """The weights, with the latent scaling of (up to 4,096) training pictures."""
        sample = self.train_idx[:4096]
        self.model.autoencoder.fit_scale(centre_crops(self.pictures[sample], self.cfg.image_size))
        return self.cfg, {k: v.detach().clone() for k, v in self.model.state_dict().items()}
