"""Copy a whole directory from one store to another (SQLite ↔ PostgreSQL, or the same kind).

`copy_directory` reads every table of the source and writes it through the destination's build
writer, which derives its own search tables and indexes and swaps the copy in atomically (a file
rename for SQLite, a schema swap for PostgreSQL). `annuaire copy` publishes a directory built on
one machine to a PostgreSQL server this way.
"""

from __future__ import annotations

from typing import Any

from ..errors import DirectoryMissing
from .base import Store

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


def _meta_rows(source: Store) -> dict[str, Any]:
    return {k: v for k, v in source.meta().items() if k != "version"}


def copy_directory(source: Store, destination: Store) -> dict[str, int]:
    """Copy every table of `source` into `destination`, swapped in atomically. Returns row counts."""
    if not source.exists():
        raise DirectoryMissing(source.location, "no directory there")
    counts = {}
    meta = _meta_rows(source)
    with destination.build() as writer:
        for table in TABLES:
            counts[table] = writer.write(table, source.read_table(table, writer.columns(table)))
        writer.write_meta(meta)
    return counts
