"""An update of a SQLite directory (the SQL side of pipeline/update.py's algorithm).

What the directory holds is read from the live file (read-only). The changes are written into a copy
of the file (`.NAME.updating-PID`, journal off: nothing else sees it), committed, given the old file's
mode, owner and group, and renamed over it: readers see the old directory or the new one, and a crash
or a kill at any point leaves the old one in place (the next run removes the leftover copy, under
the lock). Only the rows that changed are written, with the search rows of the organisations they
touch.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..fields import SCOPE_CODES
from .base import HeldOrganisation, Member, UpdateWriter
from .files import aside_path, keep_attributes
from .sqlite import SQLiteBuildWriter, apply_sirene_places, refresh_organisations
from .update_reads import PortableReads

IN_JSON = "IN (SELECT value FROM json_each(?))"  # one parameter: a JSON list of values
PAIRS_IN_JSON = "IN (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?))"
# The de-duplication key's index (store/indexes.sql), for directories built before it was there.
NAME_INDEX = "CREATE INDEX IF NOT EXISTS empreintes_nom ON empreintes(nom_comparaison)"
MEMBER = """SELECT d.nda, d.siret, d.siren, e.nom_comparaison, d.code_postal, d.date_derniere_declaration,
                   d.type_adresse, d.code_commune_insee, d.origine_lieu
            FROM declarations d JOIN empreintes e ON e.nda = d.nda WHERE d.statut = 'actif' AND """


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone() is not None


def _chosen(values: Iterable[Any]) -> str:
    return json.dumps(sorted(set(values)))


def old_values(conn: sqlite3.Connection, ndas: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Declarations as the directory holds them, with their previous NDAs and specialities."""
    chosen = _chosen(ndas)
    cursor = conn.execute(
        f"""SELECT d.*, e.nom_comparaison FROM declarations d LEFT JOIN empreintes e ON e.nda = d.nda
            WHERE d.nda {IN_JSON}""",
        (chosen,),
    )
    names = [column[0] for column in cursor.description]
    rows = {row["nda"]: row for row in (dict(zip(names, values, strict=True)) for values in cursor)}
    for row in rows.values():
        row["ndas_precedents"], row["specialites"] = [], []
    for nda, previous in conn.execute(
        f"SELECT nda, nda_precedent FROM ndas_precedents WHERE nda {IN_JSON} ORDER BY 2", (chosen,)
    ):
        rows[nda]["ndas_precedents"].append(previous)
    for nda, code in conn.execute(
        f"SELECT nda, code FROM declaration_specialites WHERE nda {IN_JSON} ORDER BY nda, rang", (chosen,)
    ):
        rows[nda]["specialites"].append(code)
    return rows


def reconciliation_rows(conn: sqlite3.Connection) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """See UpdateSession.reconciliation_rows."""
    previous = conn.execute("SELECT nda, nda_precedent FROM ndas_precedents ORDER BY 1, 2").fetchall()
    flags = ", ".join(f"d.certification_{code}" for code in SCOPE_CODES)
    held = conn.execute(
        f"""SELECT d.organisme_id, d.nda, d.siret, d.denomination, d.date_derniere_declaration,
                   e.nom_comparaison, d.code_postal, d.type_adresse, d.code_commune_insee,
                   d.origine_lieu, {flags}
            FROM declarations d JOIN empreintes e ON e.nda = d.nda
            JOIN organismes o ON o.id = d.organisme_id
            WHERE d.statut = 'actif' AND o.statut = 'actif' ORDER BY d.nda"""
    ).fetchall()
    return previous, held


