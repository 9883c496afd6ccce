"""A persistent cache of the geocoder's answers, keyed by the normalised address.

A rebuild or an update asks only for addresses never seen. "No result" is an answer and is kept;
a failed request is not, so that it is asked again next time.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

from .ban import Answer

SCHEMA = """CREATE TABLE IF NOT EXISTS answers (
    key        TEXT PRIMARY KEY,
    latitude   REAL,
    longitude  REAL,
    score      REAL,
    type       TEXT,
    label      TEXT,
    citycode   TEXT,
    fetched_at TEXT NOT NULL
) WITHOUT ROWID"""


class GeocodeCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, timeout=60)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute(SCHEMA)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> GeocodeCache:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def get_many(self, keys: Iterable[str]) -> dict[str, Answer | None]:
        """Known keys only: an Answer, or None for "the geocoder found nothing"."""
        out: dict[str, Answer | None] = {}
        keys = list(dict.fromkeys(keys))
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            sql = f"SELECT * FROM answers WHERE key IN ({','.join('?' * len(chunk))})"
            for key, lat, lon, score, kind, label, citycode, _ in self.conn.execute(sql, chunk):
                out[key] = None if lat is None else Answer(lat, lon, score, kind, label, citycode)
        return out

    def put_many(self, items: Iterable[tuple[str, Answer | None]]) -> None:
        now = time.strftime("%Y-%m-%dT%H:%M:%S")
        rows = [
            (key, None, None, None, None, None, None, now)
            if a is None
            else (key, a.latitude, a.longitude, a.score, a.type, a.label, a.citycode, now)
            for key, a in items
        ]
        with self.conn:
            self.conn.executemany("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def __len__(self) -> int:
        return self.conn.execute("SELECT count(*) FROM answers").fetchone()[0]
