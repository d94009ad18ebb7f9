"""The verbs of image models: sample, interpolate, breed, mutate, project, encode, evaluate.

Each verb takes a loaded artifact and plain settings, and returns a :class:`Result` whose
artworks carry everything needed to re-make them: model hash, verb, seed, settings and
the latent itself.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from museforge.core.artifact import LoadedModel
from museforge.core.seeding import stream
from museforge.errors import InputError
from museforge.gallery.artwork import Artwork, Result
from museforge.gallery.provenance import decode_latent, encode_latent, read_png_provenance
from museforge.image.grid import make_grid, to_pil
from museforge.image.latent import (
    crossover,
    draw_labels,
    draw_latents,
    mutate,
    principal_directions,
    slerp,
    truncate,
)

BATCH = 256


@torch.inference_mode()
def generate_images(model: Any, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """Run the model's generator over ``z`` in batches; images in [-1, 1]."""
    model.eval()
    chunks = []
    for start in range(0, z.shape[0], BATCH):
        y = None if labels is None else labels[start : start + BATCH]
        chunks.append(model.generate(z[start : start + BATCH], y))
    return torch.cat(chunks)


def _check_label(loaded: LoadedModel, label: int | None) -> None:
    classes = loaded.model.num_classes
    if label is not None and not classes:
        raise InputError(f"model '{loaded.path}' is not class-conditional; drop --label")
    if label is not None and not 0 <= label < classes:
        names = loaded.manifest.get("data", {}).get("class_names") or list(range(classes))
        raise InputError(f"--label must be 0..{classes - 1} for this model (classes: {names})")


def _provenance(loaded: LoadedModel, verb: str, **fields: Any) -> dict[str, Any]:
    return loaded.provenance(verb, **fields)


def _artworks(loaded, verb, images, z, labels, names, extra) -> list[Artwork]:
    arts = []
    for i, name in enumerate(names):
        prov = _provenance(loaded, verb, latent=encode_latent(z[i]), **extra[i])
        if labels is not None:
            prov["label"] = int(labels[i])
        arts.append(Artwork(name=name, image=to_pil(images[i]), provenance=prov))
    return arts


def _check_positive(name: str, value: float, upper: float | None = None) -> None:
    if value <= 0 or (upper is not None and value > upper):
        bound = f" and at most {upper}" if upper is not None else ""
        raise InputError(f"--{name} must be above 0{bound} (got {value})")


def sample(
    loaded: LoadedModel,
    n: int = 16,
    seed: int = 0,
    truncation: float = 1.0,
    label: int | None = None,
) -> Result:
    """Draw ``n`` images from seed ``seed``; ``truncation`` < 1 trades variety for typicality."""
    _check_positive("n", n, 100_000)
    _check_positive("truncation", truncation, 1.0)
    _check_label(loaded, label)
    model = loaded.model
    z = truncate(draw_latents(model.z_dim, seed, n), truncation)
    labels = draw_labels(model.num_classes, seed, n, label)
    images = generate_images(model, z, labels)
    settings = {"n": n, "truncation": truncation, "label": label}
    extra = [{"seed": seed, "index": i, "settings": settings} for i in range(n)]
    names = [f"sample-s{seed}-{i:04d}" for i in range(n)]
    arts = _artworks(loaded, "sample", images, z, labels, names, extra)
    return Result(arts, grid=make_grid(images), stem=f"sample-s{seed}")


