"""Training a flow in an autoencoder's latent grid: two phases of one run, shared by every
kind that draws with a latent flow (text-to-image, image-flow).

The autoencoder learns reconstruction for the first ``autoencoder_share`` of the budget
(its own cosine schedule); then, frozen, it encodes every picture once, the latents are
scaled to unit spread, and the flow learns them for the rest (a short warm-up, then cosine
annealing to a tenth). The phase follows from the share of the budget done, so a resumed
run picks up where it stopped. An autoencoder trained before skips the first phase, or is
only tuned to the data in it when asked (``autoencoder_tune`` of the budget at
``autoencoder_tune_lr``: it rebuilds the data better, yet the flows measured drew no
better), and without one the flow learns the pictures themselves. What gets drawn with is an
exponential moving average of the flow.

Which autoencoder a new flow reuses is decided here too (:func:`reused_autoencoder`): the
one ``model.autoencoder`` names, none for ``none``, and by default the shipped starter
``pictures-autoencoder`` (trained on many kinds of real pictures), when it reads the
pictures' channels and no latent setting of its own was asked for.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from museforge.core.artifact import LoadedModel, load_artifact
from museforge.core.files import models_dir
from museforge.core.train import optimizer_step
from museforge.errors import InputError
from museforge.nn.autoencoder import PictureAutoencoder, reconstruction_loss
from museforge.nn.flow import FlowNet, flow_loss
from museforge.nn.gan import EMAGenerator

WARMUP_STEPS = 100
SHIPPED_AUTOENCODER = "pictures-autoencoder"  # the starter a new latent flow reuses
NO_AUTOENCODER = "none"  # model.autoencoder=none: the run trains its own


def _autoencoder_model(name: str) -> LoadedModel:
    """The model ``name`` names (a folder, or a starter's name) if it holds an autoencoder."""
    folder = Path(name).expanduser()
    if not folder.is_dir() and (models_dir() / name).is_dir():
        folder = models_dir() / name
    source = load_artifact(folder)
    if not isinstance(getattr(source.model, "autoencoder", None), PictureAutoencoder):
        raise InputError(
            f"model.autoencoder '{name}' has no autoencoder: give a picture-autoencoder, an "
            "image-flow or a latent text-to-image model (or none to train one in the run)"
        )
    return source


def reused_autoencoder(
    settings: dict[str, Any], channels: int | None
) -> tuple[LoadedModel | None, str | None]:
    """The model whose autoencoder a new latent flow reuses, and a notice when it was
    chosen by default; pops ``autoencoder`` from the model ``settings`` and writes the
    reused one's latent settings (and, asked by name, its channels when ``channels`` is
    None) into them.

    Asked by name, a model whose pictures have other channels is refused. By default the
    shipped starter is reused when it is there, reads ``channels`` and the settings ask
    for no other latent grid; otherwise (and for ``none``) the run trains its own."""
    asked = settings.pop("autoencoder", None)
    if asked is not None and str(asked).strip().lower() == NO_AUTOENCODER:
        return None, None
    if asked:
        source = _autoencoder_model(str(asked))
        own = source.model.autoencoder.image_channels
        if settings.setdefault("channels", channels or own) != own:
            raise InputError(
                f"the autoencoder of '{asked}' reads {own}-channel pictures, not "
                f"{settings['channels']}: leave model.channels unset or give another "
                "model.autoencoder"
            )
        _copy_latent_settings(source.model.autoencoder, settings)
        return source, None
    folder = models_dir() / SHIPPED_AUTOENCODER
    if not (folder / "model.json").is_file():
        return None, None
    source = load_artifact(folder)
    ae = source.model.autoencoder
    wanted = {"latent_channels": ae.channels, "autoencoder_width": ae.width}
    if (settings.get("channels") or channels) != ae.image_channels or any(
        settings.get(k, v) != v for k, v in wanted.items()
    ):
        return None, None
    _copy_latent_settings(ae, settings)
    return source, (
        f"reusing the shipped autoencoder {SHIPPED_AUTOENCODER} (trained on clip art, emoji, "
        "game art and photos): the flow trains for the whole run "
        "(--set model.autoencoder=none to train one in the run)"
    )


def _copy_latent_settings(ae: PictureAutoencoder, settings: dict[str, Any]) -> None:
    """A flow drawing in ``ae``'s grid has its latent channels and width."""
    settings["latent_channels"], settings["autoencoder_width"] = ae.channels, ae.width


def _half_cosine(x: float) -> float:
    return 0.5 * (1 + math.cos(math.pi * min(max(x, 0.0), 1.0)))


class LatentFlowPhases:
    """The optimisers, schedules and steps of a (latent) flow's training run.

    ``pictures`` are the training pictures in [-1, 1]; ``autoencoder`` is None for a flow
    in pixels; ``trained`` says it was trained before (a first phase, if any, only tunes it)."""

    def __init__(
        self,
        flow: FlowNet,
        autoencoder: PictureAutoencoder | None,
        pictures: torch.Tensor,
        training: Any,
        trained: bool = False,
    ):
        """``training`` is the kind's training settings: it has ``lr``, ``autoencoder_lr``,
        ``autoencoder_share``, ``autoencoder_tune``, ``autoencoder_tune_lr``, ``ema_decay``
        and ``grad_clip``."""
        self.flow, self.autoencoder, self.pictures = flow, autoencoder, pictures
        self.lr, self.autoencoder_lr = training.lr, training.autoencoder_lr
        self.grad_clip = training.grad_clip
        self.ema = EMAGenerator(flow, training.ema_decay)
        self.opt = torch.optim.AdamW(flow.parameters(), training.lr, weight_decay=0.0)
        self.ae_opt = None
        self.share = 0.0  # of the budget spent on the autoencoder
        if trained:  # tuned to the data, gently
            self.autoencoder_lr = training.autoencoder_tune_lr
            self.share = training.autoencoder_tune
        elif autoencoder is not None:
            self.share = training.autoencoder_share
        if autoencoder is not None and self.share > 0:
            self.ae_opt = torch.optim.Adam(autoencoder.parameters(), self.autoencoder_lr)
        self.fraction = 0.0
        self._latents: torch.Tensor | None = None

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        if self.ae_opt is None:
            return {"flow": self.opt}
        return {"flow": self.opt, "autoencoder": self.ae_opt}

    @property
    def autoencoding(self) -> bool:
        """Whether the run is still in its first phase."""
        return self.fraction < self.share

    def set_progress(self, fraction: float) -> None:
        """Each phase's learning rate for ``fraction`` of the budget done."""
        self.fraction = fraction = min(fraction, 1.0)
        if self.autoencoding:
            scale = 0.05 + 0.95 * _half_cosine(fraction / self.share)
            for group in self.ae_opt.param_groups:  # type: ignore[union-attr]
                group["lr"] = self.autoencoder_lr * scale
            return
        local = (fraction - self.share) / (1 - self.share)
        warm = min(1.0, (int(self.ema.steps) + 1) / WARMUP_STEPS)
        scale = warm * (0.1 + 0.9 * _half_cosine(local))
        for group in self.opt.param_groups:
            group["lr"] = self.lr * scale

    def targets(self, indices: torch.Tensor) -> torch.Tensor:
        """What the flow learns to draw: the pictures, or their latents (all encoded once
        by the trained autoencoder, which is then frozen)."""
        if self.autoencoder is None:
            return self.pictures[indices]
        if self._latents is None:
            self.autoencoder.requires_grad_(False)
            self._latents = self.autoencoder.fit_scale(self.pictures)
        return self._latents[indices]

    def step(
        self,
        indices: torch.Tensor,
        conditions: Callable[[], torch.Tensor],
        noise: torch.Generator,
        on_first_flow_step: Callable[[], None] | None = None,
    ) -> dict[str, float]:
        """One step of whichever phase the run is in; ``conditions`` gives the batch's
        conditions (called only in the flow's phase); ``on_first_flow_step`` runs before
        the flow's first step (its conditions are final then), and the average restarts
        from the flow as it then is."""
        if self.autoencoding:
            ae = self.autoencoder.train()  # type: ignore[union-attr]
            loss = reconstruction_loss(ae, self.pictures[indices], noise)
            optimizer_step(loss, ae, self.ae_opt, clip=self.grad_clip)  # type: ignore[arg-type]
            return {"reconstruction": loss.item()}
        if int(self.ema.steps) == 0:
            if on_first_flow_step is not None:
                on_first_flow_step()
            self.ema.model.load_state_dict(self.flow.state_dict())
        self.flow.train()
        loss = flow_loss(self.flow, self.targets(indices), conditions(), noise)
        optimizer_step(loss, self.flow, self.opt, clip=self.grad_clip)
        self.ema.update(self.flow)
        return {"loss": loss.item()}

    @torch.no_grad()
    def reconstructions(self, n: int) -> torch.Tensor:
        """The first ``n`` training pictures beside the autoencoder's rebuilding of them."""
        pictures = self.pictures[:n]
        rebuilt = self.autoencoder.eval().decode(self.autoencoder.encode(pictures))  # type: ignore[union-attr]
        return torch.cat([pictures, rebuilt.clamp(-1, 1)])

    def finish(self) -> None:
        """Before export: a run stopped in its first phase still gets its latent scale."""
        if self.autoencoder is not None and self._latents is None:
            self.autoencoder.fit_scale(self.pictures)


class LatentFlowTask:
    """What the Trainer asks of every flow task, for one whose ``model`` draws with a
    ``flow`` that ``phases`` trains: the modules and optimisers to checkpoint, the schedule
    and the export (the averaged flow in place of the trained one)."""

    cfg: Any
    model: torch.nn.Module
    phases: LatentFlowPhases

    @property
    def ema(self) -> EMAGenerator:
        return self.phases.ema

    def modules(self) -> dict[str, torch.nn.Module]:
        return {"model": self.model, "ema": self.ema}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return self.phases.optimizers()

    def set_progress(self, fraction: float) -> None:
        self.phases.set_progress(fraction)

    def export(self) -> tuple[Any, dict[str, torch.Tensor]]:
        self.phases.finish()
        model = copy.deepcopy(self.model)
        model.flow.load_state_dict(self.ema.model.state_dict())
        return self.cfg, model.state_dict()


def dropped(conditions: torch.Tensor, share: float, noise: torch.Generator) -> torch.Tensor:
    """``conditions`` with a ``share`` of the rows set to zero ("no condition"), so the flow
    also learns the unconditional field that guidance pushes away from."""
    keep = torch.rand(len(conditions), generator=noise) >= share
    return conditions * keep[:, None]
