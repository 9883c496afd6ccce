"""The SQLite build's full-text and spatial indexes, built by a thread beside the load.

Filling FTS5 (with its prefix indexes) and the R*Tree is about a third of a build's time, and it
depends on nothing else the load writes. A thread builds them into a side file of their own while
the build writes the other tables: SQLite releases the GIL while it works, so both run at once on
two cores. When both are done, the side file's shadow tables (`organismes_fts_*`,
`organismes_geo_*`) are copied into the directory: plain rows, copied by SQLite itself.

The copy is sound because both tables are created from the same statements in both files, and
because the directory's connection never reads or writes them before the copy (FTS5 and R*Tree
keep per-connection state): a fresh connection copies, after the build's own is closed.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

from .base import Rows

FULL_TEXT = "organismes_fts"
SPATIAL = "organismes_geo"
INDEX_TABLES = (FULL_TEXT, SPATIAL)


def fill(conn: sqlite3.Connection, entries: Iterable[tuple], points: Iterable[tuple]) -> None:
    """Write the full-text entries (rowid, name, commune, identifiers), merge them into one segment
    (queries read less), and the map points (id, min_lat, max_lat, min_lon, max_lon)."""
    conn.executemany(
        f"INSERT INTO {FULL_TEXT}(rowid, denomination, commune, identifiants) VALUES (?, ?, ?, ?)", entries
    )
    conn.execute(f"INSERT INTO {FULL_TEXT}({FULL_TEXT}) VALUES ('optimize')")
    conn.executemany(f"INSERT INTO {SPATIAL} VALUES (?, ?, ?, ?, ?)", points)


class SideIndex:
    """A thread building the two indexes into `path`; `merge_into` waits for it and copies."""

    def __init__(self, path: Path, statements: list[str], entries: Rows, points: Rows):
        self.path = path
        self._statements = statements
        self._entries = entries
        self._points = points
        self._conn: sqlite3.Connection | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="annuaire-side-index", daemon=True)

    @classmethod
    def start(cls, path: Path, statements: list[str], entries: Rows, points: Rows) -> SideIndex:
        """Start the thread. `statements` create the two tables, as in the directory; `entries`
        and `points` are called in the thread."""
        path.unlink(missing_ok=True)
        side = cls(path, statements, entries, points)
        side._thread.start()
        return side

    def _run(self) -> None:
        try:
            self._conn = conn = sqlite3.connect(self.path, isolation_level=None)
            try:
                conn.executescript(
                    "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -131072;"
                )
                for statement in self._statements:
                    conn.execute(statement)
                conn.execute("BEGIN")
                fill(conn, self._entries(), self._points())
                conn.execute("COMMIT")
            finally:
                conn.close()
        except BaseException as exc:  # handed to the build, which raises it
            self._error = exc

    def wait(self) -> None:
        self._thread.join()
        if self._error is not None:
            raise RuntimeError("building the full-text and spatial indexes failed") from self._error

    def merge_into(self, database: Path) -> None:
        """Wait for the child, then copy its shadow tables into `database` in one transaction."""
        self.wait()
        conn = sqlite3.connect(database, isolation_level=None)
        try:
            conn.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")
            conn.execute("ATTACH DATABASE ? AS side", (str(self.path),))
            shadows = [
                name
                for (name,) in conn.execute(
                    "SELECT name FROM side.sqlite_master WHERE type = 'table' AND name NOT IN (?, ?)",
                    INDEX_TABLES,
                )
            ]
            conn.execute("BEGIN")
            for name in shadows:
                conn.execute(f'DELETE FROM main."{name}"')
                conn.execute(f'INSERT INTO main."{name}" SELECT * FROM side."{name}"')
            conn.execute("COMMIT")
            conn.execute("DETACH DATABASE side")
        finally:
            conn.close()
            self.path.unlink(missing_ok=True)

    def abandon(self) -> None:
        """The build failed: stop the thread's work (SQLite's interrupt), remove its file."""
        if self._thread.is_alive() and self._conn is not None:
            self._conn.interrupt()
        self._thread.join()
        self.path.unlink(missing_ok=True)
