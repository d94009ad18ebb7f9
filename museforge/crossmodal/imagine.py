"""A text-conditional GAN in the manner of DF-GAN: one stage, the sentence fused into every
generator block, a critic that also judges whether picture and caption belong together.

Captions become sentence vectors by a text–image encoder's text tower, which the model
carries (frozen) so that its artifact alone turns a prompt into pictures. Each generator
block doubles the resolution and modulates its features with a scale and shift predicted
from the noise and the sentence (DF-GAN's "deep fusion"); the critic maps a picture to a
small grid of features and scores them joined with the sentence, so it can say "a real
picture, but not of these words".
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from museforge.crossmodal.encoder import CaptionTokens, EncoderConfig, TextEncoder
from museforge.nn.autoencoder import FACTOR, PictureAutoencoder
from museforge.nn.blocks import plan_resolutions
from museforge.nn.flow import FlowNet, flow_levels, sample_flow

ARCHS = ("latent-flow", "flow", "gan")
TRAIN_ARCH = "latent-flow"  # chosen by measurement: docs/crossmodal.md


@dataclass(frozen=True)
class ImagineConfig:
    """Architecture of a text-to-image model; ``encoder`` is the text tower's config.

    ``arch`` "latent-flow": rectified flow with a U-Net (``flow_width``, ``flow_levels``: 0
    halves the grid down to 4×4; drawn in ``sample_steps`` Heun steps with classifier-free
    ``guidance``) in the latent grid (``latent_channels`` numbers per cell) of an
    autoencoder (``autoencoder_width``) trained first; "flow": the same flow in pixels;
    "gan": DF-GAN (``z_dim``, ``g_width``, ``d_width``)."""

    encoder: dict
    image_size: int = 64
    arch: str = "gan"  # an artifact's default; new models are trained as TRAIN_ARCH
    z_dim: int = 64
    g_width: int = 32
    d_width: int = 32
    flow_width: int = 64
    flow_levels: int = 0
    sample_steps: int = 12
    guidance: float = 3.0  # chosen on captioned-shapes and emoji: see docs/crossmodal.md
    latent_channels: int = 8
    autoencoder_width: int = 32

    def __post_init__(self) -> None:
        base, _ = plan_resolutions(self.image_size)
        if base != 4:
            raise ValueError(f"image_size must be 4·2^k, e.g. 32 or 64 (got {self.image_size})")
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {', '.join(ARCHS)} (got {self.arch!r})")
        if not 1 <= self.sample_steps <= 200:
            raise ValueError(f"sample_steps must be 1..200 (got {self.sample_steps})")
        if self.flow_levels and not 2 <= self.flow_levels <= 5:
            raise ValueError(
                f"flow_levels must be 2..5, or 0 for 4×4 at the coarsest (got {self.flow_levels})"
            )
        if not 1 <= self.latent_channels <= 64:
            raise ValueError(f"latent_channels must be 1..64 (got {self.latent_channels})")
        if self.autoencoder_width < 8 or self.autoencoder_width % 8:
            raise ValueError(
                f"autoencoder_width must be a multiple of 8 (got {self.autoencoder_width})"
            )

    @property
    def is_flow(self) -> bool:
        return self.arch in ("flow", "latent-flow")

    @property
    def latent(self) -> bool:
        """Whether the flow draws in an autoencoder's latent grid (not in pixels)."""
        return self.arch == "latent-flow"

    @property
    def flow_shape(self) -> tuple[int, int, int]:
        """What the flow draws: RGB pixels, or the autoencoder's latent grid."""
        if self.latent:
            side = self.image_size // FACTOR
            return (self.latent_channels, side, side)
        return (3, self.image_size, self.image_size)

    @property
    def flow_depth(self) -> int:
        """The U-Net's levels: as set, or as many as halve the grid down to 4×4."""
        return self.flow_levels or flow_levels(self.flow_shape[1])

    @property
    def encoder_config(self) -> EncoderConfig:
        settings = {k: tuple(v) if isinstance(v, list) else v for k, v in self.encoder.items()}
        return EncoderConfig(**settings)


def generator_channels(image_size: int, width: int) -> list[int]:
    """Channels at 4×4, then after each doubling: widest at the coarsest grid, ``width``
    at full size, at most 256 (the big maps stay thin: fast on a CPU)."""
    _, steps = plan_resolutions(image_size)
    return [min(256, width * 2 ** (steps - i)) for i in range(steps + 1)]


class Fusion(nn.Module):
    """Per-channel scale and shift from the condition (noise and sentence)."""

    def __init__(self, cond: int, channels: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(cond, channels), nn.ReLU(), nn.Linear(channels, 2 * channels)
        )
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, h: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        scale, shift = self.net(cond).chunk(2, dim=1)
        return h * (1 + scale[:, :, None, None]) + shift[:, :, None, None]


class UpBlock(nn.Module):
    """×2 resolution: two fused 3×3 convolutions beside a 1×1 shortcut."""

    def __init__(self, c_in: int, c_out: int, cond: int):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(c_in, c_out, 3, 1, 1), nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.fuse1, self.fuse2 = Fusion(cond, c_in), Fusion(cond, c_out)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, h: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(h, scale_factor=2, mode="nearest")
        y = self.conv1(F.leaky_relu(self.fuse1(h, cond), 0.2))
        y = self.conv2(F.leaky_relu(self.fuse2(y, cond), 0.2))
        return self.skip(h) + y


