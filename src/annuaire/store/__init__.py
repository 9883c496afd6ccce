"""Where the directory lives. One interface (`base.Store`), one implementation per database."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from .base import Store


def is_postgres(location: str) -> bool:
    """Whether a `--db` location names a PostgreSQL database rather than a SQLite file."""
    return str(location).startswith(("postgresql://", "postgres://"))


def shown(location: str) -> str:
    """A location fit for messages and logs: a PostgreSQL URL without its password."""
    parts = urlsplit(str(location))
    if not is_postgres(location) or parts.password is None:
        return str(location)
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)))


def report_path(location: str, suffix: str) -> Path:
    """Where a run writes its JSON report (`suffix`: ".report.json", ".update.json"): beside a SQLite
    file; for PostgreSQL, in the cache's `reports/` folder, named after the server and the database
    (`reports/db.example.org-5432-annuaire.report.json`)."""
    if is_postgres(location):
        from ..settings import current

        parts = urlsplit(str(location))
        name = "-".join(
            str(p)
            for p in (parts.hostname or "local", parts.port or 5432, parts.path.strip("/") or "postgres")
        )
        folder = current().cache_dir / "reports"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / (name.replace("/", "_") + suffix)
    path = Path(os.path.realpath(location))  # beside a link's target
    return path.with_name(path.name + suffix)


def open_store(location: str) -> Store:
    """`postgresql://…` (or `postgres://…`) selects PostgreSQL; anything else is a SQLite file path."""
    if is_postgres(location):
        from .postgres import PostgresStore

        return PostgresStore(location)
    from .sqlite import SQLiteStore

    return SQLiteStore(location)


__all__ = ["Store", "is_postgres", "open_store", "report_path", "shown"]
