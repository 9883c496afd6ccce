"""`annuaire update` with secondary sources: they are read again and reconciled with the updated
directory in the same swap, the result equal to a fresh build's; a run where neither the Liste publique
nor the sources changed leaves the file untouched; a changed source alone is applied."""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from conftest import sha256

HEADER = ["certificateur", "siret", "nda", "raison_sociale", "code_postal", "portees", "date_certification",
          "date_expiration"]  # fmt: skip


def rows_of(path: Path) -> dict[str, dict]:
    with path.open(encoding="utf-8", newline="") as fh:
        return {r["numeroDeclarationActivite"]: r for r in csv.DictReader(fh, delimiter=";")}


@pytest.fixture(scope="module")
def pair(shared_dir: Path) -> tuple[Path, Path]:
    of = shared_dir / "data" / "of"
    return of / "sample-M.csv", of / "sample-M+1.csv"


@pytest.fixture(scope="module")
def certifier_list(pair, tmp_path_factory) -> Path:
    """A certifier's list naming organisations of both snapshots and some only M+1 declares (unmatched
    in M, matched once updated), by SIRET and by NDA."""
    before, after = rows_of(pair[0]), rows_of(pair[1])
    sirets_before = {r["siretEtablissementDeclarant"] for r in before.values()}
    new = [r for n, r in after.items() if n not in before and r["siretEtablissementDeclarant"]
           and r["siretEtablissementDeclarant"] not in sirets_before]  # fmt: skip
    both = [r for n, r in after.items() if n in before and r["siretEtablissementDeclarant"]]
    assert len(new) >= 6 and len(both) >= 6
    lines = []
    for n, r in enumerate(new[:6] + both[:6]):
        by_siret = n % 2 == 0
        lines.append([
            "AFNOR", r["siretEtablissementDeclarant"] if by_siret else "",
            "" if by_siret else r["numeroDeclarationActivite"], r["denomination"], "",
            "Actions de formation, VAE" if n % 3 == 0 else "Actions de formation", "01/02/2024", "31/01/2027",
        ])  # fmt: skip
    lines.append(["AFNOR", "73282932000074", "", "INCONNU", "", "VAE", "", ""])
    path = tmp_path_factory.mktemp("lists") / "certifier.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, delimiter=";").writerows([HEADER, *lines])
    return path


def secondary_state(db: Path) -> tuple[list, list, list]:
    """Provenance, matches and sources, organisations named by their stable identifier."""
    with sqlite3.connect(db) as conn:
        provenance = conn.execute(
            """SELECT o.identifiant, p.champ, p.source, p.valeur, p.date_observation, p.conflit, p.ligne
               FROM provenance p JOIN organismes o ON o.id = p.organisme_id ORDER BY 1, 2, 3, 4, 7"""
        ).fetchall()
        matches = conn.execute(
            """SELECT c.source, c.ligne, o.identifiant, c.methode, c.motif FROM correspondances c
               LEFT JOIN organismes o ON o.id = c.organisme_id ORDER BY 1, 2"""
        ).fetchall()
        sources = conn.execute(
            "SELECT nom, statut, lignes, rapprochees, sha256 FROM sources_secondaires"
        ).fetchall()
    return provenance, matches, sources


