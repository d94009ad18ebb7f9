"""Images for style transfer: files and built-ins as 1×3×H×W tensors in [0, 1], and masks.

The built-in pictures (photos, textures, patterns) and the content sets are registered in
:mod:`museforge.core.data` under the style modality, with the roles ``style`` (a picture
to take a style from, or to stylise) and ``content`` (the photos a style network trains on).
"""

from __future__ import annotations

import hashlib
import math
from functools import cache, partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

from museforge.core.data import (
    DataSet,
    datasets,
    get_dataset,
    register_dataset,
    register_user_source,
    resolve,
    split_source,
)
from museforge.core.files import list_files
from museforge.core.media import (
    IMAGE_SUFFIXES,
    UnusableFile,
    decode_image,
    no_usable,
    one_line,
    open_image,
    read_image,
    to_channels,
)
from museforge.errors import DataError, InputError
from museforge.style.patterns import PATTERNS, make_pattern

MODALITY = "style"
# Built-in name -> (scikit-image loader, description, size, licence); all of these ship
# with scikit-image (no download), and the licences are those its docstrings state.
_SKIMAGE_PHOTOS: dict[str, tuple[str, str, str, str]] = {
    "astronaut": (
        "astronaut",
        "photo: astronaut Eileen Collins in a portrait",
        "512×512",
        "public domain (NASA)",
    ),
    "coffee": ("coffee", "photo: a cup of coffee on a saucer", "600×400", "CC0 (Rachel Michetti)"),
    "chelsea": ("chelsea", "photo: Chelsea the cat", "451×300", "CC0 (Stefan van der Walt)"),
    "rocket": (
        "rocket",
        "photo: a Falcon 9 rocket on its launch pad",
        "640×427",
        "public domain (SpaceX)",
    ),
    "motorcycle": (
        "stereo_motorcycle",
        "photo: a motorcycle in a workshop (left view of a stereo pair)",
        "741×500",
        "Middlebury 2014 stereo benchmark, no licence stated",
    ),
    "hubble": (
        "hubble_deep_field",
        "photo: the Hubble eXtreme Deep Field, galaxies on black",
        "1000×872",
        "public domain (NASA)",
    ),
    "cells": (
        "immunohistochemistry",
        "photo: stained tissue under a microscope (immunohistochemistry)",
        "512×512",
        "no known copyright restrictions (CMMI)",
    ),
    "retina": (
        "retina",
        "photo: a human retina with its blood vessels",
        "1411×1411",
        "CC0 (Mikael Häggström)",
    ),
}
_SKIMAGE_TEXTURES: dict[str, str] = {
    "brick": "texture: a brick wall, grey",
    "grass": "texture: grass, grey",
    "gravel": "texture: gravel, grey",
}
PHOTO_SET: tuple[str, ...] = tuple(_SKIMAGE_PHOTOS)
TEXTURE_SET: tuple[str, ...] = tuple(_SKIMAGE_TEXTURES)

# NTSC YIQ from RGB; the inverse is computed, not rounded, so the pair round-trips exactly.
_RGB_TO_YIQ = torch.tensor(
    [[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]],
    dtype=torch.float64,
)
_YIQ_TO_RGB = torch.linalg.inv(_RGB_TO_YIQ)


