"""Caps and checks for files uploaded to the studio: size, image bombs, hostile zips, music
files that are not what they say or too big to play, sounds that do not decode or run too
long, meshes that cannot be read or are too big to work on."""

from __future__ import annotations

import io
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath, PureWindowsPath

from starlette.datastructures import UploadFile

from museforge.core.atomic import atomic_directory
from museforge.core.files import is_junk
from museforge.core.media import (
    IMAGE_FORMATS,
    MAX_MESH_BYTES,
    MAX_PIXELS,
    MIDI_SUFFIXES,
    SCORE_SUFFIXES,
    check_image_bytes,
)
from museforge.errors import InputError

MIB = 1024 * 1024
MAX_UPLOAD_BYTES = 64 * MIB
MAX_ZIP_MEMBERS = 5000
MAX_ZIP_TOTAL = 512 * MIB
MAX_MIDI_EVENTS = 200_000
MAX_MUSIC_UPLOAD_BYTES = 20_000_000  # museforge.music.readers.MAX_FILE_BYTES
# A mesh upload is held in memory and parsed whole, as a picture's is: the same cap (1.3M
# faces of binary STL), under what the sculpture modality reads from disk (MAX_MESH_BYTES).
MAX_MESH_UPLOAD_BYTES = min(MAX_UPLOAD_BYTES, MAX_MESH_BYTES)
# A sound upload (a recording to encode or visualise) is decoded whole before it is kept.
MAX_SOUND_UPLOAD_BYTES = MAX_UPLOAD_BYTES
MAX_SOUND_UPLOAD_SECONDS = 600.0  # what visualise takes; encode reads the first note's length
# libsndfile's container names → the suffix the upload is kept under
SOUND_FORMATS = {"WAV": ".wav", "WAVEX": ".wav", "FLAC": ".flac", "OGG": ".ogg", "MP3": ".mp3"}
_SOUND_BLOCK = 65_536  # frames decoded at a time while checking
# Uploads take MIDI and MusicXML only: ABC is text music21 reads, kept to files on disk.
MUSICXML_SUFFIXES = SCORE_SUFFIXES - {".abc"}
MAX_ZIP_RATIO = 100  # deflate rarely beats ~10x on real images; bombs reach 1000x
_RATIO_CHECK_FROM = MIB  # small members may legitimately compress very well
_CHUNK = MIB

__all__ = [
    "IMAGE_FORMATS",
    "MAX_MESH_UPLOAD_BYTES",
    "MAX_MIDI_EVENTS",
    "MAX_MUSIC_UPLOAD_BYTES",
    "MAX_PIXELS",
    "MAX_SOUND_UPLOAD_BYTES",
    "MAX_SOUND_UPLOAD_SECONDS",
    "MAX_UPLOAD_BYTES",
    "MAX_ZIP_MEMBERS",
    "MAX_ZIP_TOTAL",
    "check_image_bytes",
    "check_mesh_upload",
    "check_midi_bytes",
    "check_music_bytes",
    "check_sound_bytes",
    "read_capped",
    "safe_extract_zip",
]


def _size(n: int) -> str:
    return f"{n / MIB:g} MiB" if n >= MIB else f"{n:,} bytes"


def _one_line(err: object) -> str:
    return " ".join(str(err).split()) or type(err).__name__


async def read_capped(upload: UploadFile, limit: int = MAX_UPLOAD_BYTES) -> bytes:
    """The whole upload as bytes, read in chunks; InputError once it passes `limit` bytes."""
    name = _one_line(upload.filename or "file")  # a client's name may hold line breaks
    too_big = InputError(f"upload '{name}' is larger than {_size(limit)}")
    if upload.size is not None and upload.size > limit:
        raise too_big
    parts: list[bytes] = []
    total = 0
    while chunk := await upload.read(min(_CHUNK, limit + 1 - total)):
        total += len(chunk)
        if total > limit:
            raise too_big
        parts.append(chunk)
    return b"".join(parts)


