"""Pictures with captions: the data every text→image model learns from.

A :class:`CaptionedImages` holds the pictures as one tensor (on white, in [-1, 1]) and, per
picture, a caption in each language it has (``{"en": …, "zh": …}``). Sets that are slow to
make (thousands of emoji or clip-art files) are kept in museforge's cache as safetensors
plus JSON — never pickle — and rebuilt when their recipe changes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from museforge.core.atomic import atomic_write_bytes, atomic_write_text
from museforge.core.files import default_cache_dir

Caption = dict[str, str]  # language ("en", "zh") -> text


@dataclass(frozen=True)
class CaptionedImages:
    """N pictures as float32 N×3×H×W in [-1, 1] (transparency composited on white), each
    with its captions; ``alpha`` (N×1×H×W in 0..1) where the source has transparency;
    ``attributes`` holds exact labels where a set has them (the procedural shapes), for
    judging whether words steer a picture."""

    images: torch.Tensor
    captions: tuple[Caption, ...]
    source: str
    licence: str
    fingerprint: str
    skipped: tuple[str, ...] = ()
    attributes: tuple[dict[str, str], ...] | None = None
    alpha: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def image_size(self) -> int:
        return self.images.shape[-1]

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages every picture has a caption in."""
        if not self.captions:
            return ()
        common = set(self.captions[0])
        for caption in self.captions[1:]:
            common &= set(caption)
        return tuple(sorted(common))


def captioned(
    pictures: Sequence[np.ndarray],
    captions: Sequence[Caption],
    source: str,
    licence: str,
    skipped: Sequence[str] = (),
    attributes: Sequence[dict[str, str]] | None = None,
    alphas: Sequence[np.ndarray] | None = None,
) -> CaptionedImages:
    """A set from H×W×3 pictures in 0..1 (all the same size), their captions and, where
    the source has transparency, their H×W alpha in 0..1."""
    if len(pictures) != len(captions):
        raise ValueError(f"{len(pictures)} pictures but {len(captions)} captions")
    if pictures:
        stacked = np.stack([np.asarray(p, dtype=np.float32) for p in pictures])
        images = torch.from_numpy(stacked).permute(0, 3, 1, 2).contiguous() * 2 - 1
    else:
        images = torch.zeros(0, 3, 1, 1)
    caps = tuple(dict(c) for c in captions)
    attrs = None if attributes is None else tuple(dict(a) for a in attributes)
    alpha = None
    if alphas is not None and len(alphas):
        stacked_alpha = np.stack([np.asarray(a, dtype=np.float32) for a in alphas])
        alpha = torch.from_numpy(stacked_alpha)[:, None]
    fingerprint = _fingerprint(images, caps)
    return CaptionedImages(images, caps, source, licence, fingerprint, tuple(skipped), attrs, alpha)


def _fingerprint(images: torch.Tensor, captions: tuple[Caption, ...]) -> str:
    digest = hashlib.sha256()
    digest.update(images.numpy().tobytes())
    digest.update(json.dumps(captions, sort_keys=True, ensure_ascii=False).encode())
    return digest.hexdigest()


def cached(
    key: str, build: Callable[[], CaptionedImages], cache_dir: Path | None = None
) -> CaptionedImages:
    """The set cached under ``key`` (which must change whenever the recipe or the source
    does), else ``build()`` it and keep it; an unreadable cache entry is rebuilt."""
    root = (Path(cache_dir) if cache_dir is not None else default_cache_dir()) / "captioned"
    blob, meta = root / f"{key}.safetensors", root / f"{key}.json"
    found = _read(blob, meta)
    if found is not None:
        return found
    data = build()
    info = {
        "captions": list(data.captions),
        "source": data.source,
        "licence": data.licence,
        "fingerprint": data.fingerprint,
        "skipped": list(data.skipped),
        "attributes": None if data.attributes is None else list(data.attributes),
    }
    tensors = {"images": data.images.contiguous()}
    if data.alpha is not None:
        tensors["alpha"] = data.alpha.contiguous()
    atomic_write_bytes(blob, save_tensors(tensors))
    atomic_write_text(meta, json.dumps(info, ensure_ascii=False, sort_keys=True))
    return data


def _read(blob: Path, meta: Path) -> CaptionedImages | None:
    if not (blob.is_file() and meta.is_file()):
        return None
    try:
        tensors = load_tensors(blob.read_bytes())
        images = tensors["images"]
        info = json.loads(meta.read_text(encoding="utf-8"))
        attrs = info.get("attributes")
        data = CaptionedImages(
            images,
            tuple(info["captions"]),
            info["source"],
            info["licence"],
            info["fingerprint"],
            tuple(info.get("skipped") or ()),
            None if attrs is None else tuple(attrs),
            tensors.get("alpha"),
        )
    except (OSError, KeyError, TypeError, ValueError, SafetensorError):
        return None  # a damaged entry is made again
    return data if len(data.captions) == len(data) else None
