"""Training the text-conditional flow model on captioned pictures, for the shared Trainer.

Each step draws straight noise-to-picture paths for a batch and fits the velocity along
them; a share of captions is dropped so that classifier-free guidance has an unconditional
field to push away from. The learning rate warms up, then anneals to a tenth by a cosine
over the budget; an EMA of the network is what gets exported.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from PIL import Image

from museforge.core.grid import make_grid
from museforge.core.train import optimizer_step
from museforge.crossmodal.captioned import CaptionedImages
from museforge.crossmodal.encoder import TextImageEncoder
from museforge.crossmodal.flow import flow_loss, sample_flow
from museforge.crossmodal.imagine import ImagineConfig, TextToImage
from museforge.crossmodal.imagine_task import pick_sentences, preview_inputs, sentence_table
from museforge.nn.gan import EMAGenerator

WARMUP_STEPS = 100


@dataclass(frozen=True)
class FlowTraining:
    """How the flow model is trained (stored in the artifact's recipe)."""

    lr: float = 2e-3
    ema_decay: float = 0.999
    drop_caption: float = 0.1  # captions replaced by "no words": the unconditional field
    grad_clip: float = 1.0

    def __post_init__(self) -> None:
        if self.lr <= 0 or self.grad_clip < 0:
            raise ValueError("lr must be positive and grad_clip not negative")
        if not 0 <= self.drop_caption < 1:
            raise ValueError(f"drop_caption must be 0..1 (got {self.drop_caption})")
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"ema_decay must be 0..1 (got {self.ema_decay})")


class FlowTask:
    """Trains the flow network of a :class:`TextToImage` model (``arch = "flow"``)."""

    kind = "text-to-image"

    def __init__(
        self,
        cfg: ImagineConfig,
        training: FlowTraining,
        data: CaptionedImages,
        encoder: TextImageEncoder,
        seed: int,
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
        self.num_examples = len(data)
        self._preview = preview_inputs(self)
        self._step = 0

    def modules(self) -> dict[str, torch.nn.Module]:
        return {"model": self.model, "ema": self.ema}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"flow": self.opt}

    def set_progress(self, fraction: float) -> None:
        """Linear warm-up, then cosine annealing to a tenth at the end of the budget."""
        warm = min(1.0, (int(self.ema.steps) + 1) / WARMUP_STEPS)
        scale = warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(fraction, 1.0))))
        for group in self.opt.param_groups:
            group["lr"] = self.training.lr * scale

    def _sentences(self, indices: torch.Tensor, noise: torch.Generator) -> torch.Tensor:
        words = pick_sentences(self, indices, noise)
        keep = torch.rand(len(words), generator=noise) >= self.training.drop_caption
        return words * keep[:, None]

    def train_step(self, indices: torch.Tensor, noise: torch.Generator) -> dict[str, float]:
        net = self.model.flow
        net.train()
        loss = flow_loss(net, self.data.images[indices], self._sentences(indices, noise), noise)
        optimizer_step(loss, net, self.opt, clip=self.training.grad_clip)
        self.ema.update(net)
        return {"loss": loss.item()}

    @torch.no_grad()
    def preview(self) -> Image.Image:
        """The preview prompts drawn by the averaged network (the trained one untouched)."""
        z, words = self._preview
        size, cfg = self.cfg.image_size, self.cfg
        noise = z.view(len(z), 3, size, size)
        net = self.ema.model.eval()
        pictures = sample_flow(net, noise, words, cfg.sample_steps, cfg.guidance)
        return make_grid(pictures, nrow=int(len(z) ** 0.5))

    def export(self) -> tuple[ImagineConfig, dict[str, torch.Tensor]]:
        model = copy.deepcopy(self.model)
        model.flow.load_state_dict(self.ema.model.state_dict())
        return self.cfg, model.state_dict()
