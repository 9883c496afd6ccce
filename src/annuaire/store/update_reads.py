"""What an update reads of the directory before writing, in SQL both backends accept: one
implementation of those UpdateSession methods for the SQLite and the PostgreSQL sessions, over their
DB-API connection (`conn.execute` returning an iterable cursor)."""

from __future__ import annotations

import json
from abc import abstractmethod
from typing import Any

from .base import UpdateSession


class PortableReads(UpdateSession):
    """UpdateSession's reads written once; a backend gives `conn` and `has_table`."""

    conn: Any  # sqlite3.Connection or psycopg.Connection: both answer `execute(sql)` with a cursor

    @abstractmethod
    def has_table(self, name: str) -> bool: ...

    def has_fingerprints(self) -> bool:
        return self.has_table("empreintes")

    def active(self) -> tuple[dict[str, str | None], dict[str, str]]:
        dates: dict[str, str | None] = {}
        fingerprints: dict[str, str] = {}
        for nda, date, fingerprint in self.conn.execute(
            """SELECT d.nda, d.date_derniere_declaration, e.brute
               FROM declarations d LEFT JOIN empreintes e ON e.nda = d.nda WHERE d.statut = 'actif'"""
        ):
            dates[nda] = date
            if fingerprint is not None:
                fingerprints[fingerprint] = nda
        return dates, fingerprints

    def quarantined(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM quarantaine").fetchone()[0])

    def secondary_sources(self) -> dict[str, tuple[Any, ...]]:
        if not self.has_table("sources_secondaires"):
            return {}
        return {
            row[0]: tuple(row[1:])
            for row in self.conn.execute("SELECT nom, sha256, statut, emplacement FROM sources_secondaires")
        }

    def sirene_rows(self) -> list[tuple[Any, ...]]:
        if not self.has_table("sirene"):
            return []
        return [tuple(row) for row in self.conn.execute("SELECT * FROM sirene")]

    def active_sirets(self) -> set[str]:
        return {
            row[0]
            for row in self.conn.execute(
                "SELECT DISTINCT siret FROM declarations WHERE statut = 'actif' AND siret IS NOT NULL"
            )
        }

    def meta(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in self.conn.execute("SELECT key, value FROM meta"):
            try:
                out[key] = json.loads(value)
            except (TypeError, ValueError):
                out[key] = value
        return out
