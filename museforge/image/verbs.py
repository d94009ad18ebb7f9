"""The verbs of image models: sample, interpolate, breed, mutate, project, encode, evaluate.

Each verb takes a loaded artifact and the settings declared in its signature, and returns
a :class:`Result` whose artworks carry what is needed to re-make them beyond the call's
settings (which :func:`museforge.core.registry.call_verb` records): model hash, seed, the
latent itself, the label, and the lineage of parents.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import torch
import torch.nn.functional as F

from museforge.core.artifact import LoadedModel
from museforge.core.artwork import Artwork, Result
from museforge.core.grid import make_grid, to_pil
from museforge.core.latent import (
    crossover,
    draw_labels,
    draw_latents,
    encode_latent,
    mutate,
    principal_directions,
    slerp,
    sweep,
    truncate,
)
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
from museforge.errors import InputError
from museforge.gallery.provenance import parent_record, read_latent_parent
from museforge.image.autoencoder import psnr, squared_errors
from museforge.image.data import load_image_dataset, load_image_file, split_dataset

BATCH = 256

# the kinds that draw pictures from latents
PICTURE_KINDS = ("image-gan", "image-vae", "image-flow")
Label = Annotated[int | None, Param("class for conditional models")]
Truncation = Annotated[float, Param("≤1: more typical, less varied", max=1.0)]


def typical_latents(z_dim: int, seed: int, n: int, truncation: float) -> torch.Tensor:
    """``n`` latents of ``seed``, truncated towards the typical (1: not at all)."""
    if truncation <= 0:  # Param bounds are inclusive; zero would collapse every latent
        raise InputError(f"truncation must be above 0 and at most 1 (got {truncation})")
    return truncate(draw_latents(z_dim, seed, n), truncation)


@torch.inference_mode()
def generate_images(model: Any, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """Run the model's generator over ``z`` in batches; images in [-1, 1]."""
    model.eval()
    chunks = []
    for start in range(0, z.shape[0], BATCH):
        y = None if labels is None else labels[start : start + BATCH]
        chunks.append(model.generate(z[start : start + BATCH], y))
    return torch.cat(chunks)


def check_label(loaded: LoadedModel, label: int | None) -> None:
    classes = loaded.model.num_classes
    if label is not None and not classes:
        raise InputError(f"model '{loaded.path}' is not class-conditional; give no label")
    if label is not None and not 0 <= label < classes:
        names = loaded.manifest.get("data", {}).get("class_names") or list(range(classes))
        raise InputError(f"label must be 0..{classes - 1} for this model (classes: {names})")


def _artworks(loaded, verb, images, z, labels, names, extra) -> list[Artwork]:
    arts = []
    for i, name in enumerate(names):
        prov = loaded.provenance(verb, latent=encode_latent(z[i]), **extra[i])
        if labels is not None:
            prov["label"] = int(labels[i])
        arts.append(Artwork(name=name, image=to_pil(images[i]), provenance=prov))
    return arts


def sample(
    loaded: LoadedModel,
    n: Annotated[int, Param("how many outputs", min=1, max=100_000)] = 16,
    seed: Annotated[int, SEED] = 0,
    truncation: Truncation = 1.0,
    label: Label = None,
) -> Result:
    """Draw ``n`` images from seed ``seed``; ``truncation`` < 1 trades variety for typicality."""
    z = typical_latents(loaded.model.z_dim, seed, n, truncation)
    check_label(loaded, label)
    model = loaded.model
    labels = draw_labels(model.num_classes, seed, n, label)
    images = generate_images(model, z, labels)
    extra = [{"seed": seed, "index": i} for i in range(n)]
    names = [f"sample-s{seed}-{i:04d}" for i in range(n)]
    arts = _artworks(loaded, "sample", images, z, labels, names, extra)
    return Result(arts, grid=make_grid(images), stem=f"sample-s{seed}")


def interpolate(
    loaded: LoadedModel,
    seed_a: Annotated[int, Param("seed of the first end")] = 1,
    seed_b: Annotated[int, Param("seed of the last end")] = 2,
    frames: Annotated[int, Param("frames from end to end", min=2)] = 24,
    label: Label = None,
) -> Result:
    """Walk between two seeds' latents (slerp): PNG frames and a looping GIF."""
    check_label(loaded, label)
    model = loaded.model
    a, b = draw_latents(model.z_dim, seed_a, 1)[0], draw_latents(model.z_dim, seed_b, 1)[0]
    ts = [i / (frames - 1) for i in range(frames)]
    z = torch.stack([slerp(a, b, t) for t in ts])
    la = draw_labels(model.num_classes, seed_a, 1, label)
    labels = None if la is None else la.expand(frames).clone()
    images = generate_images(model, z, labels)
    names = [f"interp-s{seed_a}-s{seed_b}-{i:03d}" for i in range(frames)]
    # The frames are the GIF's stills: written, each records the animation it belongs to.
    extra = [{"seed": seed_a, "t": t} for t in ts]
    arts = _artworks(loaded, "interpolate", images, z, labels, names, extra)
    ping_pong = [to_pil(img) for img in images] + [to_pil(img) for img in images.flip(0)[1:-1]]
    return Result(
        arts,
        grid=make_grid(images, nrow=min(frames, 12)),
        frames=ping_pong,
        stem=f"interp-s{seed_a}-s{seed_b}",
    )


