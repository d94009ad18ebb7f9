"""Upload checks: size caps, image bombs and hostile zip archives."""

from __future__ import annotations

import asyncio
import io
import random
import stat
import struct
import zipfile
import zlib

import pytest
from PIL import Image
from starlette.datastructures import UploadFile

from museforge.errors import InputError
from museforge.studio import uploads
from museforge.studio.uploads import check_image_bytes, read_capped, safe_extract_zip

IMAGES = {".png", ".jpg"}


def _png(size: tuple[int, int] = (8, 8), mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size).save(buf, format="PNG")
    return buf.getvalue()


def _noise_png() -> bytes:
    buf = io.BytesIO()
    Image.frombytes("L", (64, 64), random.Random(0).randbytes(64 * 64)).save(buf, format="PNG")
    return buf.getvalue()


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _refused(data: bytes, tmp_path, match: str) -> None:
    with pytest.raises(InputError, match=match):
        safe_extract_zip("upload.zip", data, tmp_path / "set", IMAGES)
    assert list(tmp_path.iterdir()) == []  # neither dest nor a temporary folder


def test_good_zip_extracts_only_allowed_suffixes(tmp_path):
    data = _zip(
        {
            "a.png": _png(),
            "sub/b.JPG": b"jpeg bytes",
            "notes.txt": b"hi",
            "run.sh": b"#!/bin/sh",
            "__MACOSX/sub/._b.png": b"resource fork",
            "empty/": b"",
        }
    )
    dest = tmp_path / "set"
    paths = safe_extract_zip("upload.zip", data, dest, IMAGES)
    assert paths == [dest / "a.png", dest / "sub" / "b.JPG"]
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()) == [
        "a.png",
        "sub/b.JPG",
    ]
    assert (dest / "sub" / "b.JPG").read_bytes() == b"jpeg bytes"
    assert [p.name for p in tmp_path.iterdir()] == ["set"]


def test_zip_slip_member_is_refused(tmp_path):
    _refused(_zip({"ok.png": _png(), "../x.png": _png()}), tmp_path, "outside")


def test_backslash_zip_slip_is_refused(tmp_path):
    _refused(_zip({"..\\..\\x.png": _png()}), tmp_path, "outside")


@pytest.mark.parametrize("member", ["/etc/x.png", "C:/x.png", "\\\\server\\share\\x.png"])
def test_absolute_member_is_refused(tmp_path, member):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("placeholder.png")
        info.filename = member  # ZipInfo() itself strips leading slashes
        zf.writestr(info, _png())
    _refused(buf.getvalue(), tmp_path, "absolute")


