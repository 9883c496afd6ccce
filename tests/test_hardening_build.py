"""`annuaire build` and `annuaire update` on damaged sources and hostile file systems (issue 19):
every physical line accounted for, records in mixed encodings, files that keep what the operator set,
updates that refuse a partial source."""

from __future__ import annotations

import json
from pathlib import Path


def _report(db: Path, suffix: str = ".report.json") -> dict:
    return json.loads(db.with_name(db.name + suffix).read_text(encoding="utf-8"))


# --- item 0: a quote opened and never closed ---------------------------------------------------


def test_a_name_opening_a_quote_loses_no_row(tmp_path, run_build, real_extract_csv):
    """The real 2022 extract with one name changed to `"UFORCA NANTES` (a quote never closed): the
    old build swallowed the next 189 lines into that name and exited 0 with 311 declarations."""
    lines = real_extract_csv.read_text(encoding="utf-8").split("\n")
    cells = lines[50].split(";")
    cells[2] = '"UFORCA NANTES'
    lines[50] = ";".join(cells)
    source = tmp_path / "uforca.csv"
    source.write_text("\n".join(lines), encoding="utf-8")
    db = tmp_path / "annuaire.db"
    result = run_build(source, db)
    assert result.returncode == 0, result.stderr
    report = _report(db)
    assert report["rows"]["records"] == 500
    assert report["rows"]["declarations"] + report["rows"]["quarantined"] == 500
    assert report["lines"]["physical"] == 501
    assert (
        report["lines"]["header"] + report["lines"]["in_declarations"] + report["lines"]["in_quarantine"]
        == 501
    )
    assert report["lines"]["unclosed_quotes"] == {"repaired_lines": [51], "quarantined_lines": []}
    assert report["repairs"]["guillemet_non_ferme"] == 1
    import sqlite3

    with sqlite3.connect(db) as conn:
        (name,) = conn.execute("SELECT denomination FROM declarations WHERE nda = ?", (cells[0],)).fetchone()
        assert "UFORCA NANTES" in name
        (count,) = conn.execute("SELECT count(*) FROM declarations").fetchone()
    assert count == report["rows"]["declarations"]


def test_an_unreadable_line_is_quarantined_with_its_line_number(
    tmp_path, run_build, real_extract_csv, run_annuaire
):
    lines = real_extract_csv.read_text(encoding="utf-8").split("\n")
    lines[20] = lines[20].split(";", 3)[0] + ';;"NOM SANS FIN;trop court'
    source = tmp_path / "broken.csv"
    source.write_text("\n".join(lines), encoding="utf-8")
    db = tmp_path / "annuaire.db"
    result = run_build(source, db)
    assert result.returncode == 0, result.stderr
    report = _report(db)
    assert report["quarantine"].get("guillemet_non_ferme") == 1
    assert report["lines"]["unclosed_quotes"]["quarantined_lines"] == [21]
    assert report["rows"]["records"] == 500
    out = tmp_path / "out"
    assert run_annuaire("export", "--db", db, "--out", out, "--formats", "csv").returncode == 0
    import csv

    with (out / "quarantaine.csv").open(encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["motif"] == "guillemet_non_ferme"]
    assert [(r["ligne"], r["enregistrement"]) for r in rows] == [("21", "20")]


# --- item 6: a file mixing UTF-8 and Windows-1252 ---------------------------------------------------


def test_a_record_in_windows_1252_among_utf8_ones(tmp_path, run_build, real_extract_csv):
    lines = real_extract_csv.read_bytes().split(b"\n")
    header, body = lines[0], [line for line in lines[1:] if line]
    accented = [i for i, line in enumerate(body) if not line.split(b";")[5].isascii()]  # the street
    assert len(accented) > 5
    target = accented[3]
    text = body[target].decode("utf-8")
    body[target] = text.encode("cp1252")
    source = tmp_path / "mixed.csv"
    source.write_bytes(b"\n".join([header, *body]) + b"\n")
    db = tmp_path / "annuaire.db"
    result = run_build(source, db)
    assert result.returncode == 0, result.stderr
    report = _report(db)
    assert report["source"]["encoding"] == "utf-8"
    assert report["source"]["records_read_as_windows_1252"] == 1
    import sqlite3

    nda = text.split(";")[0]
    expected_words = {w for w in text.split(";")[5].split() if not w.isascii()}
    assert expected_words
    with sqlite3.connect(db) as conn:
        cities = [r[0] for r in conn.execute("SELECT voie FROM declarations")]
        (city,) = conn.execute("SELECT voie FROM declarations WHERE nda = ?", (nda,)).fetchone()
    assert not [c for c in cities if "Ã" in c or "\ufffd" in c]
    assert all(w in city for w in expected_words)
