"""The searcher's queries on a PostgreSQL directory (store/postgres.py's schema).

What must come from the database does: full text (the `mots` tsvector, GIN index, every word a
prefix from two letters as in SQLite's FTS5 query), identifiers, the radius prefilter (PostGIS
geography, GiST index, `ST_DWithin` on the sphere of the same radius as search/geo.py) and the
records shown. Filters, facets, orders and map clusters run in searcher.py on the columns held in
memory, exactly as for SQLite, so both backends rank, count and cluster with one code.

Connections come from a pool (psycopg_pool), shared by the worker's threads. The directory's state
is the `version` row of `meta`, rewritten by every build, update or location change; it is read at
most once per `version_ttl` seconds (default 1 s), and with every text or radius match (in the same
snapshot as the matches, so that the ids matched and the columns they index always belong to the
same directory). A worker sees a new directory within a second of its swap.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from ..errors import DirectoryMissing
from ..settings import current as current_settings
from ..store.place_sql import PLACE_PROVENANCE
from ..store.postgres import SCHEMA, open_connection, pool_arguments, serving_search_path
from . import queries, text
from .columns import ROW_FIELDS
from .queries import DECLARATION_SCOPES, EVENTS, Queries, Record
from .searcher import DirectorySearcher

Params = Mapping[str, Any] | Sequence[Any]

SUMMARY = queries.SUMMARY + "WHERE o.id = ANY(%(ids)s)"

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
VERSION = "(SELECT value FROM meta WHERE key = 'version')"


def tsquery(words: list[str], prefix: bool = True) -> str:
    """The tsquery requiring every word, each a prefix from two characters or (not `prefix`) whole
    (text.fts_expression's semantics). Words are folded to [A-Z0-9]: quoting them keeps tsquery
    syntax out of user input."""
    return " & ".join(f"'{w}':*" if prefix and len(w) >= text.MIN_PREFIX else f"'{w}'" for w in words)


def no_nul(value: str) -> str:
    """PostgreSQL text cannot hold NUL: a value holding one (never stored, so never equal to a stored
    value) is sent with U+FFFD in its place, which keeps it unequal, where SQLite just finds nothing."""
    return value.replace("\x00", "\ufffd")


def _ids(found: str | None) -> np.ndarray:
    """Ids aggregated by `string_agg`: one string parsed in C, cheaper than a Python int per match."""
    return np.fromstring(found or "", dtype=np.int64, sep=",")


class PostgresQueries(Queries):
    def __init__(
        self, url: str, *, schema: str = SCHEMA, version_ttl: float = 1.0, pool_size: int | None = None
    ):
        self.url = url
        self.schema = schema
        self.version_ttl = version_ttl
        self._version: tuple[float, str] | None = None

        def configure(conn: psycopg.Connection[Any]) -> None:
            conn.execute(serving_search_path(schema))

        with open_connection(url):  # an unreachable server is said at once, not after the pool's timeout
            pass
        self.pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url,
            min_size=1,
            max_size=max(1, pool_size if pool_size is not None else current_settings().pg_pool_size),
            kwargs=pool_arguments(),
            configure=configure,
            open=True,
            name="annuaire",
        )
        try:
            self._read_version()
        except Exception:
            self.pool.close()
            raise

    # -- the directory's state and connections -----------------------------------------------------

    def _read_version(self) -> str:
        with self.pool.connection() as conn:
            exists = (conn.execute("SELECT to_regclass('meta') IS NOT NULL").fetchone() or (False,))[0]
            if not exists:
                raise DirectoryMissing(self.url, f"no directory in schema {self.schema!r}")
            row = conn.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        return str(row[0]) if row else "0"

    def ident(self) -> tuple[str]:
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

    def version(self) -> str:
        return self.ident()[0]

    def close(self) -> None:
        self.pool.close()

    def _rows(self, statement: str, params: Params | None = None) -> list[tuple[Any, ...]]:
        with self.pool.connection() as conn:
            return conn.execute(statement, params).fetchall()

    def _records(self, statement: str, params: Params | None = None) -> list[Record]:
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(statement, params).fetchall()

    def _record(self, statement: str, params: Params) -> Record | None:
        found = self._records(statement, params)
        return found[0] if found else None

    def _id(self, statement: str, params: Params) -> int | None:
        found = self._rows(statement, params)
        return int(found[0][0]) if found else None

    def rows(self, statement: str) -> list[tuple[Any, ...]]:
        return self._rows(statement)

    def records(self, statement: str) -> list[Record]:
        return self._records(statement)

    def has_table(self, name: str) -> bool:
        return bool(self._rows("SELECT to_regclass(%s) IS NOT NULL", (name,))[0][0])

    # -- search ------------------------------------------------------------------------------------

    def columns(self) -> tuple[list[tuple[Any, ...]], list[tuple[int, str]]]:
        with self.pool.connection() as conn, conn.transaction():
            # One snapshot for both tables. The lock comes first: it resolves both names before the
            # snapshot is taken, so a schema swap committing meanwhile cannot pair this snapshot
            # with the new tables (which it would see empty).
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            conn.execute("LOCK TABLE recherche, organisme_specialites IN ACCESS SHARE MODE")
            rows = conn.execute(f"SELECT {', '.join(ROW_FIELDS)} FROM recherche ORDER BY id").fetchall()
            specialities = conn.execute("SELECT organisme_id, code FROM organisme_specialites").fetchall()
        return rows, [(i, c) for i, c in specialities]

    def text_matches(self, words: list[str], prefix: bool) -> np.ndarray:
        """The matches, and the directory's version in the same snapshot."""
        found, version = self._rows(
            f"""SELECT string_agg(rowid::text, ','), {VERSION}
                FROM organismes_fts WHERE mots @@ %(q)s::tsquery""",
            {"q": tsquery(words, prefix)},
        )[0]  # an aggregate: always one row
        self._observe(version)
        return _ids(found)

    def identifier_matches(self, kind: str, digits: str) -> list[int]:
        return [row[0] for row in self._rows(IDENTIFIER_MATCHES[kind], {"v": no_nul(digits)})]

    def near(self, centre: tuple[float, float], metres: float) -> np.ndarray:
        """From the GiST index. The directory's version comes in the same snapshot as the matches:
        when a swap happened since it was last read, the columns are reloaded before use."""
        found, version = self._rows(
            f"SELECT string_agg(r.id::text, ','), {VERSION} FROM recherche r WHERE {WITHIN}",
            {"lat": centre[0], "lon": centre[1], "metres": metres},
        )[0]
        self._observe(version)
        return _ids(found)

    def postal_communes(self, code_postal: str) -> tuple[str, ...]:
        return tuple(
            row[0]
            for row in self._rows(
                "SELECT code_insee FROM codes_postaux WHERE code_postal = %(c)s", {"c": no_nul(code_postal)}
            )
        )

    def summaries(self, ids: Sequence[int]) -> list[Record]:
        return self._records(SUMMARY, {"ids": list(ids)})

    # -- one organisation ----------------------------------------------------------------------------

    def organisation_by_identifier(self, identifiant: str) -> int | None:
        return self._id("SELECT id FROM organismes WHERE identifiant = %(k)s", {"k": no_nul(identifiant)})

    def organisation_by_number(self, digits: str) -> int | None:
        return self._id(
            """SELECT organisme_id FROM declarations WHERE nda = %(k)s OR siret = %(k)s
               UNION ALL SELECT d.organisme_id FROM ndas_precedents p
                         JOIN declarations d ON d.nda = p.nda WHERE p.nda_precedent = %(k)s
               LIMIT 1""",
            {"k": no_nul(digits)},
        )

    def organisation_details(self, oid: int) -> Record | None:
        return self._record(
            """SELECT o.regroupement, l.geo_score, l.geo_type, l.geo_label,
                      d.nom AS departement, g.nom AS region
               FROM organismes o LEFT JOIN localisations l ON l.nda = o.nda_principal
               LEFT JOIN departements d ON d.code = o.code_departement
               LEFT JOIN regions g ON g.code = o.code_region WHERE o.id = %(id)s""",
            {"id": oid},
        )

    def declarations(self, oid: int) -> list[Record]:
        return self._records(
            "SELECT * FROM declarations WHERE organisme_id = %(id)s ORDER BY nda", {"id": oid}
        )

    def declaration_specialities(self, nda: str) -> list[tuple[str, str | None]]:
        return [
            (code, label)
            for code, label in self._rows(
                """SELECT s.code, sp.libelle FROM declaration_specialites s
                   LEFT JOIN specialites sp ON sp.code = s.code WHERE s.nda = %(nda)s ORDER BY s.rang""",
                {"nda": nda},
            )
        ]

    def previous_ndas(self, nda: str) -> list[str]:
        return [
            row[0]
            for row in self._rows(
                "SELECT nda_precedent FROM ndas_precedents WHERE nda = %(nda)s ORDER BY 1", {"nda": nda}
            )
        ]

    def history(self, oid: int) -> list[Record]:
        return self._records(
            "SELECT * FROM historique WHERE organisme_id = %(id)s ORDER BY date DESC, id DESC", {"id": oid}
        )

    def provenance(self, oid: int, places: bool) -> list[Record]:
        union = (
            f"UNION ALL SELECT * FROM ({PLACE_PROVENANCE}) x WHERE x.organisme_id = %(id)s" if places else ""
        )
        return self._records(
            f"""SELECT champ, source, valeur, date_observation, conflit, ligne FROM (
                   SELECT * FROM provenance WHERE organisme_id = %(id)s {union}) p
               ORDER BY source = 'liste_publique' DESC, source, ligne, champ, valeur""",
            {"id": oid},
        )

    def sirene(self, siret: str) -> Record | None:
        return self._record("SELECT * FROM sirene WHERE siret = %(s)s", {"s": no_nul(siret)})

    # -- geography -----------------------------------------------------------------------------------

    def departement(self, code: str) -> Record | None:
        return self._record(
            """SELECT d.*, r.nom AS region FROM departements d
               LEFT JOIN regions r ON r.code = d.code_region WHERE d.code = %(c)s""",
            {"c": no_nul(code)},
        )

    def communes_named(self, codes: Sequence[str]) -> dict[str, str]:
        return {
            code: nom
            for code, nom in self._rows(
                "SELECT code_insee, nom FROM communes WHERE code_insee = ANY(%(codes)s)",
                {"codes": list(codes)},
            )
        }

    def commune(self, code: str) -> Record | None:
        return self._record("SELECT * FROM communes WHERE code_insee = %(c)s", {"c": no_nul(code)})

    def changes_on(self, date: str) -> list[tuple[Any, ...]]:
        return self._rows(
            f"""SELECT h.nda, h.evenement, h.champs, d.statut, {DECLARATION_SCOPES}
                FROM historique h JOIN declarations d ON d.nda = h.nda
                WHERE h.date = %(date)s AND h.evenement IN ({EVENTS}) ORDER BY h.id""",
            {"date": date},
        )


class PostgresSearcher(DirectorySearcher):
    """The searcher of a PostgreSQL directory."""

    queries: PostgresQueries

    def __init__(
        self, url: str, *, schema: str = SCHEMA, version_ttl: float = 1.0, pool_size: int | None = None
    ):
        super().__init__(PostgresQueries(url, schema=schema, version_ttl=version_ttl, pool_size=pool_size))