def interpolate(
    loaded: LoadedModel,
    seed_a: int = 1,
    seed_b: int = 2,
    frames: int = 24,
    label: int | None = None,
) -> Result:
    """Walk the latent space from seed_a's first sample to seed_b's (slerp), as frames + GIF."""
    if frames < 2:
        raise InputError(f"--frames must be at least 2 (got {frames})")
    _check_label(loaded, label)
    model = loaded.model
    a, b = draw_latents(model.z_dim, seed_a, 1)[0], draw_latents(model.z_dim, seed_b, 1)[0]
    ts = [i / (frames - 1) for i in range(frames)]
    z = torch.stack([slerp(a, b, t) for t in ts])
    la = draw_labels(model.num_classes, seed_a, 1, label)
    labels = None if la is None else la.expand(frames).clone()
    images = generate_images(model, z, labels)
    settings = {"seed_a": seed_a, "seed_b": seed_b, "frames": frames, "label": label}
    names = [f"interp-s{seed_a}-s{seed_b}-{i:03d}" for i in range(frames)]
    # Each frame names the two ends of its walk, so the gallery can show them as parents.
    ends = [f"{names[0]}.png", f"{names[-1]}.png"]
    extra = [{"seed": seed_a, "t": t, "ends": ends, "settings": settings} for t in ts]
    arts = _artworks(loaded, "interpolate", images, z, labels, names, extra)
    ping_pong = [to_pil(img) for img in images] + [to_pil(img) for img in images.flip(0)[1:-1]]
    return Result(
        arts,
        grid=make_grid(images, nrow=min(frames, 12)),
        frames=ping_pong,
        stem=f"interp-s{seed_a}-s{seed_b}",
    )


def _parent(loaded: LoadedModel, path: Path) -> tuple[torch.Tensor, int | None, str]:
    prov = read_png_provenance(path)
    made_by = prov.get("model", {}).get("sha256")
    if made_by != loaded.sha256:
        raise InputError(
            f"'{path}' was made by model {str(made_by)[:12]}, not by this model "
            f"({loaded.short_hash}); breed parents of the same model"
        )
    if "latent" not in prov:
        raise InputError(f"'{path}' records no latent, so it cannot be bred")
    z = decode_latent(prov["latent"])
    if z.numel() != loaded.model.z_dim:
        raise InputError(f"'{path}': its latent has {z.numel()} values, not {loaded.model.z_dim}")
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return z, prov.get("label"), digest


def breed(
    loaded: LoadedModel,
    parents: list[Path],
    children: int = 8,
    mutation: float = 0.3,
    seed: int = 0,
) -> Result:
    """Children of parent PNGs: crossover of their latents, then ``mutation`` of fresh noise."""
    if not parents:
        raise InputError("give at least one parent PNG (--parents A.png B.png)")
    if not 0 <= mutation <= 1:
        raise InputError(f"--mutation must be between 0 and 1 (got {mutation})")
    _check_positive("children", children, 10_000)
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
    settings = {"children": children, "mutation": mutation}
    extra = [
        {"seed": seed, "index": i, "parents": lineage, "settings": settings}
        for i in range(children)
    ]
    names = [f"child-s{seed}-{i:03d}" for i in range(children)]
    arts = _artworks(loaded, "breed", images, z, labels, names, extra)
    return Result(arts, grid=make_grid(images), stem=f"breed-s{seed}")


MAX_DIRECTIONS = 8


def mutate_along(
    loaded: LoadedModel,
    parent: Path,
    direction: int = 0,
    amount: float = 2.0,
    frames: int = 1,
) -> Result:
    """Push a parent PNG along one of its 8 principal latent directions (0 changes
    the picture most): ``amount`` latent standard deviations, or ``frames`` pictures
    from -amount to +amount."""
    if not 0 <= direction < MAX_DIRECTIONS:
        raise InputError(f"--direction must be 0..{MAX_DIRECTIONS - 1} (got {direction})")
    if not -10 <= amount <= 10:
        raise InputError(f"--amount must be between -10 and 10 (got {amount})")
    if not 1 <= frames <= 64:
        raise InputError(f"--frames must be 1 to 64 (got {frames})")
    z0, label, digest = _parent(loaded, Path(parent))
    labels = None if label is None else torch.tensor([int(label)])
    model = loaded.model.eval()

    def render(v: torch.Tensor) -> torch.Tensor:
        return model.generate(v, None if labels is None else labels.expand(len(v)))

    dirs = principal_directions(render, z0, MAX_DIRECTIONS)
    steps = [amount] if frames == 1 else torch.linspace(-amount, amount, frames).tolist()
    z = torch.stack([z0 + a * dirs[direction] for a in steps])
    many = None if labels is None else labels.expand(len(steps)).clone()
    images = generate_images(model, z, many)
    settings = {"direction": direction, "amount": amount, "frames": frames}
    parents = [{"file": Path(parent).name, "sha256": digest}]
    extra = [
        {"offset": a, "index": i, "parents": parents, "settings": settings}
        for i, a in enumerate(steps)
    ]
    stem = f"{Path(parent).stem}-d{direction}"
    names = [f"{stem}-{i:02d}" for i in range(len(steps))]
    arts = _artworks(loaded, "mutate", images, z, many, names, extra)
    return Result(arts, grid=make_grid(images, nrow=min(len(steps), 12)), stem=stem)


