"""The file a SQLite directory lives in: where it really is, whether a run may replace it, the
files a run writes beside it, and how a new version takes its place keeping what the operator set.

- A `--db` that is a symbolic link is resolved once: the run works on, locks and replaces the link's
  target, so the link stays a link and every command (serve, admin, profile) finds the same files.
- A build or an update writes the new directory aside (`.NAME.building-PID`, `.NAME.updating-PID`)
  and renames it over the old one; before that the new file takes the old one's mode, owner and group
  (a new directory file follows the umask). Those aside files of a run that was killed are removed
  by the next run, under the lock.
- A target without write permission, or a folder that cannot be written, is refused before any work.
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from pathlib import Path

from ..errors import EXIT_INPUT, AnnuaireError

log = logging.getLogger("annuaire.store")
ASIDE_KINDS = ("building", "updating")  # the runs that write a new directory beside the old one


class NotWritable(AnnuaireError):
    """The directory's file, or its folder, cannot be written: refused before any work."""

    exit_code = EXIT_INPUT


def is_url(location: str | os.PathLike[str]) -> bool:
    return "://" in str(location)


def resolved(location: str) -> str:
    """A SQLite location with its symbolic links resolved (the target of a link, even one whose target
    does not exist yet); a database URL as it is."""
    return location if is_url(location) else os.path.realpath(location)


def aside_path(path: Path, kind: str) -> Path:
    """Where a run of `kind` (building, updating) writes the new directory before the swap."""
    return path.with_name(f".{path.name}.{kind}-{os.getpid()}")


def remove_leftovers(path: Path) -> list[Path]:
    """Remove what killed runs left beside `path` (their new directory, its side file). Called under
    the lock: no other run of this directory is alive."""
    removed = []
    for kind in ASIDE_KINDS:
        for leftover in path.parent.glob(f".{path.name}.{kind}-*"):
            try:
                leftover.unlink()
            except FileNotFoundError:
                continue
            removed.append(leftover)
    if removed:
        log.info("removed the files of runs that did not finish: %s", ", ".join(p.name for p in removed))
    return removed


def check_writable(path: Path) -> None:
    """Refuse, before any work, a directory file that cannot be replaced: the file has no write
    permission (for its owner, or for this user), or its folder cannot be written."""
    shown = str(path)
    if path.exists():
        if path.is_dir():
            raise NotWritable(f"{shown}: a folder, not a database file")
        mode = path.stat().st_mode
        if not mode & stat.S_IWUSR or not os.access(path, os.W_OK):
            raise NotWritable(
                f"{shown}: the database is read-only (mode {stat.S_IMODE(mode):04o}); "
                "make it writable (chmod u+w) to build or update it"
            )
    folder = path.parent
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise NotWritable(f"{shown}: {existing} is not a folder")
    try:  # what matters is whether a file can be created there: try it
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.probe-", dir=existing)
    except OSError as exc:
        raise NotWritable(
            f"{shown}: the folder {existing} cannot be written ({exc.strerror or exc}); "
            "a build or an update writes the new directory there before swapping it in"
        ) from None
    os.close(fd)
    os.unlink(probe)


def keep_attributes(original: Path, replacement: Path) -> None:
    """Give `replacement` the mode, owner and group of `original` (when it exists), before it is
    renamed over it. Only root may give a file to another owner: otherwise the group is kept when
    this user belongs to it, and a warning says what could not be kept."""
    try:
        st = original.stat()
    except FileNotFoundError:
        return  # a new directory: its file follows the umask
    current = replacement.stat()
    if (current.st_uid, current.st_gid) != (st.st_uid, st.st_gid):
        try:
            os.chown(replacement, st.st_uid, st.st_gid)
        except PermissionError:
            try:
                os.chown(replacement, -1, st.st_gid)
            except PermissionError:
                log.warning("%s: could not keep its group (%d)", original, st.st_gid)
            if st.st_uid != current.st_uid:
                log.warning("%s: could not keep its owner (%d): only root can", original, st.st_uid)
    os.chmod(replacement, stat.S_IMODE(st.st_mode))
