"""Where the directory lives. One interface (`base.Store`), one implementation per database."""

from __future__ import annotations

from .base import Store


def open_store(location: str) -> Store:
    """`postgresql://…` will select PostgreSQL; anything else is a SQLite file path."""
    if location.startswith(("postgresql://", "postgres://")):
        raise NotImplementedError("the PostgreSQL store is not available yet: use a SQLite file path")
    from .sqlite import SQLiteStore

    return SQLiteStore(location)


__all__ = ["Store", "open_store"]
