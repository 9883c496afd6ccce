"""Files that go with a directory database: the source profiles, the quality report, the exports
generated for download.

Beside a SQLite file `annuaire.db` they are `annuaire.db.sources.json`, `annuaire.db.quality.json`,
`annuaire.db.exports/`; for a database named by a URL (a server), in the cache folder under
`bases/`, named after the URL's hash. A stamp tells which state of the database they describe:
the file's size and modification time, or for a server the build and update times it records."""

from __future__ import annotations

from pathlib import Path


def canonical(location: str | Path) -> str:
    """The directory's location as its store names it (a SQLite link's target; a URL as it is)."""
    from .store import open_store

    return open_store(str(location)).location


def sidecar_path(location: str | Path, suffix: str) -> Path:
    from .store import open_store

    return open_store(str(location)).sidecar_path(suffix)


def stamp(location: str | Path, store=None) -> str:
    """Changes whenever the database is rebuilt or updated."""
    from .store import open_store

    return (store if store is not None else open_store(str(location))).stamp()
