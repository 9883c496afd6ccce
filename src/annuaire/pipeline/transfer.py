"""Copy a whole directory from one store to another (SQLite ↔ PostgreSQL), and update a PostgreSQL
directory through SQLite.

`copy_directory` reads every table of the source and writes it through the destination's build
writer, which derives its own search tables and indexes and swaps the copy in atomically (a file
rename for SQLite, a schema swap for PostgreSQL). `annuaire copy` publishes a directory built on
one machine to a PostgreSQL server this way.

`update_postgres` applies a snapshot to a PostgreSQL directory with the one update algorithm
(pipeline/update.py): the directory is copied into a temporary SQLite file, updated there, and
copied back by a schema swap when something changed. Readers see the old directory or the new one;
the advisory lock keeps a second build or update out meanwhile.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import DirectoryMissing
from ..store import Store, open_store

# Every table a build writes, in an order that keeps references ahead of their users; derived tables
# (search tables, spatial and full-text indexes) are rebuilt by the destination.
TABLES = (
    "regions",
    "departements",
    "communes",
    "communes_anciennes",
    "portees",
    "specialites",
    "organismes",
    "organismes_fts",
    "declarations",
    "empreintes",
    "certifications",
    "ndas_precedents",
    "declaration_specialites",
    "localisations",
    "historique",
    "quarantaine",
    "sources_secondaires",
    "correspondances",
    "provenance",
    "sirene",
)


def _sqlite_rows(path: str, table: str, columns: list[str]) -> Iterator[tuple]:
    import sqlite3

    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        exists = conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (table,)).fetchone()
        if exists:  # historique, the secondary sources and sirene are missing from older directories
            yield from conn.execute(f"SELECT {', '.join(columns)} FROM {table}")
    finally:
        conn.close()


def _postgres_rows(url: str, table: str, columns: list[str]) -> Iterator[tuple]:
    from ..store.postgres import connect

    with connect(url) as conn, conn.cursor() as cur:
        exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
        if exists and exists[0]:
            yield from cur.stream(f"SELECT {', '.join(columns)} FROM {table}")


def _meta_rows(source: Store) -> dict[str, Any]:
    return {k: v for k, v in source.meta().items() if k != "version"}


def copy_directory(source: Store, destination: Store) -> dict[str, int]:
    """Copy every table of `source` into `destination`, swapped in atomically. Returns row counts."""
    from ..store import is_postgres

    read: Callable[[str, str, list[str]], Iterator[tuple]] = (
        _postgres_rows if is_postgres(source.location) else _sqlite_rows
    )
    if not source.exists():
        raise DirectoryMissing(source.location, "no directory there")
    counts = {}
    meta = _meta_rows(source)
    with destination.build() as writer:
        for table in TABLES:
            counts[table] = writer.write(table, read(source.location, table, writer.columns(table)))
        writer.write_meta(meta)
    return counts


def update_postgres(source: str, url: str, reference, **options) -> dict:
    """`update(source, url, …)` for a PostgreSQL directory (see the module's description)."""
    from .lock import run_lock
    from .update import update

    store = open_store(url)
    if not store.exists():
        raise DirectoryMissing(url, "no directory there")
    with run_lock(url), tempfile.TemporaryDirectory(prefix="annuaire-update-") as folder:
        local = open_store(str(Path(folder) / "annuaire.db"))
        copy_directory(store, local)
        report = update(source, local.location, reference, **options)
        if report.get("changed"):
            copy_directory(local, store)
        return json.loads(json.dumps(report))
