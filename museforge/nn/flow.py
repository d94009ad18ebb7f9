"""A text-conditional flow-matching model: noise flows into a picture along a velocity field
that a small U-Net predicts from the picture so far, the time and the sentence.

Rectified flow (Liu et al., 2022; Lipman et al., 2022): a picture x and noise e are joined
by the straight line x_t = t·x + (1 − t)·e; the network learns the velocity x − e at random
points of random lines. Drawing integrates that field from pure noise (t = 0) to a picture
(t = 1) in a few Euler–Heun steps. A tenth of the training captions are dropped (the
sentence set to zero), so the same network also knows the unconditional field, and
classifier-free guidance (Ho & Salimans, 2022) pushes the conditional field away from it
— or from a negative prompt's — by a chosen factor.

The noise a picture starts from is its latent: the same latent and words give the same
picture, and latents can be blended and walked like a GAN's.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from museforge.nn.linalg import psd_power


def time_features(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal features of times in [0, 1] (B -> B×dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(1000.0) * torch.arange(half, dtype=torch.float32) / half)
    angles = 1000.0 * t[:, None].float() * freqs[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def flow_levels(side: int) -> int:
    """U-Net levels for a latent grid of ``side``: halve while it stays even and at least
    4 (at most four halvings), at least once."""
    levels = 1
    while side % 2 == 0 and side // 2 >= 4 and levels < 5:
        side //= 2
        levels += 1
    return max(levels, 2)


class ResBlock(nn.Module):
    """Two 3×3 convolutions; the condition sets a scale and shift after the first norm."""

    def __init__(self, c_in: int, c_out: int, cond: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(8, c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.norm2 = nn.GroupNorm(8, c_out)
        self.film = nn.Linear(cond, 2 * c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.film(cond).chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale[:, :, None, None]) + shift[:, :, None, None]
        return self.skip(x) + self.conv2(F.silu(h))


class Attention(nn.Module):
    """Self-attention over the positions of a small feature map (where shapes take form)."""

    def __init__(self, channels: int, heads: int = 4):
        super().__init__()
        self.norm = nn.GroupNorm(8, channels)
        self.attn = nn.MultiheadAttention(channels, heads, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        seq = self.norm(x).flatten(2).transpose(1, 2)
        out, _ = self.attn(seq, seq, seq, need_weights=False)
        return x + out.transpose(1, 2).reshape(b, c, h, w)


class FlowNet(nn.Module):
    """(picture so far, time, sentence) -> velocity: a U-Net of ``levels`` levels with one
    conditioned residual block per level and direction, attention at the coarsest; the
    input carries each pixel's coordinates, so words about places can be followed.

    The "picture" is ``channels`` × ``image_size``²: RGB pixels, or an autoencoder's latent
    grid (:mod:`museforge.nn.autoencoder`)."""

    def __init__(
        self, image_size: int, width: int, text_dim: int, levels: int = 3, channels: int = 3
    ):
        super().__init__()
        if image_size % 2 ** (levels - 1):
            raise ValueError(f"image_size {image_size} does not halve {levels - 1} times")
        chans = [width * min(2**i, 4) for i in range(levels)]
        cond = 4 * width
        self.width = width
        self.time = nn.Sequential(nn.Linear(width, cond), nn.SiLU(), nn.Linear(cond, cond))
        self.words = nn.Sequential(nn.Linear(text_dim, cond), nn.SiLU(), nn.Linear(cond, cond))
        # Two coordinate channels: convolutions alone cannot tell "top left" from "centre".
        self.inp = nn.Conv2d(channels + 2, chans[0], 3, 1, 1)
        ramp = torch.linspace(-1, 1, image_size)
        grid = torch.stack(torch.meshgrid(ramp, ramp, indexing="ij"))
        self.register_buffer("coords", grid, persistent=False)
        self.down = nn.ModuleList()
        c_prev = chans[0]
        for c in chans:
            self.down.append(ResBlock(c_prev, c, cond))
            c_prev = c
        self.mid = ResBlock(c_prev, c_prev, cond)
        self.attn = Attention(c_prev)
        self.up = nn.ModuleList()
        for c in reversed(chans):
            self.up.append(ResBlock(c_prev + c, c, cond))
            c_prev = c
        self.out = nn.Sequential(
            nn.GroupNorm(8, c_prev), nn.SiLU(), nn.Conv2d(c_prev, channels, 3, 1, 1)
        )
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, sentence: torch.Tensor) -> torch.Tensor:
        cond = F.silu(self.time(time_features(t, self.width)) + self.words(sentence))
        h = self.inp(torch.cat([x, self.coords.expand(len(x), -1, -1, -1)], dim=1))
        skips = []
        for i, block in enumerate(self.down):
            if i:
                h = F.avg_pool2d(h, 2)
            h = block(h, cond)
            skips.append(h)
        h = self.attn(self.mid(h, cond))
        for i, block in enumerate(self.up):
            if i:
                h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = block(torch.cat([h, skips.pop()], dim=1), cond)
        return self.out(h)


@torch.no_grad()
def whiten_words(net: FlowNet, sentences: torch.Tensor, floor: float = 1e-3) -> None:
    """Fold a whitening of ``sentences`` (N×D, the training captions' vectors) into the
    first layer that reads them, so that every direction the captions vary in reaches the
    network with the same spread: words the encoder set close together ("star", "square")
    steer the picture as strongly as those it set far apart. Directions whose variance is
    below ``floor`` × the largest are scaled as if they had that variance; rows of zeros
    (no caption in a language) are left out, and nothing changes when nothing varies."""
    sentences = sentences[sentences.abs().sum(1) > 0]
    if len(sentences) < 2:
        return
    mean = sentences.mean(0)
    cov = torch.cov((sentences - mean).T.double())
    largest = float(torch.linalg.eigvalsh(cov)[-1])
    if largest <= 1e-12:
        return
    whiten = psd_power(cov, -0.5, largest * floor)  # symmetric: stays near the original axes
    layer = net.words[0]
    weight = layer.weight.double() @ whiten
    layer.bias.copy_((layer.bias.double() - weight @ mean.double()).float())
    layer.weight.copy_(weight.float())


def flow_loss(net: FlowNet, pictures: torch.Tensor, sentence: torch.Tensor, gen: torch.Generator):
    """Mean squared error of the predicted velocity on random points of straight paths;
    times drawn from a logit-normal (most weight mid-way, as SD3 found best)."""
    noise = torch.randn(pictures.shape, generator=gen)
    t = torch.sigmoid(torch.randn(len(pictures), generator=gen))
    x_t = t[:, None, None, None] * pictures + (1 - t[:, None, None, None]) * noise
    return F.mse_loss(net(x_t, t, sentence), pictures - noise)


def sample_flow(
    net: FlowNet,
    noise: torch.Tensor,
    sentence: torch.Tensor,
    steps: int,
    guidance: float = 1.0,
    against: torch.Tensor | None = None,
    clamp: bool = True,
) -> torch.Tensor:
    """Integrate from ``noise`` (t = 0) to pictures (t = 1) with Heun's method, clamped
    to [-1, 1] unless ``clamp`` is off (latents).

    ``guidance`` 1 follows the conditional field; above 1 it is pushed away from the field
    of ``against`` (the unconditional one, zeros, unless a negative prompt is given)."""
    against = torch.zeros_like(sentence) if against is None else against
    guided = guidance != 1.0

    def velocity(x: torch.Tensor, t: float) -> torch.Tensor:
        times = torch.full((len(x),), t)
        if not guided:
            return net(x, times, sentence)
        both = net(torch.cat([x, x]), torch.cat([times, times]), torch.cat([sentence, against]))
        cond, uncond = both.chunk(2)
        return uncond + guidance * (cond - uncond)

    x = noise
    grid = torch.linspace(0, 1, steps + 1).tolist()
    for i in range(steps):
        t0, t1 = grid[i], grid[i + 1]
        v0 = velocity(x, t0)
        guess = x + (t1 - t0) * v0  # Euler; Heun's correction on all but the last step
        x = guess if i == steps - 1 else x + (t1 - t0) * (v0 + velocity(guess, t1)) / 2
    return x.clamp(-1, 1) if clamp else x
