"""The full-text and spatial indexes built beside the load (store/side_index.py) are those the build
would write itself: same entries, same points as `localisations` gives, sound FTS5 and R*Tree
structures; a failure there fails the build and leaves the previous directory and no file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import annuaire.pipeline.build as build_module
from annuaire.store import side_index
from annuaire.store.sqlite import FILL_SPATIAL_INDEX


def _build(source: Path, db: Path, reference, monkeypatch, side: str) -> None:
    monkeypatch.setenv("ANNUAIRE_BUILD_SIDE_INDEX", side)
    build_module.build(str(source), str(db), reference)


def _indexes(db: Path) -> tuple[list, list]:
    with sqlite3.connect(db) as conn:
        entries = conn.execute("SELECT rowid, * FROM organismes_fts ORDER BY rowid").fetchall()
        points = conn.execute("SELECT * FROM organismes_geo ORDER BY id").fetchall()
    return entries, points


@pytest.fixture(scope="module")
def built(tmp_path_factory, sample_csv, reference) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("side-index")
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        for side in ("1", "0"):
            out[side] = folder / f"side-{side}.db"
            _build(sample_csv, out[side], reference, mp, side)
    return out


def test_side_and_inline_indexes_are_equal(built):
    side, inline = _indexes(built["1"]), _indexes(built["0"])
    assert side == inline
    assert len(side[0]) > 1900 and len(side[1]) > 1900


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
    assert not [p for p in built["1"].parent.iterdir() if p.name.endswith(".index")]


def test_failure_beside_the_load_fails_the_build(tmp_path, sample_csv, reference, monkeypatch):
    db = tmp_path / "annuaire.db"
    _build(sample_csv, db, reference, monkeypatch, "1")
    before = db.read_bytes()

    def broken(conn, entries, points):
        list(entries)
        raise sqlite3.OperationalError("disk I/O error (injected)")

    monkeypatch.setattr(side_index, "fill", broken)
    with pytest.raises(RuntimeError, match="full-text and spatial indexes") as failure:
        _build(sample_csv, db, reference, monkeypatch, "1")
    assert "injected" in str(failure.value.__cause__)
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["annuaire.db", "annuaire.db.report.json"]
