"""A flow-matching picture model in an autoencoder's latent grid, unconditional or told
the class: the model for short runs on a folder of your own.

Measured on a folder of coloured shapes (docs and ``museforge bench image --data
shapes-folder``), a GAN or a VAE trained for five minutes on 2 cores draws the grounds and
colours and only blobs of shapes; a rectified flow in the small latent grid of an
autoencoder (museforge.nn.flow, museforge.nn.autoencoder — the same machinery as
text-to-image) draws the pictures closest to the folder's in that time (the lowest FID),
though it follows the labels no more often than the VAE. The class enters as a one-hot
code (whitened over the training labels when the flow starts); a tenth of the labels are
dropped while training, so the model also knows the field of no class in particular, and
classifier-free guidance pushes each picture towards its class. For RGB pictures the
autoencoder is by default the shipped one (museforge.image.autoencoder), so the whole run
goes to the flow.

A picture's latent is its starting noise, so seeds, walks, breeding and projection work as
for the GAN and the VAE.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from museforge.core.grid import make_grid
from museforge.core.latent import preview_inputs
from museforge.image.data import ImageDataset
from museforge.image.progress import DistanceProbe
from museforge.nn.autoencoder import FACTOR, PictureAutoencoder
from museforge.nn.flow import FlowNet, flow_levels, sample_flow, whiten_words
from museforge.nn.latent_flow import LatentFlowPhases, LatentFlowTask, dropped

PROBE = 128  # pictures drawn to measure the distance to the data at each preview


@dataclass(frozen=True)
class FlowImageConfig:
    """Architecture of a latent flow (stored in the artifact): the autoencoder squeezes a
    picture to a grid of a quarter of its side with ``latent_channels`` numbers per cell;
    the flow's U-Net is ``width`` wide and drawn in ``sample_steps`` Heun steps, guided by
    ``guidance`` towards the class (conditional models)."""

    image_size: int = 32
    channels: int = 3
    num_classes: int = 0
    width: int = 64
    latent_channels: int = 8
    autoencoder_width: int = 32
    sample_steps: int = 12
    guidance: float = 3.0  # chosen on a panel of folders: see the README

    def __post_init__(self) -> None:
        if self.channels not in (1, 3, 4):
            raise ValueError(f"channels must be 1, 3 or 4 (RGBA) (got {self.channels})")
        if self.image_size < 16 or self.image_size % 8:
            raise ValueError(
                f"image_size must be a multiple of 8, at least 16 (got {self.image_size})"
            )
        if self.width < 8 or self.width % 8 or self.autoencoder_width % 8:
            raise ValueError("width and autoencoder_width must be multiples of 8")
        if not 1 <= self.sample_steps <= 200:
            raise ValueError(f"sample_steps must be 1..200 (got {self.sample_steps})")
        if not 1 <= self.latent_channels <= 64:
            raise ValueError(f"latent_channels must be 1..64 (got {self.latent_channels})")
        if self.guidance < 0:
            raise ValueError(f"guidance must not be negative (got {self.guidance})")

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        """What the flow draws: the autoencoder's latent grid."""
        side = self.image_size // FACTOR
        return (self.latent_channels, side, side)


@dataclass(frozen=True)
class FlowImageTraining:
    """How a latent flow is trained (stored in the artifact's recipe)."""

    lr: float = 2e-3
    ema_decay: float = 0.995  # about the last 200 steps
    drop_label: float = 0.1  # labels replaced by "no class": the field guidance starts from
    grad_clip: float = 1.0
    autoencoder_share: float = 0.35  # of the budget
    autoencoder_lr: float = 2e-3
    autoencoder_tune: float = 0.0  # of the budget, tuning a reused autoencoder (README)
    autoencoder_tune_lr: float = 5e-4

    def __post_init__(self) -> None:
        if self.lr <= 0 or self.autoencoder_lr <= 0 or self.grad_clip < 0:
            raise ValueError("lr and autoencoder_lr must be positive and grad_clip not negative")
        if not 0 < self.autoencoder_share < 1:
            raise ValueError(f"autoencoder_share must be in (0, 1) (got {self.autoencoder_share})")
        if not 0 <= self.autoencoder_tune < 1 or self.autoencoder_tune_lr <= 0:
            raise ValueError("autoencoder_tune must be in [0, 1) and autoencoder_tune_lr positive")
        if not 0 <= self.drop_label < 1:
            raise ValueError(f"drop_label must be 0..1 (got {self.drop_label})")
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"ema_decay must be 0..1 (got {self.ema_decay})")


