"""SQLite implementation of the store: one file, FTS5 for text, R*Tree for coordinates."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from .base import BuildWriter, Store

SCHEMA = resources.files(__package__).joinpath("schema.sql").read_text(encoding="utf-8")
INDEXES = resources.files(__package__).joinpath("indexes.sql").read_text(encoding="utf-8")


FILL_SPATIAL_INDEX = """INSERT INTO organismes_geo
    SELECT o.id, l.latitude, l.latitude, l.longitude, l.longitude
    FROM organismes o JOIN localisations l ON l.nda = o.nda_principal
    WHERE l.latitude IS NOT NULL"""


class SQLiteBuildWriter(BuildWriter):
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self._columns: dict[str, list[str]] = {}
        self._sql: dict[str, str] = {}

    def columns(self, table: str) -> list[str]:
        """The table's columns; for a full-text (FTS5) table, its rowid first: the rowid is what ties
        an entry to its row elsewhere (organismes_fts: the organisation's id)."""
        if table not in self._columns:
            cols = [r[1] for r in self.conn.execute(f"PRAGMA table_info({table})")]
            if not cols:
                raise KeyError(f"no table {table!r} in the schema")
            (sql,) = self.conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()
            if "USING FTS5" in sql.upper():
                cols = ["rowid", *cols]
            self._columns[table] = cols
            self._sql[table] = f"INSERT INTO {table}({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
        return self._columns[table]

    def write(self, table: str, rows: Iterable[tuple]) -> int:
        self.columns(table)
        cur = self.conn.executemany(self._sql[table], rows)
        return cur.rowcount

    def write_meta(self, values: dict[str, Any]) -> None:
        self.conn.executemany(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)",
            [(k, v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)) for k, v in values.items()],
        )

    def locate_at_commune_centroids(self) -> None:
        self.conn.execute(
            """INSERT INTO localisations
               SELECT d.nda, c.latitude, c.longitude, NULL,
                      CASE WHEN c.latitude IS NULL THEN NULL ELSE 'municipality' END,
                      CASE WHEN c.latitude IS NULL THEN NULL ELSE c.nom END,
                      CASE WHEN c.latitude IS NULL THEN 'aucun' ELSE 'centroide_commune' END
               FROM declarations d LEFT JOIN communes c ON c.code_insee = d.code_commune_insee
               WHERE d.nda NOT IN (SELECT nda FROM localisations)"""
        )

    def finish(self) -> None:
        """Indexes, the full-text index and the planner's statistics, after the bulk load."""
        conn = self.conn
        for statement in INDEXES.split(";"):
            if statement.strip():
                conn.execute(statement)
        # The loader wrote the full-text entries; merged into one segment, queries read less.
        conn.execute("INSERT INTO organismes_fts(organismes_fts) VALUES ('optimize')")
        conn.execute(FILL_SPATIAL_INDEX)
        conn.execute("ANALYZE")


class SQLiteStore(Store):
    def __init__(self, location: str | os.PathLike):
        self.path = Path(location)
        self.location = str(location)

    def exists(self) -> bool:
        return self.path.is_file()

    def connect(self, *, readonly: bool = True) -> sqlite3.Connection:
        if readonly:
            if not self.exists():
                raise FileNotFoundError(f"{self.path}: no such database (run `annuaire build` first)")
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        else:
            conn = sqlite3.connect(self.path)
        conn.row_factory = sqlite3.Row
        return conn

    @contextmanager
    def build(self) -> Iterator[SQLiteBuildWriter]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temp = self.path.with_name(f".{self.path.name}.building-{os.getpid()}")
        temp.unlink(missing_ok=True)
        conn = sqlite3.connect(temp, isolation_level=None)
        try:
            conn.executescript(
                "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA locking_mode = EXCLUSIVE;"
                "PRAGMA cache_size = -262144; PRAGMA temp_store = MEMORY;"
            )
            conn.executescript(SCHEMA)
            conn.execute("BEGIN")
            writer = SQLiteBuildWriter(conn)
            yield writer
            writer.finish()
            conn.execute("COMMIT")
            conn.execute("PRAGMA journal_mode = DELETE")
            conn.close()
            os.replace(temp, self.path)  # atomic: readers see the old file or the new one
        except BaseException:
            conn.close()
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
        conn = self.connect()
        try:
            yield from map(
                dict,
                conn.execute(
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
                ),
            )
        finally:
            conn.close()

    def organisations(self) -> Iterator[dict[str, Any]]:
        conn = self.connect()
        try:
            yield from map(
                dict,
                conn.execute(
                    """SELECT o.*,
                          (SELECT group_concat(d.nda, ' ') FROM
                             (SELECT nda FROM declarations WHERE organisme_id = o.id ORDER BY nda) d) AS ndas,
                          (SELECT group_concat(DISTINCT c.portee) FROM certifications c
                            WHERE c.organisme_id = o.id) AS portees,
                          l.latitude, l.longitude, l.geo_score, l.geo_type, l.geo_methode
                   FROM organismes o
                   LEFT JOIN localisations l ON l.nda = o.nda_principal
                   ORDER BY o.identifiant"""
                ),
            )
        finally:
            conn.close()

    def quarantine(self) -> Iterator[dict[str, Any]]:
        conn = self.connect()
        try:
            yield from map(dict, conn.execute("SELECT * FROM quarantaine ORDER BY enregistrement"))
        finally:
            conn.close()

    def addresses(self) -> Iterator[dict[str, Any]]:
        conn = self.connect()
        try:
            yield from map(
                dict,
                conn.execute(
                    """SELECT nda, voie, code_postal, ville, code_commune_insee, commune, type_adresse
                   FROM declarations ORDER BY nda"""
                ),
            )
        finally:
            conn.close()

    def replace_locations(self, rows: Iterable[tuple]) -> int:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=60)
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                count = conn.executemany(
                    "INSERT OR REPLACE INTO localisations VALUES (?, ?, ?, ?, ?, ?, ?)", rows
                ).rowcount
                conn.execute("DELETE FROM organismes_geo")
                conn.execute(FILL_SPATIAL_INDEX)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return count
        finally:
            conn.close()