def _varlen(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """A MIDI variable-length number at ``pos``: (value, position after it)."""
    value = 0
    for _ in range(4):
        if pos >= end:
            raise ValueError("a track ends inside a number")
        byte = data[pos]
        pos += 1
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, pos
    raise ValueError("a variable-length number is longer than 4 bytes")


def _count_midi_events(data: bytes, limit: int) -> int:
    """Events in a Standard MIDI File's tracks, walked without building them (so a huge
    file costs nothing); stops counting once past ``limit``. ValueError when malformed."""
    if len(data) < 14 or data[:4] != b"MThd":
        raise ValueError("no MThd header")
    pos, events = 8 + int.from_bytes(data[4:8], "big"), 0
    while pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "big")
        start, end = pos + 8, pos + 8 + size
        if end > len(data):
            raise ValueError(f"a {chunk!r} chunk is cut short")
        if chunk == b"MTrk":
            status, at = 0, start
            while at < end:
                _, at = _varlen(data, at, end)
                if at >= end:
                    raise ValueError("a track ends inside an event")
                if data[at] & 0x80:
                    status = data[at]
                    at += 1
                elif not 0x80 <= status < 0xF0:
                    raise ValueError("running status without a status byte")
                if status == 0xFF:
                    if at >= end:
                        raise ValueError("a track ends inside a meta event")
                    length, at = _varlen(data, at + 1, end)
                    at += length
                    status = 0
                elif status in (0xF0, 0xF7):
                    length, at = _varlen(data, at, end)
                    at += length
                    status = 0
                elif 0x80 <= status < 0xF0:
                    at += 1 if 0xC0 <= status < 0xE0 else 2
                else:
                    raise ValueError(f"unknown status byte 0x{status:02X}")
                if at > end:
                    raise ValueError("an event runs past its track")
                events += 1
                if events > limit:
                    return events
        pos = end
    return events


def check_midi_bytes(name: str, data: bytes) -> None:
    """Raise InputError naming the file unless `data` is a MIDI file mido can read with at
    most MAX_MIDI_EVENTS events (counted before anything is built)."""
    import mido

    name = _one_line(name)  # a client's name may hold line breaks
    if not data.startswith(b"MThd"):
        raise InputError(f"'{name}' is not a MIDI file (no MThd header)")
    try:
        events = _count_midi_events(data, MAX_MIDI_EVENTS)
    except ValueError as err:
        raise InputError(f"'{name}' is a corrupt MIDI file ({err})") from None
    if events > MAX_MIDI_EVENTS:
        raise InputError(f"MIDI file '{name}' has over {MAX_MIDI_EVENTS:,} events (the limit)")
    try:
        mido.MidiFile(file=io.BytesIO(data))
    except Exception as err:  # mido raises OSError, EOFError, ValueError, KeyError ...
        raise InputError(f"'{name}' is a corrupt MIDI file ({_one_line(err)})") from None


