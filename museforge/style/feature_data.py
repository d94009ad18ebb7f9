"""``style-pictures``: the real pictures the learned style features are trained on.

Clip art (by category), emoji, Wesnoth's sprites and painted portraits (by faction) and the
built-in photos and textures (each one a class, seen through many random crops): several
thousand pictures of drawn, painted and photographed marks, every one of which ships in a
Debian or Python package. Each picture is labelled ``source:category``; the feature
network learns to tell them apart (and which way up they are), which is what makes its
statistics carry a style.

A tenth of the portraits are held out (every tenth by sorted path), so that style
benchmarks can use painted portraits the features never saw.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from museforge.core.atomic import atomic_write_text, atomic_write_with
from museforge.core.data import get_dataset
from museforge.core.files import default_cache_dir
from museforge.core.registry import load_all
from museforge.core.seeding import stream
from museforge.errors import DataError
from museforge.style.images import PHOTO_SET, TEXTURE_SET, load_rgb

RECIPE = 1
PORTRAIT_HOLDOUT = 10  # every tenth portrait is kept out of training
CROPS_PER_PHOTO = 48
_FOLDERS = re.compile(r"\(([^,)]+)")


@dataclass(frozen=True)
class StylePictures:
    """N×3×side×side pictures as uint8 (on white), a class per picture, and where they came
    from (with each source's licence)."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]
    sources: dict[str, str]  # source name -> licence
    fingerprint: str

    def __len__(self) -> int:
        return self.images.shape[0]


def _to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Float pictures in [0, 1] to uint8."""
    return x.clamp(0, 1).mul(255).round().to(torch.uint8)


def _clipart(side: int) -> tuple[torch.Tensor, list[str], str]:
    found = get_dataset("clipart", "crossmodal")
    data = found.loader(image_size=side)
    labels = []
    for caption in data.captions:
        folders = _FOLDERS.search(caption["en"])
        labels.append(f"clipart:{folders.group(1).strip() if folders else 'other'}")
    return _to_uint8((data.images + 1) / 2), labels, found.licence


def _emoji(side: int) -> tuple[torch.Tensor, list[str], str]:
    found = get_dataset("emoji", "crossmodal")
    data = found.loader(image_size=side)
    return _to_uint8((data.images + 1) / 2), ["emoji"] * len(data), found.licence


def _game_art(name: str, side: int, keep) -> tuple[torch.Tensor, list[str], str]:
    found = get_dataset(name, "image")
    data = found.loader(side, 3)
    idx = torch.tensor([i for i in range(len(data)) if keep(i)])
    labels = [f"{name}:{data.class_names[int(data.labels[i])]}" for i in idx.tolist()]
    return _to_uint8((data.images[idx] + 1) / 2), labels, found.licence


def _photo_crops(side: int) -> tuple[torch.Tensor, list[str], str]:
    """Random square crops (a fifth to all of the short side) of every built-in photo and
    texture, resized to ``side``; each photo is its own class."""
    gen = stream(0, "style-pictures", "crops")
    crops, labels = [], []
    for name in (*PHOTO_SET, *TEXTURE_SET):
        photo = load_rgb(name)
        h, w = photo.shape[-2:]
        for _ in range(CROPS_PER_PHOTO):
            frac = 0.2 + 0.8 * float(torch.rand((), generator=gen))
            s = max(8, round(frac * min(h, w)))
            y = int(torch.randint(h - s + 1, (), generator=gen))
            x = int(torch.randint(w - s + 1, (), generator=gen))
            crop = photo[..., y : y + s, x : x + s]
            crops.append(F.interpolate(crop, size=(side, side), mode="bilinear", antialias=True))
            labels.append(f"photo:{name}")
    return _to_uint8(torch.cat(crops)), labels, "see each photo (museforge data)"


def held_out_portrait(index: int) -> bool:
    """Whether the portrait at ``index`` (sorted by path) is kept out of training."""
    return index % PORTRAIT_HOLDOUT == 0


def build(side: int) -> StylePictures:
    """Collect every source at ``side`` px; a DataError names a source that is missing."""
    load_all()  # the clip-art, emoji and Wesnoth sets are registered by their modalities
    parts = {
        "clipart": lambda: _clipart(side),
        "emoji": lambda: _emoji(side),
        "sprites": lambda: _game_art("sprites", side, lambda i: True),
        "portraits": lambda: _game_art("portraits", side, lambda i: not held_out_portrait(i)),
        "photos": lambda: _photo_crops(side),
    }
    images, labels, sources = [], [], {}
    for name, read in parts.items():
        try:
            x, y, licence = read()
        except DataError as err:
            raise DataError(f"style-pictures needs {name}: {err}") from None
        images.append(x)
        labels += y
        sources[name] = licence
    classes = tuple(sorted(set(labels)))
    digest = hashlib.sha256(f"style-pictures:{side}:r{RECIPE}".encode())
    for x in images:
        digest.update(x.numpy().tobytes())
    return StylePictures(
        torch.cat(images),
        torch.tensor([classes.index(c) for c in labels]),
        classes,
        sources,
        digest.hexdigest()[:16],
    )


def style_pictures(side: int = 80, cache_dir: Path | None = None) -> StylePictures:
    """The ``style-pictures`` set at ``side`` px, built once and cached (safetensors)."""
    root = (Path(cache_dir) if cache_dir is not None else default_cache_dir()) / "style"
    blob = root / f"style-pictures-{side}-r{RECIPE}.safetensors"
    blob_meta = blob.with_suffix(".json")
    if blob.is_file() and blob_meta.is_file():
        try:
            info = json.loads(blob_meta.read_text())
            tensors = load_file(str(blob))
            return StylePictures(
                tensors["images"],
                tensors["labels"],
                tuple(info["classes"]),
                dict(info["sources"]),
                info["fingerprint"],
            )
        except (OSError, ValueError, KeyError, SafetensorError):
            pass  # a damaged cache entry: rebuild it
    data = build(side)
    tensors = {"images": data.images.contiguous(), "labels": data.labels.contiguous()}
    atomic_write_with(blob, lambda tmp: save_file(tensors, str(tmp)))
    info = {"classes": list(data.classes), "sources": data.sources, "fingerprint": data.fingerprint}
    atomic_write_text(blob_meta, json.dumps(info, ensure_ascii=False))
    return data


def held_out_portraits(side: int = 256) -> list[tuple[str, torch.Tensor]]:
    """The portraits kept out of training, as (name, 1×3×side×side in [0, 1] on white):
    painted styles the learned features never saw."""
    load_all()
    data = get_dataset("portraits", "image").loader(side, 3)
    out, seen = [], {}
    for i in range(len(data)):
        if held_out_portrait(i):
            faction = data.class_names[int(data.labels[i])]
            seen[faction] = seen.get(faction, 0) + 1
            name = f"portrait-{faction}-{seen[faction]}"
            out.append((name, ((data.images[i : i + 1] + 1) / 2).clamp(0, 1)))
    return out
