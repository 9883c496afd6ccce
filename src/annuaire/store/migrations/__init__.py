"""Schema migrations, for both backends: numbered SQL files (`<backend>/NNNN_what.sql`).

Version 1 is the schema a build creates (store/schema.sql, store/postgres/schema.sql); every later
file brings a directory built by an older version up to date, and a build starts at the latest
version. SQLite records the version in `PRAGMA user_version`, PostgreSQL in the `schema_version`
table. Each migration runs in its own transaction with its version bump: a failed one leaves the
directory at the previous version. `annuaire migrate --db` applies what is missing: each store applies
its backend's files (`migrate_sqlite` in store/sqlite.py, `migrate_postgres` in store/postgres.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable

BACKENDS = ("sqlite", "postgresql")
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations(backend: str, folder: Traversable | None = None) -> list[Migration]:
    """The migrations of a backend after the baseline (version 1), in order."""
    folder = folder or resources.files(__package__).joinpath(backend)
    found = []
    for entry in folder.iterdir():
        m = _NAME.match(entry.name)
        if m:
            found.append(Migration(int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    expected = list(range(2, len(found) + 2))
    if [m.version for m in found] != expected:  # pragma: no cover - a packaging mistake
        raise RuntimeError(f"{backend} migrations must be numbered 0002, 0003… without gaps: {found}")
    return found


def latest_version(backend: str) -> int:
    return 1 + len(migrations(backend))
