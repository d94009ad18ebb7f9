"""Reading media from outside: suffix tables, the pixel cap, one-line errors."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from museforge.core.media import (
    AUDIO_SUFFIXES,
    IMAGE_FORMATS,
    IMAGE_SUFFIXES,
    MAX_PIXELS,
    MIDI_SUFFIXES,
    MUSIC_SUFFIXES,
    SCORE_SUFFIXES,
    TEXT_SUFFIXES,
    UnusableFile,
    check_image_bytes,
    decode_image,
    no_usable,
    open_image,
    picture_size,
    read_image,
)
from museforge.errors import InputError


def _png_claiming(width: int, height: int) -> bytes:
    """A small PNG whose header claims width×height; its pixels are never meant to be read."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_every_image_suffix_is_a_format_we_open() -> None:
    formats = Image.registered_extensions()
    assert {".tif", ".tiff", ".png", ".jpg", ".webp"} <= IMAGE_SUFFIXES
    assert {formats[s] for s in IMAGE_SUFFIXES} == set(IMAGE_FORMATS)


def test_each_medium_has_its_own_suffixes() -> None:
    assert MUSIC_SUFFIXES == MIDI_SUFFIXES | SCORE_SUFFIXES
    tables = [IMAGE_SUFFIXES, MUSIC_SUFFIXES, TEXT_SUFFIXES, AUDIO_SUFFIXES]
    assert sum(len(t) for t in tables) == len(set().union(*tables))  # no suffix in two media
    assert all(s == s.lower() and s.startswith(".") for t in tables for s in t)


def test_a_huge_header_is_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    path.write_bytes(_png_claiming(7000, 7000))  # under Pillow's own limit, over ours
    limit = f"is too large \\(7000×7000 pixels, limit {MAX_PIXELS:,}\\)"
    with pytest.raises(UnusableFile, match=limit):
        picture_size(path)
    with pytest.raises(InputError, match=r"^image file '.*huge\.png' is too large"):
        read_image(path)


def test_other_formats_are_refused_whatever_the_suffix(tmp_path: Path) -> None:
    eps = tmp_path / "drawing.png"  # EPS would run Ghostscript if Pillow were let try it
    eps.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    with (
        pytest.raises(UnusableFile, match="is not a PNG, JPEG, GIF, BMP, WebP or TIFF image"),
        open_image(eps),
    ):
        pass


def test_decode_crops_the_centre_and_reports_grey(tmp_path: Path) -> None:
    img = Image.new("L", (40, 20), 0)
    img.paste(255, (10, 0, 30, 20))  # white centre square, black sides
    img.save(tmp_path / "wide.png")
    arr, grey = decode_image(tmp_path / "wide.png", square=10)
    assert grey and arr.shape == (10, 10) and arr.min() > 0.9
    assert read_image(tmp_path / "wide.png", channels=3).shape == (20, 40, 3)


def test_upload_bytes_errors_name_the_upload() -> None:
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noise).save(buf, format="PNG")
    check_image_bytes("ok.png", buf.getvalue())  # a good picture passes
    cases = {
        b"definitely not an image": "image 'x.png' is not a PNG",
        buf.getvalue()[:1000]: "image 'x.png' cannot be decoded",
        _png_claiming(20000, 20000): "image 'x.png' is too large (over",
    }
    for data, start in cases.items():
        with pytest.raises(InputError) as err:
            check_image_bytes("x.png", data)
        assert str(err.value).startswith(start) and "\n" not in str(err.value)


def test_no_usable_lists_three_reasons_or_the_suffixes() -> None:
    skipped = [f"{c}.png: is broken" for c in "abcd"]
    message = no_usable("folder 'x'", "images", skipped, IMAGE_SUFFIXES)
    assert message == (
        "folder 'x' has no usable images (4 skipped: a.png: is broken; b.png: is broken; "
        "c.png: is broken; ...)"
    )
    empty = no_usable("folder 'x'", "text files", [], TEXT_SUFFIXES)
    assert empty == "folder 'x' has no usable text files (no files ending in .md, .text, .txt)"
