"""Atomic file and directory writes: readers see the old file or the new one, never half.

Each write goes to a temporary sibling, is flushed to the disk (fsync), then renamed over
the target, and the folder is flushed so the rename survives a power cut. A failed write
(disk full, read-only folder) leaves the target as it was, removes the temporary file and
raises a :class:`StorageError` whose message names the file and what went wrong.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from museforge.errors import StorageError

# Temporary names look like ".STEM.XXXXXXXX.tmpSUF", as tempfile's did: the studio's
# startup clean-up (studio/workspace.py) finds the leftovers of a killed process by it.
_NAME_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_"
READ_ONLY = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})


def storage_error(path: str | Path, err: OSError) -> StorageError:
    """A one-line StorageError for ``err`` raised while writing ``path``."""
    path = Path(path)
    code = err.errno
    if code in (errno.ENOSPC, errno.EDQUOT):
        message = f"no space left on the device while writing '{path}'"
    elif code == errno.EROFS:
        message = f"cannot write '{path}': the folder '{path.parent}' is read-only"
    elif code in (errno.EACCES, errno.EPERM):
        message = f"cannot write '{path}': no permission to write in the folder '{path.parent}'"
    else:
        message = f"could not write '{path}' ({err.strerror or err})"
    found = StorageError(message)
    found.errno, found.filename = code, str(path)
    return found


@contextlib.contextmanager
def _storage_errors(path: Path) -> Iterator[None]:
    """Turn the system's errors while writing ``path`` into one-line StorageErrors (errors
    without an errno, such as Pillow's "cannot write mode P as JPEG", are bugs: kept)."""
    try:
        yield
    except StorageError:
        raise
    except OSError as err:
        if err.errno is None:
            raise
        raise storage_error(path, err) from err


def _random_name(path: Path, kind: str) -> Path:
    token = "".join(secrets.choice(_NAME_CHARS) for _ in range(8))
    return path.with_name(f".{path.stem}.{token}.{kind}{path.suffix}")


def _new_temp(path: Path, make: Callable[[Path], None]) -> Path:
    """A fresh hidden sibling of ``path`` made by ``make`` (which must fail if it exists)."""
    for _ in range(100):
        candidate = _random_name(path, "tmp")
        try:
            make(candidate)
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(path))


def _create_file(candidate: Path) -> None:
    # Mode 0o666 less the umask, as open() gives: mkstemp's 0o600 would hide artworks
    # from the other users a gallery or model folder is shared with.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    os.close(os.open(candidate, flags, 0o666))


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    # The rename has happened; flushing the folder entry is for durability only, and some
    # file systems refuse fsync on a directory.
    with contextlib.suppress(OSError):
        _fsync(folder)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary sibling file and a rename."""
    return atomic_write_with(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_with(path: str | Path, writer: Callable[[Path], object]) -> Path:
    """Call ``writer(tmp_path)`` to produce the file, then rename it over ``path``.

    The temporary file keeps the final suffix so that libraries choosing a format from the
    extension (Pillow, for instance) still work. On any error the temporary file is removed
    and ``path`` is left as it was; the system's errors become a :class:`StorageError`.
    """
    path = Path(path)
    with _storage_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _new_temp(path, _create_file)
        try:
            writer(tmp)
            _fsync(tmp)  # the data reaches the disk before the name points at it
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    _fsync_folder(path.parent)
    return path


@contextlib.contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Yield a temporary directory that replaces ``path`` only if the block succeeds.

    An existing directory at ``path`` is swapped out and removed after the new one is in
    place (and put back if the new one cannot be), so an interrupted write never leaves a
    half-filled or missing ``path`` behind.
    """
    path = Path(path)
    with _storage_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _new_temp(path, lambda p: p.mkdir(0o777))
    try:
        yield tmp
        with _storage_errors(path):
            for dirpath, _, filenames in os.walk(tmp):
                for name in filenames:
                    _fsync(Path(dirpath) / name)
            old = _swap_in(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_folder(path.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _swap_in(new: Path, path: Path) -> Path | None:
    """Rename ``new`` to ``path``; the old directory's temporary name, if there was one."""
    old = None
    if path.exists():
        old = _random_name(path, "old")  # 8 random characters: never one in use
        os.replace(path, old)
    try:
        os.replace(new, path)
    except BaseException:
        if old is not None:
            os.replace(old, path)  # the previous version stays where readers look for it
        raise
    return old


@contextlib.contextmanager
def file_lock(path: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the block, against
    other processes and other open handles in this one; it is freed if the process dies."""
    path = Path(path)
    with _storage_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the handle releases the lock