def test_symlink_member_is_refused(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("link.png")
        info.create_system = 3  # Unix
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    _refused(buf.getvalue(), tmp_path, "symbolic link")


def test_too_many_members_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(uploads, "MAX_ZIP_MEMBERS", 10)
    data = _zip({f"{i}.png": b"x" for i in range(11)}, method=zipfile.ZIP_STORED)
    _refused(data, tmp_path, "11 members")


def test_declared_total_over_cap_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(uploads, "MAX_ZIP_TOTAL", 1000)
    data = _zip({"a.png": bytes(600), "b.png": bytes(600)}, method=zipfile.ZIP_STORED)
    _refused(data, tmp_path, "more than")


def test_zip_bomb_is_refused(tmp_path):
    data = _zip({"bomb.png": bytes(50 * 1024 * 1024)})
    assert len(data) < 200_000
    _refused(data, tmp_path, "zip bomb")


def test_header_that_understates_size_is_refused(tmp_path):
    data = bytearray(_zip({"a.png": bytes(range(256)) * 20}, method=zipfile.ZIP_STORED))
    central = data.index(b"PK\x01\x02")
    # Claim 10 bytes instead of 5,120 in the central directory, where zipfile reads sizes.
    struct.pack_into("<I", data, central + 24, 10)
    _refused(bytes(data), tmp_path, "cannot be extracted")


def test_zip_without_usable_files_is_refused(tmp_path):
    _refused(_zip({"notes.txt": b"hi"}), tmp_path, "no usable files")


def test_corrupt_zip_is_refused(tmp_path):
    _refused(b"PK\x03\x04 not really a zip", tmp_path, "cannot be read")


def test_small_image_passes():
    check_image_bytes("fine.png", _png((32, 16)))


def test_decompression_bomb_png_is_refused():
    bomb = _png((10_000, 10_000), mode="1")
    assert len(bomb) < 100_000  # tiny on disk, 100 megapixels once decoded
    with pytest.raises(InputError, match=r"'bomb\.png' is too large"):
        check_image_bytes("bomb.png", bomb)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares its size but holds no pixels: enough to test the header check."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"")
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


def test_image_just_over_the_cap_is_refused():
    # 7000×7000 is between MAX_PIXELS and Pillow's own hard limit (twice it): only our
    # check stands in the way.
    with pytest.raises(InputError, match=r"7000×7000 pixels"):
        check_image_bytes("big.png", _png_header(7000, 7000))


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"definitely not an image", "not a PNG"),
        (_noise_png()[:1000], "cannot be decoded"),
        (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", "not a PNG"),
    ],
)
def test_corrupt_or_foreign_bytes_are_refused(data, match):
    with pytest.raises(InputError, match=match) as err:
        check_image_bytes("photo.png", data)
    assert "'photo.png'" in str(err.value)


def _upload(data: bytes, name: str = "big.zip") -> UploadFile:
    return UploadFile(io.BytesIO(data), filename=name)


def test_read_capped_returns_whole_upload_within_limit():
    data = bytes(range(256)) * 10
    assert asyncio.run(read_capped(_upload(data), limit=len(data))) == data


def test_read_capped_refuses_upload_over_limit():
    with pytest.raises(InputError, match=r"upload 'big\.zip' is larger than 1 MiB"):
        asyncio.run(read_capped(_upload(bytes(1024 * 1024 + 1)), limit=1024 * 1024))


def test_read_capped_stops_reading_at_the_limit():
    upload = _upload(bytes(10 * 1024 * 1024))
    with pytest.raises(InputError, match="larger than 1,000 bytes"):
        asyncio.run(read_capped(upload, limit=1000))
    assert upload.file.tell() <= 1001  # did not read the rest of a huge upload


def test_a_captioned_set_keeps_its_captions_file(tmp_path):
    from museforge.studio.runners import DATA_SUFFIXES

    data = _zip(
        {
            "cat.png": _png(),
            "metadata.jsonl": b'{"file_name": "cat.png", "text": "a cat"}\n',
            "run.sh": b"#!/bin/sh",
        }
    )
    paths = safe_extract_zip("upload.zip", data, tmp_path / "set", DATA_SUFFIXES)
    assert sorted(p.name for p in paths) == ["cat.png", "metadata.jsonl"]


def test_upload_names_with_line_breaks_give_one_line_errors(tmp_path):
    name = "evil\nname\u2028.zip"  # a client chooses the name; it is echoed in the error
    checks = [
        lambda: safe_extract_zip(name, b"not a zip", tmp_path / "d", {".png"}),
        lambda: uploads.check_music_bytes(name.replace(".zip", ".mid"), b"MThd junk"),
        lambda: uploads.check_mesh_upload(name.replace(".zip", ".stl"), b"junk"),
        lambda: check_image_bytes(name.replace(".zip", ".png"), b"junk"),
    ]
    for check in checks:
        with pytest.raises(InputError) as info:
            check()
        assert len(str(info.value).splitlines()) == 1 and "evil name" in str(info.value)


def test_a_zip_member_without_a_name_is_refused(tmp_path):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr(zipfile.ZipInfo(""), b"x")  # was an IndexError in ZipInfo.is_dir
    with pytest.raises(InputError, match=r"zip 'u.zip' has a member with no name"):
        safe_extract_zip("u.zip", out.getvalue(), tmp_path / "d", {".png"})
