"""Training the any-style network's decoder, for the shared Trainer.

Each step pairs random crops of one batch of pictures (the contents) with crops of another
(the styles), mixes the style into the content's features (AdaIN) and trains the decoder
so that the picture it draws has, under the same frozen features, the mixed features
(content loss) and the style's channel statistics at every style layer (style loss), as in
Huang & Belongie (2017). The pictures are ``style-pictures``: clip art, emoji, sprites,
painted portraits and photo crops, each serving as content and as style.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from PIL import Image
from torch import nn

from museforge.core.train import optimizer_step
from museforge.style.anystyle import AnyStyleConfig, AnyStyleNet, adain, channel_stats
from museforge.style.feature_data import StylePictures
from museforge.style.feature_task import augment
from museforge.style.images import to_pil
from museforge.style.learned import style_feature_net
from museforge.style.losses import tv_loss

PREVIEW_PAIRS = 4


@dataclass(frozen=True)
class AnyStyleTraining:
    """How the decoder is trained (stored in the artifact's recipe)."""

    features: str = "learned"  # the feature network the encoder copies
    lr: float = 1e-3
    style_weight: float = 3.0
    tv_weight: float = 1.0
    crop: int = 64
    picture_size: int = 80

    def __post_init__(self) -> None:
        if self.lr <= 0 or self.style_weight < 0 or self.tv_weight < 0:
            raise ValueError("lr must be positive, the weights not negative")
        if not 16 <= self.crop <= self.picture_size <= 256:
            raise ValueError("need 16 <= crop <= picture_size <= 256")


def _relative(value: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (value - target).pow(2).sum() / target.pow(2).sum().clamp_min(1e-12)


class AnyStyleTask:
    """Trains the decoder of an :class:`AnyStyleNet` over many content–style pairs."""

    kind = "style-any"

    def __init__(
        self, cfg: AnyStyleConfig, training: AnyStyleTraining, data: StylePictures, seed: int
    ):
        self.cfg, self.training, self.data = cfg, training, data
        torch.manual_seed(seed)
        self.net = AnyStyleNet(cfg)
        features = style_feature_net(training.features)
        try:
            self.net.encoder.load_state_dict(features.state_dict())
        except RuntimeError:
            raise ValueError(
                f"the feature network '{training.features}' is not learned features of width "
                f"{cfg.width}"
            ) from None
        self.net.encoder.requires_grad_(False)
        self.style_layers = tuple(self.net.encoder.style_layers)
        self.opt = torch.optim.Adam(self.net.decoder.parameters(), lr=training.lr)
        self.num_examples = len(data)
        gen = torch.Generator().manual_seed(seed + 1)
        which = torch.randperm(len(data), generator=gen)[: 2 * PREVIEW_PAIRS]
        self._preview, _ = augment(data.images[which], training.crop, gen)

    def modules(self) -> dict[str, nn.Module]:
        return {"decoder": self.net.decoder}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"decoder": self.opt}

    def set_progress(self, fraction: float) -> None:
        """Cosine decay of the learning rate to a tenth over the budget."""
        scale = 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(fraction, 1.0)))
        for group in self.opt.param_groups:
            group["lr"] = self.training.lr * scale

    def _losses(self, content: torch.Tensor, style: torch.Tensor) -> dict[str, torch.Tensor]:
        layer = self.cfg.layer
        with torch.no_grad():
            style_feats = self.net.encoder(style, only=self.style_layers)
            targets = {k: channel_stats(v) for k, v in style_feats.items()}
            mixed = adain(self.net.encode(content), targets[layer])
        out = self.net.decoder(mixed)
        feats = self.net.encoder(out, only=tuple(dict.fromkeys((*self.style_layers, layer))))
        style_terms = []
        for name, (mean_t, std_t) in targets.items():
            mean, std = channel_stats(feats[name])
            style_terms.append(_relative(mean, mean_t) + _relative(std, std_t))
        return {
            "content": _relative(feats[layer], mixed),
            "style": torch.stack(style_terms).mean(),
            "tv": tv_loss(out),
        }

    def train_step(self, indices: torch.Tensor, noise: torch.Generator) -> dict[str, float]:
        partners = torch.randint(len(self.data), (len(indices),), generator=noise)
        content, _ = augment(self.data.images[indices], self.training.crop, noise)
        style, _ = augment(self.data.images[partners], self.training.crop, noise)
        losses = self._losses(content, style)
        t = self.training
        total = losses["content"] + t.style_weight * losses["style"] + t.tv_weight * losses["tv"]
        optimizer_step(total, self.net.decoder, self.opt)
        return {"loss": total.item(), **{k: v.item() for k, v in losses.items()}}

    @torch.no_grad()
    def preview(self) -> Image.Image:
        """Rows of content, style and the content in that style."""
        content, style = self._preview.split(PREVIEW_PAIRS)
        pairs = zip(content, style, strict=True)
        drawn = torch.cat([self.net(c[None], self.net.style_stats(s[None])) for c, s in pairs])
        rows = torch.cat([content, style, drawn], dim=-1)
        return to_pil(torch.cat(list(rows), dim=-2)[None])

    def export(self) -> tuple[AnyStyleConfig, dict[str, torch.Tensor]]:
        return self.cfg, {k: v.detach().clone() for k, v in self.net.state_dict().items()}