def _check_side(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{what} must be a whole number of pixels ≥ 1, got {value!r}")
    return value


def _check_images(x: torch.Tensor, what: str) -> None:
    if x.ndim != 4 or not x.is_floating_point():
        raise ValueError(f"{what} needs a float N×C×H×W tensor, got {x.dtype} {tuple(x.shape)}")


def check_picture(x: object, what: str) -> None:
    """A one-line InputError unless ``x`` is an N×3×H×W float picture."""
    if (
        not isinstance(x, torch.Tensor)
        or x.ndim != 4
        or x.shape[1] != 3
        or not x.is_floating_point()
        or x.numel() == 0
    ):
        got = f"{x.dtype} {tuple(x.shape)}" if isinstance(x, torch.Tensor) else type(x).__name__
        raise InputError(f"{what} must be an N×3×H×W float picture, got {got}")


def resize_to(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """N×C×H×W in [0, 1] resized to exactly height×width (a new tensor).

    Shrinking is bilinear with antialiasing; enlarging is bicubic, clamped to [0, 1].
    """
    _check_images(x, "resize_to")
    height, width = _check_side(height, "height"), _check_side(width, "width")
    if tuple(x.shape[-2:]) == (height, width):
        return x.clone()
    enlarging = height > x.shape[-2] or width > x.shape[-1]
    mode = "bicubic" if enlarging else "bilinear"
    # antialias only acts on the axes that shrink, so it is right for mixed cases too.
    out = F.interpolate(x, size=(height, width), mode=mode, antialias=True, align_corners=False)
    return out.clamp(0, 1) if enlarging else out


def resize_long_side(x: torch.Tensor, size: int) -> torch.Tensor:
    """N×C×H×W in [0, 1] scaled so its longer side is exactly `size`, aspect kept."""
    _check_images(x, "resize_long_side")
    size = _check_side(size, "size")
    h, w = x.shape[-2:]
    scale = size / max(h, w)
    short = max(1, math.floor(min(h, w) * scale + 0.5))
    return resize_to(x, size, short) if h >= w else resize_to(x, short, size)


def _shrink(x: torch.Tensor, max_side: int | None) -> torch.Tensor:
    if max_side is not None and max(x.shape[-2:]) > max_side:
        return resize_long_side(x, max_side)
    return x


@cache  # decoding is cheap but patterns take a while; callers get fresh tensors
def _builtin_raw(name: str) -> np.ndarray:
    """A built-in image as a read-only uint8 array, H×W×3 or H×W (grey)."""
    if name.startswith("pattern-"):
        raw = make_pattern(name.removeprefix("pattern-"))
    else:
        import skimage.data  # slow to import; only needed for these

        loader = _SKIMAGE_PHOTOS[name][0] if name in _SKIMAGE_PHOTOS else name
        raw = getattr(skimage.data, loader)()
        if name == "motorcycle":
            raw = raw[0]  # (left, right, disparity): the left view
    raw.setflags(write=False)
    return raw


def _builtin(name: str) -> torch.Tensor:
    x = torch.tensor(_builtin_raw(name), dtype=torch.float32) / 255.0
    if x.ndim == 2:
        x = x[..., None].expand(-1, -1, 3)
    return x.permute(2, 0, 1).unsqueeze(0).contiguous()


def _from_array(arr: np.ndarray) -> torch.Tensor:
    """An H×W×3 array in 0..1 as 1×3×H×W float32."""
    return torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1)[None].contiguous()


def _load_file(path: str | Path) -> torch.Tensor:
    # read_image handles odd modes, transparency, the pixel cap and one-line errors.
    return _from_array(read_image(path, channels=3))


def _photos(max_side: int) -> list[torch.Tensor]:
    return [_shrink(_builtin(name), max_side) for name in PHOTO_SET]


def _register() -> None:
    """Register the built-in pictures and content sets, and the user sources."""
    for name, (_, text, size, licence) in _SKIMAGE_PHOTOS.items():
        register_dataset(
            name,
            modality=MODALITY,
            role="style",
            description=text,
            size=size,
            licence=licence,
            loader=partial(_builtin, name),
        )
    for name, text in _SKIMAGE_TEXTURES.items():
        register_dataset(
            name,
            modality=MODALITY,
            role="style",
            description=text,
            size="512×512",
            licence="CC0 (CC0Textures, via scikit-image)",
            loader=partial(_builtin, name),
        )
    for name, text in PATTERNS.items():
        register_dataset(
            f"pattern-{name}",
            modality=MODALITY,
            role="style",
            description=f"pattern: {text}",
            size="512×512",
            licence="MIT (drawn by museforge's own code)",
            loader=partial(_builtin, f"pattern-{name}"),
        )
    register_user_source(MODALITY, "file", "any picture file", role="style")
    register_dataset(
        "photos",
        modality=MODALITY,
        role="content",
        description=f"the built-in colour photos ({', '.join(PHOTO_SET)})",
        size=f"{len(PHOTO_SET)} photos",
        licence="public domain, CC0 or no known restrictions (see each photo)",
        loader=_photos,
    )
    register_user_source(MODALITY, "folder", "every picture below PATH", role="content")
    register_user_source(MODALITY, "file", "one picture", role="content")


_register()


def load_rgb(source: str, max_side: int | None = None) -> torch.Tensor:
    """A picture file (also as ``file:PATH``) or a built-in (``museforge data``, style
    pictures) as 1×3×H×W float32 in [0, 1].

    A file of that name wins over a built-in. max_side: shrink (never enlarge) so the longer
    side is at most this. Raises InputError for an unknown source or unusable file.
    """
    if max_side is not None:
        _check_side(max_side, "max side")
    user = split_source(source)
    if user is not None and user[0] == "file":
        source = user[1]
    file = Path(source).expanduser()
    found = get_dataset(source, MODALITY, role="style")
    if found is not None and not file.is_file():
        return _shrink(found.loader(), max_side)
    if not file.exists():
        known = ", ".join(d.name for d in datasets(MODALITY, role="style"))
        raise InputError(
            f"'{source}' is neither an image file nor a built-in image (built-ins: {known})"
        )
    return _shrink(_load_file(source), max_side)


def _alpha(path: str) -> torch.Tensor | None:
    """The file's alpha as 1×1×H×W in [0, 1], or None if it has none or is all opaque."""
    try:
        with open_image(path) as img:
            if not {"A", "a"} & set(img.getbands()) and "transparency" not in img.info:
                return None
            alpha = ImageOps.exif_transpose(img).convert("RGBA").getchannel("A")
            arr = np.asarray(alpha, dtype=np.float32) / 255.0
    # Decoders raise many types; any of them means the file cannot serve as a mask.
    except Exception as err:
        raise InputError(f"mask '{path}' is unusable: {one_line(err)}") from None
    # A painted mask saved as fully opaque RGBA means its grey levels, not its alpha.
    if arr.min() >= 1.0:
        return None
    return torch.from_numpy(arr)[None, None]


def load_mask(path: str, height: int, width: int) -> torch.Tensor:
    """A mask image as 1×1×height×width in [0, 1]; 1 is where the style goes.

    Uses the alpha channel if the file has some transparency (opaque = styled), else the
    luminance (white = styled). Raises InputError naming the file if it is unusable or
    selects no pixels.
    """
    height, width = _check_side(height, "mask height"), _check_side(width, "mask width")
    grey = _from_array(read_image(path, channels=1, what="mask"))  # validates the file
    alpha = _alpha(path)
    mask = resize_to(grey if alpha is None else alpha, height, width)
    if not mask.amax() > 0:
        raise InputError(f"mask '{path}' selects no pixels")
    return mask


def _quantise(x: torch.Tensor) -> torch.Tensor:
    """Values in [0, 1] as uint8 on the CPU, same shape (rounded, clamped, NaN as 0)."""
    return x.detach().float().cpu().nan_to_num(0.0).clamp(0, 1).mul(255).round().to(torch.uint8)


def to_pil(x: torch.Tensor) -> Image.Image:
    """A 1×3×H×W or 3×H×W image in [0, 1] as an RGB Pillow image."""
    image = x[0] if x.ndim == 4 and x.shape[0] == 1 else x
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"to_pil needs 1×3×H×W or 3×H×W, got {tuple(x.shape)}")
    return Image.fromarray(np.ascontiguousarray(_quantise(image).permute(1, 2, 0).numpy()))


