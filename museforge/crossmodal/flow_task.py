"""Training the text-conditional flow model on captioned pictures, for the shared Trainer.

Each step draws straight noise-to-picture paths for a batch and fits the velocity along
them; a share of captions is dropped so that classifier-free guidance has an unconditional
field to push away from. The learning rate warms up, then anneals to a tenth by a cosine
over the budget; an EMA of the network is what gets exported.

A flow in an autoencoder's latent grid (``arch = "latent-flow"``) is trained in two phases
of one run (:mod:`museforge.nn.latent_flow`); an autoencoder trained before (another latent
flow's) skips the first phase.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from PIL import Image

from museforge.core.grid import make_grid
from museforge.crossmodal.captioned import CaptionedImages
from museforge.crossmodal.encoder import TextImageEncoder
from museforge.crossmodal.imagine import ImagineConfig, TextToImage
from museforge.crossmodal.imagine_task import pick_sentences, preview_inputs, sentence_table
from museforge.nn.autoencoder import PictureAutoencoder
from museforge.nn.flow import whiten_words
from museforge.nn.latent_flow import LatentFlowPhases, LatentFlowTask, dropped


@dataclass(frozen=True)
class FlowTraining:
    """How the flow model is trained (stored in the artifact's recipe)."""

    lr: float = 2e-3
    ema_decay: float = 0.995  # about the last 200 steps: a longer average lags in short runs
    drop_caption: float = 0.1  # captions replaced by "no words": the unconditional field
    grad_clip: float = 1.0
    autoencoder_share: float = 0.35  # of the budget, for a flow in latents
    autoencoder_lr: float = 2e-3
    autoencoder_tune: float = 0.0  # of the budget, tuning a reused autoencoder (README)
    autoencoder_tune_lr: float = 5e-4

    def __post_init__(self) -> None:
        if self.lr <= 0 or self.grad_clip < 0 or self.autoencoder_lr <= 0:
            raise ValueError("lr and autoencoder_lr must be positive and grad_clip not negative")
        if not 0 < self.autoencoder_share < 1:
            raise ValueError(f"autoencoder_share must be in (0, 1) (got {self.autoencoder_share})")
        if not 0 <= self.autoencoder_tune < 1 or self.autoencoder_tune_lr <= 0:
            raise ValueError("autoencoder_tune must be in [0, 1) and autoencoder_tune_lr positive")
        if not 0 <= self.drop_caption < 1:
            raise ValueError(f"drop_caption must be 0..1 (got {self.drop_caption})")
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"ema_decay must be 0..1 (got {self.ema_decay})")


class FlowTask(LatentFlowTask):
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
        own = self.model.autoencoder if cfg.latent else None
        if own is not None and autoencoder is not None:  # trained already
            own.load_state_dict(autoencoder.state_dict())
        self.phases = LatentFlowPhases(
            self.model.flow, own, data.images, training, trained=autoencoder is not None
        )
        self.num_examples = len(data)
        self._preview = preview_inputs(self)

    def _sentences(self, indices: torch.Tensor, noise: torch.Generator) -> torch.Tensor:
        return dropped(pick_sentences(self, indices, noise), self.training.drop_caption, noise)

    def train_step(self, indices: torch.Tensor, noise: torch.Generator) -> dict[str, float]:
        def whiten() -> None:  # the flow's first step: its conditions are final now
            whiten_words(self.model.flow, torch.cat(list(self.sentences.values())))

        return self.phases.step(indices, lambda: self._sentences(indices, noise), noise, whiten)

    @torch.no_grad()
    def preview(self) -> Image.Image:
        """The preview prompts drawn by the averaged network (the trained one untouched)."""
        z, words = self._preview
        if self.phases.autoencoding:  # the reconstructions so far, beside the pictures
            return make_grid(self.phases.reconstructions(len(z) // 2), nrow=int(len(z) ** 0.5))
        pictures = self.model.draw_flow(self.ema.model.eval(), z, words, self.cfg.guidance)
        return make_grid(pictures, nrow=int(len(z) ** 0.5))
