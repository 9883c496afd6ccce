"""Where the directory lives. One interface (`base.Store`), one implementation per database.

`open_store` is the one place that tells a PostgreSQL URL from a SQLite file; everything else asks the
store it opened (its lock, its side files, how it is updated, migrated, copied).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import shown
from .base import Store

SCHEMES = ("postgresql://", "postgres://")


def is_postgres(location: str) -> bool:
    """Whether a `--db` location names a PostgreSQL database rather than a SQLite file."""
    return str(location).startswith(SCHEMES)


def open_store(location: str) -> Store:
    """`postgresql://…` (or `postgres://…`) selects PostgreSQL; anything else is a SQLite file path."""
    if is_postgres(location):
        from .postgres_store import PostgresStore

        return PostgresStore(location)
    from .sqlite_store import SQLiteStore

    return SQLiteStore(location)


def report_path(location: str, suffix: str) -> Path:
    """Where a run writes its JSON report for the directory at `location` (see Store.report_path)."""
    return open_store(location).report_path(suffix)


__all__ = ["Store", "is_postgres", "open_store", "report_path", "shown"]