class Generator(nn.Module):
    """Noise and sentence vector -> picture in [-1, 1]."""

    def __init__(self, cfg: ImagineConfig, text_dim: int):
        super().__init__()
        self.cfg = cfg
        chans = generator_channels(cfg.image_size, cfg.g_width)
        cond = cfg.z_dim + text_dim
        self.project = nn.Linear(cfg.z_dim, chans[0] * 16)
        self.blocks = nn.ModuleList(UpBlock(a, b, cond) for a, b in itertools.pairwise(chans))
        self.to_rgb = nn.Sequential(nn.LeakyReLU(0.2), nn.Conv2d(chans[-1], 3, 3, 1, 1))

    def forward(self, z: torch.Tensor, sentence: torch.Tensor) -> torch.Tensor:
        cond = torch.cat([z, sentence], dim=1)
        h = self.project(z).view(z.shape[0], -1, 4, 4)
        for block in self.blocks:
            h = block(h, cond)
        return torch.tanh(self.to_rgb(h))


class Critic(nn.Module):
    """Picture (and sentence) -> realness; with a sentence, also whether they match."""

    def __init__(self, cfg: ImagineConfig, text_dim: int):
        super().__init__()
        _, steps = plan_resolutions(cfg.image_size)
        chans = [cfg.d_width * 2**i for i in range(steps)]
        layers: list[nn.Module] = [spectral_norm(nn.Conv2d(3, chans[0], 3, 1, 1))]
        c_in = chans[0]
        for c_out in chans:
            layers += [nn.LeakyReLU(0.2), spectral_norm(nn.Conv2d(c_in, c_out, 4, 2, 1))]
            c_in = c_out
        self.features = nn.Sequential(*layers, nn.LeakyReLU(0.2))  # ends at 4×4
        self.joint = nn.Sequential(
            spectral_norm(nn.Conv2d(c_in + text_dim, c_in, 3, 1, 1)),
            nn.LeakyReLU(0.2),
            spectral_norm(nn.Conv2d(c_in, 1, 4, 1, 0)),
        )

    def forward(self, x: torch.Tensor, sentence: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        s = sentence[:, :, None, None].expand(-1, -1, *h.shape[2:])
        return self.joint(torch.cat([h, s], dim=1)).flatten()


class TextToImage(nn.Module):
    """The artifact's model: the frozen text tower and either the (EMA) generator with its
    critic, or the (EMA) flow network."""

    def __init__(self, cfg: ImagineConfig):
        super().__init__()
        self.cfg = cfg
        enc = cfg.encoder_config
        self.tokens = CaptionTokens(enc.vocab, enc.context)
        self.text = TextEncoder(enc)
        self.text.requires_grad_(False)
        if cfg.is_flow:
            channels, side, _ = cfg.flow_shape
            if cfg.latent:
                self.autoencoder = PictureAutoencoder(channels, cfg.autoencoder_width)
            self.flow = FlowNet(side, cfg.flow_width, enc.embed_dim, cfg.flow_depth, channels)
        else:
            self.generator = Generator(cfg, enc.embed_dim)
            self.critic = Critic(cfg, enc.embed_dim)

    @property
    def z_dim(self) -> int:
        """Numbers in a picture's latent: the GAN's noise, or the flow's starting point."""
        if self.cfg.is_flow:
            return math.prod(self.cfg.flow_shape)
        return self.cfg.z_dim

    @torch.no_grad()
    def sentences(self, prompts: list[str], strict: bool = False) -> torch.Tensor:
        """The sentence vectors of ``prompts``, scaled from unit length to √dim so that
        their entries weigh as much as the noise's beside them."""
        self.text.eval()
        vecs = self.text(self.tokens.encode(prompts, strict))
        return vecs * vecs.shape[1] ** 0.5

    def generate(
        self,
        z: torch.Tensor,
        sentence: torch.Tensor,
        guidance: float | None = None,
        against: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Pictures in [-1, 1] for latents ``z`` and sentence vectors.

        The flow is guided (classifier-free) by ``guidance`` (default: the model's) away
        from ``against`` (a negative prompt's sentences; default: no words). The GAN has
        no such mode and draws the sentence as given."""
        if not self.cfg.is_flow:
            return self.generator(z, sentence)
        scale = self.cfg.guidance if guidance is None else guidance
        return self.draw_flow(self.flow, z, sentence, scale, against)

    def draw_flow(
        self,
        net: FlowNet,
        z: torch.Tensor,
        sentence: torch.Tensor,
        guidance: float,
        against: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Pictures in [-1, 1] integrated by ``net`` (this model's flow, or a training run's
        average of it) from latents ``z``, decoded from the latent grid where there is one."""
        noise = z.view(len(z), *self.cfg.flow_shape)
        latent = self.cfg.latent
        steps = self.cfg.sample_steps
        drawn = sample_flow(net, noise, sentence, steps, guidance, against, clamp=not latent)
        return self.autoencoder.decode(drawn).clamp(-1, 1) if latent else drawn
