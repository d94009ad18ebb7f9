"""Reading media from outside: one suffix table per medium, a header-checked pixel cap for
pictures, and one-line errors that name the file.

Every reader of user files (data folders, uploads, a picture to project or stylise) takes
its suffixes from here, so a format accepted in one place is accepted everywhere. Pictures
are opened lazily: the size in the header is checked against :data:`MAX_PIXELS` before a
single pixel is decoded, so a small file that claims a huge picture costs nothing.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from museforge.errors import InputError, one_line  # one_line: also imported from here

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"})
# Pillow's names for the formats of IMAGE_SUFFIXES; others (EPS runs Ghostscript, for one)
# are refused even when a file's suffix claims to be a picture.
IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF")
MIDI_SUFFIXES = frozenset({".mid", ".midi"})
SCORE_SUFFIXES = frozenset({".xml", ".musicxml", ".mxl", ".abc"})  # read through music21
MUSIC_SUFFIXES = MIDI_SUFFIXES | SCORE_SUFFIXES
TEXT_SUFFIXES = frozenset({".txt", ".md", ".text"})
AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".mp3"})
# read through trimesh (museforge.sculpture.meshfile); glTF only when self-contained
MESH_SUFFIXES = frozenset({".stl", ".obj", ".ply", ".off", ".glb", ".gltf"})

MAX_PIXELS: int = 40_000_000
# Pillow decodes RLE-compressed BMP in Python, about 0.13 s per million pixels (several
# times that under a fuzzer's instrumentation; a 118-byte file claimed 19M): those old 4-
# and 8-bit pictures, rarely larger than a screen, get a smaller cap.
MAX_RLE_PIXELS: int = 1_000_000
# Pillow warns above MAX_IMAGE_PIXELS and refuses twice that in Image.open; our own header
# check rejects anything above MAX_PIXELS first, so Pillow's guard only backs it up.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
# Meshes: the file size is checked before reading, the face count (a binary STL's header,
# the others once parsed) before any processing. 2M faces is a 100 MB binary STL.
MAX_MESH_BYTES: int = 200_000_000
MAX_MESH_FACES: int = 2_000_000

GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})
ALPHA_MODES = frozenset({"LA", "La", "PA", "RGBA", "RGBa"})
LUMA = (0.299, 0.587, 0.114)  # ITU-R 601-2, as PIL's convert("L")
_LUMA = np.array(LUMA, dtype=np.float32)
_FORMAT_NAMES = {"WEBP": "WebP"}


class UnusableFile(Exception):
    """A file that cannot be used; ``str(err)`` completes a sentence about it on one line:
    ``is too large (…)``, ``cannot be decoded (…)``."""


def _names(formats: Sequence[str]) -> str:
    names = [_FORMAT_NAMES.get(f, f) for f in formats]
    return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]


@contextmanager
def open_image(source: str | Path | bytes) -> Iterator[Image.Image]:
    """A picture file (or its bytes) opened lazily, its header checked against MAX_PIXELS.

    Only the formats in IMAGE_FORMATS are tried. Raises UnusableFile with the reason for
    anything else, for a picture larger than MAX_PIXELS and for a file that cannot be
    opened; decoding problems surface later, when the caller loads the pixels.
    """
    fp = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_PIXELS and twice that; our own check below refuses.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(fp, formats=IMAGE_FORMATS)  # lazy: reads the header only
    except Image.DecompressionBombError:
        limits = f"over {2 * MAX_PIXELS:,} pixels, limit {MAX_PIXELS:,}"
        raise UnusableFile(f"is too large ({limits})") from None
    except UnidentifiedImageError:
        raise UnusableFile(f"is not a {_names(IMAGE_FORMATS)} image") from None
    except OSError as err:
        raise UnusableFile(f"cannot be opened ({one_line(err.strerror or err)})") from None
    # Format probes of untrusted bytes raise many types; each one means "unusable".
    except Exception as err:
        raise UnusableFile(f"cannot be opened ({one_line(err)})") from None
    with img:
        w, h = img.size
        if w * h > MAX_PIXELS:
            raise UnusableFile(f"is too large ({w}×{h} pixels, limit {MAX_PIXELS:,})")
        if img.tile and img.tile[0][0] == "bmp_rle" and w * h > MAX_RLE_PIXELS:
            limit = f"{w}×{h} pixels, limit {MAX_RLE_PIXELS:,} for RLE-compressed BMP"
            raise UnusableFile(f"is too large ({limit})")
        yield img


def picture_size(source: str | Path | bytes) -> tuple[int, int]:
    """(width, height) as the header says, without decoding; UnusableFile otherwise."""
    with open_image(source) as img:
        return img.size


def _normalise(img: Image.Image) -> Image.Image:
    """Any decoded picture as mode L or F (grey, 0..255 scale) or RGB; transparency on white."""
    if img.mode.startswith("I"):
        # 16/32-bit grey: keep the precision in a float image on L's 0..255 scale.
        arr = np.asarray(img, dtype=np.float32) * (255.0 / 65535.0)
        return Image.fromarray(np.clip(arr, 0, 255))
    if img.mode == "F":
        return Image.fromarray(np.clip(np.nan_to_num(np.asarray(img, np.float32)), 0, 255))
    grey = img.mode in GREY_MODES
    if img.mode in ALPHA_MODES or "transparency" in img.info:
        white = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, img.convert("RGBA"))
    return img.convert("L" if grey else "RGB")  # also CMYK, YCbCr, P... -> RGB


def _fit(img: Image.Image, size: int, pad: bool = False) -> Image.Image:
    """Centre square crop of the shorter side (or, with ``pad``, the whole picture centred
    on white, or on transparency for RGBA), resampled to size×size. RGBA is resampled
    premultiplied, so hidden colours under transparent pixels do not bleed into edges."""
    w, h = img.size
    if (w, h) == (size, size):
        return img
    rgba = img.mode == "RGBA"
    if pad and w != h:
        side = max(w, h)
        fill = (255, 255, 255, 0) if rgba else 255 if img.mode in ("L", "F") else "white"
        ground = Image.new(img.mode, (side, side), fill)
        ground.paste(img, ((side - w) // 2, (side - h) // 2))
        img, w, h = ground, side, side
    side = min(w, h)
    box = ((w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2)
    down = Image.Resampling.LANCZOS if side > size else Image.Resampling.BICUBIC
    img = img.convert("RGBa") if rgba else img
    out = img.resize((size, size), down, box=box, reducing_gap=3.0)
    return out.convert("RGBA") if rgba else out


def decode_image(
    source: str | Path | bytes, square: int | None = None, pad: bool = False, alpha: bool = False
) -> tuple[np.ndarray, bool]:
    """A picture as float32 H×W (grey) or H×W×3 in 0..1, and whether it was grey.

    EXIF rotation is applied and transparency composited on white; with ``alpha`` a
    picture that has transparency is H×W×4 instead, straight RGBA, white under fully
    transparent pixels.
    ``square``: centre-crop the shorter side (``pad``: keep the whole picture, centred on
    white) and resample to square×square (JPEGs are decoded at a reduced scale first).
    Raises UnusableFile with a short reason for anything that is not a usable picture.
    """
    with open_image(source) as img:
        try:
            if square is not None:
                img.draft(None, (square, square))  # JPEG: decode at reduced scale
            img.load()  # truncated files raise here (LOAD_TRUNCATED_IMAGES stays False)
            grey = img.mode in GREY_MODES
            upright = ImageOps.exif_transpose(img)
            keep = alpha and (img.mode in ALPHA_MODES or "transparency" in img.info)
            out = upright.convert("RGBA") if keep else _normalise(upright)
            if square is not None:
                out = _fit(out, square, pad)
        # Decoders of untrusted files raise many types (OSError, SyntaxError, struct.error,
        # ValueError, MemoryError...); every one of them means "this file is unusable".
        except Exception as err:
            raise UnusableFile(f"cannot be decoded ({one_line(err)})") from None
    arr = np.clip(np.asarray(out, dtype=np.float32) / 255.0, 0.0, 1.0)
    if keep:
        arr[arr[..., 3] == 0, :3] = 1.0  # no hidden colours under transparency
    return arr, grey


def is_transparent(arr: np.ndarray) -> bool:
    """Whether a decoded RGBA picture has any pixel that is not fully opaque."""
    return arr.ndim == 3 and arr.shape[2] == 4 and bool((arr[..., 3] < 1).any())


def to_channels(arr: np.ndarray, channels: int) -> np.ndarray:
    """A decoded picture (H×W, H×W×3 or RGBA H×W×4) as H×W×channels (1, 3 or 4): grey
    repeated, RGB as luma, RGBA composited on white, an opaque alpha added for 4."""
    if arr.ndim == 3 and arr.shape[2] == 4:
        if channels == 4:
            return arr
        a = arr[..., 3:]
        arr = arr[..., :3] * a + (1.0 - a)
    if channels == 4:
        rgb = to_channels(arr, 3)
        return np.concatenate([rgb, np.ones_like(rgb[..., :1])], axis=2)
    if arr.ndim == 2:
        return arr[..., None] if channels == 1 else np.repeat(arr[..., None], 3, axis=2)
    if channels == 1:
        return (arr @ _LUMA)[..., None]
    return arr


def read_image(
    path: str | Path,
    square: int | None = None,
    channels: int | None = None,
    what: str = "image file",
) -> np.ndarray:
    """One user picture as float32 H×W×C in 0..1 (see :func:`decode_image`).

    ``channels``: 1, 3 or 4 (RGBA) (None: 1 for a grey picture, else 3). Raises InputError
    naming the file (``image file 'x.jpg' cannot be decoded (…)``); ``what`` names its role.
    """
    file = Path(path).expanduser()
    if not file.exists():
        raise InputError(f"{what} '{path}' does not exist")
    if file.is_dir():
        raise InputError(f"{what} '{path}' is a folder, not a picture")
    try:
        arr, grey = decode_image(file, square, alpha=channels == 4)
    except UnusableFile as err:
        raise InputError(one_line(f"{what} '{path}' {err}")) from None
    return to_channels(arr, channels or (1 if grey else 3))


def check_image_bytes(name: str, data: bytes) -> None:
    """Raise InputError naming the upload unless ``data`` is a decodable picture within
    MAX_PIXELS (``image 'x.png' is too large (…)``)."""
    try:
        with open_image(data) as img:
            try:
                img.load()  # truncated or corrupt data raises here
            # Decoders of untrusted bytes raise many types; each one means "unusable".
            except Exception as err:
                raise UnusableFile(f"cannot be decoded ({one_line(err)})") from None
    except UnusableFile as err:
        raise InputError(one_line(f"image '{name}' {err}")) from None


def no_usable(where: str, what: str, skipped: Sequence[str], suffixes: Collection[str]) -> str:
    """The one-line message for a source with nothing usable in it:
    ``{where} has no usable {what} (N skipped: a; b; c; ...)``, or, when no file was
    even tried, ``(no files ending in .a, .b)``."""
    if skipped:
        more = "; ..." if len(skipped) > 3 else ""
        detail = f"{len(skipped)} skipped: " + "; ".join(skipped[:3]) + more
    else:
        detail = "no files ending in " + ", ".join(sorted(suffixes))
    return one_line(f"{where} has no usable {what} ({detail})")
