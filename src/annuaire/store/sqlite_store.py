"""The SQLite store: one file holds the whole directory, built aside and swapped in (store/sqlite.py
holds its SQL and build writer, store/sqlite_update.py its updates)."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from importlib.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import AnnuaireError, DirectoryMissing
from .base import Store
from .files import aside_path, check_writable, keep_attributes, resolved
from .migrations import Migration, latest_version, migrations
from .sqlite import (
    BUILD_PRAGMAS,
    FILL_SPATIAL_INDEX,
    SCHEMA,
    SQLiteBuildWriter,
    apply_sirene_places,
    refresh_search_tables,
    statements,
)
from .sqlite_update import SQLiteUpdateSession

if TYPE_CHECKING:
    from ..corrections.store import CorrectionStore


def migrate_sqlite(path: str, folder: Traversable | None = None) -> list[Migration]:
    """Apply the missing SQLite migrations (store/migrations/sqlite); returns those applied."""
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


class SQLiteStore(Store):
    kind = "sqlite"

    def __init__(self, location: str | os.PathLike[str]):
        self.location = resolved(str(location))  # a link's target: replaced there, the link stays
        self.path = Path(self.location)

    # -- runs, side files, versions ------------------------------------------------------------------

    def lock(self) -> AbstractContextManager[None]:
        from .lock import file_lock

        return file_lock(self.path)

    def check_writable(self) -> None:
        check_writable(self.path)

    def sidecar_path(self, suffix: str) -> Path:
        """Beside the file (a link's target: whoever names it finds the same files)."""
        return self.path.with_name(self.path.name + suffix)

    report_path = sidecar_path

    def corrections_file(self) -> Path:
        return self.sidecar_path(".corrections.sqlite")

    def open_corrections(self, file: str | Path | None = None) -> CorrectionStore:
        from ..corrections.store import CorrectionStore

        return CorrectionStore(file or self.corrections_file())

    def stamp(self) -> str:
        stat = self.path.stat()
        return f"{stat.st_size}:{stat.st_mtime_ns}"

    def migrate(self) -> list[Migration]:
        return migrate_sqlite(str(self.path))

    def schema_version(self) -> int:
        with self.connect() as conn:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])

    def latest_version(self) -> int:
        return latest_version("sqlite")

    def read_table(self, table: str, columns: list[str]) -> Iterator[tuple[Any, ...]]:
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        try:
            exists = conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (table,)).fetchone()
            if exists:  # historique, the secondary sources and sirene are missing from older directories
                yield from conn.execute(f"SELECT {', '.join(columns)} FROM {table}")
        finally:
            conn.close()

    @contextmanager
    def updating(self) -> Iterator[SQLiteUpdateSession]:
        if not self.exists():
            raise DirectoryMissing(self.location)
        session = SQLiteUpdateSession(self.path)
        try:
            yield session
        finally:
            session.close()

    def exists(self) -> bool:
        return self.path.is_file()

    def connect(self, *, readonly: bool = True) -> sqlite3.Connection:
        if readonly:
            if not self.exists():
                raise DirectoryMissing(self.location)
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        else:
            conn = sqlite3.connect(self.path)
        conn.row_factory = sqlite3.Row
        return conn

    @contextmanager
    def build(self) -> Iterator[SQLiteBuildWriter]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temp = aside_path(self.path, "building")
        temp.unlink(missing_ok=True)
        conn = sqlite3.connect(temp, isolation_level=None)
        writer: SQLiteBuildWriter | None = None
        try:
            conn.executescript(BUILD_PRAGMAS)
            conn.executescript(SCHEMA)
            conn.execute("BEGIN")
            writer = SQLiteBuildWriter(conn, temp)
            yield writer
            writer.finish()
            conn.execute("COMMIT")
            conn.execute("PRAGMA journal_mode = DELETE")
            conn.close()
            if writer.side:
                writer.side.merge_into(temp)
            keep_attributes(self.path, temp)  # the mode, owner and group the operator gave the file
            os.replace(temp, self.path)  # atomic: readers see the old file or the new one
        except BaseException:
            conn.close()
            if writer and writer.side:
                writer.side.abandon()
            temp.unlink(missing_ok=True)
            raise

    def meta(self) -> dict[str, Any]:
        with self.connect() as conn:
            out = {}
            for key, value in conn.execute("SELECT key, value FROM meta"):
                try:
                    out[key] = json.loads(value)
                except (TypeError, ValueError):
                    out[key] = value
            return out

    def declarations(self) -> Iterator[dict[str, Any]]:
        return self._dicts(
            """SELECT d.*, o.identifiant AS id_organisme,
                  (SELECT group_concat(p.nda_precedent, ' ') FROM ndas_precedents p
                    WHERE p.nda = d.nda) AS ndas_precedents,
                  (SELECT group_concat(s.code, ' ') FROM declaration_specialites s
                    WHERE s.nda = d.nda ORDER BY s.rang) AS specialites,
                  l.latitude, l.longitude, l.geo_score, l.geo_type, l.geo_methode
           FROM declarations d
           JOIN organismes o ON o.id = d.organisme_id
           LEFT JOIN localisations l ON l.nda = d.nda
           ORDER BY d.nda"""
        )

    def organisations(self) -> Iterator[dict[str, Any]]:
        from .export_sql import ORGANISATIONS_EXPORT

        return self._dicts(ORGANISATIONS_EXPORT)

    def quarantine(self) -> Iterator[dict[str, Any]]:
        return self._dicts("SELECT * FROM quarantaine ORDER BY enregistrement")

    def _dicts(self, query: str) -> Iterator[dict[str, Any]]:
        """The query's rows as dicts, read lazily through a connection closed at the end."""
        conn = self.connect()
        try:
            yield from map(dict, conn.execute(query))
        finally:
            conn.close()

    def provenance(self) -> Iterator[dict[str, Any]]:
        from .export_sql import PROVENANCE_EXPORT

        return self._dicts(PROVENANCE_EXPORT)

    def addresses(self) -> Iterator[dict[str, Any]]:
        return self._dicts(
            """SELECT nda, voie, code_postal, ville, code_commune_insee, commune, type_adresse
           FROM declarations WHERE origine_lieu <> 'sirene' ORDER BY nda"""
        )

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """A connection in an immediate transaction on the directory, committed when the block ends
        well, rolled back otherwise: readers see the state before or after, never between."""
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=60)
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        finally:
            conn.close()

    def replace_locations(self, rows: Iterable[tuple[Any, ...]]) -> int:
        with self._writing() as conn:
            count = conn.executemany(
                "INSERT OR REPLACE INTO localisations VALUES (?, ?, ?, ?, ?, ?, ?)", rows
            ).rowcount
            conn.execute("DELETE FROM organismes_geo")
            conn.execute(FILL_SPATIAL_INDEX)
            refresh_search_tables(conn)
            conn.execute("ANALYZE")
        return count

    # -- SIRENE (annuaire sirene) -------------------------------------------------------------------------

    def establishment_sirets(self) -> list[str]:
        """The valid SIRETs of the active organisations, in identifier order."""
        conn = self.connect()
        try:
            return [
                row[0]
                for row in conn.execute(
                    """SELECT siret FROM organismes WHERE siret IS NOT NULL AND statut = 'actif'
                       ORDER BY identifiant"""
                )
            ]
        finally:
            conn.close()

    def replace_sirene(
        self, rows: Iterable[tuple[Any, ...]], answers: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Replace SIRENE's answers (rows in `sirene` column order) and, with `answers` (SIRET →
        (answer, date, api)), place the declarations SIRENE places (clean/places.py), in one
        transaction. Returns what placing did."""
        with self._writing() as conn:
            (version,) = conn.execute("PRAGMA user_version").fetchone()
            if version < latest_version("sqlite"):
                raise AnnuaireError(
                    f"{self.path}: built by an older version: run `annuaire migrate --db {self.path}` first"
                )
            conn.execute("DELETE FROM sirene")
            conn.executemany(f"INSERT INTO sirene VALUES ({', '.join('?' * 14)})", rows)
            return apply_sirene_places(conn, answers) if answers is not None else {}