def _check_mxl(name: str, data: bytes) -> None:
    """A compressed MusicXML (.mxl) is a zip: refuse one that could expand into a bomb."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except Exception as err:  # untrusted bytes: any failure means unreadable
        raise InputError(f"'{name}' is not a readable .mxl file ({_one_line(err)})") from None
    if len(infos) > 100 or sum(i.file_size for i in infos) > 4 * MAX_MUSIC_UPLOAD_BYTES:
        raise InputError(f"'{name}' expands to too much for a compressed MusicXML file")


def check_music_bytes(name: str, data: bytes) -> str:
    """Raise InputError naming the file unless `data` is a MIDI or MusicXML file that
    museforge's music reader accepts (notes, length and event caps); its file suffix."""
    from museforge.music.corpus import read_music_file

    name = _one_line(name)  # a client's name may hold line breaks
    suffix = PurePosixPath(name.replace("\\", "/")).suffix.lower()
    if len(data) > MAX_MUSIC_UPLOAD_BYTES:
        raise InputError(f"music file '{name}' is larger than {_size(MAX_MUSIC_UPLOAD_BYTES)}")
    if data.startswith(b"MThd") or suffix in MIDI_SUFFIXES:
        check_midi_bytes(name, data)
        suffix = suffix if suffix in MIDI_SUFFIXES else ".mid"
    elif suffix in MUSICXML_SUFFIXES:
        if suffix == ".mxl":
            _check_mxl(name, data)
    else:
        raise InputError(f"'{name}' is not a MIDI (.mid) or MusicXML (.musicxml, .mxl) file")
    with tempfile.TemporaryDirectory(prefix="museforge-upload-") as tmp:
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(data)
        try:
            read_music_file(path)
        except InputError as err:
            raise InputError(str(err).replace(str(path), name)) from None
        # music21 and mido raise many types on hostile files; each one means "unusable".
        except Exception as err:
            raise InputError(f"'{name}' cannot be read as music ({_one_line(err)})") from None
    return suffix


def check_sound_bytes(name: str, data: bytes) -> str:
    """Raise InputError naming the file unless ``data`` decodes as WAV, FLAC, OGG or MP3
    (libsndfile reads the format from the bytes, never the name) of at most
    MAX_SOUND_UPLOAD_SECONDS, holds numbers and is not silent; the suffix to keep it under."""
    import numpy as np
    import soundfile

    from museforge.sound.audio import SILENCE

    name = _one_line(name)  # a client's name may hold line breaks
    if len(data) > MAX_SOUND_UPLOAD_BYTES:
        raise InputError(f"sound '{name}' is larger than {_size(MAX_SOUND_UPLOAD_BYTES)}")
    loudest = 0.0
    try:
        with soundfile.SoundFile(io.BytesIO(data)) as sound:
            suffix = SOUND_FORMATS.get(sound.format)
            if suffix is None:
                raise InputError(f"'{name}' is {sound.format}: upload WAV, FLAC, OGG or MP3")
            if sound.samplerate <= 0 or sound.frames <= 0:
                raise InputError(f"'{name}' holds no audio")
            seconds = sound.frames / sound.samplerate
            if seconds > MAX_SOUND_UPLOAD_SECONDS:
                raise InputError(
                    f"'{name}' is {seconds:.0f} s long; uploads take at most "
                    f"{MAX_SOUND_UPLOAD_SECONDS:g} s"
                )
            for block in sound.blocks(_SOUND_BLOCK, dtype="float32", always_2d=True):
                if not np.isfinite(block).all():
                    raise InputError(f"'{name}' holds samples that are not numbers")
                loudest = max(loudest, float(np.abs(block).max(initial=0.0)))
    except InputError:
        raise
    # libsndfile raises LibsndfileError (a RuntimeError) or others on hostile bytes
    except Exception as err:
        raise InputError(f"'{name}' cannot be decoded as audio ({_one_line(err)})") from None
    if loudest < SILENCE:
        raise InputError(f"'{name}' is silent")
    return suffix


def check_mesh_upload(name: str, data: bytes) -> str:
    """Raise InputError naming the file unless `data` is a mesh the sculpture modality can
    read (STL, OBJ, PLY, OFF or self-contained glTF; size and face caps); its file suffix,
    which tells the reader its format."""
    from museforge.sculpture.meshfile import check_mesh_bytes

    name = _one_line(name)  # a client's name may hold line breaks
    if len(data) > MAX_MESH_UPLOAD_BYTES:
        raise InputError(f"mesh '{name}' is larger than {_size(MAX_MESH_UPLOAD_BYTES)}")
    check_mesh_bytes(name, data)  # it read the format from this suffix
    return Path(name).suffix.lower()


