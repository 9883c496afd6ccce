"""Schema migrations, for both backends: numbered SQL files (`<backend>/NNNN_what.sql`).

Version 1 is the schema a build creates (store/schema.sql, store/postgres/schema.sql); every later
file brings a directory built by an older version up to date, and a build starts at the latest
version. SQLite records the version in `PRAGMA user_version`, PostgreSQL in the `schema_version`
table. Each migration runs in its own transaction with its version bump: a failed one leaves the
directory at the previous version. `annuaire migrate --db` applies what is missing.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from typing import Any

from ...errors import AnnuaireError, DirectoryMissing

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


def migrate_sqlite(path: str, folder: Traversable | None = None) -> list[Migration]:
    """Apply the missing SQLite migrations; returns those applied."""
    from ..sqlite import statements

    conn = sqlite3.connect(path, isolation_level=None, timeout=60)
    try:
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        if version == 0:
            raise AnnuaireError(f"{path}: not an Annuaire directory (no schema version)")
        applied = []
        for migration in migrations("sqlite", folder):
            if migration.version <= version:
                continue
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in statements(migration.sql):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {migration.version:d}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            applied.append(migration)
        return applied
    finally:
        conn.close()


def migrate_postgres(
    url: str, folder: Traversable | None = None, schema: str | None = None
) -> list[Migration]:
    """Apply the missing PostgreSQL migrations to the live schema; returns those applied."""
    from ..postgres import SCHEMA, connect, new_version, schema_exists

    schema = schema or SCHEMA
    with connect(url, schema=schema) as conn:
        if not schema_exists(conn, schema):
            raise DirectoryMissing(url, f"no directory in schema {schema!r}")
        conn.commit()
        applied = []
        for migration in migrations("postgresql", folder):
            with conn.transaction():
                # One migrator at a time: the others wait here, then find the version applied.
                conn.execute("LOCK TABLE schema_version IN EXCLUSIVE MODE")
                if migration.version <= _postgres_version(conn):
                    continue
                conn.execute(migration.sql)
                conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (migration.version,))
                new_version(conn)
            applied.append(migration)
        return applied


def _postgres_version(conn: Any) -> int:
    row = conn.execute("SELECT coalesce(max(version), 1) FROM schema_version").fetchone()
    return int(row[0]) if row else 1


def current_version(location: str) -> int:
    from .. import is_postgres

    if is_postgres(location):
        from ..postgres import connect

        with connect(location) as conn:
            return _postgres_version(conn)
    lite = sqlite3.connect(f"file:{location}?mode=ro", uri=True)
    try:
        return int(lite.execute("PRAGMA user_version").fetchone()[0])
    finally:
        lite.close()


def migrate(location: str) -> list[Migration]:
    from .. import is_postgres

    return migrate_postgres(location) if is_postgres(location) else migrate_sqlite(location)
