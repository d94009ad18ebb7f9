"""Training the text-conditional flow model on captioned pictures, for the shared Trainer.

Each step draws straight noise-to-picture paths for a batch and fits the velocity along
them; a share of captions is dropped so that classifier-free guidance has an unconditional
field to push away from. The learning rate warms up, then anneals to a tenth by a cosine
over the budget; an EMA of the network is what gets exported.

A flow in an autoencoder's latent grid (``arch = "latent-flow"``) is trained in two phases
of one run: the autoencoder on reconstruction for the first ``autoencoder_share`` of the
budget (its own cosine schedule), then, frozen, it encodes every picture once and the flow
learns those latents for the rest. The phase follows from the share of the budget done, so
a resumed run picks up where it stopped. An autoencoder trained before (another latent
flow's) skips the first phase.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from PIL import Image

from museforge.core.grid import make_grid
from museforge.core.train import optimizer_step
from museforge.crossmodal.autoencoder import PictureAutoencoder, reconstruction_loss
from museforge.crossmodal.captioned import CaptionedImages
from museforge.crossmodal.encoder import TextImageEncoder
from museforge.crossmodal.flow import flow_loss, whiten_words
from museforge.crossmodal.imagine import ImagineConfig, TextToImage
from museforge.crossmodal.imagine_task import pick_sentences, preview_inputs, sentence_table
from museforge.nn.gan import EMAGenerator

WARMUP_STEPS = 100


@dataclass(frozen=True)
class FlowTraining:
    """How the flow model is trained (stored in the artifact's recipe)."""

    lr: float = 2e-3
    ema_decay: float = 0.995  # about the last 200 steps: a longer average lags in short runs
    drop_caption: float = 0.1  # captions replaced by "no words": the unconditional field
    grad_clip: float = 1.0
    autoencoder_share: float = 0.35  # of the budget, for a flow in latents
    autoencoder_lr: float = 2e-3

    def __post_init__(self) -> None:
        if self.lr <= 0 or self.grad_clip < 0 or self.autoencoder_lr <= 0:
            raise ValueError("lr and autoencoder_lr must be positive and grad_clip not negative")
        if not 0 < self.autoencoder_share < 1:
            raise ValueError(f"autoencoder_share must be in (0, 1) (got {self.autoencoder_share})")
        if not 0 <= self.drop_caption < 1:
            raise ValueError(f"drop_caption must be 0..1 (got {self.drop_caption})")
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"ema_decay must be 0..1 (got {self.ema_decay})")