def project(
    loaded: LoadedModel, image: Path, steps: int = 300, seed: int = 0, label: int | None = None
) -> Result:
    """Find the latent whose output best matches a user's image, so it can be bred or edited.

    GANs start from the best of 64 seeded latents; VAEs from the encoder's mean. Both are
    then refined with Adam on pixel error plus a small pull towards typical latents.
    """
    from museforge.image.data import load_image_file

    _check_label(loaded, label)
    _check_positive("steps", steps, 100_000)
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
    digest = hashlib.sha256(Path(image).read_bytes()).hexdigest()
    extra = [
        {
            "seed": seed,
            "source": {"file": Path(image).name, "sha256": digest},
            "settings": {"steps": steps, "label": label},
        }
    ]
    arts = _artworks(loaded, "project", images, z, labels, [f"projected-{Path(image).stem}"], extra)
    data = {"mse_start": start_err, "mse_end": end_err, "steps": steps}
    return Result(
        arts,
        grid=make_grid(torch.cat([target, images]), nrow=2),
        data=data,
        stem=f"projected-{Path(image).stem}",
    )


def reconstruct(loaded: LoadedModel, images: list[Path]) -> Result:
    """Encode and decode user images with a VAE (posterior mean); latents are recorded."""
    from museforge.image.data import load_image_file

    cfg = loaded.model.cfg
    if not images:
        raise InputError("give at least one image to reconstruct")
    x = torch.cat([load_image_file(p, cfg.image_size, cfg.channels) for p in images])
    labels = torch.zeros(len(images), dtype=torch.long) if loaded.model.num_classes else None
    with torch.inference_mode():
        z = loaded.model.encode(x, labels)[0]
    out = generate_images(loaded.model, z, labels)
    extra = [{"source": {"file": Path(p).name}, "settings": {}} for p in images]
    names = [f"recon-{Path(p).stem}" for p in images]
    arts = _artworks(loaded, "reconstruct", out, z, labels, names, extra)
    pairs = torch.stack([x, out], dim=1).flatten(0, 1)
    data = {
        "latents": {Path(p).name: z[i].tolist() for i, p in enumerate(images)},
        "mse": F.mse_loss(out, x).item(),
    }
    return Result(arts, grid=make_grid(pairs, nrow=2), data=data, stem="reconstruct")


def encode(loaded: LoadedModel, images: list[Path]) -> Result:
    """Latent means of user images under a VAE's encoder, as JSON (plus reconstructions)."""
    return reconstruct(loaded, images)


def evaluate(
    loaded: LoadedModel, n: int = 2000, seed: int = 0, out_dir: Path | None = None
) -> Result:
    """FID/KID with museforge's own feature net, precision/recall and the memorisation check.

    Generated samples are compared with the training split the model recorded; the
    held-out split gives a real-data floor and the reference distance for near-copies.
    """
    from museforge.image.data import load_image_dataset, split_dataset
    from museforge.image.evaluate import evaluate_images

    _check_positive("n", n, 50_000)
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
    metrics = evaluate_images(images, train, holdout, out_dir=out_dir, seed=seed)
    metrics["model"] = {"sha256": loaded.sha256, "kind": loaded.kind, "path": str(loaded.path)}
    metrics["data_matches_training"] = train.fingerprint == data_info.get("fingerprint")
    return Result(data=metrics, stem="evaluation")
