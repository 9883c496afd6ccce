"""Search over a PostgreSQL directory (store/postgres.py's schema).

What must come from the database does: full text (the `mots` tsvector, GIN index, every word a
prefix from two letters as in SQLite's FTS5 query), identifiers, the radius prefilter (PostGIS
geography, GiST index, `ST_DWithin` on the sphere of the same radius as search/geo.py) and the
records shown. Filters, facets, orders and map clusters run on the search table's columns held in
memory (columns.py), exactly as for SQLite: this class extends `SQLiteSearcher` and replaces only
the queries written in SQLite's dialect, so both backends rank, count and cluster with one code.

Connections come from a pool (psycopg_pool), shared by the worker's threads. The directory's state
is the `version` row of `meta`, rewritten by every build, update or location change; it is read at
most once per `version_ttl` seconds (default 1 s), and with every text or radius match (in the same
snapshot as the matches, so that the ids matched and the columns they index always belong to the
same directory). A worker sees a new directory within a second of its swap.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import OrderedDict
from typing import Any

import numpy as np
import psycopg
from psycopg_pool import ConnectionPool

from ..errors import DirectoryMissing
from ..settings import current as current_settings
from ..store.postgres import SCHEMA, open_connection, pool_arguments, serving_search_path
from . import text
from .columns import ROW_FIELDS, Columns, Lookups
from .params import Filters
from .sqlite import SQLiteSearcher, _Matches

IDENTIFIER_MATCHES = {
    "siret": """SELECT id FROM organismes WHERE siret = %(v)s
                UNION SELECT organisme_id FROM declarations WHERE siret = %(v)s""",
    "siren": """SELECT id FROM organismes WHERE siren = %(v)s
                UNION SELECT organisme_id FROM declarations WHERE siren = %(v)s""",
    "nda": """SELECT organisme_id FROM declarations WHERE nda = %(v)s
              UNION SELECT d.organisme_id FROM ndas_precedents p JOIN declarations d ON d.nda = p.nda
                    WHERE p.nda_precedent = %(v)s""",
}

WITHIN = (
    "public.ST_DWithin(r.lieu, public.ST_MakePoint(%(lon)s, %(lat)s)::public.geography, %(metres)s, false)"
)


def tsquery(words: list[str], prefix: bool = True) -> str:
    """The tsquery requiring every word, each a prefix from two characters or (not `prefix`) whole
    (text.fts_expression's semantics). Words are folded to [A-Z0-9]: quoting them keeps tsquery
    syntax out of user input."""
    return " & ".join(f"'{w}':*" if prefix and len(w) >= text.MIN_PREFIX else f"'{w}'" for w in words)


class Row(tuple):
    """A result row read by position or by column name, like sqlite3.Row."""

    _index: dict[str, int] = {}

    def __getitem__(self, key):
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


def row_factory(cursor: psycopg.Cursor):
    description = cursor.description
    if description is None:
        return tuple
    cls = type("Row", (Row,), {"_index": {c.name: i for i, c in enumerate(description)}})
    return lambda values: cls(values)


def no_nul(value):
    """PostgreSQL text cannot hold NUL: a value holding one (never stored, so never equal to a stored
    value) is sent with U+FFFD in its place, which keeps it unequal, where SQLite just finds nothing."""
    return value.replace("\x00", "\ufffd") if isinstance(value, str) else value


_PLACEHOLDERS = re.compile(r"IN \(SELECT value FROM json_each\(\?\)\)|\?")


def translate(query: str, params: tuple | list) -> tuple[str, list]:
    """SQLite's placeholders in PostgreSQL's form: `?` → `%s`, and `IN (SELECT value FROM
    json_each(?))` (a JSON list) → `= ANY(%s)` with the list itself."""
    if not params:
        return query, []
    values = list(params)
    index = 0

    def replace(match: re.Match) -> str:
        nonlocal index
        if match.group(0) != "?":
            values[index] = json.loads(values[index])
        index += 1
        return "= ANY(%s)" if match.group(0) != "?" else "%s"

    query = _PLACEHOLDERS.sub(replace, query.replace("%", "%%"))
    return query, [no_nul(v) for v in values]


class Result:
    def __init__(self, rows: list):
        self.rows = rows

    def fetchone(self):
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list:
        return self.rows

    def __iter__(self):
        return iter(self.rows)


class PooledConnection:
    """What the inherited SQLite code calls `conn`: `execute(sql, params)` with `?` placeholders, run
    on a pooled connection, rows fetched at once. Only portable SQL goes through here; queries in
    SQLite's dialect are overridden below."""

    def __init__(self, pool: ConnectionPool):
        self.pool = pool

    def execute(self, query: str, params: tuple | list = ()) -> Result:
        query, params = translate(query, params)
        with self.pool.connection() as conn, conn.cursor(row_factory=row_factory) as cur:
            cur.execute(query, params or None)
            return Result(cur.fetchall() if cur.description else [])


class PostgresSearcher(SQLiteSearcher):
    def __init__(
        self, url: str, *, schema: str = SCHEMA, version_ttl: float = 1.0, pool_size: int | None = None
    ):
        self.url = url
        self.schema = schema
        self.version_ttl = version_ttl
        self._lock = threading.Lock()
        self._local = threading.local()
        self._cache: OrderedDict[Any, Any] = OrderedDict()
        self._pinned: dict[Any, Any] = {}
        self._cache_ident: tuple | None = None
        self._connections = []
        self._version: tuple[float, str] | None = None

        def configure(conn: psycopg.Connection) -> None:
            conn.execute(serving_search_path(schema))

        with open_connection(url):  # an unreachable server is said at once, not after the pool's timeout
            pass
        self.pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max(1, pool_size if pool_size is not None else current_settings().pg_pool_size),
            kwargs=pool_arguments(),
            configure=configure,
            open=True,
            name="annuaire",
        )
        self.pooled = PooledConnection(self.pool)
        try:
            self._read_version()
        except Exception:
            self.pool.close()
            raise

    # -- connections and caching -------------------------------------------------------------------

    def _read_version(self) -> str:
        with self.pool.connection() as conn:
            exists = (conn.execute("SELECT to_regclass('meta') IS NOT NULL").fetchone() or (False,))[0]
            if not exists:
                raise DirectoryMissing(self.url, f"no directory in schema {self.schema!r}")
            row = conn.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        return row[0] if row else "0"

    def _ident(self) -> tuple:
        now = time.monotonic()
        known = self._version
        if known is None or now - known[0] >= self.version_ttl:
            known = (now, self._read_version())
            self._version = known
        return (known[1],)

    def _observe(self, version: str | None) -> None:
        """A version read along with a query's results: newer than the one known, it is taken at once."""
        known = self._version
        if version is not None and (known is None or known[1] != version):
            self._version = (time.monotonic(), version)

    def _conn(self) -> PooledConnection:  # type: ignore[override]
        return self.pooled

    def version(self) -> str:
        return self._ident()[0]

    def close(self) -> None:
        self.pool.close()

    def _has_table(self, name: str) -> bool:
        return self._cached(
            ("has_table", name),
            lambda: self.pooled.execute("SELECT to_regclass(?) IS NOT NULL", (name,)).fetchone()[0],
        )

    # -- search ------------------------------------------------------------------------------------

    def columns(self) -> Columns:
        def load() -> Columns:
            with self.pool.connection() as conn, conn.transaction():
                # One snapshot for both tables. The lock comes first: it resolves both names before
                # the snapshot is taken, so a schema swap committing meanwhile cannot pair this
                # snapshot with the new tables (which it would see empty).
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                conn.execute("LOCK TABLE recherche, organisme_specialites IN ACCESS SHARE MODE")
                rows = conn.execute(f"SELECT {', '.join(ROW_FIELDS)} FROM recherche ORDER BY id").fetchall()
                specialities = conn.execute("SELECT organisme_id, code FROM organisme_specialites").fetchall()
            return Columns(rows, specialities)

        return self._cached("columns", load, pinned=True)

    def _words_matching(self, words: list[str], prefix: bool = True) -> np.ndarray:
        """Ids of the organisations whose name or commune holds every word (each a prefix, or whole),
        as SQLite's full-text index gives them; recent answers kept, as there."""
        expression = tsquery(words, prefix)
        kept: _Matches = self._cached("matches", _Matches, pinned=True)
        with self._lock:
            found = kept.ids.get(expression)
            if found is not None:
                kept.ids.move_to_end(expression)
                return found
        with self.pool.connection() as pg:
            found_ids, version = pg.execute(
                """SELECT string_agg(rowid::text, ','), (SELECT value FROM meta WHERE key = 'version')
                   FROM organismes_fts WHERE mots @@ %(q)s::tsquery""",
                {"q": expression},
            ).fetchone() or (None, None)  # an aggregate: always one row
        self._observe(version)
        found = np.fromstring(found_ids or "", dtype=np.int64, sep=",")
        found.flags.writeable = False
        with self._lock:
            kept.add(expression, found)
        return found

    def _lookups(self, conn: PooledConnection, f: Filters) -> Lookups:  # type: ignore[override]
        centre, place = self._centre(f)
        matches = None
        understood = None
        found = text.identifier(f.q) if f.q else None
        if f.q and not found:
            understood = self._understand(f)  # its full-text matches through _words_matching
        with self.pool.connection() as pg:
            if found:
                kind, digits = found
                ids = [row[0] for row in pg.execute(IDENTIFIER_MATCHES[kind], {"v": digits})]
                matches = np.array(ids, dtype=np.int64)
            elif centre is not None:
                # The radius's prefilter, from the GiST index. The directory's version comes in the
                # same snapshot as the matches: when a swap happened since it was last read, the
                # columns are reloaded before use.
                found_ids, version = pg.execute(
                    f"""SELECT string_agg(r.id::text, ','), (SELECT value FROM meta WHERE key = 'version')
                        FROM recherche r WHERE {WITHIN}""",
                    {"lat": centre[0], "lon": centre[1], "metres": f.rayon_km * 1000.0},
                ).fetchone() or (None, None)
                self._observe(version)
                # One string parsed in C, as for SQLite: cheaper than a Python int per match.
                matches = np.fromstring(found_ids or "", dtype=np.int64, sep=",")
            postal = ()
            if f.code_postal:
                postal = tuple(
                    row[0]
                    for row in pg.execute(
                        "SELECT code_insee FROM codes_postaux WHERE code_postal = %s", (f.code_postal,)
                    )
                )
        return Lookups(
            matches=matches,
            centre=centre,
            postal_communes=postal,
            communes=self._communes_meant(f),
            place=place,
            understood=understood,
        )

    def _organisation_id(self, conn, key: str) -> int | None:
        compact = no_nul("".join(key.split()).replace(".", "").upper())
        if not compact or len(compact) > 40:
            return None
        with self.pool.connection() as pg:
            row = pg.execute("SELECT id FROM organismes WHERE identifiant = %s", (compact,)).fetchone()
            if row is None and compact.isdigit():
                row = pg.execute(
                    """SELECT organisme_id FROM declarations WHERE nda = %(k)s OR siret = %(k)s
                       UNION ALL SELECT d.organisme_id FROM ndas_precedents p
                                 JOIN declarations d ON d.nda = p.nda WHERE p.nda_precedent = %(k)s
                       LIMIT 1""",
                    {"k": compact},
                ).fetchone()
        return None if row is None else row[0]