def _parent(loaded: LoadedModel, path: Path) -> tuple[torch.Tensor, int | None, str]:
    prov, z, digest = read_latent_parent(
        path,
        loaded.sha256,
        loaded.short_hash,
        loaded.model.z_dim,
        "breed parents of the same model",
    )
    return z, prov.get("label"), digest


def breed(
    loaded: LoadedModel,
    parents: Annotated[list[Path], PARENTS],
    children: Annotated[int, CHILDREN] = 8,
    mutation: Annotated[float, MUTATION] = 0.3,
    seed: Annotated[int, SEED] = 0,
) -> Result:
    """Children of parent PNGs: their latents crossed over, then ``mutation`` of fresh noise."""
    if not parents:
        raise InputError("breed needs at least one parent PNG")
    info = [_parent(loaded, Path(p)) for p in parents]
    zs = torch.stack([z for z, _, _ in info])
    gen = stream(seed, "breed")
    z = torch.stack([mutate(crossover(zs, gen), mutation, gen) for _ in range(children)])
    labels = None
    if loaded.model.num_classes:
        picks = torch.randint(len(info), (children,), generator=gen)
        labels = torch.tensor([int(info[i][1] or 0) for i in picks])
    images = generate_images(loaded.model, z, labels)
    lineage = [
        {"file": Path(p).name, "sha256": d} for p, (_, _, d) in zip(parents, info, strict=True)
    ]
    extra = [{"seed": seed, "index": i, "parents": lineage} for i in range(children)]
    names = [f"child-s{seed}-{i:03d}" for i in range(children)]
    arts = _artworks(loaded, "breed", images, z, labels, names, extra)
    return Result(arts, grid=make_grid(images), stem=f"breed-s{seed}")


def mutate_along(
    loaded: LoadedModel,
    parent: Annotated[Path, PARENT],
    direction: Annotated[int, DIRECTION] = 0,
    amount: Annotated[float, AMOUNT] = 2.0,
    frames: Annotated[int, SWEEP] = 1,
) -> Result:
    """Push a picture along one of its 8 principal latent directions (0 changes the picture
    most): ``amount`` latent standard deviations, or ``frames`` pictures from -amount to
    +amount."""
    z0, label, digest = _parent(loaded, Path(parent))
    labels = None if label is None else torch.tensor([int(label)])
    model = loaded.model.eval()

    def render(v: torch.Tensor) -> torch.Tensor:
        return model.generate(v, None if labels is None else labels.expand(len(v)))

    dirs = principal_directions(render, z0, MAX_DIRECTIONS)
    steps = sweep(amount, frames)
    z = torch.stack([z0 + a * dirs[direction] for a in steps])
    many = None if labels is None else labels.expand(len(steps)).clone()
    images = generate_images(model, z, many)
    parents = [{"file": Path(parent).name, "sha256": digest}]
    extra = [{"offset": a, "index": i, "parents": parents} for i, a in enumerate(steps)]
    stem = f"{Path(parent).stem}-d{direction}"
    names = [f"{stem}-{i:02d}" for i in range(len(steps))]
    arts = _artworks(loaded, "mutate", images, z, many, names, extra)
    return Result(arts, grid=make_grid(images, nrow=min(len(steps), 12)), stem=stem)


def project(
    loaded: LoadedModel,
    image: Annotated[Path, Param("your image", input="image", positional=True)],
    steps: Annotated[int, Param("optimisation steps", min=1, max=100_000)] = 300,
    seed: Annotated[int, SEED] = 0,
    label: Label = None,
) -> Result:
    """Find the latent that best re-draws your image (then breed or interpolate it).

    GANs start from the best of 64 seeded latents; VAEs from the encoder's mean. Both are
    then refined with Adam on pixel error plus a small pull towards typical latents.
    """
    check_label(loaded, label)
    model = loaded.model
    cfg = model.cfg
    target = load_image_file(image, image_size=cfg.image_size, channels=cfg.channels)
    labels = None if not model.num_classes else torch.full((1,), label or 0, dtype=torch.long)
    model.eval()
    model.requires_grad_(False)
    if hasattr(model, "encode"):
        with torch.no_grad():
            z0 = model.encode(target, labels)[0]
    else:
        cands = draw_latents(model.z_dim, seed, 64)
        errs = (
            generate_images(model, cands, None if labels is None else labels.expand(64)) - target
        ) ** 2
        z0 = cands[errs.flatten(1).mean(1).argmin()].unsqueeze(0)
    z = z0.clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=0.05)
    start_err = F.mse_loss(model.generate(z0, labels), target).item()
    for _ in range(steps):
        loss = F.mse_loss(model.generate(z, labels), target) + 1e-4 * z.pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.requires_grad_(True)
    z = z.detach()
    images = generate_images(model, z, labels)
    end_err = F.mse_loss(images, target).item()
    extra = [{"seed": seed, "source": parent_record(image)}]
    arts = _artworks(loaded, "project", images, z, labels, [f"projected-{Path(image).stem}"], extra)
    return Result(
        arts,
        grid=make_grid(torch.cat([target, images]), nrow=2),
        data={"mse_start": start_err, "mse_end": end_err, "steps": steps},
        stem=f"projected-{Path(image).stem}",
        message=f"pixel error {start_err:.4f} -> {end_err:.4f}",
    )