class FlowImage(nn.Module):
    """The artifact's model: the autoencoder and the (averaged) flow network."""

    def __init__(self, cfg: FlowImageConfig):
        super().__init__()
        self.cfg = cfg
        channels, side, _ = cfg.latent_shape
        self.autoencoder = PictureAutoencoder(
            cfg.latent_channels, cfg.autoencoder_width, cfg.channels
        )
        conditions = max(cfg.num_classes, 1)  # unconditional: one input, always zero
        self.flow = FlowNet(side, cfg.width, conditions, flow_levels(side), channels)

    @property
    def z_dim(self) -> int:
        """Numbers in a picture's latent: the flow's starting noise."""
        return math.prod(self.cfg.latent_shape)

    @property
    def num_classes(self) -> int:
        return self.cfg.num_classes

    def conditions(self, labels: torch.Tensor | None, n: int) -> torch.Tensor:
        """One-hot codes of ``labels`` (zeros, "no class", where there are none)."""
        if labels is None or not self.cfg.num_classes:
            return torch.zeros(n, max(self.cfg.num_classes, 1))
        return F.one_hot(labels, self.cfg.num_classes).float()

    def draw(
        self,
        net: FlowNet,
        z: torch.Tensor,
        labels: torch.Tensor | None,
        guidance: float | None = None,
    ) -> torch.Tensor:
        """Pictures in [-1, 1] integrated by ``net`` (this model's flow, or a training
        run's average of it) from latents ``z``, guided towards ``labels`` if given (by
        ``guidance``, default the model's)."""
        noise = z.reshape(len(z), *self.cfg.latent_shape)
        told = labels is not None and self.cfg.num_classes > 0
        guidance = (self.cfg.guidance if guidance is None else guidance) if told else 1.0
        cond = self.conditions(labels, len(z))
        latents = sample_flow(net, noise, cond, self.cfg.sample_steps, guidance, clamp=False)
        return self.autoencoder.decode(latents).clamp(-1, 1)

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Pictures in [-1, 1] for latents ``z`` (and classes, for a conditional model)."""
        return self.draw(self.flow, z, labels)


class FlowImageTask(LatentFlowTask):
    """Trains a :class:`FlowImage` on an :class:`ImageDataset` for the shared Trainer."""

    kind = "image-flow"

    def __init__(
        self,
        cfg: FlowImageConfig,
        training: FlowImageTraining,
        data: ImageDataset,
        seed: int,
        autoencoder: PictureAutoencoder | None = None,
    ):
        self.cfg, self.training, self.data = cfg, training, data
        torch.manual_seed(seed)
        self.model = FlowImage(cfg)
        if autoencoder is not None:  # trained before: the flow gets the whole run
            self.model.autoencoder.load_state_dict(autoencoder.state_dict())
        self.phases = LatentFlowPhases(
            self.model.flow,
            self.model.autoencoder,
            data.images,
            training,
            trained=autoencoder is not None,
        )
        self.num_examples = len(data)
        self._preview_z, self._preview_y = preview_inputs(self.model.z_dim, cfg.num_classes, seed)
        self._probe = DistanceProbe(data, self.model.z_dim, cfg.num_classes, seed, PROBE)

    def _conditions(self, indices: torch.Tensor, noise: torch.Generator) -> torch.Tensor:
        labels = self.data.labels[indices] if self.cfg.num_classes else None
        return dropped(self.model.conditions(labels, len(indices)), self.training.drop_label, noise)

    def _whiten(self) -> None:
        """Every class code reaches the flow with the same spread, however rare the class."""
        if self.cfg.num_classes:
            codes = self.model.conditions(self.data.labels, len(self.data))
            whiten_words(self.model.flow, codes)

    def train_step(self, indices: torch.Tensor, noise: torch.Generator) -> dict[str, float]:
        return self.phases.step(
            indices, lambda: self._conditions(indices, noise), noise, self._whiten
        )

    def _draw(
        self, z: torch.Tensor, labels: torch.Tensor | None, guidance: float | None = None
    ) -> torch.Tensor:
        return self.model.draw(self.ema.model.eval(), z, labels, guidance)

    def distance_to_data(self) -> float | None:
        """How far its drawn pictures are from the training pictures (None while the
        autoencoder is still learning: nothing is drawn yet). Drawn unguided, to keep the
        measurement a small share of a short run."""
        if self.phases.autoencoding:
            return None
        return self._probe(lambda z, labels: self._draw(z, labels, 1.0))

    @torch.no_grad()
    def preview(self) -> Image.Image:
        """The averaged flow's pictures of fixed latents, or, while the autoencoder learns,
        its rebuilding of training pictures beside them."""
        if self.phases.autoencoding:
            return make_grid(self.phases.reconstructions(32), nrow=8)
        return make_grid(self._draw(self._preview_z, self._preview_y), nrow=8)
