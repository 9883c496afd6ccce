"""The PostgreSQL store: the directory in the schema `annuaire` (store/postgres.py holds its SQL and
build writer, store/postgres_update.py its updates), the advisory lock of builds and updates, its
migrations."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from importlib.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from ..errors import BusyError, DirectoryMissing, shown
from ..settings import current as current_settings
from .base import Store
from .migrations import Migration, latest_version, migrations
from .postgres import (
    SCHEMA,
    TABLES,
    PostgresBuildWriter,
    apply_sirene,
    connect,
    ensure_extensions,
    lock_tables,
    new_version,
    open_connection,
    refresh_search_tables,
    schema_exists,
)
from .postgres_update import PostgresUpdateSession, _value

if TYPE_CHECKING:
    from ..corrections.store import CorrectionStore

log = logging.getLogger(__name__)

ADVISORY_KEY = 0x616E6E75  # "annu": the advisory lock every Annuaire build and update takes


@contextmanager
def advisory_lock(url: str) -> Iterator[None]:
    """Held by a connection of its own for the run's duration: released when the connection closes,
    even if the process is killed (the server sees it go)."""
    with open_connection(url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (ADVISORY_KEY,)).fetchone()
        if not (row and row[0]):
            raise BusyError(f"{shown(url)}: another build or update is running (PostgreSQL advisory lock)")
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_KEY,))


def migrate_postgres(
    url: str, folder: Traversable | None = None, schema: str | None = None
) -> list[Migration]:
    """Apply the missing PostgreSQL migrations (store/migrations/postgresql) to the live schema;
    returns those applied."""
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
                if migration.version <= _version(conn):
                    continue
                conn.execute(migration.sql)
                conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (migration.version,))
                new_version(conn)
            applied.append(migration)
        return applied


def _version(conn: psycopg.Connection[Any]) -> int:
    return int(_value(conn, "SELECT coalesce(max(version), 1) FROM schema_version") or 1)


class PostgresStore(Store):
    kind = "postgresql"

    def __init__(self, location: str, schema: str = SCHEMA):
        self.location = location
        self.url = location
        self.schema = schema

    # -- runs, side files, versions ------------------------------------------------------------------

    def lock(self) -> AbstractContextManager[None]:
        return advisory_lock(self.url)

    def _cache_name(self) -> str:
        parts = urlsplit(str(self.url))
        name = "-".join(
            str(p)
            for p in (parts.hostname or "local", parts.port or 5432, parts.path.strip("/") or "postgres")
        )
        return name.replace("/", "_")

    def report_path(self, suffix: str) -> Path:
        """In the cache's `reports/` folder, named after the server and the database
        (`reports/db.example.org-5432-annuaire.report.json`)."""
        folder = current_settings().cache_dir / "reports"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / (self._cache_name() + suffix)

    def sidecar_path(self, suffix: str) -> Path:
        """In the cache folder under `bases/`, named after the URL's hash."""
        digest = hashlib.sha256(str(self.url).encode()).hexdigest()[:16]
        return current_settings().cache_dir / "bases" / f"{digest}{suffix}"

    def corrections_file(self) -> None:
        """None: the shared state lives in the database (schema `annuaire_partage`)."""
        return None

    def open_corrections(self, file: str | Path | None = None) -> CorrectionStore:
        """The shared state in the database, schema `annuaire_partage` (corrections/postgres.py); a
        side file only when one is named (`--corrections`, ANNUAIRE_CORRECTIONS_DB)."""
        if file:
            from ..corrections.store import CorrectionStore

            return CorrectionStore(file)
        from ..corrections.postgres import PostgresCorrectionStore

        return PostgresCorrectionStore(self.url)

    def stamp(self) -> str:
        meta = self.meta()
        return f"{meta.get('built_at')}|{meta.get('updated_at')}|{meta.get('version')}"

    def migrate(self) -> list[Migration]:
        return migrate_postgres(self.url, schema=self.schema)

    def schema_version(self) -> int:
        with self.connect() as conn:
            return _version(conn)

    def latest_version(self) -> int:
        return latest_version("postgresql")

    def read_table(self, table: str, columns: list[str]) -> Iterator[tuple[Any, ...]]:
        with self.connect() as conn, conn.cursor() as cur:
            exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
            if exists and exists[0]:
                yield from cur.stream(f"SELECT {', '.join(columns)} FROM {table}")

    @contextmanager
    def updating(self) -> Iterator[PostgresUpdateSession]:
        if not self.exists():
            raise DirectoryMissing(self.url, f"no directory in schema {self.schema!r}")
        session = PostgresUpdateSession(self)
        try:
            yield session
        finally:
            session.close()

    def connect(self, *, autocommit: bool = True) -> psycopg.Connection:
        return connect(self.url, autocommit=autocommit, schema=self.schema)

    def exists(self) -> bool:
        with open_connection(self.url, autocommit=True) as conn:
            return schema_exists(conn, self.schema)

    @contextmanager
    def build(self) -> Iterator[PostgresBuildWriter]:
        building = f"{self.schema}_building_{os.getpid()}"
        retired = f"{self.schema}_retired_{os.getpid()}"
        with self.connect(autocommit=True) as conn:
            ensure_extensions(conn)
            self.drop_retired(conn)  # none, unless a schema was renamed by hand
        conn = connect(self.url, schema=building)
        try:
            with conn.transaction():
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(building)))
                conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(building)))
                conn.execute(sql.SQL("SET LOCAL search_path = {}, public").format(sql.Identifier(building)))
                conn.execute(TABLES)
                writer = PostgresBuildWriter(conn, building)
                yield writer
                writer.finish()
                # The swap. First every table of the live directory is locked, all at once or not at
                # all (NOWAIT, retried): readers then wait at their first table holding nothing, so
                # no reader can deadlock with the drop. The renames and the drop commit together;
                # waiting readers resume on the new tables, whose names they look up again.
                if schema_exists(conn, self.schema):
                    lock_tables(conn, self.schema)
                    conn.execute(
                        sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(
                            sql.Identifier(self.schema), sql.Identifier(retired)
                        )
                    )
                conn.execute(
                    sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(
                        sql.Identifier(building), sql.Identifier(self.schema)
                    )
                )
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(retired)))
        finally:
            conn.close()

    def drop_retired(self, conn: psycopg.Connection, attempts: int = 5) -> None:
        """Drop the schemas of directories swapped out (autocommit connection). A drop waiting more
        than a few seconds for a reader is retried, then left to the next build."""
        names = [
            row[0]
            for row in conn.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (f"{self.schema}\\_retired\\_%",)
            )
        ]
        for name in names:
            for attempt in range(attempts):
                try:
                    with conn.transaction():
                        conn.execute("SET LOCAL lock_timeout = '5s'")
                        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))
                    break
                except (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected):
                    if attempt == attempts - 1:
                        log.warning("schema %s not dropped yet (readers): the next build drops it", name)

    def _rows(self, query: str) -> Iterator[dict[str, Any]]:
        if not self.exists():
            raise DirectoryMissing(self.url, f"no directory in schema {self.schema!r}")
        with self.connect() as conn, conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
            # One snapshot for the whole read, streamed (a server-side cursor would need a name).
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield from cur.stream(query)

    def meta(self) -> dict[str, Any]:
        out = {}
        for row in self._rows("SELECT key, value FROM meta"):
            try:
                out[row["key"]] = json.loads(row["value"])
            except (TypeError, ValueError):
                out[row["key"]] = row["value"]
        return out

    def declarations(self) -> Iterator[dict[str, Any]]:
        return self._rows(
            """SELECT d.*, o.identifiant AS id_organisme,
                  (SELECT string_agg(p.nda_precedent, ' ' ORDER BY p.nda_precedent) FROM ndas_precedents p
                    WHERE p.nda = d.nda) AS ndas_precedents,
                  (SELECT string_agg(s.code, ' ' ORDER BY s.rang) FROM declaration_specialites s
                    WHERE s.nda = d.nda) AS specialites,
                  l.latitude, l.longitude, l.geo_score, l.geo_type, l.geo_methode
               FROM declarations d
               JOIN organismes o ON o.id = d.organisme_id
               LEFT JOIN localisations l ON l.nda = d.nda
               ORDER BY d.nda COLLATE "C\""""
        )

    def organisations(self) -> Iterator[dict[str, Any]]:
        from .export_sql import ORGANISATIONS_EXPORT_PG

        return self._rows(ORGANISATIONS_EXPORT_PG)

    def quarantine(self) -> Iterator[dict[str, Any]]:
        return self._rows("SELECT * FROM quarantaine ORDER BY enregistrement")

    def provenance(self) -> Iterator[dict[str, Any]]:
        from .export_sql import PROVENANCE_EXPORT_PG

        return self._rows(PROVENANCE_EXPORT_PG)

    def addresses(self) -> Iterator[dict[str, Any]]:
        return self._rows(
            """SELECT nda, voie, code_postal, ville, code_commune_insee, commune, type_adresse
               FROM declarations WHERE origine_lieu <> 'sirene' ORDER BY nda COLLATE "C\""""
        )

    def replace_locations(self, rows: Iterable[tuple[Any, ...]]) -> int:
        with self.connect(autocommit=False) as conn, conn.transaction():
            with conn.cursor() as cur:
                cur.executemany(
                    """INSERT INTO localisations VALUES (%s, %s, %s, %s, %s, %s, %s)
                       ON CONFLICT (nda) DO UPDATE SET latitude = excluded.latitude,
                         longitude = excluded.longitude, geo_score = excluded.geo_score,
                         geo_type = excluded.geo_type, geo_label = excluded.geo_label,
                         geo_methode = excluded.geo_methode""",
                    list(rows),
                )
                count = cur.rowcount
            refresh_search_tables(conn)
            new_version(conn)
            conn.execute("ANALYZE localisations")
            conn.execute("ANALYZE recherche")
        return count

    # -- SIRENE (annuaire sirene) -------------------------------------------------------------------

    def establishment_sirets(self) -> list[str]:
        """The valid SIRETs of the active organisations, in identifier order."""
        with self.connect() as conn:
            return [
                row[0]
                for row in conn.execute(
                    """SELECT siret FROM organismes WHERE siret IS NOT NULL AND statut = 'actif'
                       ORDER BY identifiant"""
                )
            ]

    def replace_sirene(
        self, rows: Iterable[tuple[Any, ...]], answers: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Replace SIRENE's answers (rows in `sirene` column order) and, with `answers`, place the
        declarations SIRENE places (see SQLiteStore.replace_sirene), in one transaction."""
        with self.connect(autocommit=False) as conn, conn.transaction():
            report = apply_sirene(conn, rows, answers)
            new_version(conn)
        return report
