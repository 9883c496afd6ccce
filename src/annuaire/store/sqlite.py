"""SQLite implementation of the store: one file, FTS5 for text, R*Tree for coordinates."""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from ..clean.names import fold, place_words
from ..settings import current as current_settings
from .base import BuildWriter, Rows
from .side_index import FULL_TEXT, OPTIMIZE, SPATIAL, SideTables, can_fork, fill

SCHEMA = resources.files(__package__).joinpath("schema.sql").read_text(encoding="utf-8")
INDEXES = resources.files(__package__).joinpath("indexes.sql").read_text(encoding="utf-8")
SEARCH_TABLES = resources.files(__package__).joinpath("search.sql").read_text(encoding="utf-8")


# A build's connection: a file of its own, swapped in whole, so no journal and no syncing.
BUILD_PRAGMAS = (
    "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA locking_mode = EXCLUSIVE;"
    "PRAGMA cache_size = -262144; PRAGMA temp_store = MEMORY;"
)


def statements(script: str) -> Iterator[str]:
    """The statements of a SQL script, one by one (`executescript` would commit the transaction)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        if not pending and (not line.strip() or line.lstrip().startswith("--")):
            continue
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending
            pending = ""
    if pending.strip():
        yield pending


MATH_FUNCTIONS: dict[str, tuple[int, Any]] = {
    "ln": (1, math.log),
    "tan": (1, math.tan),
    "cos": (1, math.cos),
    "sin": (1, math.sin),
    "asin": (1, math.asin),
    "sqrt": (1, math.sqrt),
    "pow": (2, math.pow),
    "radians": (1, math.radians),
    "pi": (0, lambda: math.pi),
}


def ensure_math_functions(conn: sqlite3.Connection) -> None:
    """SQLite's math functions (ln, sin, radians…), in Python where SQLite was built without them."""
    try:
        conn.execute(
            "SELECT ln(2.0), tan(0.5), sin(0.5), asin(0.5), sqrt(2.0), pow(2.0, 2), radians(1.0), pi()"
        )
    except sqlite3.OperationalError:
        for name, (arity, fn) in MATH_FUNCTIONS.items():
            conn.create_function(name, arity, fn, deterministic=True)


def register_functions(conn: sqlite3.Connection) -> None:
    """SQL functions the search tables use: `fold`, and math functions if SQLite lacks them."""
    conn.create_function("fold", 1, fold, deterministic=True)
    conn.create_function("place_words", 1, place_words, deterministic=True)
    ensure_math_functions(conn)


# The search rows of organisations: all of them ({where} empty) or some (after an update).
ORGANISATION_SPECIALITIES = """INSERT OR IGNORE INTO organisme_specialites
    SELECT d.organisme_id, s.code FROM declaration_specialites s JOIN declarations d ON d.nda = s.nda
    WHERE d.statut = 'actif' {where_declaration}
    ORDER BY 1, 2"""

SEARCH_ROWS = """INSERT INTO recherche
    SELECT o.id,
           fold(o.denomination),
           (CASE WHEN s.portees > 0 THEN 2 ELSE 0 END) + (o.type_adresse = 'voie') + (o.siret IS NOT NULL)
             + (l.geo_methode = 'ban')
             + EXISTS (SELECT 1 FROM organisme_specialites x WHERE x.organisme_id = o.id),
           coalesce(s.af, 0), coalesce(s.bc, 0), coalesce(s.vae, 0), coalesce(s.app, 0),
           coalesce(s.portees, 0) > 0,
           o.code_departement, o.code_region, o.code_commune_insee, o.code_postal, o.statut,
           o.date_derniere_declaration,
           l.latitude, l.longitude,
           CASE WHEN l.longitude IS NOT NULL THEN (l.longitude + 180.0) / 360.0 END,
           (1.0 - ln(tan(radians(l.latitude)) + 1.0 / cos(radians(l.latitude))) / pi()) / 2.0
    FROM organismes o
    LEFT JOIN localisations l ON l.nda = o.nda_principal
    LEFT JOIN (
        SELECT organisme_id,
               max(portee = 'actions_formation') AS af, max(portee = 'bilans_competences') AS bc,
               max(portee = 'vae') AS vae, max(portee = 'apprentissage') AS app, count(*) AS portees
        FROM certifications {where_certification} GROUP BY organisme_id
    ) s ON s.organisme_id = o.id
    {where_organisation}
    ORDER BY o.id"""

FULL_TEXT_ROWS = """INSERT INTO organismes_fts(rowid, denomination, commune, identifiants)
    SELECT o.id, fold(o.denomination), place_words(coalesce(o.commune, o.ville, '')),
           coalesce(o.siret, '') || ' ' || coalesce(o.siren, '') || ' ' ||
           coalesce((SELECT group_concat(d.nda, ' ') FROM declarations d WHERE d.organisme_id = o.id), '')
           || ' ' ||
           coalesce((SELECT group_concat(p.nda_precedent, ' ') FROM declarations d
                     JOIN ndas_precedents p ON p.nda = d.nda WHERE d.organisme_id = o.id), '')
    FROM organismes o WHERE o.id IN (SELECT value FROM json_each(?))"""


FILL_SPATIAL_INDEX = """INSERT INTO organismes_geo
    SELECT o.id, l.latitude, l.latitude, l.longitude, l.longitude
    FROM organismes o JOIN localisations l ON l.nda = o.nda_principal
    WHERE l.latitude IS NOT NULL"""
SPATIAL_ROWS = FILL_SPATIAL_INDEX + " AND o.id IN (SELECT value FROM json_each(?))"  # some organisations


