"""One network for every style: the style is an input (AdaIN, Huang & Belongie 2017).

The frozen learned features (:mod:`museforge.style.learned`) encode the content and the
style picture; at one layer the content's channels are given the style's channel means and
spreads (adaptive instance normalisation), and a decoder trained here draws the picture
those features describe. A new style needs no training: any picture is encoded once.
Several styles mix by blending their statistics, and ``strength`` blends the mixed
features with the content's own. The encoder's weights travel inside the artifact, so a
model keeps working whatever happens to ``models/style-features``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from museforge.style.learned import LearnedFeatureNet, LearnedFeaturesConfig

EPS = 1e-5
LAYERS = ("relu2_1", "relu3_1", "relu4_1")  # where the style may be mixed in
Stats = tuple[torch.Tensor, torch.Tensor]  # channel means and spreads, each N×C×1×1


@dataclass(frozen=True)
class AnyStyleConfig:
    """The encoder's width (that of the learned features it copies), the layer where the
    style is mixed in, and the decoder's width at full size."""

    width: int = 16
    layer: str = "relu3_1"
    decoder_width: int = 16

    def __post_init__(self) -> None:
        if self.layer not in LAYERS:
            raise ValueError(f"layer must be one of {', '.join(LAYERS)} (got {self.layer!r})")
        if not 4 <= self.width <= 128 or not 4 <= self.decoder_width <= 128:
            raise ValueError("width and decoder_width must be 4..128")

    @property
    def depth(self) -> int:
        """How many times the layer's features are halved: relu2_1 1, relu3_1 2, relu4_1 3."""
        return int(self.layer[4]) - 1


def channel_stats(features: torch.Tensor) -> Stats:
    """Means and standard deviations of each channel over positions."""
    flat = features.flatten(2)
    mean = flat.mean(2)[..., None, None]
    std = (flat.var(2, unbiased=False) + EPS).sqrt()[..., None, None]
    return mean, std


def adain(content: torch.Tensor, style: Stats, own: Stats | None = None) -> torch.Tensor:
    """The content features with the style's channel means and spreads; ``own`` replaces
    the content's statistics (a whole clip's, for frames that do not flicker)."""
    mean, std = channel_stats(content) if own is None else own
    return (content - mean) / std * style[1] + style[0]


def mix_stats(stats: list[Stats], weights: list[float]) -> Stats:
    """Blend the statistics of several styles (weights normalised to sum 1)."""
    total = sum(weights)
    mean = sum(w / total * s[0] for s, w in zip(stats, weights, strict=True))
    std = sum(w / total * s[1] for s, w in zip(stats, weights, strict=True))
    return mean, std  # type: ignore[return-value]


def _conv(c_in: int, c_out: int) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, 1, 1, padding_mode="reflect")


class Decoder(nn.Module):
    """Features at ``depth`` halvings -> a picture: per scale a convolution pair (ReLU),
    nearest-neighbour enlargement between scales, a sigmoid at the end."""

    def __init__(self, c_in: int, width: int, depth: int):
        super().__init__()
        layers: list[nn.Module] = []
        c = c_in
        for level in range(depth, 0, -1):
            c_out = width * 2 ** (level - 1)
            layers += [_conv(c, c_out), nn.ReLU(inplace=True), nn.Upsample(scale_factor=2)]
            layers += [_conv(c_out, c_out), nn.ReLU(inplace=True)]
            c = c_out
        layers += [_conv(c, width), nn.ReLU(inplace=True), _conv(width, 3)]
        self.body = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.body(features))


class AnyStyleNet(nn.Module):
    """Encoder (frozen learned features), AdaIN at one layer, decoder."""

    def __init__(self, cfg: AnyStyleConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = LearnedFeatureNet(LearnedFeaturesConfig(width=cfg.width))
        channels = {"relu2_1": 2, "relu3_1": 4, "relu4_1": 8}[cfg.layer] * cfg.width
        self.decoder = Decoder(channels, cfg.decoder_width, cfg.depth)

    @property
    def multiple(self) -> int:
        return 2**self.cfg.depth

    def encode(self, pictures: torch.Tensor) -> torch.Tensor:
        """The features at the mixing layer of N×3×H×W pictures in [0, 1]."""
        return self.encoder(pictures, only=(self.cfg.layer,))[self.cfg.layer]

    def style_stats(self, style: torch.Tensor) -> Stats:
        """A style picture's statistics at the mixing layer (computed once per style)."""
        return channel_stats(self.encode(style))

    def pad(self, pictures: torch.Tensor) -> torch.Tensor:
        """Pictures padded (right and bottom) to sides the encoder halves evenly."""
        h, w = pictures.shape[-2:]
        pad_h, pad_w = -h % self.multiple, -w % self.multiple
        if not (pad_h or pad_w):
            return pictures
        mode = "reflect" if min(h, w) > self.multiple else "replicate"
        return F.pad(pictures, (0, pad_w, 0, pad_h), mode=mode)

    def draw(
        self,
        features: torch.Tensor,
        style: Stats,
        strength: float = 1.0,
        content_stats: Stats | None = None,
    ) -> torch.Tensor:
        """The picture that the mixing layer's ``features`` describe, in the style;
        ``content_stats`` normalises the features instead of their own statistics."""
        mixed = adain(features, style, content_stats)
        if strength != 1.0:
            mixed = strength * mixed + (1 - strength) * features
        return self.decoder(mixed)

    def forward(
        self,
        content: torch.Tensor,
        style: Stats,
        strength: float = 1.0,
        content_stats: Stats | None = None,
    ) -> torch.Tensor:
        """The content (N×3×H×W in [0, 1], any size) drawn with the style statistics."""
        h, w = content.shape[-2:]
        features = self.encode(self.pad(content))
        return self.draw(features, style, strength, content_stats)[..., :h, :w]
