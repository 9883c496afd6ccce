"""Files that go with a directory database: the source profiles, the quality report, the exports
generated for download.

Beside a SQLite file `annuaire.db` they are `annuaire.db.sources.json`, `annuaire.db.quality.json`,
`annuaire.db.exports/`; for a database named by a URL (a server), in the cache folder under
`bases/`, named after the URL's hash. A stamp tells which state of the database they describe:
the file's size and modification time, or for a server the build and update times it records."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .settings import current as current_settings


def is_file(location: str | Path) -> bool:
    return "://" not in str(location)


def sidecar_path(location: str | Path, suffix: str) -> Path:
    if is_file(location):
        path = Path(os.path.realpath(location))  # beside a link's target, whoever names it
        return path.with_name(path.name + suffix)
    digest = hashlib.sha256(str(location).encode()).hexdigest()[:16]
    return current_settings().cache_dir / "bases" / f"{digest}{suffix}"


def stamp(location: str | Path, store=None) -> str:
    """Changes whenever the database is rebuilt or updated."""
    if is_file(location):
        stat = Path(location).stat()
        return f"{stat.st_size}:{stat.st_mtime_ns}"
    if store is None:
        from .store import open_store

        store = open_store(str(location))
    meta = store.meta()
    return f"{meta.get('built_at')}|{meta.get('updated_at')}"
