"""The verbs that start from text-to-image pictures: breed, mutate, project and "more X".

A text-to-image picture is its latent ``z`` and its sentence vector (the words), both
recorded in its provenance (pictures made before sentences were recorded are read from
their recorded prompt). The verbs mirror the image GANs' — same names, settings and
lineage — and act on the words too: children blend their parents' sentences, a mutation
may take new words, a projection fits the words as well as the latent, and ``more``
pushes the words towards other words.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch
import torch.nn.functional as F

from museforge.core.artifact import LoadedModel
from museforge.core.artwork import Result
from museforge.core.grid import make_grid
from museforge.core.latent import (
    crossover,
    decode_latent,
    draw_latents,
    principal_directions,
    slerp,
    sweep,
)
from museforge.core.latent import (
    mutate as mutate_latent,
)
from museforge.core.media import read_image
from museforge.core.seeding import stream
from museforge.core.verbs import (
    AMOUNT,
    CHILDREN,
    DIRECTION,
    MAX_DIRECTIONS,
    MUTATION,
    PARENT,
    PARENTS,
    SEED,
    SWEEP,
    Param,
)
from museforge.crossmodal.prompts import (
    blend,
    neutral_sentence,
    on_sphere,
    prompt_sentence,
    pushed,
)
from museforge.crossmodal.verbs_imagine import (
    draw,
    imagine_sentence,
    mixed_prompt,
    picture_artworks,
    slug,
)
from museforge.errors import InputError
from museforge.gallery.provenance import parent_record, read_latent_parent

# A latent bigger than this (a flow's noise picture: 3·32² numbers) is searched for its
# directions in a fixed random slice of SLICE dimensions: the full Jacobian would take two
# drawings per number, each a whole flow integration.
FULL_SEARCH_MAX = 256
SLICE = 32
PROJECT_CANDIDATES = 64
PRIOR = 1e-4  # the image GANs' pull towards typical latents


@dataclass(frozen=True)
class Parent:
    """A picture of this model: its latent, its sentence, its prompt and its lineage entry."""

    z: torch.Tensor
    sentence: torch.Tensor
    prompt: str | None
    lineage: dict[str, str]


def read_parent(loaded: LoadedModel, path: Path) -> Parent:
    """The state of a PNG made by this very model, or a one-line error saying why not."""
    prov, z, digest = read_latent_parent(
        path,
        loaded.sha256,
        loaded.short_hash,
        loaded.model.z_dim,
        "use pictures of the same model",
    )
    lineage = {"file": Path(path).name, "sha256": digest}
    return Parent(z, _sentence_of(loaded, prov, path), _prompt_of(prov), lineage)


def _sentence_of(loaded: LoadedModel, prov: dict[str, Any], path: Path) -> torch.Tensor:
    """The recorded sentence vector, else the one its recorded prompt(s) give."""
    dim = loaded.model.cfg.encoder_config.embed_dim
    if "sentence" in prov:
        s = decode_latent(prov["sentence"])
        if s.numel() != dim:
            raise InputError(f"'{path}': its sentence has {s.numel()} values, not {dim}")
        return s
    args = prov.get("args") or {}
    if prov.get("verb") == "imagine" and args.get("prompt"):
        words, _, _ = imagine_sentence(
            loaded, args["prompt"], args.get("negative"), args.get("guidance")
        )
        return words
    if prov.get("verb") == "interpolate" and args.get("prompt_a") and args.get("prompt_b"):
        a = prompt_sentence(loaded, args["prompt_a"])[0]
        b = prompt_sentence(loaded, args["prompt_b"])[0]
        return slerp(a, b, float(prov.get("t", 0.0)))
    raise InputError(f"'{path}' records neither its words nor its sentence vector")


def _prompt_of(prov: dict[str, Any]) -> str | None:
    if "prompt" in prov:
        return prov["prompt"]
    args = prov.get("args") or {}
    if args.get("prompt"):
        return str(args["prompt"])
    if args.get("prompt_a") and args.get("prompt_b"):
        t = float(prov.get("t", 0.0))
        return mixed_prompt([args["prompt_a"], args["prompt_b"]], [1 - t, t])["prompt"]
    return None


def breed(
    loaded: LoadedModel,
    parents: Annotated[list[Path], PARENTS],
    children: Annotated[int, CHILDREN] = 8,
    mutation: Annotated[float, MUTATION] = 0.3,
    seed: Annotated[int, SEED] = 0,
) -> Result:
    """Children of parent PNGs: their latents crossed over, then ``mutation`` of fresh
    noise; their words a random blend of the parents' sentences (parents of one prompt
    give children of that prompt)."""
    if not parents:
        raise InputError("breed needs at least one parent PNG")
    found = [read_parent(loaded, Path(p)) for p in parents]
    zs = torch.stack([p.z for p in found])
    sentences = torch.stack([p.sentence for p in found])
    gen, word_gen = stream(seed, "breed"), stream(seed, "breed", "words")
    z = torch.stack([mutate_latent(crossover(zs, gen), mutation, gen) for _ in range(children)])
    # Uniform weights on the simplex (Dirichlet(1)): for two parents, a uniform point between.
    weights = -torch.rand(children, len(found), generator=word_gen).clamp_min(1e-12).log()
    weights = weights / weights.sum(1, keepdim=True)
    words = torch.stack([blend(sentences, w) for w in weights])
    images = draw(loaded, z, words)
    lineage = [p.lineage for p in found]
    prompts = [p.prompt for p in found]
    extra = [
        {"seed": seed, "index": i, "parents": lineage, **mixed_prompt(prompts, weights[i].tolist())}
        for i in range(children)
    ]
    names = [f"child-s{seed}-{i:03d}" for i in range(children)]
    arts = picture_artworks(loaded, "breed", images, z, words, names, extra)
    return Result(arts, grid=make_grid(images), stem=f"breed-s{seed}")


def mutate(
    loaded: LoadedModel,
    parent: Annotated[Path, PARENT],
    direction: Annotated[int, DIRECTION] = 0,
    amount: Annotated[float, AMOUNT] = 2.0,
    frames: Annotated[int, SWEEP] = 1,
    prompt: Annotated[str | None, Param("new words to draw it with (else its own)")] = None,
) -> Result:
    """Push a picture along one of its 8 principal latent directions (0 changes the picture
    most), keeping its words or drawing it with ``prompt``: ``amount`` latent standard
    deviations, or ``frames`` pictures from -amount to +amount."""
    source = read_parent(loaded, Path(parent))
    notes: list[str] = []
    words, said = source.sentence, source.prompt
    if prompt is not None and prompt.strip():
        words, notes = prompt_sentence(loaded, prompt)
        said = prompt
    model = loaded.model.eval()

    def render(v: torch.Tensor) -> torch.Tensor:
        return model.generate(v, words.expand(len(v), -1))

    dirs = _directions(render, source.z)
    steps = sweep(amount, frames)
    z = torch.stack([source.z + a * dirs[direction] for a in steps])
    many = words.expand(len(steps), -1)
    images = draw(loaded, z, many)
    extra = [
        {"offset": a, "index": i, "parents": [source.lineage], "prompt": said}
        for i, a in enumerate(steps)
    ]
    stem = f"{Path(parent).stem}-d{direction}"
    names = [f"{stem}-{i:02d}" for i in range(len(steps))]
    arts = picture_artworks(loaded, "mutate", images, z, many, names, extra)
    grid = make_grid(images, nrow=min(len(steps), 12))
    return Result(arts, grid=grid, stem=stem, message="; ".join(notes) or None)


def _directions(render: Any, z: torch.Tensor) -> torch.Tensor:
    """The picture's MAX_DIRECTIONS principal latent directions at ``z`` (unit vectors), in
    a seeded slice of the latent where it is big."""
    if z.numel() <= FULL_SEARCH_MAX:
        return principal_directions(render, z, MAX_DIRECTIONS)
    gen = stream(0, "mutate", "slice")
    basis, _ = torch.linalg.qr(torch.randn(z.numel(), SLICE, generator=gen))
    inside = principal_directions(
        lambda c: render(z + c @ basis.T), torch.zeros(SLICE), MAX_DIRECTIONS
    )
    return inside @ basis.T


def project(
    loaded: LoadedModel,
    image: Annotated[Path, Param("your image", input="image", positional=True)],
    steps: Annotated[int, Param("optimisation steps", min=1, max=100_000)] = 300,
    seed: Annotated[int, SEED] = 0,
    prompt: Annotated[str | None, Param("words to start from (else the average caption)")] = None,
) -> Result:
    """Find the latent and the words that best re-draw your image (then breed, mutate or
    push it with more).

    The words start from ``prompt``'s sentence or the average caption's; the latent from
    the best of 64 seeded latents with those words. Both are then refined with Adam on
    pixel error plus a small pull towards typical latents (the sentence kept at the
    length the generator learnt)."""
    model = loaded.model.eval()
    size = model.cfg.image_size
    picture = read_image(image, square=size, channels=3, what="picture")
    target = torch.from_numpy(np.ascontiguousarray(picture)).permute(2, 0, 1)[None] * 2 - 1
    notes: list[str] = []
    if prompt is not None and prompt.strip():
        start, notes = prompt_sentence(loaded, prompt)
    else:
        prompt, start = None, on_sphere(neutral_sentence(loaded))
    cands = draw_latents(model.z_dim, seed, PROJECT_CANDIDATES)
    errs = ((draw(loaded, cands, start.expand(len(cands), -1)) - target) ** 2).flatten(1).mean(1)
    z0 = cands[errs.argmin()][None]
    z, u = _fit(model, target, z0, start[None].clone(), steps)
    words = on_sphere(u)
    images = draw(loaded, z, words)
    start_err, end_err = errs.min().item(), F.mse_loss(images, target).item()
    moved = 1 - F.cosine_similarity(words[0], start, dim=0).item()
    source = parent_record(image)
    extra = [{"seed": seed, "source": source, "prompt": prompt}]
    stem = f"projected-{Path(image).stem}"
    arts = picture_artworks(loaded, "project", images, z, words, [stem], extra)
    start_words = repr(prompt) if prompt else "the average caption"
    message = "; ".join(
        [f"pixel error {start_err:.4f} -> {end_err:.4f}; words fitted from {start_words}", *notes]
    )
    return Result(
        arts,
        grid=make_grid(torch.cat([target, images]), nrow=2),
        data={"mse_start": start_err, "mse_end": end_err, "steps": steps, "words_moved": moved},
        stem=stem,
        message=message,
    )


def _fit(
    model: Any, target: torch.Tensor, z0: torch.Tensor, u0: torch.Tensor, steps: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Adam on latent and sentence together; the model's own weights are left untouched
    (and their requires_grad flags as they were: the text tower stays frozen)."""
    params = list(model.parameters())
    flags = [p.requires_grad for p in params]
    model.requires_grad_(False)
    z, u = z0.clone().requires_grad_(True), u0.clone().requires_grad_(True)
    opt = torch.optim.Adam([z, u], lr=0.05)
    try:
        with torch.enable_grad():
            for _ in range(steps):
                drawn = model.generate(z, on_sphere(u))
                loss = F.mse_loss(drawn, target) + PRIOR * z.pow(2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
    finally:
        for p, flag in zip(params, flags, strict=True):
            p.requires_grad_(flag)
    return z.detach(), u.detach()


def more(
    loaded: LoadedModel,
    parent: Annotated[Path, PARENT],
    words: Annotated[str, Param("what to have more of, e.g. 'stars' (English or Chinese)")],
    amount: Annotated[
        float,
        Param(
            "how far: 1 = the whole step from the average caption to the words; negative: less",
            min=-4,
            max=4,
        ),
    ] = 1.0,
    frames: Annotated[int, SWEEP] = 1,
) -> Result:
    """More (or, with a negative ``amount``, less) of ``words``: the picture's sentence is
    pushed along the encoder's direction from the average caption to ``words`` and the
    picture redrawn with the same latent."""
    source = read_parent(loaded, Path(parent))
    target, notes = prompt_sentence(
        loaded, words, what="words", empty="more needs words: what to have more of"
    )
    direction = target - neutral_sentence(loaded)
    steps = sweep(amount, frames)
    sentences = torch.stack([pushed(source.sentence, direction, a) for a in steps])
    z = source.z.expand(len(steps), -1)
    images = draw(loaded, z, sentences)
    extra = [
        {
            "offset": a,
            "index": i,
            "parents": [source.lineage],
            "prompt": source.prompt,
            "more": {"words": words, "amount": a},
        }
        for i, a in enumerate(steps)
    ]
    stem = f"{Path(parent).stem}-more-{slug(words)}"
    names = [f"{stem}-{i:02d}" for i in range(len(steps))]
    arts = picture_artworks(loaded, "condition", images, z, sentences, names, extra)
    grid = make_grid(images, nrow=min(len(steps), 12))
    return Result(arts, grid=grid, stem=stem, message="; ".join(notes) or None)