class FlowTask:
    """Trains the flow network of a :class:`TextToImage` model (``arch`` "flow" or
    "latent-flow")."""

    kind = "text-to-image"

    def __init__(
        self,
        cfg: ImagineConfig,
        training: FlowTraining,
        data: CaptionedImages,
        encoder: TextImageEncoder,
        seed: int,
        autoencoder: PictureAutoencoder | None = None,
    ):
        self.cfg, self.training, self.data, self.seed = cfg, training, data, seed
        torch.manual_seed(seed)
        self.model = TextToImage(cfg)
        self.model.text.load_state_dict(encoder.text.state_dict())
        self.sentences = sentence_table(self.model, data)
        self.languages = [tuple(sorted(c)) for c in data.captions]
        net = self.model.flow
        self.ema = EMAGenerator(net, training.ema_decay)
        self.opt = torch.optim.AdamW(net.parameters(), training.lr, weight_decay=0.0)
        self.autoencoder = self.model.autoencoder if cfg.latent else None
        self.ae_opt = None
        self._share = 0.0  # of the budget spent on the autoencoder
        if self.autoencoder is not None and autoencoder is not None:  # trained already
            self.autoencoder.load_state_dict(autoencoder.state_dict())
        elif self.autoencoder is not None:
            self.ae_opt = torch.optim.Adam(self.autoencoder.parameters(), training.autoencoder_lr)
            self._share = training.autoencoder_share
        self.num_examples = len(data)
        self._preview = preview_inputs(self)
        self._fraction = 0.0
        self._latents: torch.Tensor | None = None

    def modules(self) -> dict[str, torch.nn.Module]:
        return {"model": self.model, "ema": self.ema}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        if self.ae_opt is None:
            return {"flow": self.opt}
        return {"flow": self.opt, "autoencoder": self.ae_opt}

    def _autoencoding(self) -> bool:
        return self._fraction < self._share

    def set_progress(self, fraction: float) -> None:
        """Linear warm-up, then cosine annealing to a tenth at the end of the budget (of
        each phase, where there are two)."""
        self._fraction = fraction = min(fraction, 1.0)
        share = self._share
        if self._autoencoding():
            scale = 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * fraction / share))
            for group in self.ae_opt.param_groups:  # type: ignore[union-attr]
                group["lr"] = self.training.autoencoder_lr * scale
            return
        local = (fraction - share) / (1 - share)
        warm = min(1.0, (int(self.ema.steps) + 1) / WARMUP_STEPS)
        scale = warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * local)))
        for group in self.opt.param_groups:
            group["lr"] = self.training.lr * scale

    def _targets(self, indices: torch.Tensor) -> torch.Tensor:
        """What the flow learns to draw: the pictures, or their latents (all encoded once
        by the trained autoencoder, which is then frozen)."""
        if self.autoencoder is None:
            return self.data.images[indices]
        if self._latents is None:
            self.autoencoder.requires_grad_(False)
            self._latents = self.autoencoder.fit_scale(self.data.images)
        return self._latents[indices]

    def _sentences(self, indices: torch.Tensor, noise: torch.Generator) -> torch.Tensor:
        words = pick_sentences(self, indices, noise)
        keep = torch.rand(len(words), generator=noise) >= self.training.drop_caption
        return words * keep[:, None]

    def train_step(self, indices: torch.Tensor, noise: torch.Generator) -> dict[str, float]:
        if self._autoencoding():
            ae = self.autoencoder.train()  # type: ignore[union-attr]
            loss = reconstruction_loss(ae, self.data.images[indices], noise)
            optimizer_step(loss, ae, self.ae_opt, clip=self.training.grad_clip)  # type: ignore[arg-type]
            return {"reconstruction": loss.item()}
        net = self.model.flow
        if int(self.ema.steps) == 0:  # the flow's first step: its conditions are final now
            whiten_words(net, torch.cat(list(self.sentences.values())))
            self.ema.model.load_state_dict(net.state_dict())
        net.train()
        loss = flow_loss(net, self._targets(indices), self._sentences(indices, noise), noise)
        optimizer_step(loss, net, self.opt, clip=self.training.grad_clip)
        self.ema.update(net)
        return {"loss": loss.item()}

    @torch.no_grad()
    def preview(self) -> Image.Image:
        """The preview prompts drawn by the averaged network (the trained one untouched)."""
        z, words = self._preview
        if self._autoencoding():  # the reconstructions so far, beside the pictures
            pictures = self.data.images[: len(z) // 2]
            rebuilt = self.autoencoder.eval().decode(self.autoencoder.encode(pictures))  # type: ignore[union-attr]
            return make_grid(torch.cat([pictures, rebuilt.clamp(-1, 1)]), nrow=int(len(z) ** 0.5))
        pictures = self.model.draw_flow(self.ema.model.eval(), z, words, self.cfg.guidance)
        return make_grid(pictures, nrow=int(len(z) ** 0.5))

    def export(self) -> tuple[ImagineConfig, dict[str, torch.Tensor]]:
        if self.autoencoder is not None and self._latents is None:
            self.autoencoder.fit_scale(self.data.images)  # stopped before the flow began
        model = copy.deepcopy(self.model)
        model.flow.load_state_dict(self.ema.model.state_dict())
        return self.cfg, model.state_dict()
