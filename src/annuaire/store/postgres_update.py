"""An update of a PostgreSQL directory (the SQL side of pipeline/update.py's algorithm), in place.

The changes are written in one transaction on the live schema: only the declarations added, changed
or removed, their fingerprints, locations, specialities and previous NDAs, the organisations they
touch with their scopes and search rows (full text, map, filters), the change log, the quarantine and
the `meta` version that tells the servers to reload. Readers keep the old state until the commit
(MVCC) and the new one after it; an update killed at any point is rolled back by the server, leaving
the previous state. The advisory lock (Store.lock) keeps other builds and updates out meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from ..clean.names import fold, place_words
from ..fields import SCOPE_CODES
from .base import HeldOrganisation, Member, UpdateWriter
from .postgres import (
    ORGANISATION_SPECIALITIES,
    SEARCH_ROWS,
    PostgresBuildWriter,
    apply_sirene,
    new_version,
)
from .update_reads import PortableReads

NAME_INDEX = "CREATE INDEX IF NOT EXISTS empreintes_nom ON empreintes(nom_comparaison)"
MEMBER = """SELECT d.nda, d.siret, d.siren, e.nom_comparaison, d.code_postal, d.date_derniere_declaration,
                   d.type_adresse, d.code_commune_insee, d.origine_lieu
            FROM declarations d JOIN empreintes e ON e.nda = d.nda WHERE d.statut = 'actif' AND """
LOCATIONS = """INSERT INTO localisations
    SELECT * FROM unnest(%s::text[], %s::float8[], %s::float8[], %s::float8[], %s::text[], %s::text[],
                         %s::text[])
    ON CONFLICT (nda) DO UPDATE SET latitude = excluded.latitude, longitude = excluded.longitude,
      geo_score = excluded.geo_score, geo_type = excluded.geo_type, geo_label = excluded.geo_label,
      geo_methode = excluded.geo_methode"""
# An organisation's full-text entry, as the build writes it (pipeline/load.py's search_row): the
# folded name and commune come from Python (`noms`), the identifiers from its declarations.
FULL_TEXT_ROWS = """INSERT INTO organismes_fts (rowid, denomination, commune, identifiants)
    SELECT o.id, n.nom, n.commune,
           coalesce(o.siret, '') || ' ' || coalesce(o.siren, '') || ' ' ||
           coalesce((SELECT string_agg(d.nda, ' ' ORDER BY d.nda) FROM declarations d
                     WHERE d.organisme_id = o.id), '') || ' ' ||
           coalesce((SELECT string_agg(p.nda_precedent, ' ' ORDER BY p.nda, p.nda_precedent)
                     FROM declarations d JOIN ndas_precedents p ON p.nda = d.nda
                     WHERE d.organisme_id = o.id), '')
    FROM organismes o JOIN noms n ON n.id = o.id"""

if TYPE_CHECKING:
    from .postgres_store import PostgresStore


def _value(conn: psycopg.Connection[Any], query: str, params: Sequence[Any] = ()) -> Any:
    """The first column of the query's first row (None without a row)."""
    row = conn.execute(query, params).fetchone()
    return row[0] if row else None


