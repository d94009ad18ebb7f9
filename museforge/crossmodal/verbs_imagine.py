"""The verbs of text-to-image models: imagine pictures from words, and walk from one prompt
to another. Every picture records its latent, so the gallery can tell how it was made."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Annotated

import torch

from museforge.core.artifact import LoadedModel, load_artifact
from museforge.core.artwork import Artwork, Result
from museforge.core.grid import make_grid, to_pil
from museforge.core.latent import draw_latents, encode_latent, slerp, truncate
from museforge.core.verbs import SEED, Param
from museforge.crossmodal.data import load_captioned
from museforge.crossmodal.encoder import r_precision
from museforge.crossmodal.encoder_task import HOLDOUT, SPLIT_SEED, split
from museforge.crossmodal.folders import language_of
from museforge.crossmodal.judge import attribute_accuracy, load_judge
from museforge.crossmodal.shapes import captioned_shapes
from museforge.errors import InputError

BATCH = 64


def slug(prompt: str) -> str:
    """A short file-name part for a prompt: its first Latin words, else a digest."""
    words = re.findall(r"[a-z0-9]+", prompt.lower())[:4]
    return "-".join(words) or "p" + hashlib.sha1(prompt.encode()).hexdigest()[:8]


def _sentence(loaded: LoadedModel, prompt: str) -> tuple[torch.Tensor, str | None]:
    """The prompt's sentence vector, and a note when it had to be cut to fit."""
    text = " ".join(prompt.split())
    if not text:
        raise InputError("imagine needs a prompt: the words to draw")
    model = loaded.model
    room = model.tokens.context - 1
    note = None
    if len(text) > room:
        note = f"the prompt was cut to its first {room} characters: {text[:room]!r}"
        text = text[:room]
    return model.sentences([text], strict=True)[0], note


@torch.inference_mode()
def _draw(loaded: LoadedModel, z: torch.Tensor, words: torch.Tensor) -> torch.Tensor:
    model = loaded.model.eval()
    parts = [
        model.generate(z[i : i + BATCH], words[i : i + BATCH]) for i in range(0, len(z), BATCH)
    ]
    return torch.cat(parts)


def imagine(
    loaded: LoadedModel,
    prompt: Annotated[str, Param("what to draw, in English or Chinese", positional=True)],
    n: Annotated[int, Param("how many pictures", min=1, max=1024)] = 8,
    seed: Annotated[int, SEED] = 0,
    truncation: Annotated[float, Param("≤1: more typical, less varied", min=0.05, max=1)] = 1.0,
) -> Result:
    """Pictures of ``prompt``: picture i of a seed is the same however many are asked for."""
    words, note = _sentence(loaded, prompt)
    z = truncate(draw_latents(loaded.model.z_dim, seed, n), truncation)
    images = _draw(loaded, z, words.expand(n, -1))
    language = language_of(prompt)
    stem = f"imagine-{slug(prompt)}-s{seed}"
    arts = [
        Artwork(
            name=f"{stem}-{i:03d}",
            image=to_pil(images[i]),
            provenance=loaded.provenance(
                "imagine", seed=seed, index=i, language=language, latent=encode_latent(z[i])
            ),
        )
        for i in range(n)
    ]
    return Result(arts, grid=make_grid(images), stem=stem, message=note)


def interpolate(
    loaded: LoadedModel,
    prompt_a: Annotated[str, Param("the walk's first prompt", flag="from")],
    prompt_b: Annotated[str, Param("the walk's last prompt", flag="to")],
    frames: Annotated[int, Param("frames from end to end", min=2, max=240)] = 24,
    seed: Annotated[int, SEED] = 0,
) -> Result:
    """A prompt walk: the same latent drawn while the words turn from one prompt into the
    other (frames and a looping GIF)."""
    a, note_a = _sentence(loaded, prompt_a)
    b, note_b = _sentence(loaded, prompt_b)
    ts = [i / (frames - 1) for i in range(frames)]
    words = torch.stack([slerp(a, b, t) for t in ts])
    z = draw_latents(loaded.model.z_dim, seed, 1).expand(frames, -1)
    images = _draw(loaded, z, words)
    names = [f"walk-s{seed}-{i:03d}" for i in range(frames)]
    ends = [f"{names[0]}.png", f"{names[-1]}.png"]
    arts = [
        Artwork(
            name=name,
            image=to_pil(images[i]),
            provenance=loaded.provenance(
                "interpolate", seed=seed, t=t, ends=ends, latent=encode_latent(z[i])
            ),
        )
        for i, (name, t) in enumerate(zip(names, ts, strict=True))
    ]
    frames_out = [to_pil(img) for img in images] + [to_pil(img) for img in images.flip(0)[1:-1]]
    message = "; ".join(n for n in (note_a, note_b) if n) or None
    grid = make_grid(images, nrow=min(frames, 12))
    return Result(arts, grid=grid, frames=frames_out, stem=f"walk-s{seed}", message=message)


