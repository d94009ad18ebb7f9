"""Training a feed-forward style network against one style picture with the shared Trainer.

Each step draws random square crops of the content photos (random scale and mirror), runs
them through the network and scores the result with a frozen feature network: the style
picture's feature statistics, the crop's own features for content, the style picture's
colour statistics, and smoothness.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from PIL import Image
from torch import nn

from museforge.core.train import optimizer_step
from museforge.errors import InputError
from museforge.style.fastnet import StyleNet, StyleNetConfig
from museforge.style.images import resize_long_side, resize_to, to_pil
from museforge.style.learned import style_feature_net
from museforge.style.losses import Stats, content_loss, feature_stats, style_loss, tv_loss

# The sampler draws example indices; each content photo stands for this many examples at
# least, so a batch can hold several crops of the same photo when there are few photos.
MIN_EXAMPLES = 64
CROP_SCALE = (0.5, 1.0)  # side of a crop as a share of the photo's short side
PREVIEW_SIDE = 256


@dataclass(frozen=True)
class StyleNetTraining:
    """How a style network is trained (stored in the artifact's recipe)."""

    style: str  # the style picture as given: a file or a built-in name
    style_size: int = 256  # long side the style picture is scaled to
    crop: int = 256  # side of the square training crops
    content_size: int = 512  # content photos are shrunk to this long side first
    lr: float = 1e-3
    content_weight: float = 1.0
    # At 1 (the optimisation method's weight) three-minute runs on the photos painted
    # over faces; at 0.5 they stay recognisable and the style still sets every colour.
    style_weight: float = 0.5
    tv_weight: float = 1.0
    # Random features barely tell hues apart: against the brown and blue "cells" picture
    # dark areas came out magenta. Matching the pixels' own mean and covariance fixes that;
    # 5 gave the picture's palette where 1 and 2 still left lilac (2.5-minute runs). A
    # style whose palette is far from any photo's (pattern-voronoi) blurs the content at
    # 5: its recipe uses 1.
    colour_weight: float = 5.0
    features: str = "random"  # feature network: random, random:WIDTH or vgg19:PATH
    # Shallow layers added to the feature network's content layers: relu3_2 alone sits at
    # a quarter of the size and left the stylised photos blurred; relu2_1 keeps the edges.
    detail_layers: tuple[str, ...] = ("relu2_1",)

    def __post_init__(self) -> None:
        for name in ("style_size", "crop", "content_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 16 <= value <= 2048:
                raise ValueError(f"{name} must be a whole number of pixels 16..2048 (got {value})")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive (got {self.lr})")
        for name in ("content_weight", "style_weight", "tv_weight", "colour_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative (got {getattr(self, name)})")
        if not isinstance(self.detail_layers, tuple) or not all(
            isinstance(name, str) for name in self.detail_layers
        ):
            raise ValueError(
                f"detail_layers must be a list of layer names (got {self.detail_layers!r})"
            )


def random_crops(
    images: list[torch.Tensor], which: list[int], size: int, noise: torch.Generator
) -> torch.Tensor:
    """One crop per entry of ``which`` (an index into ``images``), as N×3×size×size.

    A crop is a square of CROP_SCALE × the photo's short side at a random place, resized
    to ``size`` and mirrored left-right half of the time; all draws come from ``noise``.
    """
    crops = []
    for i in which:
        image = images[i]
        h, w = image.shape[-2:]
        lo, hi = CROP_SCALE
        scale = lo + (hi - lo) * float(torch.rand((), generator=noise))
        side = max(1, round(scale * min(h, w)))
        top = int(torch.randint(h - side + 1, (), generator=noise))
        left = int(torch.randint(w - side + 1, (), generator=noise))
        crop = resize_to(image[..., top : top + side, left : left + side], size, size)
        if float(torch.rand((), generator=noise)) < 0.5:
            crop = crop.flip(-1)
        crops.append(crop)
    return torch.cat(crops)


class StyleNetTask:
    """Trains a :class:`StyleNet` on content photos against one style picture."""

    kind = "style-net"

    def __init__(
        self,
        cfg: StyleNetConfig,
        training: StyleNetTraining,
        content: list[torch.Tensor],
        style: torch.Tensor,
        seed: int,
    ):
        if not content:
            raise ValueError("StyleNetTask needs at least one content image")
        self.cfg, self.training, self.content = cfg, training, content
        self.style = resize_long_side(style, training.style_size)
        torch.manual_seed(seed)
        self.net = StyleNet(cfg)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=training.lr)
        self.features = style_feature_net(training.features)
        taps = (*self.features.content_layers, *self.features.style_layers)
        unknown = [name for name in training.detail_layers if name not in taps]
        if unknown:
            raise InputError(
                f"detail_layers {unknown} are not layers of the '{training.features}' feature "
                f"network (use some of: {', '.join(dict.fromkeys(taps))})"
            )
        self.content_layers = tuple(
            dict.fromkeys((*training.detail_layers, *self.features.content_layers))
        )
        with torch.no_grad():
            feats = self.features(self.style)
        self.style_targets: dict[str, Stats] = {
            name: feature_stats(feats[name]) for name in self.features.style_layers
        }
        self.colour_target = feature_stats(self.style)
        self.num_examples = len(content) * math.ceil(MIN_EXAMPLES / len(content))
        first = content[0]
        side = min(PREVIEW_SIDE, max(first.shape[-2:]))
        self._preview_content = resize_long_side(first, side)

    def modules(self) -> dict[str, nn.Module]:
        return {"net": self.net}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"net": self.opt}

    def train_step(self, indices: torch.Tensor, noise: torch.Generator) -> dict[str, float]:
        t = self.training
        self.net.train()
        which = [int(i) % len(self.content) for i in indices]
        batch = random_crops(self.content, which, t.crop, noise)
        with torch.no_grad():
            feats = self.features(batch)
            content_targets = {k: feats[k] for k in self.content_layers}
        out = self.net(batch)
        feats = self.features(out)
        losses = {
            "style": style_loss(feats, self.style_targets),
            "content": content_loss(feats, content_targets),
            "colour": style_loss({"rgb": out}, {"rgb": self.colour_target}),
            "tv": tv_loss(out),
        }
        total = t.style_weight * losses["style"] + t.content_weight * losses["content"]
        total = total + t.colour_weight * losses["colour"] + t.tv_weight * losses["tv"]
        optimizer_step(total, self.net, self.opt)
        return {"loss": total.item(), **{k: v.item() for k, v in losses.items()}}

    @torch.no_grad()
    def preview(self) -> Image.Image:
        """The style picture, the first content photo and that photo stylised, side by side."""
        self.net.eval()
        content = self._preview_content
        h = content.shape[-2]
        style = resize_to(
            self.style, h, max(1, round(self.style.shape[-1] * h / self.style.shape[-2]))
        )
        return to_pil(torch.cat([style, content, self.net(content)], dim=-1))

    def export(self) -> tuple[StyleNetConfig, dict[str, torch.Tensor]]:
        return self.cfg, {k: v.detach().clone() for k, v in self.net.state_dict().items()}
