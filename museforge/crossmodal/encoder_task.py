"""Training the text–image encoder contrastively on a captioned set, for the shared Trainer.

Each step shows a batch of pictures with one caption each — in a language drawn at random
among those the picture has, so English and Chinese names of the same emoji land on the
same point. Each picture also meets a caption that reads almost like its own (a hard
negative, :mod:`near_captions`), so every word of a caption must count. Validation ranks
each held-out picture's caption among 100 (R-precision).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from PIL import Image

from museforge.core.data import holdout_indices
from museforge.core.train import optimizer_step
from museforge.crossmodal.captioned import CaptionedImages
from museforge.crossmodal.encoder import (
    EncoderConfig,
    TextImageEncoder,
    contrastive_loss,
    r_precision,
)
from museforge.crossmodal.near_captions import NearCaptions

HOLDOUT, SPLIT_SEED = 0.1, 0
MAX_VALIDATION = 500  # held-out pictures ranked at each validation


@dataclass(frozen=True)
class EncoderTraining:
    """How the encoder is trained (stored in the artifact's recipe)."""

    lr: float = 1e-3
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    hard_negatives: bool = True  # each picture also ranks a caption one word away

    def __post_init__(self) -> None:
        if self.lr <= 0 or self.weight_decay < 0 or self.grad_clip < 0:
            raise ValueError("lr must be positive, weight_decay and grad_clip not negative")


def split(data: CaptionedImages, holdout: float = HOLDOUT, seed: int = SPLIT_SEED):
    """(train, held-out) parts of ``data`` by a seeded shuffle; each keeps data order."""
    where = f"'{data.source}' ({len(data)} pictures)"
    train_idx, hold_idx = holdout_indices(len(data), holdout, seed, where)

    def part(name: str, idx: torch.Tensor) -> CaptionedImages:
        keep = idx.tolist()
        attrs = None if data.attributes is None else tuple(data.attributes[i] for i in keep)
        alpha = None if data.alpha is None else data.alpha[idx]
        return replace(
            data,
            images=data.images[idx],
            captions=tuple(data.captions[i] for i in keep),
            attributes=attrs,
            alpha=alpha,
            source=f"{data.source}#{name}",
            fingerprint=f"{data.fingerprint}#{name}:holdout={holdout}:seed={seed}",
        )

    return part("train", train_idx), part("holdout", hold_idx)


class EncoderTask:
    """Trains a :class:`TextImageEncoder` on captioned pictures."""

    kind = "text-image-encoder"

    def __init__(
        self,
        cfg: EncoderConfig,
        training: EncoderTraining,
        train: CaptionedImages,
        holdout: CaptionedImages,
        seed: int,
    ):
        self.cfg, self.training = cfg, training
        self.train, self.holdout = train, holdout
        torch.manual_seed(seed)
        self.model = TextImageEncoder(cfg)
        self.opt = torch.optim.AdamW(
            self.model.parameters(), lr=training.lr, weight_decay=training.weight_decay
        )
        self.num_examples = len(train)
        self.languages = [tuple(sorted(c)) for c in train.captions]
        self.near = (
            NearCaptions([t for c in train.captions for t in c.values()])
            if training.hard_negatives
            else None
        )

    def modules(self) -> dict[str, torch.nn.Module]:
        return {"encoder": self.model}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"encoder": self.opt}

    def set_progress(self, fraction: float) -> None:
        """Cosine decay of the learning rate to a tenth over the budget."""
        scale = 0.1 + 0.9 * 0.5 * (1 + torch.cos(torch.tensor(fraction * torch.pi)).item())
        for group in self.opt.param_groups:
            group["lr"] = self.training.lr * scale

    def train_step(self, indices: torch.Tensor, noise: torch.Generator) -> dict[str, float]:
        self.model.train()
        captions = []
        for i in indices.tolist():
            langs = self.languages[i]
            pick = int(torch.randint(len(langs), (1,), generator=noise))
            captions.append(self.train.captions[i][langs[pick]])
        negatives = []
        if self.near is not None:
            negatives = [n for c in captions if (n := self.near.pick(c, noise)) is not None]
        logits = self.model.logits(
            self.model.encode_images(self.train.images[indices]),
            self.model.encode_text(captions + negatives),
        )
        loss = contrastive_loss(logits)
        logits = logits[:, : len(captions)]
        optimizer_step(loss, self.model, self.opt, clip=self.training.grad_clip)
        hits = (logits.argmax(1) == torch.arange(len(captions))).float().mean()
        return {"loss": loss.item(), "batch_acc": hits.item()}

    def validate(self) -> dict[str, float]:
        """R-precision on the held-out pictures, per language of their captions."""
        images = self.holdout.images[:MAX_VALIDATION]
        caps = self.holdout.captions[:MAX_VALIDATION]
        out = {}
        for lang in self.holdout.languages:
            out[f"val_r_precision_{lang}"] = r_precision(
                self.model, images, [c[lang] for c in caps]
            )
        return out

    def preview(self) -> Image.Image | None:
        return None

    def export(self) -> tuple[EncoderConfig, dict[str, torch.Tensor]]:
        return self.cfg, self.model.state_dict()
