"""A picture autoencoder whose small latent grid a flow can learn to draw in.

Drawing in pixels, a flow must learn where a shape goes, what it is and every pixel of its
edge at once; on 2 CPU cores in minutes it learns the grounds and leaves shapes as blobs.
As in latent diffusion (Rombach et al., 2022), the pictures are first squeezed to a grid a
quarter of their side (a 32-px picture to 8×8 cells of a few numbers) by an autoencoder
trained on reconstruction alone, which is supervised and quick; the flow then only has to
choose cells, and a picture costs one decoder pass.

The reconstruction loss is the mean squared error plus the L1 distance of the two
pictures' Laplacian pyramids (Bojanowski et al., 2018): edges weigh as much as areas, so
small shapes come back sharp instead of as the blur that squared error alone settles for.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

FACTOR = 4  # the latent grid is the picture's side / FACTOR
PYRAMID_LEVELS = 3


class _Block(nn.Module):
    """GroupNorm, SiLU, 3×3 convolution, twice, beside the identity."""

    def __init__(self, channels: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.GroupNorm(8, channels),
            nn.SiLU(),
            nn.Conv2d(channels, channels, 3, 1, 1),
            nn.GroupNorm(8, channels),
            nn.SiLU(),
            nn.Conv2d(channels, channels, 3, 1, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


class PictureAutoencoder(nn.Module):
    """Pictures in [-1, 1] (B×``image_channels``×S×S: grey, RGB or RGBA) <-> latents
    (B×``channels``×S/4×S/4), scaled to about unit spread over the training pictures
    (``shift``, ``scale``: set by :meth:`fit_scale`).

    The first halving is a space-to-depth rearrangement (no pixel is lost and the
    convolutions run on a quarter of the positions), the second a strided convolution."""

    def __init__(self, channels: int, width: int = 64, image_channels: int = 3):
        super().__init__()
        self.channels, self.width, self.image_channels = channels, width, image_channels
        self.encoder = nn.Sequential(
            nn.PixelUnshuffle(2),
            nn.Conv2d(4 * image_channels, width, 3, 1, 1),
            _Block(width),
            nn.Conv2d(width, width, 4, 2, 1),
            _Block(width),
            nn.GroupNorm(8, width),
            nn.SiLU(),
            nn.Conv2d(width, channels, 3, 1, 1),
        )
        self.decoder = nn.Sequential(
            nn.Conv2d(channels, width, 3, 1, 1),
            _Block(width),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(width, width, 3, 1, 1),
            _Block(width),
            nn.GroupNorm(8, width),
            nn.SiLU(),
            nn.Conv2d(width, 4 * image_channels, 3, 1, 1),
            nn.PixelShuffle(2),
        )
        self.register_buffer("shift", torch.zeros(()))
        self.register_buffer("scale", torch.ones(()))

    def encode(self, pictures: torch.Tensor) -> torch.Tensor:
        return (self.encoder(pictures) - self.shift) / self.scale

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        return self.decoder(latents * self.scale + self.shift)

    @torch.no_grad()
    def fit_scale(self, pictures: torch.Tensor, batch: int = 256) -> torch.Tensor:
        """Set the latent scaling from ``pictures``; their scaled latents."""
        was = self.training
        self.eval()
        raw = torch.cat(
            [self.encoder(pictures[i : i + batch]) for i in range(0, len(pictures), batch)]
        )
        self.shift.fill_(raw.mean().item())
        self.scale.fill_(max(raw.std().item(), 1e-6))
        self.train(was)
        return (raw - self.shift) / self.scale


def laplacian_l1(a: torch.Tensor, b: torch.Tensor, levels: int = PYRAMID_LEVELS) -> torch.Tensor:
    """Sum over pyramid levels of the mean absolute difference of the band-pass pictures,
    plus that of the coarsest."""
    total = a.new_zeros(())
    for _ in range(levels):
        a_low, b_low = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
        a_band = a - F.interpolate(a_low, scale_factor=2, mode="nearest")
        b_band = b - F.interpolate(b_low, scale_factor=2, mode="nearest")
        total = total + (a_band - b_band).abs().mean()
        a, b = a_low, b_low
    return total + (a - b).abs().mean()


def reconstruction_loss(
    model: PictureAutoencoder, pictures: torch.Tensor, gen: torch.Generator, noise: float = 0.1
) -> torch.Tensor:
    """Squared error plus Laplacian L1 of the pictures rebuilt from their latents, jittered
    by ``noise`` of their spread (so that a flow's near misses still decode cleanly), with
    a slight pull of the latents toward zero."""
    raw = model.encoder(pictures)
    jitter = torch.randn(raw.shape, generator=gen) * noise * raw.detach().std()
    rebuilt = model.decoder(raw + jitter)
    return (
        F.mse_loss(rebuilt, pictures) + laplacian_l1(rebuilt, pictures) + 1e-4 * raw.pow(2).mean()
    )
