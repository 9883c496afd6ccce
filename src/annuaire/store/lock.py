"""One run at a time per SQLite directory: builds, updates, migrations and copies take an exclusive
lock on `<db>.lock` (a PostgreSQL directory takes an advisory lock instead: store/postgres.py).

The lock is an OS file lock (flock): it is released when the process ends, even when killed, so a
crash never leaves a stale lock behind. The lock file stays beside the database (removing it would let
two runs lock two different files); only a first build that failed removes it with everything else.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import BusyError
from .files import remove_leftovers


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """The lock of the directory file `path` (a link's target already resolved)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = path.with_name(path.name + ".lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BusyError(f"{path}: another build or update is running (lock {lock})") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        remove_leftovers(path)  # no other run of this directory is alive: what is aside is stale
        yield
    finally:
        if not path.exists():  # a first build that failed leaves nothing behind, not even its lock file
            lock.unlink(missing_ok=True)
        os.close(fd)  # releases the lock
