"""The verbs of text-to-image models: imagine pictures from words, and walk from one prompt
to another. Every picture records its latent, its sentence vector and its prompt, so the
gallery can tell how it was made and the picture verbs (verbs_pictures) can breed it."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Annotated, Any

import torch

from museforge.core.artifact import LoadedModel
from museforge.core.artwork import Artwork, Result
from museforge.core.grid import make_grid, to_pil
from museforge.core.latent import draw_latents, encode_latent, slerp, truncate
from museforge.core.verbs import SEED, Param
from museforge.crossmodal.folders import language_of
from museforge.crossmodal.imagine_eval import evaluate_model
from museforge.crossmodal.prompts import guided, neutral_sentence, prompt_sentence

BATCH = 64


def slug(prompt: str) -> str:
    """A short file-name part for a prompt: its first Latin words, else a digest."""
    words = re.findall(r"[a-z0-9]+", prompt.lower())[:4]
    return "-".join(words) or "p" + hashlib.sha1(prompt.encode()).hexdigest()[:8]


@torch.inference_mode()
def draw(
    loaded: LoadedModel,
    z: torch.Tensor,
    words: torch.Tensor,
    guidance: float | None = None,
    against: torch.Tensor | None = None,
) -> torch.Tensor:
    """Pictures in [-1, 1] for latents ``z`` and sentence vectors ``words`` (N rows each);
    a flow is guided by ``guidance`` (None: the model's own) away from the sentence
    ``against`` (None: no words)."""
    model = loaded.model.eval()
    away = None if against is None else against.expand(len(z), -1)
    parts = [
        model.generate(
            z[i : i + BATCH],
            words[i : i + BATCH],
            guidance=guidance,
            against=None if away is None else away[i : i + BATCH],
        )
        for i in range(0, len(z), BATCH)
    ]
    return torch.cat(parts)


def is_flow(loaded: LoadedModel) -> bool:
    """Whether the model is a flow (guided by its velocities), not a GAN."""
    return loaded.model.cfg.is_flow


def mixed_prompt(prompts: list[str | None], weights: list[float]) -> dict[str, Any]:
    """The provenance's words of a picture drawn from a mix of prompts' sentences:
    ``prompt`` (the prompts that weigh, heaviest first, joined by " / ") and, for a true
    mix, ``prompts`` with their weights. None stands for a projected picture's own words."""
    total: dict[str | None, float] = {}
    for p, w in zip(prompts, weights, strict=True):
        total[p] = total.get(p, 0.0) + float(w)
    kept = sorted(((p, w) for p, w in total.items() if w > 0), key=lambda pw: -pw[1])
    named = [p for p, _ in kept if p is not None]
    out: dict[str, Any] = {"prompt": " / ".join(named) if named else None}
    if len(kept) > 1:
        out["prompts"] = [{"prompt": p, "weight": round(w, 6)} for p, w in kept]
    return out


def picture_artworks(
    loaded: LoadedModel,
    verb: str,
    images: torch.Tensor,
    z: torch.Tensor,
    words: torch.Tensor,
    names: list[str],
    extra: list[dict[str, Any]],
) -> list[Artwork]:
    """One artwork per picture, each recording its latent and sentence vector (what
    breed, mutate, project and more start from) beside ``extra`` (prompt, lineage...)."""
    return [
        Artwork(
            name=name,
            image=to_pil(images[i]),
            provenance=loaded.provenance(
                verb, latent=encode_latent(z[i]), sentence=encode_latent(words[i]), **extra[i]
            ),
        )
        for i, name in enumerate(names)
    ]


def imagine_sentence(
    loaded: LoadedModel, prompt: str, negative: str | None, guidance: float | None
) -> tuple[torch.Tensor, dict[str, Any], list[str]]:
    """The sentence imagine draws from, how to draw it (:func:`draw`'s guidance and
    against) and notes for the user. A flow is guided by its velocities; the GAN by
    sentence arithmetic (museforge.crossmodal.prompts), 2 with a negative prompt, else 1."""
    words, notes = prompt_sentence(loaded, prompt)
    away = None
    if negative and negative.strip():
        away, more = prompt_sentence(loaded, negative, what="negative prompt")
        notes += more
    if is_flow(loaded):
        weight = loaded.model.cfg.guidance if guidance is None else guidance
    else:
        weight = guidance if guidance is not None else (1.0 if away is None else 2.0)
    if weight == 1 and away is not None:
        notes.append("guidance 1: the negative prompt has no weight")
    if is_flow(loaded):
        return words, {"guidance": guidance, "against": away}, notes
    return guided(words, neutral_sentence(loaded) if away is None else away, weight), {}, notes


def imagine(
    loaded: LoadedModel,
    prompt: Annotated[str, Param("what to draw, in English or Chinese", positional=True)],
    n: Annotated[int, Param("how many pictures", min=1, max=1024)] = 8,
    seed: Annotated[int, SEED] = 0,
    truncation: Annotated[float, Param("≤1: more typical, less varied", min=0.05, max=1)] = 1.0,
    negative: Annotated[str | None, Param("words to steer away from")] = None,
    guidance: Annotated[
        float | None,
        Param(
            "1: the prompt alone; more: pushed further from the negative prompt (or from "
            "no words); default: a flow's own, a GAN's 2 with a negative prompt, else 1",
            min=0,
            max=20,
        ),
    ] = None,
) -> Result:
    """Pictures of ``prompt`` (picture i of a seed is the same however many are asked
    for), steered by ``guidance`` away from ``negative`` or from no words in particular."""
    words, how, notes = imagine_sentence(loaded, prompt, negative, guidance)
    z = truncate(draw_latents(loaded.model.z_dim, seed, n), truncation)
    many = words.expand(n, -1)
    images = draw(loaded, z, many, **how)
    stem = f"imagine-{slug(prompt)}-s{seed}"
    extra = [
        {"seed": seed, "index": i, "language": language_of(prompt), "prompt": prompt}
        for i in range(n)
    ]
    names = [f"{stem}-{i:03d}" for i in range(n)]
    arts = picture_artworks(loaded, "imagine", images, z, many, names, extra)
    return Result(arts, grid=make_grid(images), stem=stem, message="; ".join(notes) or None)


def interpolate(
    loaded: LoadedModel,
    prompt_a: Annotated[str, Param("the walk's first prompt", flag="from")],
    prompt_b: Annotated[str, Param("the walk's last prompt", flag="to")],
    frames: Annotated[int, Param("frames from end to end", min=2, max=240)] = 24,
    seed: Annotated[int, SEED] = 0,
) -> Result:
    """A prompt walk: the same latent drawn while the words turn from one prompt into the
    other (frames and a looping GIF)."""
    a, notes_a = prompt_sentence(loaded, prompt_a)
    b, notes_b = prompt_sentence(loaded, prompt_b)
    ts = [i / (frames - 1) for i in range(frames)]
    words = torch.stack([slerp(a, b, t) for t in ts])
    z = draw_latents(loaded.model.z_dim, seed, 1).expand(frames, -1)
    images = draw(loaded, z, words)
    names = [f"walk-s{seed}-{i:03d}" for i in range(frames)]
    # The frames are the GIF's stills: written, each records the animation it belongs to.
    extra = [{"seed": seed, "t": t, **mixed_prompt([prompt_a, prompt_b], [1 - t, t])} for t in ts]
    arts = picture_artworks(loaded, "interpolate", images, z, words, names, extra)
    frames_out = [to_pil(img) for img in images] + [to_pil(img) for img in images.flip(0)[1:-1]]
    message = "; ".join(dict.fromkeys(notes_a + notes_b)) or None
    grid = make_grid(images, nrow=min(frames, 12))
    return Result(arts, grid=grid, frames=frames_out, stem=f"walk-s{seed}", message=message)


def evaluate(
    loaded: LoadedModel,
    n: Annotated[int, Param("held-out captions to draw (at most)", min=2, max=10_000)] = 500,
    seed: Annotated[int, SEED] = 0,
    out_dir: Path | None = None,
) -> Result:
    """Pictures drawn for held-out captions, scored: R-precision and the picture–caption
    score by the encoder the model learnt from (per language, beside real pictures), FID
    and KID in that encoder's picture space, the copy check (worst cases written to
    ``out_dir``), and on captioned-shapes the attribute judge (docs/crossmodal.md)."""
    return Result(data=evaluate_model(loaded, n, seed, out_dir), stem="evaluation")