def _columns(rows: Sequence[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows as one list per column: arrays that `unnest` turns back into rows, in one statement."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


def reconciliation_rows(conn: psycopg.Connection) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """See UpdateSession.reconciliation_rows."""
    previous = conn.execute(
        'SELECT nda, nda_precedent FROM ndas_precedents ORDER BY nda COLLATE "C", nda_precedent COLLATE "C"'
    ).fetchall()
    flags = ", ".join(f"d.certification_{code}" for code in SCOPE_CODES)
    held = conn.execute(
        f"""SELECT d.organisme_id, d.nda, d.siret, d.denomination, d.date_derniere_declaration,
                   e.nom_comparaison, d.code_postal, d.type_adresse, d.code_commune_insee,
                   d.origine_lieu, {flags}
            FROM declarations d JOIN empreintes e ON e.nda = d.nda
            JOIN organismes o ON o.id = d.organisme_id
            WHERE d.statut = 'actif' AND o.statut = 'actif' ORDER BY d.nda COLLATE "C\""""
    ).fetchall()
    return previous, held


class PostgresUpdateWriter(UpdateWriter):
    def __init__(self, conn: psycopg.Connection, schema: str):
        self.conn = conn
        self.tables = PostgresBuildWriter(conn, schema)

    def columns(self, table: str) -> list[str]:
        return self.tables.columns(table)

    def write(self, table: str, rows: Iterable[tuple[Any, ...]]) -> int:
        return self.tables.write(table, rows)

    def clear(self, table: str) -> None:
        self.columns(table)  # a known table
        self.conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))

    def write_meta(self, values: dict[str, Any]) -> None:
        self.tables.write_meta(values)

    def replace_declarations(
        self,
        rows: Sequence[tuple[Any, ...]],
        fingerprints: Sequence[tuple[Any, ...]],
        previous: Sequence[tuple[Any, ...]],
        specialities: Sequence[tuple[Any, ...]],
    ) -> None:
        conn = self.conn
        chosen = [row[0] for row in rows]
        for table in ("declaration_specialites", "ndas_precedents", "empreintes", "declarations"):
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE nda = ANY(%s)").format(sql.Identifier(table)), (chosen,)
            )
        self.write("declarations", rows)
        self.write("empreintes", fingerprints)
        self.write("ndas_precedents", previous)
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO specialites VALUES (%s, %s) ON CONFLICT (code) DO NOTHING",
                sorted({(code, label) for _, _, code, label in specialities}),
            )
        self.write("declaration_specialites", (s[:3] for s in specialities))

    def refresh_fingerprints(self, rows: Sequence[tuple[str, str]]) -> None:
        if rows:
            self.conn.execute(
                """UPDATE empreintes e SET brute = v.brute
                   FROM unnest(%s::text[], %s::text[]) AS v(brute, nda) WHERE e.nda = v.nda""",
                _columns(rows, 2),
            )

    def mark_removed(self, ndas: Sequence[str]) -> None:
        if ndas:
            self.conn.execute(
                "UPDATE declarations SET statut = 'supprime' WHERE nda = ANY(%s)", (list(ndas),)
            )

    def write_locations(self, rows: Sequence[tuple[Any, ...]]) -> None:
        if rows:
            self.conn.execute(LOCATIONS, _columns(rows, 7))

    def members(self, sirets: Iterable[str], pairs: Iterable[tuple[str, str]]) -> list[Member]:
        found: dict[str, Member] = {}
        chosen = sorted(set(sirets))
        if chosen:
            for row in self.conn.execute(f"{MEMBER}d.siret = ANY(%s)", (chosen,)):
                found[row[0]] = Member(*row)
        names, postcodes = _columns(sorted(set(pairs)), 2)
        if names:
            for row in self.conn.execute(
                f"""{MEMBER}(e.nom_comparaison, d.code_postal) IN
                    (SELECT * FROM unnest(%s::text[], %s::text[]))""",
                (names, postcodes),
            ):
                found[row[0]] = Member(*row)
        return [found[nda] for nda in sorted(found)]

    def organisations(self, ids: Iterable[int], identifiants: Iterable[str]) -> list[HeldOrganisation]:
        rows = self.conn.execute(
            """SELECT o.id, o.identifiant, o.nda_principal, o.statut,
                      (SELECT string_agg(d.nda, ' ') FROM declarations d
                        WHERE d.organisme_id = o.id AND d.statut = 'actif')
               FROM organismes o WHERE o.id = ANY(%s) OR o.identifiant = ANY(%s)""",
            (sorted(set(ids)), sorted(set(identifiants))),
        )
        return [
            HeldOrganisation(oid, key, shown, frozenset(ndas.split(" ")) if ndas else frozenset(), statut)
            for oid, key, shown, statut, ndas in rows
        ]

    def organisation_of(self, ndas: Iterable[str]) -> dict[str, int]:
        return dict(
            self.conn.execute(
                "SELECT nda, organisme_id FROM declarations WHERE nda = ANY(%s)", (sorted(set(ndas)),)
            ).fetchall()
        )

    def next_organisation_id(self) -> int:
        return int(_value(self.conn, "SELECT max(id) FROM organismes") or 0) + 1

    def write_organisations(self, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        self.conn.execute("DELETE FROM organismes WHERE id = ANY(%s)", ([r[0] for r in rows],))
        self.conn.execute(
            """INSERT INTO organismes
               SELECT v.id, v.identifiant, v.siret, v.siren, d.denomination, e.nom_comparaison, d.nda,
                      d.voie, d.code_postal, d.ville, d.code_commune_insee, d.commune, d.code_departement,
                      d.code_region, d.type_adresse, d.date_derniere_declaration, v.nb, v.regroupement,
                      'actif'
               FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::int[], %s::text[],
                           %s::text[])
                    AS v(id, identifiant, siret, siren, nb, regroupement, nda)
               JOIN declarations d ON d.nda = v.nda JOIN empreintes e ON e.nda = d.nda
               ORDER BY v.id""",
            _columns(rows, 7),
        )

    def set_owners(self, owners: dict[str, int]) -> None:
        if owners:
            self.conn.execute(
                """UPDATE declarations d SET organisme_id = v.organisme_id
                   FROM unnest(%s::text[], %s::bigint[]) AS v(nda, organisme_id)
                   WHERE d.nda = v.nda AND d.organisme_id IS DISTINCT FROM v.organisme_id""",
                (list(owners), list(owners.values())),
            )

    def retire_organisations(self, ids: Sequence[int]) -> None:
        if ids:
            self.conn.execute("UPDATE organismes SET statut = 'supprime' WHERE id = ANY(%s)", (list(ids),))

    def identifiants(self, ids: Iterable[int]) -> dict[int, str]:
        rows = self.conn.execute(
            "SELECT id, identifiant FROM organismes WHERE id = ANY(%s)", (sorted(set(ids)),)
        ).fetchall()
        return {oid: identifiant for oid, identifiant in rows}

    def refresh_organisations(self, ids: Sequence[int]) -> None:
        ids = sorted(set(ids))
        if not ids:
            return
        conn = self.conn
        conn.execute("DELETE FROM certifications WHERE organisme_id = ANY(%s)", (ids,))
        for code in SCOPE_CODES:
            conn.execute(
                sql.SQL(
                    """INSERT INTO certifications
                       SELECT organisme_id, %s, nda FROM declarations
                       WHERE {} = 1 AND statut = 'actif' AND organisme_id = ANY(%s)"""
                ).format(sql.Identifier(f"certification_{code}")),
                (code, ids),
            )
        conn.execute(  # the counts grouped once, rather than a count per organisation
            """UPDATE organismes o SET nb_declarations = coalesce(c.n, 0)
               FROM unnest(%(ids)s::bigint[]) AS i(id)
               LEFT JOIN (SELECT organisme_id, count(*) AS n FROM declarations
                          WHERE organisme_id = ANY(%(ids)s) AND statut = 'actif'
                          GROUP BY organisme_id) c ON c.organisme_id = i.id
               WHERE o.id = i.id AND o.statut = 'actif'
                 AND o.nb_declarations IS DISTINCT FROM coalesce(c.n, 0)""",  # no row rewritten for nothing
            {"ids": ids},
        )
        refresh_search_rows(conn, ids)

    def log(self, rows: Sequence[tuple[Any, ...]]) -> None:
        if rows:  # in the order given: the entries' ids follow it
            self.conn.execute(
                """INSERT INTO historique (date, organisme_id, nda, evenement, champs)
                   SELECT v.date, d.organisme_id, d.nda, v.evenement, v.champs
                   FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[]) WITH ORDINALITY
                        AS v(date, nda, evenement, champs, rang)
                   JOIN declarations d ON d.nda = v.nda ORDER BY v.rang""",
                _columns(rows, 4),
            )

    def log_organisations(self, rows: Sequence[tuple[str, int, str, str | None]]) -> None:
        if rows:  # in the order given: the entries' ids follow it
            self.conn.execute(
                """INSERT INTO historique (date, organisme_id, nda, evenement, champs)
                   SELECT v.date, v.organisme_id, NULL, v.evenement, v.champs
                   FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::text[]) WITH ORDINALITY
                        AS v(date, organisme_id, evenement, champs, rang)
                   ORDER BY v.rang""",
                _columns(rows, 4),
            )

    def replace_quarantine(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self.conn.execute("DELETE FROM quarantaine")
        self.write("quarantaine", rows)

    def reconciliation_rows(self) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        return reconciliation_rows(self.conn)

    def replace_sirene(self, rows: Sequence[tuple[Any, ...]], answers: dict[str, Any]) -> dict[str, Any]:
        return apply_sirene(self.conn, rows, answers)


def refresh_search_rows(conn: psycopg.Connection, ids: list[int]) -> None:
    """Re-derive the full-text, speciality and search rows of some organisations (after an update),
    inside the caller's transaction."""
    for table, column in (
        ("organismes_fts", "rowid"),
        ("recherche", "id"),
        ("organisme_specialites", "organisme_id"),
    ):
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE {} = ANY(%s)").format(
                sql.Identifier(table), sql.Identifier(column)
            ),
            (ids,),
        )
    conn.execute(
        """CREATE TEMPORARY TABLE IF NOT EXISTS noms (id BIGINT PRIMARY KEY, nom TEXT, commune TEXT)
           ON COMMIT DROP"""
    )
    conn.execute("DELETE FROM noms")
    shown = conn.execute(
        "SELECT id, denomination, coalesce(commune, ville, '') FROM organismes WHERE id = ANY(%s)", (ids,)
    ).fetchall()
    with conn.cursor() as cur, cur.copy("COPY noms (id, nom, commune) FROM STDIN") as copy:
        for oid, name, commune in shown:
            copy.write_row((oid, fold(name), place_words(commune)))
    conn.execute(FULL_TEXT_ROWS)
    conn.execute(ORGANISATION_SPECIALITIES.format(where="AND d.organisme_id = ANY(%s)"), (ids,))
    # `noms` holds these organisations only: their rows alone, their scopes alone.
    conn.execute(SEARCH_ROWS.format(where="WHERE organisme_id IN (SELECT id FROM noms)"))
    conn.execute("DROP TABLE noms")