def _member_path(name: str, member: str) -> PurePosixPath:
    """The relative path a member may be written to; InputError if it could escape."""
    if not member:
        raise InputError(f"zip '{name}' has a member with no name")
    posix = member.replace("\\", "/")  # Windows tools sometimes write backslashes
    windows = PureWindowsPath(member)
    if "\0" in member or posix.startswith("/") or windows.drive or windows.root:
        raise InputError(f"zip '{name}' has a member with an absolute path: {member!r}")
    path = PurePosixPath(posix)
    if ".." in path.parts:
        raise InputError(f"zip '{name}' has a member that points outside it: {member!r}")
    return path


def _check_member(name: str, info: zipfile.ZipInfo) -> None:
    mode = info.external_attr >> 16  # Unix mode bits, when the archiver recorded them
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
        kind = "a symbolic link" if stat.S_ISLNK(mode) else "a special file"
        raise InputError(f"zip '{name}' has a member that is {kind}: {info.filename!r}")
    if info.flag_bits & 0x1:
        raise InputError(f"zip '{name}' has an encrypted member: {info.filename!r}")
    big = info.file_size > _RATIO_CHECK_FROM
    if big and info.file_size > MAX_ZIP_RATIO * max(info.compress_size, 1):
        raise InputError(
            f"zip '{name}' looks like a zip bomb ({info.filename!r} expands "
            f"{info.file_size // max(info.compress_size, 1):,}x)"
        )


def _copy_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: int) -> int:
    """Write one member, counting real bytes (headers can lie); returns bytes written."""
    written = 0
    with zf.open(info) as src, open(target, "xb") as out:
        while chunk := src.read(_CHUNK):
            written += len(chunk)
            if written > info.file_size or written > budget:
                raise InputError(f"zip member {info.filename!r} is larger than its header says")
            out.write(chunk)
    return written


def safe_extract_zip(
    name: str, data: bytes, dest: Path, allowed_suffixes: set[str] | frozenset[str]
) -> list[Path]:
    """Extract the members of zip `data` whose suffix is allowed into the new folder `dest`.

    Suffixes compare case-insensitively ({".png", ".jpg"}). Other members, folders and
    hidden files are skipped. The archive is refused whole (InputError, `dest` untouched)
    if any member could escape `dest`, is a link, or the sizes look like a zip bomb.
    Returns the extracted files' paths under `dest`, sorted.
    """
    suffixes = {s.lower() for s in allowed_suffixes}
    name = _one_line(name)  # a client's name may hold line breaks
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except Exception as err:  # untrusted bytes: any failure means unreadable
        raise InputError(f"zip '{name}' cannot be read ({_one_line(err)})") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ZIP_MEMBERS:
            raise InputError(f"zip '{name}' has {len(infos):,} members, limit {MAX_ZIP_MEMBERS:,}")
        if sum(info.file_size for info in infos) > MAX_ZIP_TOTAL:
            raise InputError(f"zip '{name}' expands to more than {_size(MAX_ZIP_TOTAL)}")
        wanted: dict[PurePosixPath, zipfile.ZipInfo] = {}
        for info in infos:
            path = _member_path(name, info.filename)
            _check_member(name, info)
            if info.is_dir() or is_junk(path) or path.suffix.lower() not in suffixes:
                continue
            if path in wanted:
                raise InputError(f"zip '{name}' holds {info.filename!r} twice")
            wanted[path] = info
        if not wanted:
            allowed = ", ".join(sorted(suffixes))
            raise InputError(f"zip '{name}' has no usable files ({allowed})")
        budget = MAX_ZIP_TOTAL
        try:
            with atomic_directory(dest) as tmp:
                for path, info in wanted.items():
                    target = tmp.joinpath(*path.parts)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    budget -= _copy_member(zf, info, target, budget)
        except InputError:
            raise
        # Bad CRCs, unsupported compression, names the file system refuses...
        except Exception as err:
            raise InputError(f"zip '{name}' cannot be extracted ({_one_line(err)})") from None
    return sorted(dest.joinpath(*path.parts) for path in wanted)
