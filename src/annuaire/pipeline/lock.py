"""One run at a time per directory: builds and updates take an exclusive lock on `<db>.lock`
(on PostgreSQL: a session advisory lock, held by a connection of its own for the run's duration).

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

from ..errors import EXIT_BUSY, AnnuaireError
from ..store.files import remove_leftovers, resolved


class BusyError(AnnuaireError):
    exit_code = EXIT_BUSY


ADVISORY_KEY = 0x616E6E75  # "annu": the advisory lock every Annuaire build and update takes


@contextmanager
def _postgres_lock(url: str) -> Iterator[None]:
    """Released when the connection closes, even if the process is killed (the server sees it go)."""
    from ..store import shown
    from ..store.postgres import open_connection

    with open_connection(url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (ADVISORY_KEY,)).fetchone()
        if not (row and row[0]):
            raise BusyError(f"{shown(url)}: another build or update is running (PostgreSQL advisory lock)")
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_KEY,))


@contextmanager
def run_lock(db: Path | str) -> Iterator[None]:
    from ..store import is_postgres

    if is_postgres(str(db)):
        with _postgres_lock(str(db)):
            yield
        return
    path = Path(resolved(str(db)))  # a link's target: the lock of the file that is replaced
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = path.with_name(path.name + ".lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BusyError(f"{db}: another build or update is running (lock {lock})") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        remove_leftovers(path)  # no other run of this directory is alive: what is aside is stale
        yield
    finally:
        if not path.exists():  # a first build that failed leaves nothing behind, not even its lock file
            lock.unlink(missing_ok=True)
        os.close(fd)  # releases the lock