def _mix_channels(x: torch.Tensor, matrix: torch.Tensor, what: str) -> torch.Tensor:
    _check_images(x, what)
    if x.shape[1] != 3:
        raise ValueError(f"{what} needs 3 channels, got {x.shape[1]}")
    return torch.einsum("ij,njhw->nihw", matrix.to(x.device, x.dtype), x)


def rgb_to_yiq(x: torch.Tensor) -> torch.Tensor:
    """N×3×H×W RGB -> N×3×H×W YIQ (Y is luminance in [0, 1]; I, Q are signed)."""
    return _mix_channels(x, _RGB_TO_YIQ, "rgb_to_yiq")


def yiq_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """N×3×H×W YIQ -> N×3×H×W RGB; the exact inverse of rgb_to_yiq (not clamped)."""
    return _mix_channels(x, _YIQ_TO_RGB, "yiq_to_rgb")


def luminance(x: torch.Tensor) -> torch.Tensor:
    """N×3×H×W RGB -> N×1×H×W luminance (YIQ's Y); a 1-channel input is returned as is."""
    _check_images(x, "luminance")
    if x.shape[1] == 1:
        return x
    return _mix_channels(x, _RGB_TO_YIQ[:1], "luminance")


def _content_folder(root: Path, source: str, max_side: int) -> tuple[list[torch.Tensor], list[str]]:
    skipped: list[str] = []
    images = []
    for rel in list_files(root, skipped, IMAGE_SUFFIXES):
        try:
            arr, _ = decode_image(root / rel)
        except UnusableFile as err:
            skipped.append(f"{rel.as_posix()}: {err}")
            continue
        images.append(_shrink(_from_array(to_channels(arr, 3)), max_side))
    if not images:
        where = f"content source '{source}'"
        raise DataError(no_usable(where, "images", skipped, IMAGE_SUFFIXES))
    return images, skipped


def _content_file(file: Path, source: str, max_side: int) -> tuple[list[torch.Tensor], list[str]]:
    try:
        return [_shrink(_load_file(file), max_side)], []
    except InputError as err:
        raise DataError(f"content source '{source}' has no usable images ({err})") from None


def content_images(source: str, max_side: int = 512) -> tuple[list[torch.Tensor], list[str]]:
    """Content images to train a style network on, and the reasons any files were skipped.

    source: a content set (``photos``: PHOTO_SET), ``folder:PATH`` (recursive), ``file:PATH``
    or a bare path to a folder or one picture. Each image is 1×3×H×W in [0, 1] with its
    longer side at most max_side. Raises DataError if none load.
    """
    max_side = _check_side(max_side, "max side")
    path = Path(source).expanduser()
    if split_source(source) is None and path.is_dir():
        return _content_folder(path, source, max_side)
    if split_source(source) is None and path.is_file():
        return _content_file(path, source, max_side)
    found = resolve(source, MODALITY, role="content")
    if isinstance(found, DataSet):
        return found.loader(max_side), []
    prefix, path = found
    if prefix == "folder":
        return _content_folder(path, source, max_side)
    return _content_file(path, source, max_side)


def fingerprint(x: torch.Tensor) -> str:
    """16 hex digits of sha256 over the shape and the uint8-quantised pixels of x in [0, 1]."""
    digest = hashlib.sha256(repr(tuple(x.shape)).encode())
    digest.update(_quantise(x).contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]
