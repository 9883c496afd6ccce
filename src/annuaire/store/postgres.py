"""PostgreSQL implementation of the store: the directory's tables in one schema (`annuaire`), PostGIS
for coordinates, a tsvector of folded words for full text.

A build loads a fresh schema (`annuaire_building_<pid>`) inside one transaction, then renames the
live schema away, the new one into place and drops the old one before committing, holding every old
table's lock: readers see the previous directory until the commit and the new one after it, never a
half-loaded one nor a mix, and a failed build leaves nothing behind. Location changes
(`replace_locations`) run in one transaction. The extensions (postgis, unaccent) live in `public`.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterable
from importlib import resources
from typing import Any

import psycopg
from psycopg import sql
from psycopg.adapt import Dumper
from psycopg.rows import dict_row

from ..clean.names import fold, place_words
from ..errors import DatabaseUnavailable, shown
from .base import BuildWriter
from .migrations import latest_version

log = logging.getLogger(__name__)

SCHEMA = "annuaire"  # the live directory's schema
# The shared state (corrections/postgres.py): never built, updated, swapped or copied.
SHARED_SCHEMA = "annuaire_partage"
EXTENSIONS = ("postgis", "unaccent")
_FILES = resources.files(__package__).joinpath("postgres")
TABLES = _FILES.joinpath("schema.sql").read_text(encoding="utf-8")
# The secondary indexes both backends share (store/indexes.sql), then PostgreSQL's own.
INDEXES = "\n".join(
    folder.joinpath("indexes.sql").read_text(encoding="utf-8")
    for folder in (resources.files(__package__), _FILES)
)


class IntBoolDumper(Dumper):
    """Booleans as 0/1 integers, as SQLite stores them (the schemas share their integer columns)."""

    oid = psycopg.postgres.types["int4"].oid

    def dump(self, obj: bool) -> bytes:
        return b"1" if obj else b"0"


def open_connection(url: str, *, autocommit: bool = False) -> psycopg.Connection:
    """A connection, or DatabaseUnavailable naming the server (never its password) and the reason."""
    try:
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=10)
    except psycopg.OperationalError as exc:
        reason = (
            " ".join(line.strip() for line in str(exc).splitlines() if line.strip()) or type(exc).__name__
        )
        raise DatabaseUnavailable(f"{shown(url)}: cannot connect to PostgreSQL: {reason}") from None


def serving_search_path(schema: str = SCHEMA) -> sql.Composed:
    """The search path of every pooled connection `serve` uses (the searcher's and the shared
    state's), the same for both: behind a pooler in transaction mode (pgbouncer) a session's setting
    stays with the server connection, which other clients get next. pgbouncer's `connect_query` sets
    this same path on every server connection it opens (README, "Several app servers")."""
    return sql.SQL("SET search_path = {}, {}, public").format(
        sql.Identifier(schema), sql.Identifier(SHARED_SCHEMA)
    )


def pool_arguments() -> dict[str, Any]:
    """psycopg's connection arguments for `serve`'s pools: autocommit, and no server-side prepared
    statements with ANNUAIRE_PG_PREPARED_STATEMENTS=0 (a pooler in transaction mode that does not
    track them, pgbouncer before 1.21, would hand them to a connection that lacks them)."""
    from ..settings import current

    return {"autocommit": True, "prepare_threshold": 5 if current().pg_prepared_statements else None}


def connect(url: str, *, autocommit: bool = False, schema: str = SCHEMA) -> psycopg.Connection:
    conn = open_connection(url, autocommit=autocommit)
    conn.adapters.register_dumper(bool, IntBoolDumper)
    conn.execute(sql.SQL("SET search_path = {}, public").format(sql.Identifier(schema)))
    if not autocommit:
        conn.commit()
    return conn


def ensure_extensions(conn: psycopg.Connection) -> None:
    """PostGIS and unaccent in `public` (needs the right to create them once; a DBA can do it first)."""
    installed = {row[0] for row in conn.execute("SELECT extname FROM pg_extension")}
    for name in EXTENSIONS:
        if name not in installed:
            statement = sql.SQL("CREATE EXTENSION IF NOT EXISTS {} SCHEMA public")
            conn.execute(statement.format(sql.Identifier(name)))


def schema_exists(conn: psycopg.Connection, schema: str = SCHEMA) -> bool:
    return conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone() is not None


# The search rows (search.sql in SQLite, SEARCH_ROWS in store/sqlite.py), in PostgreSQL's dialect.
# `noms` is a temporary table of (id, folded name) computed in Python with the `fold` SQLite uses.
ORGANISATION_SPECIALITIES = """INSERT INTO organisme_specialites
    SELECT DISTINCT d.organisme_id, s.code FROM declaration_specialites s JOIN declarations d ON d.nda = s.nda
    WHERE d.statut = 'actif' {where} ORDER BY 1, 2"""

SEARCH_ROWS = """INSERT INTO recherche
    SELECT o.id,
           n.nom,
           (CASE WHEN s.portees > 0 THEN 2 ELSE 0 END) + (o.type_adresse = 'voie')::int
             + (o.siret IS NOT NULL)::int + (l.geo_methode = 'ban')::int
             + (EXISTS (SELECT 1 FROM organisme_specialites x WHERE x.organisme_id = o.id))::int,
           coalesce(s.af, 0), coalesce(s.bc, 0), coalesce(s.vae, 0), coalesce(s.app, 0),
           (coalesce(s.portees, 0) > 0)::int,
           o.code_departement, o.code_region, o.code_commune_insee, o.code_postal, o.statut,
           o.date_derniere_declaration,
           l.latitude, l.longitude,
           CASE WHEN l.longitude IS NOT NULL THEN (l.longitude + 180.0) / 360.0 END,
           (1.0 - ln(tan(radians(l.latitude)) + 1.0 / cos(radians(l.latitude))) / pi()) / 2.0,
           CASE WHEN l.latitude IS NOT NULL
                THEN public.ST_SetSRID(public.ST_MakePoint(l.longitude, l.latitude), 4326)::public.geography
           END
    FROM organismes o
    JOIN noms n ON n.id = o.id
    LEFT JOIN localisations l ON l.nda = o.nda_principal
    LEFT JOIN (
        SELECT organisme_id,
               max((portee = 'actions_formation')::int) AS af,
               max((portee = 'bilans_competences')::int) AS bc,
               max((portee = 'vae')::int) AS vae, max((portee = 'apprentissage')::int) AS app,
               count(*) AS portees
        FROM certifications {where} GROUP BY organisme_id
    ) s ON s.organisme_id = o.id
    ORDER BY o.id"""

POSTAL_CODES = """INSERT INTO codes_postaux
    SELECT DISTINCT p, c.code_insee FROM communes c, unnest(string_to_array(c.codes_postaux, ' ')) p
    WHERE c.codes_postaux <> ''
    ON CONFLICT DO NOTHING"""


def refresh_search_tables(conn: psycopg.Connection) -> None:
    """(Re)derive the search tables inside the caller's transaction (readers keep the old rows until
    it commits)."""
    conn.execute("DELETE FROM organisme_specialites")
    conn.execute("DELETE FROM recherche")
    conn.execute("DELETE FROM codes_postaux")
    conn.execute("CREATE TEMPORARY TABLE IF NOT EXISTS noms (id BIGINT PRIMARY KEY, nom TEXT) ON COMMIT DROP")
    names = conn.execute("SELECT id, denomination FROM organismes").fetchall()
    with conn.cursor() as cur, cur.copy("COPY noms (id, nom) FROM STDIN") as copy:
        for oid, name in names:
            copy.write_row((oid, fold(name)))
    conn.execute(ORGANISATION_SPECIALITIES.format(where=""))
    conn.execute(SEARCH_ROWS.format(where=""))
    conn.execute(POSTAL_CODES)
    conn.execute("DROP TABLE noms")


def new_version(conn: psycopg.Connection) -> None:
    """A new identifier of the directory's state, read by the searchers to drop their caches."""
    conn.execute(
        """INSERT INTO meta VALUES ('version', %s)
           ON CONFLICT (key) DO UPDATE SET value = excluded.value""",
        (uuid.uuid4().hex,),
    )


