"""Images for style transfer: files and built-ins as 1×3×H×W tensors in [0, 1], and masks."""

from __future__ import annotations

import hashlib
import math
from functools import cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

from museforge.core.files import list_files
from museforge.errors import DataError, InputError
from museforge.image.data import IMAGE_EXTENSIONS, load_image_file
from museforge.style.patterns import PATTERNS, make_pattern

# Built-in name -> scikit-image loader; all of these ship with scikit-image (no download).
_SKIMAGE_PHOTOS: dict[str, str] = {
    "astronaut": "astronaut",
    "coffee": "coffee",
    "chelsea": "chelsea",
    "rocket": "rocket",
    "motorcycle": "stereo_motorcycle",
    "hubble": "hubble_deep_field",
    "cells": "immunohistochemistry",
    "retina": "retina",
}
_SKIMAGE_TEXTURES = ("brick", "grass", "gravel")

BUILTIN_IMAGES: dict[str, str] = {
    "astronaut": "photo: astronaut Eileen Collins in a portrait, 512×512",
    "coffee": "photo: a cup of coffee on a saucer, 600×400",
    "chelsea": "photo: Chelsea the cat, 451×300",
    "rocket": "photo: a Falcon 9 rocket on its launch pad, 640×427",
    "motorcycle": "photo: a motorcycle in a workshop (left view of a stereo pair), 741×500",
    "hubble": "photo: the Hubble eXtreme Deep Field, galaxies on black, 1000×872",
    "cells": "photo: stained tissue under a microscope (immunohistochemistry), 512×512",
    "retina": "photo: a human retina with its blood vessels, 1411×1411",
    "brick": "texture: a brick wall, grey, 512×512",
    "grass": "texture: grass, grey, 512×512",
    "gravel": "texture: gravel, grey, 512×512",
    **{f"pattern-{name}": f"pattern: {text}, 512×512" for name, text in PATTERNS.items()},
}
PHOTO_SET: tuple[str, ...] = tuple(_SKIMAGE_PHOTOS)
CONTENT_SETS: dict[str, str] = {
    "photos": f"the {len(PHOTO_SET)} built-in colour photos ({', '.join(PHOTO_SET)})",
}

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

        raw = getattr(skimage.data, _SKIMAGE_PHOTOS.get(name, name))()
        if name == "motorcycle":
            raw = raw[0]  # (left, right, disparity): the left view
    raw.setflags(write=False)
    return raw


def _builtin(name: str) -> torch.Tensor:
    x = torch.tensor(_builtin_raw(name), dtype=torch.float32) / 255.0
    if x.ndim == 2:
        x = x[..., None].expand(-1, -1, 3)
    return x.permute(2, 0, 1).unsqueeze(0).contiguous()


def _load_file(path: str | Path) -> torch.Tensor:
    # load_image_file already handles odd modes, transparency, the pixel cap and errors.
    return load_image_file(path, channels=3).add(1).div(2).clamp(0, 1)


def load_rgb(source: str, max_side: int | None = None) -> torch.Tensor:
    """An image file or built-in (see BUILTIN_IMAGES) as 1×3×H×W float32 in [0, 1].

    A file of that name wins over a built-in. max_side: shrink (never enlarge) so the longer
    side is at most this. Raises InputError for an unknown source or unusable file.
    """
    if max_side is not None:
        _check_side(max_side, "max side")
    file = Path(source).expanduser()
    if source in BUILTIN_IMAGES and not file.is_file():
        return _shrink(_builtin(source), max_side)
    if not file.exists():
        known = ", ".join(BUILTIN_IMAGES)
        raise InputError(
            f"'{source}' is neither an image file nor a built-in image (built-ins: {known})"
        )
    return _shrink(_load_file(source), max_side)


def _alpha(path: str) -> torch.Tensor | None:
    """The file's alpha as 1×1×H×W in [0, 1], or None if it has none or is all opaque."""
    try:
        with Image.open(path) as img:
            if not {"A", "a"} & set(img.getbands()) and "transparency" not in img.info:
                return None
            alpha = ImageOps.exif_transpose(img).convert("RGBA").getchannel("A")
            arr = np.asarray(alpha, dtype=np.float32) / 255.0
    # Decoders raise many types; any of them means the file cannot serve as a mask.
    except Exception as err:
        raise InputError(f"mask '{path}' is unusable: {' '.join(str(err).split())}") from None
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
    grey = load_image_file(path, channels=1).add(1).div(2).clamp(0, 1)  # validates the file
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


def _skip_reason(err: InputError) -> str:
    # load_image_file says "image file 'P' is unusable: REASON"; the folder lists say
    # "rel: REASON", as image/data.py does, so keep just the reason.
    message = str(err)
    return message.partition(" is unusable: ")[2] or message


def _content_folder(path: str, source: str, max_side: int) -> tuple[list[torch.Tensor], list[str]]:
    root = Path(path).expanduser()
    if not root.is_dir():
        state = "is not a folder" if root.exists() else "does not exist"
        raise DataError(f"content folder '{path}' {state}")
    skipped: list[str] = []
    images = []
    for rel in list_files(root, skipped, IMAGE_EXTENSIONS):
        try:
            images.append(_shrink(_load_file(root / rel), max_side))
        except InputError as err:
            skipped.append(f"{rel.as_posix()}: {_skip_reason(err)}")
    if not images:
        if skipped:
            more = "; ..." if len(skipped) > 3 else ""
            detail = f"{len(skipped)} files skipped: " + "; ".join(skipped[:3]) + more
        else:
            detail = "no image files in it"
        message = f"content source '{source}' has no usable images ({detail})"
        raise DataError(" ".join(message.split()))
    return images, skipped


def content_images(source: str, max_side: int = 512) -> tuple[list[torch.Tensor], list[str]]:
    """Content images to train a style network on, and the reasons any files were skipped.

    source: "photos" (PHOTO_SET), "folder:PATH" (recursive) or one image file. Each image is
    1×3×H×W in [0, 1] with its longer side at most max_side. Raises DataError if none load.
    """
    max_side = _check_side(max_side, "max side")
    if source == "photos":
        return [_shrink(_builtin(name), max_side) for name in PHOTO_SET], []
    if source.startswith("folder:"):
        path = source.removeprefix("folder:")
        if not path.strip():
            raise DataError("content source 'folder:' needs a path, e.g. folder:./photos")
        return _content_folder(path, source, max_side)
    file = Path(source).expanduser()
    if file.is_dir():
        return _content_folder(source, source, max_side)
    if file.is_file():
        try:
            return [_shrink(_load_file(file), max_side)], []
        except InputError as err:
            raise DataError(f"content source '{source}' has no usable images ({err})") from None
    sets = ", ".join(CONTENT_SETS)
    raise DataError(f"unknown content source '{source}': use {sets}, folder:PATH or an image file")


def fingerprint(x: torch.Tensor) -> str:
    """16 hex digits of sha256 over the shape and the uint8-quantised pixels of x in [0, 1]."""
    digest = hashlib.sha256(repr(tuple(x.shape)).encode())
    digest.update(_quantise(x).contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]