def refresh_search_tables(conn: sqlite3.Connection) -> None:
    """(Re)derive the search tables (search.sql) inside the caller's transaction."""
    register_functions(conn)
    for statement in statements(SEARCH_TABLES):
        conn.execute(statement)
    conn.execute(ORGANISATION_SPECIALITIES.format(where_declaration=""))
    conn.execute(SEARCH_ROWS.format(where_certification="", where_organisation=""))


def refresh_organisations(conn: sqlite3.Connection, ids: list[int]) -> None:
    """Re-derive the full-text, spatial and search rows of some organisations (after an update)."""
    register_functions(conn)
    chosen = json.dumps(sorted(ids))
    in_ids = "IN (SELECT value FROM json_each(?))"
    for table, column in (
        ("organismes_fts", "rowid"),
        ("organismes_geo", "id"),
        ("recherche", "id"),
        ("organisme_specialites", "organisme_id"),
    ):
        conn.execute(f"DELETE FROM {table} WHERE {column} {in_ids}", (chosen,))
    conn.execute(FULL_TEXT_ROWS, (chosen,))
    conn.execute(SPATIAL_ROWS, (chosen,))
    conn.execute(
        ORGANISATION_SPECIALITIES.format(where_declaration=f"AND d.organisme_id {in_ids}"), (chosen,)
    )
    conn.execute(
        SEARCH_ROWS.format(
            where_certification=f"WHERE organisme_id {in_ids}", where_organisation=f"WHERE o.id {in_ids}"
        ),
        (chosen, chosen),
    )


def apply_sirene_places(conn: sqlite3.Connection, answers: dict[str, Any]) -> dict[str, Any]:
    """Place the directory's declarations whose own address gives no commune at SIRENE's address
    (`answers`: SIRET → (answer, date, api)), inside the caller's transaction: declarations,
    locations, the organisations they show and their search rows. Returns what changed."""
    from ..clean.places import PlaceBook, replacements
    from .place_sql import BOOK_SQL, PLACE_UPDATE, PLACEABLE_SQL, SHOWN_PLACE_UPDATE

    book = PlaceBook.from_rows(*(conn.execute(query).fetchall() for query in BOOK_SQL))
    cursor = conn.cursor()
    cursor.row_factory = sqlite3.Row
    changes, locations, placement = replacements(cursor.execute(PLACEABLE_SQL).fetchall(), answers, book)
    conn.executemany(PLACE_UPDATE, changes)
    conn.executemany("INSERT OR REPLACE INTO localisations VALUES (?, ?, ?, ?, ?, ?, ?)", locations)
    changed = [(row[-1],) for row in changes]
    conn.executemany(SHOWN_PLACE_UPDATE, changed)
    touched = sorted(
        {
            row[0]
            for (nda,) in changed
            for row in conn.execute("SELECT organisme_id FROM declarations WHERE nda = ?", (nda,))
        }
    )
    if touched:
        refresh_organisations(conn, touched)
    return placement.report() | {"declarations_changed": len(changes), "organisations_changed": len(touched)}


class SQLiteBuildWriter(BuildWriter):
    def __init__(self, conn: sqlite3.Connection, path: Path | None = None):
        self.conn = conn
        self.path = path  # the file being built
        self._columns: dict[str, list[str]] = {}
        self._sql: dict[str, str] = {}
        self._aside: set[str] = set()  # tables write_aside wrote, or a side process is writing
        self.side: SideTables | None = None  # that process

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

    def write(self, table: str, rows: Iterable[tuple[Any, ...]]) -> int:
        self.columns(table)
        cur = self.conn.executemany(self._sql[table], rows)
        return cur.rowcount

    def write_aside(self, tables: dict[str, Rows]) -> None:
        """Write the tables in a forked process while the build loads the rest; they are copied in
        when it ends (store/side_index.py). Here and now where it cannot fork, where the build has
        no file of its own, with ANNUAIRE_BUILD_SIDE_PROCESS=0, or if a side process runs already."""
        for table in tables:
            self.columns(table)  # a known table, its insert statement ready
        self._aside.update(tables)
        if (
            self.path is None
            or self.side is not None
            or not can_fork()
            or not current_settings().build_side_process
        ):
            fill(self.conn, tables, self._sql.__getitem__)
            return
        names = list(tables)
        statements = [
            sql
            for (sql,) in self.conn.execute(
                f"SELECT sql FROM sqlite_master WHERE name IN ({', '.join('?' * len(names))})", names
            )
        ]
        side = self.path.with_name(self.path.name + ".side")
        self.side = SideTables.start(side, statements, tables, self._sql.__getitem__)

    def write_meta(self, values: dict[str, Any]) -> None:
        self.conn.executemany(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)",
            [(k, v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)) for k, v in values.items()],
        )

    def locate_at_commune_centroids(self) -> None:
        from .place_sql import COMMUNE_CENTROIDS

        self.conn.execute(COMMUNE_CENTROIDS)

    def finish(self) -> None:
        """Indexes, the full-text index and the planner's statistics, after the bulk load."""
        conn = self.conn
        for statement in INDEXES.split(";"):
            if statement.strip():
                conn.execute(statement)
        if FULL_TEXT not in self._aside:  # entries written by write() (a copy between backends)
            conn.execute(OPTIMIZE)
        if SPATIAL not in self._aside:
            conn.execute(FILL_SPATIAL_INDEX)
        refresh_search_tables(conn)
        conn.execute("ANALYZE")
