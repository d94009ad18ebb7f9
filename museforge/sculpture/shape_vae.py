"""Variational autoencoders of 3D shapes: vessels (lathe profiles, an MLP) and forms
(truncated signed-distance grids, 3D convolutions), with the family as a condition.

Both share one recipe: a Gaussian posterior, a decoder told the family (one-hot) so a
user can ask for a bowl or a lattice, a reconstruction term that is the Gaussian
log-likelihood under an assumed noise ``noise`` (so its balance with the KL term is a
physical statement — how far off a decoded shape may be — rather than a bare weight), a
KL warm-up, and attribute vectors (the mean latent of the top quartile by an attribute
minus that of the bottom quartile, as MusicVAE does) kept as buffers so they travel in
the safetensors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from museforge.core.train import optimizer_step
from museforge.sculpture.solids import FAMILIES as FORM_FAMILIES
from museforge.sculpture.vessels import ATTRIBUTES as VESSEL_ATTRIBUTES
from museforge.sculpture.vessels import FAMILIES as VESSEL_FAMILIES
from museforge.sculpture.vessels import HEIGHTS

FORM_ATTRIBUTES = ("taller", "wider", "fuller")
ATTRIBUTE_SAMPLE = 2048  # training shapes whose latents define the attribute vectors


@dataclass(frozen=True)
class VesselVAEConfig:
    """A vessel VAE: profiles of ``HEIGHTS`` radii and a height, in millimetres."""

    z_dim: int = 8
    hidden: int = 256
    families: tuple[str, ...] = VESSEL_FAMILIES

    def __post_init__(self) -> None:
        if self.z_dim < 2 or self.hidden < 8:
            raise ValueError("z_dim must be at least 2 and hidden at least 8")


@dataclass(frozen=True)
class FormVAEConfig:
    """A form VAE over resolution³ truncated signed-distance grids."""

    resolution: int = 32
    z_dim: int = 32
    width: int = 16  # channels of the first convolution; doubled at each halving
    families: tuple[str, ...] = FORM_FAMILIES

    def __post_init__(self) -> None:
        if self.resolution % 8 or not 16 <= self.resolution <= 64:
            raise ValueError(f"resolution must be 16..64 and divisible by 8 ({self.resolution})")
        if self.z_dim < 2 or self.width < 4:
            raise ValueError("z_dim must be at least 2 and width at least 4")


class ShapeVAE(nn.Module):
    """The shared VAE machinery; subclasses build ``encoder`` (x, one-hot) → 2·z and
    ``decoder`` (z, one-hot) → x."""

    attributes: tuple[str, ...] = ()

    def __init__(self, z_dim: int, families: tuple[str, ...]):
        super().__init__()
        self.families = tuple(families)
        self._z_dim = z_dim
        self.register_buffer("attribute_vectors", torch.zeros(len(self.attributes), z_dim))
        self.register_buffer("attribute_quartiles", torch.zeros(len(self.attributes), 2))
        # Where each family's training shapes lie in the latent space (mean and Cholesky
        # factor of their covariance), filled at export: new shapes are drawn from there
        # rather than from the prior N(0, I), whose far corners a VAE never learns to
        # decode (ex-post density estimation, Ghosh et al. 2020). Until then, N(0, I).
        k = len(self.families)
        self.register_buffer("latent_mean", torch.zeros(k, z_dim))
        self.register_buffer("latent_chol", torch.eye(z_dim).repeat(k, 1, 1))

    @property
    def z_dim(self) -> int:
        return self._z_dim

    @property
    def num_classes(self) -> int:
        return len(self.families)

    def place(self, noise: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Latents for standard-normal ``noise`` (N×z) in the region of each one's family."""
        chol = self.latent_chol[labels.long()]
        return self.latent_mean[labels.long()] + (chol @ noise.unsqueeze(2)).squeeze(2)

    def one_hot(self, labels: torch.Tensor) -> torch.Tensor:
        return F.one_hot(labels.long(), self.num_classes).float()

    def encode(self, x: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance of shapes in the model's units."""
        mu, logvar = self.encode_stats(self.to_unit(x), self.one_hot(labels)).chunk(2, dim=1)
        return mu, logvar.clamp(-12, 8)

    def decode(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Shapes in the data's units (millimetres, or signed distances) from latents."""
        return self.from_unit(self.decode_unit(z, self.one_hot(labels)))

    # Subclasses: the networks, and the map between data units and the networks' units.
    def encode_stats(self, x: torch.Tensor, hot: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def decode_unit(self, z: torch.Tensor, hot: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def to_unit(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def from_unit(self, x: torch.Tensor) -> torch.Tensor:
        return x


class VesselVAE(ShapeVAE):
    """Profiles (height and radii, mm) standardised by the training set's statistics."""

    attributes = VESSEL_ATTRIBUTES

    def __init__(self, cfg: VesselVAEConfig):
        super().__init__(cfg.z_dim, cfg.families)
        self.cfg = cfg
        dims, k = HEIGHTS + 1, len(cfg.families)
        self.encoder = nn.Sequential(
            nn.Linear(dims + k, cfg.hidden),
            nn.SiLU(),
            nn.Linear(cfg.hidden, cfg.hidden),
            nn.SiLU(),
            nn.Linear(cfg.hidden, 2 * cfg.z_dim),
        )
        self.decoder = nn.Sequential(
            nn.Linear(cfg.z_dim + k, cfg.hidden),
            nn.SiLU(),
            nn.Linear(cfg.hidden, cfg.hidden),
            nn.SiLU(),
            nn.Linear(cfg.hidden, dims),
        )
        self.register_buffer("mean", torch.zeros(dims))
        self.register_buffer("scale", torch.ones(dims))

    def encode_stats(self, x: torch.Tensor, hot: torch.Tensor) -> torch.Tensor:
        return self.encoder(torch.cat([x, hot], dim=1))

    def decode_unit(self, z: torch.Tensor, hot: torch.Tensor) -> torch.Tensor:
        return self.decoder(torch.cat([z, hot], dim=1))

    def to_unit(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.scale

    def from_unit(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.mean


class FormVAE(ShapeVAE):
    """Grids (N×R×R×R, signed distances in -1..1) through three halvings to a latent."""

    attributes = FORM_ATTRIBUTES

    def __init__(self, cfg: FormVAEConfig):
        super().__init__(cfg.z_dim, cfg.families)
        self.cfg = cfg
        w, k = cfg.width, len(cfg.families)
        self.side = cfg.resolution // 8
        flat = 4 * w * self.side**3
        self.encoder = nn.Sequential(
            nn.Conv3d(1, w, 4, 2, 1),
            nn.SiLU(),
            nn.Conv3d(w, 2 * w, 4, 2, 1),
            nn.SiLU(),
            nn.Conv3d(2 * w, 4 * w, 4, 2, 1),
            nn.SiLU(),
            nn.Flatten(),
        )
        self.to_stats = nn.Linear(flat + k, 2 * cfg.z_dim)
        self.from_latent = nn.Linear(cfg.z_dim + k, flat)
        self.decoder = nn.Sequential(
            nn.SiLU(),
            nn.ConvTranspose3d(4 * w, 2 * w, 4, 2, 1),
            nn.SiLU(),
            nn.ConvTranspose3d(2 * w, w, 4, 2, 1),
            nn.SiLU(),
            nn.Conv3d(w, w, 3, 1, 1),
            nn.SiLU(),
            # straight to one channel at full size: a wide layer at 32³ costs 15× more on
            # a CPU and decoded no better in the minutes a starter trains
            nn.ConvTranspose3d(w, 1, 4, 2, 1),
        )

    def encode_stats(self, x: torch.Tensor, hot: torch.Tensor) -> torch.Tensor:
        return self.to_stats(torch.cat([self.encoder(x.unsqueeze(1)), hot], dim=1))

    def decode_unit(self, z: torch.Tensor, hot: torch.Tensor) -> torch.Tensor:
        w, s = self.cfg.width, self.side
        h = self.from_latent(torch.cat([z, hot], dim=1)).view(-1, 4 * w, s, s, s)
        return torch.tanh(self.decoder(h)).squeeze(1)


@dataclass(frozen=True)
class ShapeVAETraining:
    """How a shape VAE is trained (stored in the artifact's recipe)."""

    lr: float = 2e-3
    noise: float = 0.1  # the decoder's assumed error, in the networks' units
    kl_warmup: int = 1000  # steps over which the KL weight rises from 0 to 1
    grad_clip: float = 1.0
    eval_every: int = 250

    def __post_init__(self) -> None:
        if self.lr <= 0 or self.noise <= 0 or self.kl_warmup < 0:
            raise ValueError("lr and noise must be positive, kl_warmup not negative")


def elbo_terms(
    model: ShapeVAE, x: torch.Tensor, labels: torch.Tensor, noise: float, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Reconstruction (Gaussian negative log-likelihood less its constant) and KL, per
    shape, batch means."""
    mu, logvar = model.encode(x, labels)
    z = mu + torch.randn(mu.shape, generator=gen) * torch.exp(0.5 * logvar)
    out = model.decode_unit(z, model.one_hot(labels))
    error = (out - model.to_unit(x)).pow(2).flatten(1).sum(1) / (2 * noise**2)
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1)
    return error.mean(), kl.mean()


@torch.no_grad()
def latent_means(
    model: ShapeVAE, x: torch.Tensor, labels: torch.Tensor, batch: int = 256
) -> torch.Tensor:
    """Posterior means of many shapes, in batches."""
    model.eval()
    return torch.cat(
        [model.encode(x[i : i + batch], labels[i : i + batch])[0] for i in range(0, len(x), batch)]
    )


@torch.no_grad()
def fill_attribute_vectors(
    model: ShapeVAE, x: torch.Tensor, labels: torch.Tensor, values: torch.Tensor
) -> None:
    """Each attribute's vector: the mean latent of the top quartile of shapes by it minus
    that of the bottom quartile; ``values`` is N×attributes. Shapes are ranked within
    their family: the decoder is told the family, so the latent holds only how a shape
    differs from others of its family (a tall bowl, not a vase)."""
    if len(x) > ATTRIBUTE_SAMPLE:  # an even spread, not a random one: reproducible
        pick = torch.linspace(0, len(x) - 1, ATTRIBUTE_SAMPLE).long()
        x, labels, values = x[pick], labels[pick], values[pick]
    mu = latent_means(model, x, labels)
    quarter = max(1, len(x) // 4)
    ranks = torch.zeros_like(values, dtype=torch.float32)
    for label in labels.unique():
        members = labels == label
        order = values[members].argsort(dim=0, stable=True).argsort(dim=0, stable=True)
        ranks[members] = order.float() / max(1, int(members.sum()) - 1)
    for i in range(values.shape[1]):
        order = torch.sort(ranks[:, i], stable=True).indices
        low, high = order[:quarter], order[-quarter:]
        model.attribute_vectors[i] = mu[high].mean(0) - mu[low].mean(0)
        model.attribute_quartiles[i] = torch.stack([values[low, i].mean(), values[high, i].mean()])


@torch.no_grad()
def fill_latent_regions(model: ShapeVAE, x: torch.Tensor, labels: torch.Tensor) -> None:
    """Each family's latent mean and covariance (Cholesky factor) from its training
    shapes' posterior means; a family with too few shapes keeps N(0, I)."""
    mu = latent_means(model, x, labels)
    for k in range(model.num_classes):
        members = mu[labels == k]
        if len(members) <= model.z_dim:
            continue
        centred = members - members.mean(0)
        cov = centred.T @ centred / (len(members) - 1)
        cov += 1e-4 * torch.eye(model.z_dim)
        model.latent_mean[k] = members.mean(0)
        model.latent_chol[k] = torch.linalg.cholesky(cov)


class ShapeVAETask:
    """Trains a :class:`ShapeVAE` on shapes in data units with their family labels."""

    def __init__(
        self,
        kind: str,
        model: ShapeVAE,
        training: ShapeVAETraining,
        train: tuple[torch.Tensor, torch.Tensor],
        val: tuple[torch.Tensor, torch.Tensor],
        measure: Callable[[torch.Tensor], torch.Tensor],
        seed: int,
    ):
        self.kind, self.vae, self.training = kind, model, training
        self.train_x, self.train_labels = train
        self.val_x, self.val_labels = val
        self.measure = measure
        torch.manual_seed(seed)
        self.opt = torch.optim.Adam(self.vae.parameters(), lr=training.lr)
        self.num_examples = len(self.train_x)
        self.eval_every = training.eval_every
        self.step = 0

    def modules(self) -> dict[str, nn.Module]:
        return {"vae": self.vae}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"vae": self.opt}

    def kl_weight(self) -> float:
        warm = self.training.kl_warmup
        return min(1.0, self.step / warm) if warm else 1.0

    def train_step(self, indices: torch.Tensor, noise: torch.Generator) -> dict[str, float]:
        self.vae.train()
        state = self.opt.state.get(next(self.vae.parameters()))
        self.step = int(state["step"]) if state else 0
        x = self.train_x[indices].float()
        recon, kl = elbo_terms(self.vae, x, self.train_labels[indices], self.training.noise, noise)
        loss = recon + self.kl_weight() * kl
        optimizer_step(loss, self.vae, self.opt, clip=self.training.grad_clip)
        return {"loss": loss.item(), "recon": recon.item(), "kl": kl.item()}

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Held-out reconstruction error (in data units, mean absolute) and KL."""
        self.vae.eval()
        x, labels = self.val_x.float(), self.val_labels
        mu, logvar = self.vae.encode(x, labels)
        error = (self.vae.decode(mu, labels) - x).abs().mean()
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1).mean()
        return {"val_error": float(error), "val_kl": float(kl)}

    def preview(self) -> None:
        return None

    def export(self) -> tuple[object, dict[str, torch.Tensor]]:
        x = self.train_x.float()
        fill_latent_regions(self.vae, x, self.train_labels)
        fill_attribute_vectors(self.vae, x, self.train_labels, self.measure(x))
        return self.vae.cfg, self.vae.state_dict()
