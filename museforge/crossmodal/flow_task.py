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

Where the model has a word reader (``text_reader``), it learns with the flow and is
averaged with it; the sentences are then read from the frozen tower's states at each step
instead of from a table made once.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from PIL import Image
from torch import nn

from museforge.core.grid import make_grid
from museforge.core.latent import draw_latents
from museforge.core.train import optimizer_step
from museforge.crossmodal.autoencoder import PictureAutoencoder, reconstruction_loss
from museforge.crossmodal.captioned import CaptionedImages
from museforge.crossmodal.encoder import TextImageEncoder
from museforge.crossmodal.flow import flow_loss
from museforge.crossmodal.imagine import (
    ImagineConfig,
    TextToImage,
    sentence_vectors,
    sentences_from_states,
)
from museforge.crossmodal.imagine_task import (
    PREVIEW_PROMPTS,
    neutral_record,
    pick_languages,
    pick_sentences,
    preview_captions,
    preview_inputs,
    sentence_table,
)
from museforge.nn.gan import EMAGenerator

WARMUP_STEPS = 100
# A reading flow keeps its captions' tower states (half precision) when they take at most
# this much memory: reading them again costs as much as a flow step.
STATE_CACHE_BYTES = 512 * 2**20


@dataclass(frozen=True)
class FlowTraining:
    """How the flow model is trained (stored in the artifact's recipe)."""

    lr: float = 2e-3
    ema_decay: float = 0.999
    drop_caption: float = 0.1  # captions replaced by "no words": the unconditional field
    grad_clip: float = 1.0
    autoencoder_share: float = 0.5  # of the budget, for a flow in latents
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
        self.languages = [tuple(sorted(c)) for c in data.captions]
        self.reads = bool(cfg.text_reader)
        net: nn.Module = self.model.flow
        if self.reads:  # the flow and its word reader learn, and are averaged, as one
            net = nn.ModuleDict({"flow": net, "reader": self.model.reader})
            self.ids = {
                lang: self.model.tokens.encode([c.get(lang, "") for c in data.captions])
                for lang in sorted({lang for c in data.captions for lang in c})
            }
            self._states = self._tower_states()
        else:
            self.sentences = sentence_table(self.model, data)
        self.trained = net
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
        self._preview = self._preview_inputs()
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

    def _flow_and_reader(self, averaged: bool) -> tuple[nn.Module, nn.Module | None]:
        """The flow network and its word reader (None without one): those being trained,
        or their running averages."""
        net = self.ema.model if averaged else self.trained
        if self.reads:
            return net["flow"], net["reader"]
        return net, None

    @torch.no_grad()
    def _tower_states(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]] | None:
        """Language -> the frozen tower's states of every caption (half precision) and
        their pad masks, if they fit :data:`STATE_CACHE_BYTES`; else None."""
        text = self.model.text.eval()
        width = text.norm.normalized_shape[0]
        used = {lang: int((ids != 0).sum(1).max()) for lang, ids in self.ids.items()}
        if sum(len(self.ids[k]) * n * width * 2 for k, n in used.items()) > STATE_CACHE_BYTES:
            return None
        cache = {}
        for lang, ids in self.ids.items():
            ids = ids[:, : used[lang]]
            states = torch.zeros(len(ids), used[lang], width, dtype=torch.float16)
            for i in range(0, len(ids), 512):
                part, _ = text.states(ids[i : i + 512])
                states[i : i + len(part), : part.shape[1]] = part.half()
            cache[lang] = (states, ids == 0)
        return cache

    def _read(
        self, rows: list[tuple[str, int]], reader: nn.Module, cached: bool = True
    ) -> torch.Tensor:
        """The sentences of the captions at (language, row), as ``reader`` reads them: from
        the kept tower states (training), or exactly from the words (``cached`` off)."""
        text = self.model.text.eval()
        if self._states is None or not cached:
            ids = torch.stack([self.ids[lang][i] for lang, i in rows])
            return sentence_vectors(text, reader, ids)
        states = [self._states[lang][0][i] for lang, i in rows]
        pads = [self._states[lang][1][i] for lang, i in rows]
        length = max(len(p) for p in pads)
        batch = torch.zeros(len(rows), length, states[0].shape[1])
        pad = torch.ones(len(rows), length, dtype=torch.bool)
        for j, (st, pd) in enumerate(zip(states, pads, strict=True)):
            batch[j, : len(st)] = st.float()
            pad[j, : len(pd)] = pd
        used = int((~pad).sum(1).max())
        return sentences_from_states(text, reader, batch[:, :used], pad[:, :used])

    def _preview_inputs(self) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.reads:
            return preview_inputs(self)
        z = draw_latents(self.model.z_dim, self.seed, PREVIEW_PROMPTS)
        rows = len(preview_captions(self.data))
        return z.repeat(rows, 1), torch.empty(0)  # the words are read at each preview

    def _sentences(self, indices: torch.Tensor, noise: torch.Generator) -> torch.Tensor:
        if self.reads:
            langs = pick_languages(self, indices, noise)
            rows = list(zip(langs, indices.tolist(), strict=True))
            words = self._read(rows, self.model.reader.train())
        else:
            words = pick_sentences(self, indices, noise)
        keep = torch.rand(len(words), generator=noise) >= self.training.drop_caption
        return words * keep[:, None]

    def train_step(self, indices: torch.Tensor, noise: torch.Generator) -> dict[str, float]:
        if self._autoencoding():
            ae = self.autoencoder.train()  # type: ignore[union-attr]
            loss = reconstruction_loss(ae, self.data.images[indices], noise)
            optimizer_step(loss, ae, self.ae_opt, clip=self.training.grad_clip)  # type: ignore[arg-type]
            return {"reconstruction": loss.item()}
        net = self.trained.train()
        words = self._sentences(indices, noise)
        loss = flow_loss(self.model.flow, self._targets(indices), words, noise)
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
        flow, reader = self._flow_and_reader(averaged=True)
        if reader is not None:  # the prompts as the averaged reader now reads them
            read = self._read(preview_captions(self.data), reader.eval(), cached=False)
            words = read.repeat_interleave(PREVIEW_PROMPTS, dim=0)
        pictures = self.model.draw_flow(flow.eval(), z, words, self.cfg.guidance)
        return make_grid(pictures, nrow=int(len(z) ** 0.5))

    def export(self) -> tuple[ImagineConfig, dict[str, torch.Tensor]]:
        if self.autoencoder is not None and self._latents is None:
            self.autoencoder.fit_scale(self.data.images)  # stopped before the flow began
        model = copy.deepcopy(self.model)
        flow, reader = self._flow_and_reader(averaged=True)
        model.flow.load_state_dict(flow.state_dict())
        if reader is not None:
            model.reader.load_state_dict(reader.state_dict())
        return self.cfg, model.state_dict()

    @torch.no_grad()
    def data_record(self) -> dict[str, str]:
        """The neutral sentence of the trained model, for its manifest."""
        _, reader = self._flow_and_reader(averaged=True)
        if reader is None:
            return neutral_record(self.sentences)
        table = {}
        for lang, ids in self.ids.items():
            rows = [(lang, i) for i in range(len(ids))]
            read = [
                self._read(rows[i : i + 512], reader.eval(), cached=False)
                for i in range(0, len(rows), 512)
            ]
            has = torch.tensor([lang in c for c in self.data.captions])
            table[lang] = torch.cat(read) * has[:, None]
        return neutral_record(table)