def reconstruct(
    loaded: LoadedModel,
    images: Annotated[list[Path], Param("images to reconstruct", input="images", positional=True)],
) -> Result:
    """Encode and decode images (VAE), side by side with the originals."""
    cfg = loaded.model.cfg
    if not images:
        raise InputError("give at least one image to reconstruct")
    x = torch.cat([load_image_file(p, cfg.image_size, cfg.channels) for p in images])
    labels = torch.zeros(len(images), dtype=torch.long) if loaded.model.num_classes else None
    with torch.inference_mode():
        z = loaded.model.encode(x, labels)[0]
    out = generate_images(loaded.model, z, labels)
    extra = [{"source": {"file": Path(p).name}} for p in images]
    names = [f"recon-{Path(p).stem}" for p in images]
    arts = _artworks(loaded, "reconstruct", out, z, labels, names, extra)
    pairs = torch.stack([x, out], dim=1).flatten(0, 1)
    data = {
        "latents": {Path(p).name: z[i].tolist() for i, p in enumerate(images)},
        "mse": F.mse_loss(out, x).item(),
    }
    return Result(arts, grid=make_grid(pairs, nrow=2), data=data, stem="reconstruct")


def rebuild(
    loaded: LoadedModel,
    images: Annotated[list[Path], Param("pictures to rebuild", input="images", positional=True)],
    size: Annotated[int, Param("square side the pictures are read at", min=16, max=512)] = 64,
) -> Result:
    """Pictures through the autoencoder and back, beside the originals, with the PSNR of
    each: what a latent flow in its grid can draw of them at best."""
    if not images:
        raise InputError("give at least one picture to rebuild")
    if size % 4:
        raise InputError(f"size must be a multiple of 4 (got {size})")
    ae = loaded.model.autoencoder
    x = torch.cat([load_image_file(p, size, ae.image_channels) for p in images])
    with torch.inference_mode():
        z = ae.encode(x)
        out = ae.decode(z).clamp(-1, 1)
    db = psnr(squared_errors(out, x)).tolist()
    pairs = list(zip(images, db, strict=True))
    extra = [{"source": {"file": Path(p).name}, "psnr": round(v, 2)} for p, v in pairs]
    names = [f"rebuilt-{Path(p).stem}" for p in images]
    arts = _artworks(loaded, "reconstruct", out, z.flatten(1), None, names, extra)
    data = {Path(p).name: {"psnr": round(v, 2)} for p, v in pairs}
    mean = sum(db) / len(db)
    grid = make_grid(torch.stack([x, out], dim=1).flatten(0, 1), nrow=2)
    return Result(arts, grid=grid, data=data, stem="rebuilt", message=f"PSNR {mean:.1f} dB")


def encode(
    loaded: LoadedModel,
    images: Annotated[list[Path], Param("images to encode", input="images", positional=True)],
) -> Result:
    """Encode images to latents (VAE): JSON of latents plus reconstructions."""
    return reconstruct(loaded, images)


def evaluate(
    loaded: LoadedModel,
    n: Annotated[int, Param("samples to generate", min=1, max=50_000)] = 2000,
    seed: Annotated[int, SEED] = 0,
    out_dir: Path | None = None,
) -> Result:
    """FID/KID with museforge's own feature net, precision/recall and the memorisation check.

    Generated samples are compared with the training split the model recorded; the
    held-out split gives a real-data floor and the reference distance for near-copies. On
    data with classes, a classifier trained apart says how often each class is drawn
    recognisably (and, for a conditional model, as the class asked for).
    """
    from museforge.image.evaluate import evaluate_images  # metrics: only needed here

    data_info = loaded.manifest.get("data", {})
    source = data_info.get("source")
    if not source:
        raise InputError(f"model '{loaded.path}' does not record its training data")
    cfg = loaded.model.cfg
    full = load_image_dataset(source, image_size=cfg.image_size, channels=cfg.channels)
    train, holdout = split_dataset(
        full, holdout=data_info.get("holdout", 0.1), seed=data_info.get("split_seed", 0)
    )
    model = loaded.model
    z = draw_latents(model.z_dim, seed, n)
    labels = draw_labels(model.num_classes, seed, n)
    images = generate_images(model, z, labels)
    metrics = evaluate_images(images, train, holdout, out_dir=out_dir, seed=seed, labels=labels)
    metrics["model"] = {"sha256": loaded.sha256, "kind": loaded.kind, "path": str(loaded.path)}
    metrics["data_matches_training"] = train.fingerprint == data_info.get("fingerprint")
    return Result(data=metrics, stem="evaluation")
