"""The searcher's queries on a SQLite directory (tables of store/schema.sql and store/search.sql).

Full text through FTS5, identifiers through their indexes, the records shown read back. One
read-only connection per thread, reopened when the file is replaced (a build or an update swaps it
atomically: the next request reads the new directory). The directory's state is the file's
identity (inode, modification time, size).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DirectoryMissing
from ..store.place_sql import PLACE_PROVENANCE
from ..store.sqlite import ensure_math_functions
from . import queries, text
from .base import DirectoryUnavailable
from .queries import DECLARATION_SCOPES, EVENTS, Queries, Record
from .searcher import DirectorySearcher

SUMMARY = queries.SUMMARY + "WHERE o.id IN (SELECT value FROM json_each(?))"

IDENTIFIER_MATCHES = {
    "siret": """SELECT id FROM organismes WHERE siret = ?1
                UNION SELECT organisme_id FROM declarations WHERE siret = ?1""",
    "siren": """SELECT id FROM organismes WHERE siren = ?1
                UNION SELECT organisme_id FROM declarations WHERE siren = ?1""",
    "nda": """SELECT organisme_id FROM declarations WHERE nda = ?1
              UNION SELECT d.organisme_id FROM ndas_precedents p JOIN declarations d ON d.nda = p.nda
                    WHERE p.nda_precedent = ?1""",
}


def _record(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> Record:
    return {column[0]: value for column, value in zip(cursor.description, row, strict=True)}


class SQLiteQueries(Queries):
    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        if not self.path.is_file():
            raise DirectoryMissing(str(self.path))
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []

    # -- the directory's state and connections -----------------------------------------------------

    def ident(self) -> tuple[int, int, int]:
        try:
            st = os.stat(self.path)
        except OSError as exc:
            raise DirectoryUnavailable(f"{self.path}: {exc.strerror or exc}") from exc
        return st.st_ino, st.st_mtime_ns, st.st_size

    def version(self) -> str:
        ino, mtime, size = self.ident()
        return f"{ino:x}-{mtime:x}-{size:x}"

    def available(self) -> bool:
        try:
            with open(self.path, "rb") as fh:
                return fh.read(16) == b"SQLite format 3\x00"
        except OSError:
            return False

    def connection(self) -> sqlite3.Connection:
        """This thread's connection to the file as it is now."""
        ident = self.ident()
        local = self._local
        if getattr(local, "ident", None) != ident:
            old = getattr(local, "conn", None)
            local.conn = local.ident = None  # until the new one works: a failed open is tried again
            if old is not None:
                old.close()
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            try:
                conn.execute("PRAGMA query_only = 1")
                conn.execute("PRAGMA mmap_size = 268435456")
                conn.execute("PRAGMA cache_size = -32768")
                ensure_math_functions(conn)
            except sqlite3.Error:
                conn.close()  # not a database (yet): unavailable, answered 503
                raise
            local.conn, local.ident = conn, ident
            with self._lock:
                self._connections.append(conn)
        found: sqlite3.Connection = local.conn
        return found

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    def _rows(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.connection().execute(statement, params).fetchall()

    def _records(self, statement: str, params: Sequence[Any] = ()) -> list[Record]:
        cursor = self.connection().cursor()
        cursor.row_factory = _record
        return cursor.execute(statement, params).fetchall()

    def _record(self, statement: str, params: Sequence[Any]) -> Record | None:
        found = self._records(statement, params)
        return found[0] if found else None

    def _id(self, statement: str, params: Sequence[Any]) -> int | None:
        row = self.connection().execute(statement, params).fetchone()
        return None if row is None else int(row[0])

    def rows(self, statement: str) -> list[tuple[Any, ...]]:
        return self._rows(statement)

    def records(self, statement: str) -> list[Record]:
        return self._records(statement)

    def has_table(self, name: str) -> bool:
        return bool(self._rows("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)))

    # -- search ------------------------------------------------------------------------------------

    def text_matches(self, words: list[str], prefix: bool) -> np.ndarray:
        (found_ids,) = (
            self.connection()
            .execute(
                "SELECT group_concat(rowid) FROM organismes_fts WHERE organismes_fts MATCH ?",
                (text.fts_expression(words, prefix),),
            )
            .fetchone()
        )
        # One string parsed in C: far cheaper than a Python tuple per match for broad prefixes.
        return np.fromstring(found_ids or "", dtype=np.int64, sep=",")

    def identifier_matches(self, kind: str, digits: str) -> list[int]:
        return [row[0] for row in self._rows(IDENTIFIER_MATCHES[kind], (digits,))]

    def postal_communes(self, code_postal: str) -> tuple[str, ...]:
        return tuple(
            row[0]
            for row in self._rows(
                "SELECT code_insee FROM codes_postaux WHERE code_postal = ?", (code_postal,)
            )
        )

    def summaries(self, ids: Sequence[int]) -> list[Record]:
        return self._records(SUMMARY, (json.dumps(list(ids)),))

    # -- one organisation ----------------------------------------------------------------------------

    def organisation_by_identifier(self, identifiant: str) -> int | None:
        return self._id("SELECT id FROM organismes WHERE identifiant = ?", (identifiant,))

    def organisation_by_number(self, digits: str) -> int | None:
        return self._id(
            """SELECT organisme_id FROM declarations WHERE nda = ?1 OR siret = ?1
               UNION ALL SELECT d.organisme_id FROM ndas_precedents p JOIN declarations d ON d.nda = p.nda
                         WHERE p.nda_precedent = ?1
               LIMIT 1""",
            (digits,),
        )

    def organisation_details(self, oid: int) -> Record | None:
        return self._record(
            """SELECT o.regroupement, l.geo_score, l.geo_type, l.geo_label,
                      d.nom AS departement, g.nom AS region
               FROM organismes o LEFT JOIN localisations l ON l.nda = o.nda_principal
               LEFT JOIN departements d ON d.code = o.code_departement
               LEFT JOIN regions g ON g.code = o.code_region WHERE o.id = ?""",
            (oid,),
        )

    def declarations(self, oid: int) -> list[Record]:
        return self._records("SELECT * FROM declarations WHERE organisme_id = ? ORDER BY nda", (oid,))

    def declaration_specialities(self, nda: str) -> list[tuple[str, str | None]]:
        return [
            (code, label)
            for code, label in self._rows(
                """SELECT s.code, sp.libelle FROM declaration_specialites s
                   LEFT JOIN specialites sp ON sp.code = s.code WHERE s.nda = ? ORDER BY s.rang""",
                (nda,),
            )
        ]

    def previous_ndas(self, nda: str) -> list[str]:
        return [
            row[0]
            for row in self._rows(
                "SELECT nda_precedent FROM ndas_precedents WHERE nda = ? ORDER BY 1", (nda,)
            )
        ]

    def history(self, oid: int) -> list[Record]:
        return self._records(
            "SELECT * FROM historique WHERE organisme_id = ? ORDER BY date DESC, id DESC", (oid,)
        )

    def provenance(self, oid: int, places: bool) -> list[Record]:
        union = f"UNION ALL SELECT * FROM ({PLACE_PROVENANCE}) x WHERE x.organisme_id = ?1" if places else ""
        return self._records(
            f"""SELECT champ, source, valeur, date_observation, conflit, ligne FROM (
                   SELECT * FROM provenance WHERE organisme_id = ?1 {union}) p
               ORDER BY source = 'liste_publique' DESC, source, ligne, champ, valeur""",
            (oid,),
        )

    def sirene(self, siret: str) -> Record | None:
        return self._record("SELECT * FROM sirene WHERE siret = ?", (siret,))

    # -- geography -----------------------------------------------------------------------------------

    def departement(self, code: str) -> Record | None:
        return self._record(
            """SELECT d.*, r.nom AS region FROM departements d
               LEFT JOIN regions r ON r.code = d.code_region WHERE d.code = ?""",
            (code,),
        )

    def communes_named(self, codes: Sequence[str]) -> dict[str, str]:
        return {
            code: nom
            for code, nom in self._rows(
                "SELECT code_insee, nom FROM communes WHERE code_insee IN (SELECT value FROM json_each(?))",
                (json.dumps(list(codes)),),
            )
        }

    def commune(self, code: str) -> Record | None:
        return self._record("SELECT * FROM communes WHERE code_insee = ?", (code,))

    def changes_on(self, date: str) -> list[tuple[Any, ...]]:
        return self._rows(
            f"""SELECT h.nda, h.evenement, h.champs, d.statut,
                       {DECLARATION_SCOPES}
                FROM historique h JOIN declarations d ON d.nda = h.nda
                WHERE h.date = ? AND h.evenement IN ({EVENTS}) ORDER BY h.id""",
            (date,),
        )


class SQLiteSearcher(DirectorySearcher):
    """The searcher of a SQLite directory file."""

    def __init__(self, path: str | os.PathLike[str]):
        super().__init__(SQLiteQueries(path))
