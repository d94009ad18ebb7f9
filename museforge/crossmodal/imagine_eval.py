"""How good a text-to-image model is, by the issue's protocol: pictures drawn for the
held-out captions against the real held-out pictures.

- R-precision (the true caption ranked first among 100, per language) and the
  picture–caption score (the mean cosine of a drawn picture and its caption), judged by the
  text–image encoder the model learnt from, beside the same for real pictures (the ceiling);
- FID and KID in that encoder's picture space (its 128 numbers before normalising), with
  held-out against training pictures as the floor;
- the copy check: each drawn picture's nearest training picture in pixels, the worst cases
  written side by side;
- on ``captioned-shapes``, a judge trained apart from the generator says whether the colour,
  shape, size, position and background are the ones asked for, for colour–shape pairs
  seen in training and for the held-out pairs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from museforge.core.artifact import LoadedModel, load_artifact
from museforge.core.latent import draw_latents
from museforge.crossmodal.data import load_captioned
from museforge.crossmodal.encoder import TextImageEncoder, r_precision
from museforge.crossmodal.encoder_task import HOLDOUT, SPLIT_SEED, split
from museforge.crossmodal.judge import attribute_accuracy, load_judge
from museforge.crossmodal.shapes import captioned_shapes
from museforge.errors import InputError
from museforge.nn.metrics.fid import fid_from_features
from museforge.nn.metrics.kid import kid_from_features
from museforge.nn.metrics.memorisation import memorisation_check, write_worst_cases

BATCH = 64
NEAR_COPY_RATIO = 0.5
WORST_CASES = 8


@torch.inference_mode()
def draw(model: Any, z: torch.Tensor, words: torch.Tensor) -> torch.Tensor:
    """Pictures for latents and sentence vectors, in batches."""
    model.eval()
    parts = [
        model.generate(z[i : i + BATCH], words[i : i + BATCH]) for i in range(0, len(z), BATCH)
    ]
    return torch.cat(parts)


@torch.inference_mode()
def picture_features(encoder: TextImageEncoder, images: torch.Tensor) -> np.ndarray:
    """The encoder's picture features before they are made unit length (N×embed_dim)."""
    encoder.eval()
    images = fit(images, encoder.cfg.image_size)
    tower = encoder.image
    parts = [tower.out(tower.features(images[i : i + 256])) for i in range(0, len(images), 256)]
    return torch.cat(parts).double().numpy()


@torch.inference_mode()
def caption_score(encoder: TextImageEncoder, images: torch.Tensor, captions: list[str]) -> float:
    """Mean cosine of each picture with its own caption (CLIPScore without the ×2.5)."""
    encoder.eval()
    images = fit(images, encoder.cfg.image_size)
    scores = []
    for i in range(0, len(captions), 256):
        pics = encoder.encode_images(images[i : i + 256])
        text = encoder.encode_text(captions[i : i + 256])
        scores.append((pics * text).sum(1))
    return float(torch.cat(scores).mean())


def fit(images: torch.Tensor, size: int) -> torch.Tensor:
    """Pictures resized (area) to ``size`` px where they are not already."""
    if images.shape[-1] == size:
        return images
    return torch.nn.functional.interpolate(images, size=(size, size), mode="area")


def recorded_encoder(loaded: LoadedModel) -> LoadedModel:
    """The encoder the model learnt from: where it was, or beside the model (starters move
    with their folder); it must be the very same weights."""
    recorded = loaded.manifest.get("data", {}).get("encoder") or {}
    path = Path(str(recorded.get("path")))
    for place in (path, loaded.path.parent / path.name):
        if (place / "model.json").is_file():
            found = load_artifact(place)
            if found.sha256 != recorded.get("sha256"):
                raise InputError(
                    f"the encoder at '{place}' is not the one '{loaded.path}' learnt from"
                )
            return found
    raise InputError(f"the encoder '{path}' that '{loaded.path}' learnt from is not there")