def lock_tables(conn: psycopg.Connection, schema: str, patience: float = 30.0) -> None:
    """Lock every table of `schema` exclusively inside the caller's transaction: all in one go, or
    none (a savepoint) and again a moment later, so that the locks are never held piecemeal while a
    reader holds the rest. After `patience` seconds, waits in line like any lock."""
    tables = sql.SQL(", ").join(
        sql.Identifier(schema, row[0])
        for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))
    )
    deadline = time.monotonic() + patience
    pause = 0.01
    while time.monotonic() < deadline:
        try:
            with conn.transaction():
                conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE NOWAIT").format(tables))
            return
        except psycopg.errors.LockNotAvailable:
            time.sleep(pause)
            pause = min(pause * 2, 0.5)
    conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(tables))


class PostgresBuildWriter(BuildWriter):
    def __init__(self, conn: psycopg.Connection, schema: str):
        self.conn = conn
        self.schema = schema
        self._columns: dict[str, list[str]] = {}

    def columns(self, table: str) -> list[str]:
        """The table's columns, generated ones (the full-text words) left out."""
        if table not in self._columns:
            cols = [
                row[0]
                for row in self.conn.execute(
                    """SELECT column_name FROM information_schema.columns
                       WHERE table_schema = %s AND table_name = %s AND is_generated = 'NEVER'
                       ORDER BY ordinal_position""",
                    (self.schema, table),
                )
            ]
            if not cols:
                raise KeyError(f"no table {table!r} in the schema")
            self._columns[table] = cols
        return self._columns[table]

    def write(self, table: str, rows: Iterable[tuple[Any, ...]]) -> int:
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, self.columns(table)))
        )
        count = 0
        with self.conn.cursor() as cur, cur.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        return count

    def write_meta(self, values: dict[str, Any]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(
                """INSERT INTO meta VALUES (%s, %s)
                   ON CONFLICT (key) DO UPDATE SET value = excluded.value""",
                [
                    (k, v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))
                    for k, v in values.items()
                ],
            )

    def locate_at_commune_centroids(self) -> None:
        from .place_sql import COMMUNE_CENTROIDS

        self.conn.execute(COMMUNE_CENTROIDS)

    def finish(self) -> None:
        """Search tables, indexes and the planner's statistics, after the bulk load."""
        refresh_search_tables(self.conn)
        self.conn.execute(INDEXES)
        # A copied change log keeps its ids: new entries number on from the last.
        self.conn.execute(
            """SELECT setval(pg_get_serial_sequence('historique', 'id'), coalesce(max(id), 0) + 1, false)
               FROM historique"""
        )
        self.conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (latest_version("postgresql"),))
        new_version(self.conn)
        self.conn.execute("ANALYZE")