class SQLiteUpdateWriter(UpdateWriter):
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.tables = SQLiteBuildWriter(conn)

    def columns(self, table: str) -> list[str]:
        return self.tables.columns(table)

    def write(self, table: str, rows: Iterable[tuple[Any, ...]]) -> int:
        return self.tables.write(table, rows)

    def clear(self, table: str) -> None:
        self.columns(table)  # a known table
        self.conn.execute(f"DELETE FROM {table}")

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
        chosen = _chosen(row[0] for row in rows)
        for table in ("declaration_specialites", "ndas_precedents", "empreintes", "declarations"):
            conn.execute(f"DELETE FROM {table} WHERE nda {IN_JSON}", (chosen,))
        width = len(self.columns("declarations"))
        conn.executemany(f"INSERT INTO declarations VALUES ({', '.join('?' * width)})", rows)
        conn.executemany("INSERT INTO empreintes VALUES (?, ?, ?)", fingerprints)
        conn.executemany("INSERT INTO ndas_precedents VALUES (?, ?)", previous)
        conn.executemany(
            "INSERT OR IGNORE INTO specialites VALUES (?, ?)", ((c, label) for _, _, c, label in specialities)
        )
        conn.executemany(
            "INSERT INTO declaration_specialites VALUES (?, ?, ?)", (s[:3] for s in specialities)
        )

    def refresh_fingerprints(self, rows: Sequence[tuple[str, str]]) -> None:
        self.conn.executemany("UPDATE empreintes SET brute = ? WHERE nda = ?", rows)

    def mark_removed(self, ndas: Sequence[str]) -> None:
        if ndas:
            self.conn.execute(
                f"UPDATE declarations SET statut = 'supprime' WHERE nda {IN_JSON}", (_chosen(ndas),)
            )

    def write_locations(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self.conn.executemany("INSERT OR REPLACE INTO localisations VALUES (?, ?, ?, ?, ?, ?, ?)", rows)

    def members(self, sirets: Iterable[str], pairs: Iterable[tuple[str, str]]) -> list[Member]:
        found: dict[str, Member] = {}
        for where, chosen in (
            (f"d.siret {IN_JSON}", _chosen(sirets)),
            (f"(e.nom_comparaison, d.code_postal) {PAIRS_IN_JSON}", _chosen(pairs)),  # pairs as [name, code]
        ):
            if chosen != "[]":
                for row in self.conn.execute(f"{MEMBER}{where}", (chosen,)):
                    found[row[0]] = Member(*row)
        return [found[nda] for nda in sorted(found)]

    def organisations(self, ids: Iterable[int], identifiants: Iterable[str]) -> list[HeldOrganisation]:
        rows = self.conn.execute(
            f"""SELECT o.id, o.identifiant, o.nda_principal, o.statut,
                       (SELECT group_concat(d.nda, ' ') FROM declarations d
                         WHERE d.organisme_id = o.id AND d.statut = 'actif')
                FROM organismes o WHERE o.id {IN_JSON} OR o.identifiant {IN_JSON}""",
            (_chosen(ids), _chosen(identifiants)),
        )
        return [
            HeldOrganisation(oid, key, shown, frozenset(ndas.split(" ")) if ndas else frozenset(), statut)
            for oid, key, shown, statut, ndas in rows
        ]

    def organisation_of(self, ndas: Iterable[str]) -> dict[str, int]:
        return dict(
            self.conn.execute(
                f"SELECT nda, organisme_id FROM declarations WHERE nda {IN_JSON}", (_chosen(ndas),)
            )
        )

    def next_organisation_id(self) -> int:
        return (self.conn.execute("SELECT max(id) FROM organismes").fetchone()[0] or 0) + 1

    def write_organisations(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self.conn.executemany("DELETE FROM organismes WHERE id = ?", ((r[0],) for r in rows))
        self.conn.executemany(
            """INSERT INTO organismes
               SELECT ?, ?, ?, ?, d.denomination, e.nom_comparaison, d.nda, d.voie, d.code_postal, d.ville,
                      d.code_commune_insee, d.commune, d.code_departement, d.code_region, d.type_adresse,
                      d.date_derniere_declaration, ?, ?, 'actif'
               FROM declarations d JOIN empreintes e ON e.nda = d.nda WHERE d.nda = ?""",
            rows,
        )

    def set_owners(self, owners: dict[str, int]) -> None:
        self.conn.executemany(
            "UPDATE declarations SET organisme_id = ? WHERE nda = ?", ((o, n) for n, o in owners.items())
        )

    def retire_organisations(self, ids: Sequence[int]) -> None:
        if ids:
            self.conn.execute(
                f"UPDATE organismes SET statut = 'supprime' WHERE id {IN_JSON}", (_chosen(ids),)
            )

    def identifiants(self, ids: Iterable[int]) -> dict[int, str]:
        chosen = _chosen(sorted(set(ids)))
        return dict(
            self.conn.execute(f"SELECT id, identifiant FROM organismes WHERE id {IN_JSON}", (chosen,))
        )

    def refresh_organisations(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        conn = self.conn
        chosen = _chosen(ids)
        conn.execute(f"DELETE FROM certifications WHERE organisme_id {IN_JSON}", (chosen,))
        for code in SCOPE_CODES:
            conn.execute(
                f"""INSERT INTO certifications
                    SELECT organisme_id, ?, nda FROM declarations
                    WHERE certification_{code} = 1 AND statut = 'actif' AND organisme_id {IN_JSON}""",
                (code, chosen),
            )
        conn.execute(
            f"""UPDATE organismes SET nb_declarations =
                 (SELECT count(*) FROM declarations d
                  WHERE d.organisme_id = organismes.id AND d.statut = 'actif')
               WHERE id {IN_JSON} AND statut = 'actif'""",
            (chosen,),
        )
        refresh_organisations(conn, sorted(set(ids)))

    def log(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self.conn.executemany(
            """INSERT INTO historique (date, organisme_id, nda, evenement, champs)
               SELECT ?, organisme_id, nda, ?, ? FROM declarations WHERE nda = ?""",
            ((date, event, fields, nda) for date, nda, event, fields in rows),
        )

    def log_organisations(self, rows: Sequence[tuple[str, int, str, str | None]]) -> None:
        self.conn.executemany(
            "INSERT INTO historique (date, organisme_id, nda, evenement, champs) VALUES (?, ?, NULL, ?, ?)",
            rows,
        )

    def replace_quarantine(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self.conn.execute("DELETE FROM quarantaine")
        self.conn.executemany("INSERT INTO quarantaine VALUES (?, ?, ?, ?, ?, ?)", rows)

    def reconciliation_rows(self) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        return reconciliation_rows(self.conn)

    def replace_sirene(self, rows: Sequence[tuple[Any, ...]], answers: dict[str, Any]) -> dict[str, Any]:
        self.conn.execute("DELETE FROM sirene")
        self.conn.executemany(f"INSERT INTO sirene VALUES ({', '.join('?' * 14)})", rows)
        return apply_sirene_places(self.conn, answers)


class SQLiteUpdateSession(PortableReads):
    def __init__(self, path: Path):
        self.path = path
        self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    def close(self) -> None:
        self.conn.close()

    def has_table(self, name: str) -> bool:
        return _has_table(self.conn, name)

    def declaration_values(self, ndas: Iterable[str]) -> dict[str, dict[str, Any]]:
        return old_values(self.conn, ndas)

    def reconciliation_rows(self) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        return reconciliation_rows(self.conn)

    @contextmanager
    def apply(self, on_stage: Callable[[str], None]) -> Iterator[SQLiteUpdateWriter]:
        temp = aside_path(self.path, "updating")
        try:
            started = time.perf_counter()
            shutil.copyfile(self.path, temp)
            self.copy_seconds = time.perf_counter() - started
            on_stage("copied")
            conn = sqlite3.connect(temp, isolation_level=None)
            try:
                conn.executescript(
                    "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -262144;"
                )
                conn.execute("BEGIN")
                conn.execute(NAME_INDEX)
                yield SQLiteUpdateWriter(conn)
                conn.execute("COMMIT")
                conn.execute("PRAGMA journal_mode = DELETE")
            finally:
                conn.close()
            on_stage("committed")
            keep_attributes(self.path, temp)  # the mode, owner and group the operator gave the file
            os.replace(temp, self.path)  # atomic: readers see the old directory or the new one
        finally:
            temp.unlink(missing_ok=True)
