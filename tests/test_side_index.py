"""The tables a forked process writes beside the load (store/side_index.py: the full-text index, the
R*Tree, the fingerprints) are those the build writes itself: same entries, the points
`localisations` gives, sound FTS5 and R*Tree structures, statistics for the planner; a failure
there fails the build and leaves the previous directory and no file."""

from __future__ import annotations

import io
import os
import signal
import sqlite3
import sys
import threading
from pathlib import Path

import pytest

import annuaire.pipeline.build as build_module
from annuaire.store import open_store, side_index
from annuaire.store.sqlite import FILL_SPATIAL_INDEX, SQLiteBuildWriter


def _build(source: Path, db: Path, reference, monkeypatch, side: str) -> None:
    monkeypatch.setenv("ANNUAIRE_BUILD_SIDE_PROCESS", side)
    build_module.build(str(source), open_store(str(db)), reference)


def _aside(db: Path) -> tuple[list, list, list]:
    with sqlite3.connect(db) as conn:
        entries = conn.execute("SELECT rowid, * FROM organismes_fts ORDER BY rowid").fetchall()
        points = conn.execute("SELECT * FROM organismes_geo ORDER BY id").fetchall()
        fingerprints = conn.execute("SELECT * FROM empreintes ORDER BY nda").fetchall()
    return entries, points, fingerprints


@pytest.fixture(scope="module")
def built(tmp_path_factory, sample_csv, reference) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("side-index")
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        for side in ("1", "0"):
            out[side] = folder / f"side-{side}.db"
            _build(sample_csv, out[side], reference, mp, side)
    return out


def test_side_and_inline_tables_are_equal(built):
    side, inline = _aside(built["1"]), _aside(built["0"])
    assert side == inline
    assert len(side[0]) > 1900 and len(side[1]) > 1900 and len(side[2]) > 1990
    with sqlite3.connect(built["1"]) as conn:  # the planner knows how large they are
        (stat,) = conn.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = 'empreintes'").fetchone()
    assert int(stat.split()[0]) == len(side[2])


def test_points_are_those_of_localisations(built):
    """The R*Tree holds what filling it from `localisations` in SQL (as after geocoding) gives."""
    with sqlite3.connect(built["1"]) as conn:
        conn.execute("CREATE VIRTUAL TABLE temp.expected USING rtree(id, a, b, c, d)")
        conn.execute(FILL_SPATIAL_INDEX.replace("INSERT INTO organismes_geo", "INSERT INTO temp.expected"))
        expected = conn.execute("SELECT * FROM temp.expected ORDER BY id").fetchall()
        actual = conn.execute("SELECT * FROM organismes_geo ORDER BY id").fetchall()
    assert actual == expected


def test_structures_are_sound_and_searchable(built):
    with sqlite3.connect(built["1"]) as conn:
        conn.execute("INSERT INTO organismes_fts(organismes_fts, rank) VALUES ('integrity-check', 1)")
        assert conn.execute("SELECT rtreecheck('organismes_geo')").fetchone() == ("ok",)
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        (rowid, name) = conn.execute("SELECT id, denomination FROM organismes ORDER BY id LIMIT 1").fetchone()
        first_word = name.split()[0].strip("\"'()")
        found = [r for (r,) in conn.execute("SELECT rowid FROM organismes_fts(?)", (f'"{first_word}"',))]
        assert rowid in found
    assert not [p for p in built["1"].parent.iterdir() if p.name.endswith(".side")]


def test_failure_beside_the_load_fails_the_build(tmp_path, sample_csv, reference, monkeypatch):
    db = tmp_path / "annuaire.db"
    _build(sample_csv, db, reference, monkeypatch, "1")
    before = db.read_bytes()
    start = side_index.SideTables.start.__func__

    def broken(cls, path, statements, tables, insert_sql):  # the side process meets a bad statement
        return start(cls, path, [*statements, "CREATE TABLE broken (x"], tables, insert_sql)

    monkeypatch.setattr(side_index.SideTables, "start", classmethod(broken))
    with pytest.raises(RuntimeError, match="full-text index, the R.Tree and the fingerprints failed"):
        _build(sample_csv, db, reference, monkeypatch, "1")
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["annuaire.db", "annuaire.db.report.json"]


def test_side_process_error_is_printed_even_if_stderr_was_locked_at_the_fork(
    tmp_path, sample_csv, reference, monkeypatch, capfd
):
    """A thread of the parent (a progress bar) may hold `sys.stderr`'s lock when the build forks:
    in the child that lock stays held. The child's error must still reach the terminal, and the
    build fail instead of waiting for ever."""
    parent = os.getpid()
    held = threading.Lock()
    held.acquire()  # held at the fork, never released in the child

    class LockedInChild(io.TextIOBase):
        def write(self, text: str) -> int:
            if os.getpid() != parent:
                held.acquire()  # what a held lock does: wait for ever
            return len(text)

    start = side_index.SideTables.start.__func__

    def broken(cls, path, statements, tables, insert_sql):
        return start(cls, path, [*statements, "CREATE TABLE broken (x"], tables, insert_sql)

    monkeypatch.setattr(side_index.SideTables, "start", classmethod(broken))
    monkeypatch.setattr(sys, "stderr", LockedInChild())
    previous = signal.signal(signal.SIGALRM, lambda *_: pytest.fail("the build waits for ever"))
    signal.alarm(120)
    try:
        with pytest.raises(RuntimeError, match="full-text index, the R.Tree and the fingerprints failed"):
            _build(sample_csv, tmp_path / "annuaire.db", reference, monkeypatch, "1")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert "sqlite3.OperationalError: incomplete input" in capfd.readouterr().err


def test_failed_build_stops_the_side_process(tmp_path, sample_csv, reference, monkeypatch):
    """A build that fails while the side process works kills it and leaves no file."""
    db = tmp_path / "annuaire.db"
    started = []
    start = side_index.SideTables.start.__func__

    def keep(cls, *args):
        side = start(cls, *args)
        started.append((side, side.pid))
        return side

    def fail(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(side_index.SideTables, "start", classmethod(keep))
    monkeypatch.setattr(SQLiteBuildWriter, "finish", fail)
    with pytest.raises(KeyboardInterrupt):
        _build(sample_csv, db, reference, monkeypatch, "1")
    [(side, pid)] = started
    assert side.pid == 0
    with pytest.raises(ChildProcessError):  # killed and reaped: no zombie left
        os.waitpid(pid, os.WNOHANG)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_where_fork_is_not_available_the_build_writes_them_itself(
    tmp_path, sample_csv, reference, built, monkeypatch
):
    monkeypatch.setattr("annuaire.store.sqlite.can_fork", lambda: False)
    db = tmp_path / "annuaire.db"
    _build(sample_csv, db, reference, monkeypatch, "1")
    assert _aside(db) == _aside(built["1"])
