"""Tables of a SQLite build written by a forked process beside the load.

The full-text index (FTS5 with its prefix indexes), the R*Tree and the records' fingerprints are
about a third of a build's time, and depend on nothing else the load writes. A forked child, which
reads the parent's memory (the cleaned declarations, the organisations) without copying or
pickling it, computes their rows and writes them into a side file while the parent writes the
other tables on the other core. (A thread would not do: Python's sqlite3 releases and takes back
the GIL at every row, and two threads inserting rows hand it to each other tens of thousands of
times a second, slower than one. A fresh process would have to be sent the rows: computing them is
most of the cost.)

When both are done, the side file's tables are copied into the directory by SQLite itself: plain
tables as they are, virtual tables through their shadow tables (`organismes_fts_*`,
`organismes_geo_*`). That copy is sound because each table is created from the same statement in
both files, and because the directory's build connection never reads or writes those tables: a
fresh connection copies them, after the build's own is closed (FTS5 and R*Tree keep state per
connection).

Where `fork` is not the way processes start (not Linux), the same rows are written in the build's
own connection, in turn.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from .base import Rows

FULL_TEXT = "organismes_fts"
SPATIAL = "organismes_geo"
OPTIMIZE = f"INSERT INTO {FULL_TEXT}({FULL_TEXT}) VALUES ('optimize')"  # one segment: queries read less

Tables = dict[str, Rows]
InsertSQL = Callable[[str], str]


def can_fork() -> bool:
    """Forking a process that holds threads and open connections is sound on Linux, where the
    child only computes rows and writes a file of its own."""
    return sys.platform.startswith("linux") and hasattr(os, "fork")


def fill(conn: sqlite3.Connection, tables: Tables, insert_sql: InsertSQL) -> None:
    """Write each table's rows; the full-text index then merged into one segment."""
    for table, rows in tables.items():
        conn.executemany(insert_sql(table), rows())
        if table == FULL_TEXT:
            conn.execute(OPTIMIZE)


def _report(text: str) -> None:
    """Write the child's error straight to file descriptor 2: not through `sys.stderr`, whose lock
    another thread of the parent (a progress bar) may have held at the fork, for ever in the child."""
    data = text.encode("utf-8", "replace")
    while data:
        data = data[os.write(2, data) :]


class SideTables:
    """A forked child writing `tables` into `path`; `merge_into` waits for it and copies them."""

    def __init__(self, path: Path, tables: list[str], pid: int):
        self.path = path
        self.tables = tables
        self.pid = pid

    @classmethod
    def start(cls, path: Path, statements: list[str], tables: Tables, insert_sql: InsertSQL) -> SideTables:
        """Fork the child. `statements` create the tables, as in the directory; the rows are
        computed in the child, from this process's memory as it is now."""
        path.unlink(missing_ok=True)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child: coverage is not collected there; its result is tested
            status = 1
            try:
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the parent stops it and cleans up
                conn = sqlite3.connect(path, isolation_level=None)
                conn.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF")
                for statement in statements:
                    conn.execute(statement)
                conn.execute("BEGIN")
                fill(conn, tables, insert_sql)
                conn.execute("COMMIT")
                conn.close()
                status = 0
            except BaseException:
                _report(traceback.format_exc())
            finally:
                os._exit(status)  # no atexit handlers, no finalizers: what is open is the parent's
        return cls(path, list(tables), pid)

    def wait(self) -> None:
        _, status = os.waitpid(self.pid, 0)
        self.pid = 0
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            raise RuntimeError(
                f"the process writing the full-text index, the R*Tree and the fingerprints failed "
                f"(exit {code}; its error is printed above)"
            )

    def merge_into(self, database: Path) -> None:
        """Wait for the child, then copy its tables into `database` in one transaction, and give
        the planner their statistics."""
        self.wait()
        conn = sqlite3.connect(database, isolation_level=None)
        try:
            conn.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF")
            conn.execute("ATTACH DATABASE ? AS side", (str(self.path),))
            copied = []
            for name, sql in conn.execute("SELECT name, sql FROM side.sqlite_master WHERE type = 'table'"):
                if sql.upper().startswith("CREATE VIRTUAL TABLE"):
                    continue  # its shadow tables are copied
                copied.append(name)
            conn.execute("BEGIN")
            for name in copied:
                conn.execute(f'DELETE FROM main."{name}"')
                conn.execute(f'INSERT INTO main."{name}" SELECT * FROM side."{name}"')
            conn.execute("COMMIT")
            conn.execute("DETACH DATABASE side")
            for name in copied:
                if name in self.tables:  # a plain table: the build's ANALYZE saw it empty
                    conn.execute(f'ANALYZE main."{name}"')
        finally:
            conn.close()
            self.path.unlink(missing_ok=True)

    def abandon(self) -> None:
        """The build failed: stop the child if it still runs, remove its file."""
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):  # pragma: no cover - already gone
                pass
            self.pid = 0
        self.path.unlink(missing_ok=True)