def apply_sirene(
    conn: psycopg.Connection, rows: Iterable[tuple[Any, ...]], answers: dict[str, Any] | None
) -> dict[str, Any]:
    """Replace SIRENE's answers (rows in `sirene` column order) and, with `answers`, place the
    declarations SIRENE places (see SQLiteStore.replace_sirene), inside the caller's transaction."""
    from ..clean.places import PlaceBook, replacements
    from .place_sql import BOOK_SQL, PLACE_UPDATE_PG, PLACEABLE_SQL, SHOWN_PLACE_UPDATE_PG

    conn.execute("DELETE FROM sirene")
    with conn.cursor() as cur:
        cur.executemany(f"INSERT INTO sirene VALUES ({', '.join(['%s'] * 14)})", list(rows))
    if answers is None:
        return {}
    book = PlaceBook.from_rows(*(conn.execute(query).fetchall() for query in BOOK_SQL))
    with conn.cursor(row_factory=dict_row) as cur:
        placeable = cur.execute(PLACEABLE_SQL).fetchall()
    changes, locations, placement = replacements(placeable, answers, book)
    with conn.cursor() as cur:
        cur.executemany(PLACE_UPDATE_PG, changes)
        cur.executemany(
            """INSERT INTO localisations VALUES (%s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (nda) DO UPDATE SET latitude = excluded.latitude,
                 longitude = excluded.longitude, geo_score = excluded.geo_score,
                 geo_type = excluded.geo_type, geo_label = excluded.geo_label,
                 geo_methode = excluded.geo_methode""",
            locations,
        )
        cur.executemany(SHOWN_PLACE_UPDATE_PG, [{"nda": c[-1]} for c in changes])
    shown_places = conn.execute(
        """SELECT o.id, coalesce(o.commune, o.ville, '') FROM organismes o
           WHERE o.nda_principal = ANY(%s)""",
        ([c[-1] for c in changes],),
    ).fetchall()
    with conn.cursor() as cur:  # the full-text entries name the commune
        cur.executemany(
            "UPDATE organismes_fts SET commune = %s WHERE rowid = %s",
            [(place_words(name), oid) for oid, name in shown_places],
        )
    if changes:
        refresh_search_tables(conn)
    return placement.report() | {
        "declarations_changed": len(changes),
        "organisations_changed": len(shown_places),
    }
