"""Crash-safe file primitives: atomic JSON writes and advisory locks (flock)."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def dump_json(document: Any) -> str:
    """The one JSON encoding the job writes: UTF-8, indented, keys in insertion order."""
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def atomic_write_text(path: Path, text: str) -> None:
    """Replace `path` so that readers see the old file or the new one, never a torn one.

    Temp file in the same directory (same filesystem, so `os.replace` is atomic), fsync of
    the data before the rename and of the directory after it, so a crash or power loss
    leaves one complete version. The existing file's permission bits are kept.
    """
    directory = path.parent
    mode = _existing_mode(path)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(temp_name, mode)
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    _fsync_directory(directory)


def remove_stale_temp_files(path: Path) -> list[Path]:
    """Delete the temp files (`.<name>.*.tmp`) that writers of `path` killed mid-write left behind.

    Readers never see them (dot-files, never the target name), but each is as big as the file
    it was to become. Call this only while holding the lock every writer of `path` takes, so
    no temp file removed belongs to a write still in progress. Returns what was removed.
    """
    removed: list[Path] = []
    for candidate in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            candidate.unlink()
            removed.append(candidate)
    return removed


def atomic_write_json(path: Path, document: Any) -> None:
    atomic_write_text(path, dump_json(document))


def _existing_mode(path: Path) -> int | None:
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        return None


def _fsync_directory(directory: Path) -> None:
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class LockHeld(Exception):
    """Another process holds the lock."""


@contextlib.contextmanager
def file_lock(lock_path: Path, *, blocking: bool = True) -> Iterator[None]:
    """Hold an exclusive `flock` on `lock_path` for the block.

    The kernel drops a flock when its holder dies, so a killed run never leaves a lock
    that blocks the next one; the file itself stays and is harmless.
    """
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        flags = fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB
        try:
            fcntl.flock(fd, flags)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise LockHeld(str(lock_path)) from None
            raise
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