class PostgresUpdateSession(PortableReads):
    def __init__(self, store: PostgresStore):
        self.store = store
        self.conn = store.connect(autocommit=True)

    def close(self) -> None:
        self.conn.close()

    def has_table(self, name: str) -> bool:
        return bool(_value(self.conn, "SELECT to_regclass(%s) IS NOT NULL", (name,)))

    def declaration_values(self, ndas: Iterable[str]) -> dict[str, dict[str, Any]]:
        chosen = sorted(set(ndas))
        with self.conn.cursor(row_factory=dict_row) as cur:
            rows = {
                row["nda"]: row
                for row in cur.execute(
                    """SELECT d.*, e.nom_comparaison FROM declarations d
                       LEFT JOIN empreintes e ON e.nda = d.nda WHERE d.nda = ANY(%s)""",
                    (chosen,),
                )
            }
        for row in rows.values():
            row["ndas_precedents"], row["specialites"] = [], []
        for nda, previous in self.conn.execute(
            "SELECT nda, nda_precedent FROM ndas_precedents WHERE nda = ANY(%s) ORDER BY 2", (chosen,)
        ):
            rows[nda]["ndas_precedents"].append(previous)
        for nda, code in self.conn.execute(
            "SELECT nda, code FROM declaration_specialites WHERE nda = ANY(%s) ORDER BY nda, rang", (chosen,)
        ):
            rows[nda]["specialites"].append(code)
        return rows

    def reconciliation_rows(self) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        return reconciliation_rows(self.conn)

    @contextmanager
    def apply(self, on_stage: Callable[[str], None]) -> Iterator[PostgresUpdateWriter]:
        conn = self.store.connect(autocommit=False)
        try:
            with conn.transaction():
                conn.execute(NAME_INDEX)
                yield PostgresUpdateWriter(conn, self.store.schema)
                new_version(conn)  # the servers see the new directory once this commits
            on_stage("committed")
        finally:
            conn.close()