def evaluate_model(
    loaded: LoadedModel, n: int, seed: int, out_dir: Path | None = None
) -> dict[str, Any]:
    """Every score of the protocol above for at most ``n`` held-out captions."""
    info = loaded.manifest.get("data", {})
    if not info.get("source") or not info.get("encoder"):
        raise InputError(f"model '{loaded.path}' records no data or encoder to evaluate with")
    judge = recorded_encoder(loaded).model.eval()
    model = loaded.model
    full = load_captioned(info["source"], image_size=model.cfg.image_size)
    train, holdout = split(full, info.get("holdout", HOLDOUT), info.get("split_seed", SPLIT_SEED))
    k = min(n, len(holdout))
    real = holdout.images[:k]
    out: dict[str, Any] = {"data": info["source"], "pictures": k, "candidates": 100}
    z = draw_latents(model.z_dim, seed, k)
    drawn_any = None
    for lang in holdout.languages:
        captions = [c[lang] for c in holdout.captions[:k]]
        words = torch.cat([model.sentences(captions[i : i + 256]) for i in range(0, k, 256)])
        drawn = draw(model, z, words)
        drawn_any = drawn if drawn_any is None else drawn_any
        out[f"r_precision_{lang}"] = r_precision(
            judge, fit(drawn, judge.cfg.image_size), captions, seed=seed
        )
        out[f"r_precision_real_{lang}"] = r_precision(
            judge, fit(real, judge.cfg.image_size), captions, seed=seed
        )
        out[f"caption_score_{lang}"] = caption_score(judge, drawn, captions)
        out[f"caption_score_real_{lang}"] = caption_score(judge, real, captions)
    if drawn_any is not None:
        out |= _distribution(judge, drawn_any, train.images, real, out_dir, seed)
    if str(info["source"]).startswith("captioned-shapes"):
        out |= attributes(model, k, seed)
    return out


def _distribution(
    judge: TextImageEncoder,
    drawn: torch.Tensor,
    train: torch.Tensor,
    held: torch.Tensor,
    out_dir: Path | None,
    seed: int,
) -> dict[str, Any]:
    """FID/KID in the encoder's picture space and the pixel copy check."""
    f_train = picture_features(judge, train)
    f_drawn, f_held = picture_features(judge, drawn), picture_features(judge, held)
    kid, kid_std = kid_from_features(f_drawn, f_train, seed=seed)
    floor_kid, _ = kid_from_features(f_held, f_train, seed=seed)
    report = memorisation_check(drawn, train, held, ratio=NEAR_COPY_RATIO)
    copies: dict[str, Any] = {**report.summary(), "ratio": NEAR_COPY_RATIO}
    if out_dir is not None:
        paths = write_worst_cases(report, drawn, train, Path(out_dir), WORST_CASES)
        copies["worst_cases"] = [p.name for p in paths]
    return {
        "fid": fid_from_features(f_drawn, f_train),
        "kid_mean": kid,
        "kid_std": kid_std,
        "fid_real_floor": fid_from_features(f_held, f_train),
        "kid_mean_real_floor": floor_kid,
        "memorisation": copies,
    }


def attributes(model: Any, n: int, seed: int) -> dict[str, dict[str, float]]:
    """On captioned-shapes: how often a separately trained judge sees the asked-for colour,
    shape, size, position and background — for colour–shape pairs seen in training and
    for the held-out pairs (composition), per language, beside real pictures (the judge's
    ceiling)."""
    size = model.cfg.image_size
    judge = load_judge(size)
    out = {}
    for split_name, key in (("train", "seen"), ("held-out", "held_out")):
        asked = captioned_shapes(size, n=n, seed=10_000 + seed, split=split_name)
        attrs = list(asked.attributes or ())
        out[f"attributes_{key}_real"] = attribute_accuracy(judge, asked.images, attrs)
        z = draw_latents(model.z_dim, seed, n)
        for lang in ("en", "zh"):
            words = model.sentences([c[lang] for c in asked.captions])
            out[f"attributes_{key}_{lang}"] = attribute_accuracy(
                judge, draw(model, z, words), attrs
            )
    return out