@torch.inference_mode()
def evaluate(
    loaded: LoadedModel,
    n: Annotated[int, Param("held-out captions to draw (at most)", min=2, max=10_000)] = 500,
    seed: Annotated[int, SEED] = 0,
    out_dir: Path | None = None,
) -> Result:
    """R-precision of the pictures drawn for held-out captions: the share whose own caption
    ranks first among 100, judged by the text–image encoder the model learnt from (per
    language), beside the same for the real held-out pictures (the judge's ceiling)."""
    info = loaded.manifest.get("data", {})
    if not info.get("source") or not info.get("encoder"):
        raise InputError(f"model '{loaded.path}' records no data or encoder to evaluate with")
    judge = _encoder(loaded, info["encoder"]).model.eval()
    full = load_captioned(info["source"], image_size=loaded.model.cfg.image_size)
    _, holdout = split(full, info.get("holdout", HOLDOUT), info.get("split_seed", SPLIT_SEED))
    k = min(n, len(holdout))
    out: dict[str, object] = {"data": info["source"], "pictures": k, "candidates": 100}
    for lang in holdout.languages:
        captions = [c[lang] for c in holdout.captions[:k]]
        words = torch.cat([loaded.model.sentences(captions[i : i + 256]) for i in range(0, k, 256)])
        drawn = _draw(loaded, draw_latents(loaded.model.z_dim, seed, k), words)
        drawn = _fit(drawn, judge.cfg.image_size)
        real = _fit(holdout.images[:k], judge.cfg.image_size)
        out[f"r_precision_{lang}"] = r_precision(judge, drawn, captions, seed=seed)
        out[f"r_precision_real_{lang}"] = r_precision(judge, real, captions, seed=seed)
    if str(info["source"]).startswith("captioned-shapes"):
        out |= _attributes(loaded, k, seed)
    return Result(data=out, stem="evaluation")


def _attributes(loaded: LoadedModel, n: int, seed: int) -> dict[str, dict[str, float]]:
    """On captioned-shapes: how often a separately trained judge sees the asked-for colour,
    shape, size, position and background — for colour–shape pairs seen in training and
    for the held-out pairs (composition), per language, beside real pictures (the judge's
    ceiling)."""
    size = loaded.model.cfg.image_size
    judge = load_judge(size)
    out = {}
    for split_name, key in (("train", "seen"), ("held-out", "held_out")):
        asked = captioned_shapes(size, n=n, seed=10_000 + seed, split=split_name)
        attrs = list(asked.attributes or ())
        out[f"attributes_{key}_real"] = attribute_accuracy(judge, asked.images, attrs)
        z = draw_latents(loaded.model.z_dim, seed, n)
        for lang in ("en", "zh"):
            words = loaded.model.sentences([c[lang] for c in asked.captions])
            drawn = _draw(loaded, z, words)
            out[f"attributes_{key}_{lang}"] = attribute_accuracy(judge, drawn, attrs)
    return out


def _encoder(loaded: LoadedModel, recorded: dict) -> LoadedModel:
    """The encoder the model learnt from: where it was, or beside the model (starters move
    with their folder); it must be the very same weights."""
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


def _fit(images: torch.Tensor, size: int) -> torch.Tensor:
    if images.shape[-1] == size:
        return images
    return torch.nn.functional.interpolate(images, size=(size, size), mode="area")