@pytest.mark.integration
def test_update_reconciles_secondary_sources(
    pair, certifier_list, annuaire_bin, annuaire_env, reference_dir, tmp_path
) -> None:
    env = dict(annuaire_env, ANNUAIRE_CACHE_DIR=str(tmp_path / "cache"))
    listing = tmp_path / "certifier.csv"  # this test changes it
    shutil.copyfile(certifier_list, listing)

    def run(*args) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [str(annuaire_bin), *map(str, args), "--reference", str(reference_dir)],
            env=env, capture_output=True, text=True, encoding="utf-8", timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done

    source = f"certificateur={listing}"
    db, fresh = tmp_path / "annuaire.db", tmp_path / "fresh.db"
    run("build", "--source", pair[0], "--db", db, "--no-progress", "--extra-source", source)
    built = json.loads(db.with_name("annuaire.db.report.json").read_text(encoding="utf-8"))
    matched_in_m = built["sources_secondaires"]["sources"]["certificateur"]["matched"]

    report_file = tmp_path / "update.json"
    done = run("update", "--source", pair[1], "--db", db, "--report", report_file, "--extra-source", source)
    assert "Secondary sources" in done.stdout
    report = json.loads(report_file.read_text(encoding="utf-8"))
    section = report["sources_secondaires"]["sources"]["certificateur"]
    assert report["changed"] is True and section["status"] == "frais" and section["rows"] == 13
    assert section["matched"] == 12 > matched_in_m  # the organisations M+1 added are matched now
    assert section["unmatched_reasons"] == {"identifiant_inconnu": 1}
    assert "portees" in section["conflicts"]  # VAE, which the Liste publique does not list

    run("build", "--source", pair[1], "--db", fresh, "--no-progress", "--extra-source", source)
    rebuilt = json.loads(fresh.with_name("fresh.db.report.json").read_text(encoding="utf-8"))
    assert rebuilt["sources_secondaires"]["sources"]["certificateur"] == section
    for key in ("organisations_with_secondary_data", "directory_coverage", "conflicts"):
        assert rebuilt["sources_secondaires"][key] == report["sources_secondaires"][key], key
    assert secondary_state(db) == secondary_state(fresh)  # the update reconciles as a build does

    # Neither the Liste publique nor the source changed: the directory is left untouched, and reported.
    before = (sha256(db), db.stat().st_mtime_ns)
    done = run("update", "--source", pair[1], "--db", db, "--report", report_file, "--extra-source", source)
    again = json.loads(report_file.read_text(encoding="utf-8"))
    assert again["changed"] is False and "Nothing changed" in done.stdout
    assert again["sources_secondaires"]["sources"]["certificateur"] == section
    assert (sha256(db), db.stat().st_mtime_ns) == before

    # The source alone changed (a row added): applied.
    with listing.open("a", encoding="utf-8", newline="") as fh:
        csv.writer(fh, delimiter=";").writerow(["ICPF", "", "", "AUCUN", "", "", "", ""])
    run("update", "--source", pair[1], "--db", db, "--report", report_file, "--extra-source", source)
    third = json.loads(report_file.read_text(encoding="utf-8"))
    assert third["changed"] is True and third["counts"]["added"] == 0
    assert third["sources_secondaires"]["sources"]["certificateur"]["unmatched_reasons"] == {
        "identifiant_inconnu": 1,
        "sans_cle": 1,
    }
    provenance, matches, sources = secondary_state(db)
    assert len(matches) == 14 and sources[0][2:4] == (14, 12)

    # Without sources, an update keeps what the directory has.
    done = run("update", "--source", pair[0], "--db", db, "--report", report_file)
    assert json.loads(report_file.read_text(encoding="utf-8"))["changed"] is True
    assert "sources_secondaires" not in json.loads(report_file.read_text(encoding="utf-8"))
    assert secondary_state(db)[1] == matches


def test_update_with_sources_on_postgresql(
    postgres, pair, certifier_list, annuaire_bin, annuaire_env, reference_dir, tmp_path
) -> None:
    """On PostgreSQL the update goes through a SQLite copy (pipeline/transfer.py): the sources'
    reconciliation comes back with it, as on SQLite."""
    env = dict(annuaire_env, ANNUAIRE_CACHE_DIR=str(tmp_path / "cache"))

    def run(*args) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [str(annuaire_bin), *map(str, args)], env=env, capture_output=True, text=True, encoding="utf-8",
            timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done

    source = f"certificateur={certifier_list}"
    url = postgres.create_database("annuaire_update_sources")
    db = tmp_path / "annuaire.db"
    for location in (url, db):
        run("build", "--source", pair[0], "--db", location, "--reference", reference_dir, "--no-progress",
            "--no-geocode", "--extra-source", source)  # fmt: skip
        run("update", "--source", pair[1], "--db", location, "--reference", reference_dir,
            "--report", tmp_path / "update.json", "--extra-source", source)  # fmt: skip
    back = tmp_path / "back.db"
    run("copy", "--from", url, "--to", back)
    assert secondary_state(back) == secondary_state(db)
    for location, out in ((url, "pg"), (db, "sqlite")):  # provenance.csv reads the same on both
        run("export", "--db", location, "--out", tmp_path / out, "--formats", "csv")
    exported = (tmp_path / "pg" / "provenance.csv").read_bytes()
    assert exported == (tmp_path / "sqlite" / "provenance.csv").read_bytes()
    assert exported.count(b"\n") > 20
    assert secondary_state(db)[2][0][2:4] == (13, 12)
    again = run("update", "--source", pair[1], "--db", url, "--reference", reference_dir,
                "--report", tmp_path / "again.json", "--extra-source", source)  # fmt: skip
    assert "Nothing changed" in again.stdout
