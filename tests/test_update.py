"""`annuaire update` on the sample pair (M → M+1): the diff against the truth, equality with a fresh
build of M+1, soft deletion, the change log, geocoding only what changed, the lock, kills at every
stage, and a bad snapshot."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from annuaire.api import ApiSettings, create_app
from annuaire.search.params import SCOPES
from annuaire.web.history import scope_change
from conftest import sha256


@pytest.fixture(scope="module")
def pair(shared_dir: Path) -> tuple[Path, Path, Path]:
    of = shared_dir / "data" / "of"
    files = (of / "sample-M.csv", of / "sample-M+1.csv", of / "sample-diff-truth.json")
    for f in files:
        if not f.exists():
            pytest.fail(f"{f} is missing", pytrace=False)
    return files


@pytest.fixture(scope="module")
def built_m(run_build, pair, tmp_path_factory) -> Path:
    """sample-M built once; tests update copies of it."""
    db = tmp_path_factory.mktemp("m") / "annuaire.db"
    done = run_build(pair[0], db)
    assert done.returncode == 0, done.stderr
    return db


def copy_of(db: Path, folder: Path) -> Path:
    target = folder / "annuaire.db"
    shutil.copyfile(db, target)
    return target


def update(
    run_annuaire, reference_dir, source: Path, db: Path, *extra
) -> tuple[subprocess.CompletedProcess, dict]:
    report = db.with_name("update.json")
    done = run_annuaire(
        "update", "--source", source, "--db", db, "--reference", reference_dir, "--report", report, *extra
    )
    return done, (json.loads(report.read_text(encoding="utf-8")) if done.returncode == 0 else {})


@pytest.fixture(scope="module")
def updated(built_m, pair, run_annuaire, reference_dir, tmp_path_factory):
    db = copy_of(built_m, tmp_path_factory.mktemp("updated"))
    done, report = update(run_annuaire, reference_dir, pair[1], db)
    assert done.returncode == 0, done.stderr
    return db, report


def test_the_report_matches_the_truth(updated, pair, score_script):
    db, report = updated
    scored = subprocess.run(
        [
            sys.executable,
            str(score_script),
            "diff",
            "--truth",
            str(pair[2]),
            "--report",
            str(db.with_name("update.json")),
        ],
        capture_output=True,
        text=True,
    )
    assert scored.returncode == 0, scored.stdout + scored.stderr
    assert report["changed"] is True
    assert report["rows"]["accounted_for"] == report["rows"]["records"]
    assert report["counts"]["added"] == len(report["added"]) > 0


def _active_state(db: Path) -> tuple[dict, set]:
    """Active declarations (NDA → what a reader sees) and organisations (sets of active NDAs)."""
    conn = sqlite3.connect(db)
    declarations = {
        row[0]: row[1:]
        for row in conn.execute(
            """SELECT d.nda, o.identifiant, d.denomination, d.siret, d.code_commune_insee,
                      d.certification_actions_formation, d.certification_bilans_competences,
                      d.certification_vae, d.certification_apprentissage, d.date_derniere_declaration,
                      o.nda_principal, l.geo_methode
               FROM declarations d JOIN organismes o ON o.id = d.organisme_id
               LEFT JOIN localisations l ON l.nda = d.nda WHERE d.statut = 'actif'"""
        )
    }
    organisations = {
        frozenset(row[0].split(","))
        for row in conn.execute(
            """SELECT group_concat(d.nda) FROM declarations d JOIN organismes o ON o.id = d.organisme_id
               WHERE d.statut = 'actif' AND o.statut = 'actif' GROUP BY o.id"""
        )
    }
    conn.close()
    return declarations, organisations


@pytest.mark.integration
def test_the_updated_directory_equals_a_fresh_build(updated, pair, run_build, tmp_path):
    fresh = tmp_path / "fresh.db"
    assert run_build(pair[1], fresh).returncode == 0
    assert _active_state(updated[0]) == _active_state(fresh)
    # And search finds the same organisations.
    from annuaire.search import SearchQuery, open_searcher
    from annuaire.search.params import Filters

    a, b = open_searcher(str(updated[0])), open_searcher(str(fresh))
    for q in ("formation", "securite", "paris", "conseil sarl"):
        query = SearchQuery(Filters(q=q), par_page=100, facettes=True).checked()
        ra, rb = a.search(query), b.search(query)
        assert ra["total"] == rb["total"] and ra["facettes"] == rb["facettes"], q
        assert {r["id_organisme"] for r in ra["resultats"]} == {r["id_organisme"] for r in rb["resultats"]}


@pytest.mark.integration
def test_cleaning_in_worker_processes_gives_the_same_update(
    updated, built_m, pair, run_annuaire, reference_dir, tmp_path
):
    """The update cleans the records it does not know in forked workers while it reads the file and
    holds the directory and its lock (ANNUAIRE_CLEANING_JOBS=2: the sample is too small for them by
    default): the same report and the same directory as cleaning in its own process."""
    db = copy_of(built_m, tmp_path)
    report_file = tmp_path / "update.json"
    done = run_annuaire(
        "update", "--source", pair[1], "--db", db, "--reference", reference_dir, "--report", report_file,
        env={"ANNUAIRE_CLEANING_JOBS": "2"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(report_file.read_text(encoding="utf-8"))
    alone = updated[1]
    for key in ("added", "removed", "modified", "corrected", "counts", "rows", "source"):
        assert report[key] == alone[key], key
    assert _active_state(db) == _active_state(updated[0])


def test_a_second_run_with_the_same_snapshot_changes_nothing(updated, pair, run_annuaire, reference_dir):
    db, _ = updated
    before = (sha256(db), db.stat().st_mtime_ns)
    done, report = update(run_annuaire, reference_dir, pair[1], db)
    assert done.returncode == 0, done.stderr
    assert report["changed"] is False and report["counts"]["added"] == report["counts"]["modified"] == 0
    assert (sha256(db), db.stat().st_mtime_ns) == before
    assert "Nothing changed" in done.stdout


@pytest.mark.integration
def test_removed_declarations_are_kept_and_answer_410(updated):
    db, report = updated
    conn = sqlite3.connect(db)
    removed = report["removed"][0]
    status, identifiant, org_status = conn.execute(
        """SELECT d.statut, o.identifiant, o.statut FROM declarations d
           JOIN organismes o ON o.id = d.organisme_id WHERE d.nda = ?""",
        (removed,),
    ).fetchone()
    assert status == "supprime"
    gone = conn.execute(
        """SELECT o.identifiant FROM organismes o WHERE o.statut = 'supprime'
           AND NOT EXISTS (SELECT 1 FROM declarations d WHERE d.organisme_id = o.id AND d.statut = 'actif')"""
    ).fetchone()[0]
    conn.close()
    app = create_app(ApiSettings(db=str(db), rate_limit_per_minute=0))
    with TestClient(app) as client:
        answer = client.get(f"/api/v1/organismes/{gone}")
        assert answer.status_code == 410
        body = answer.json()
        assert body["statut"] == "supprime"
        assert any(e["evenement"] in ("organisme_supprime", "suppression") for e in body["historique"])
        assert client.get("/api/v1/organismes", params={"q": gone}).json()["total"] == 0
        assert client.get("/api/v1/organismes", params={"q": gone, "statut": "supprime"}).json()["total"] == 1
        if org_status == "actif":  # a removed declaration of an organisation that remains
            assert client.get(f"/api/v1/organismes/{identifiant}").status_code == 200


def test_the_change_log_says_what_changed(updated):
    db, report = updated
    nda, groups = next(iter(report["modified"].items()))
    app = create_app(ApiSettings(db=str(db), rate_limit_per_minute=0))
    with TestClient(app) as client:
        org = client.get(f"/api/v1/organismes/{nda}").json()
    events = [e for e in org["historique"] if e["numero_declaration_activite"] == nda]
    # the groups changed, then (for certifications) the scopes gained "+x" or lost "-x"
    assert (
        events and events[0]["evenement"] == "modification" and events[0]["champs"][: len(groups)] == groups
    )
    assert all(c[:1] in "+-" for c in events[0]["champs"][len(groups) :])
    assert events[0]["date"] == report["date"]


def test_the_change_log_names_the_scopes_gained_or_lost(updated):
    """A modification of certifications says which scope was added or removed ("VAE retirée"), in the
    API (+vae / -vae after the groups) and on the organisation's page, as the two files differ."""
    db, report = updated
    changed = [nda for nda, groups in report["modified"].items() if "certifications" in groups]
    assert changed, "the sample's update should change certifications"
    conn = sqlite3.connect(db)
    app = create_app(ApiSettings(db=str(db), rate_limit_per_minute=0))
    with TestClient(app) as client:
        for nda in changed[:5]:
            org = client.get(f"/api/v1/organismes/{nda}").json()
            (event,) = [
                e
                for e in org["historique"]
                if e["numero_declaration_activite"] == nda and e["evenement"] == "modification"
            ]
            scopes = [c for c in event["champs"] if c[:1] in "+-"]
            assert scopes, event
            now = dict(
                zip(
                    SCOPES,
                    conn.execute(
                        "SELECT " + ", ".join(f"certification_{s}" for s in SCOPES) + " FROM declarations "
                        "WHERE nda = ?",
                        (nda,),
                    ).fetchone(),
                    strict=True,
                )
            )
            for token in scopes:  # "+x": held now; "-x": not held now
                assert bool(now[token[1:]]) == (token[0] == "+"), (nda, token, now)
            html = client.get(f"/organisme/{nda}", follow_redirects=True).text
            words = [scope_change(token) for token in scopes]
            assert all(w in html for w in words), (nda, words)
    conn.close()


def test_only_new_or_changed_addresses_are_geocoded(addok, pair, run_annuaire, reference_dir, tmp_path):
    """Through a real Addok, without a cache: the update sends exactly the street addresses of added
    declarations and of changed addresses."""
    db = tmp_path / "annuaire.db"
    common = ["--reference", reference_dir, "--geocode", "--geocoder-url", addok.url]
    built = run_annuaire("build", "--source", pair[0], "--db", db, "--no-progress", *common, timeout=600)
    assert built.returncode == 0, built.stderr
    report_file = tmp_path / "update.json"
    done = run_annuaire(
        "update",
        "--source",
        pair[1],
        "--db",
        db,
        "--report",
        report_file,
        *common[2:],
        "--reference",
        reference_dir,
        "--geocode-cache",
        tmp_path / "fresh-cache.sqlite",
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(report_file.read_text(encoding="utf-8"))
    relocated = (
        set(report["added"])
        | {n for n, g in report["modified"].items() if "adresse" in g}
        | {n for n, f in report["corrected"].items() if "code_commune_insee" in f}  # another commune
    )
    conn = sqlite3.connect(db)
    streets = {
        (voie, code_postal, commune)
        for voie, code_postal, commune in conn.execute(
            f"""SELECT voie, code_postal, code_commune_insee FROM declarations
                WHERE type_adresse = 'voie' AND nda IN ({", ".join("?" * len(relocated))})""",
            sorted(relocated),
        )
    }
    precise = conn.execute("SELECT count(*) FROM localisations WHERE geo_methode = 'ban'").fetchone()[0]
    conn.close()
    sent = report["geocoding"]["distinct_addresses_sent"]
    assert 0 < sent <= len(streets) and sent >= len(streets) * 0.9  # distinct after query cleaning
    assert report["geocoding"]["declarations_relocated"] == len(relocated)
    assert precise > 1000
    assert str(sent) in done.stdout.replace(",", "")


@pytest.mark.integration
def test_a_second_run_waits_for_the_lock(built_m, pair, run_annuaire, reference_dir, tmp_path):
    from annuaire.store import open_store

    db = copy_of(built_m, tmp_path)
    with open_store(str(db)).lock():
        done, _ = update(run_annuaire, reference_dir, pair[1], db)
    assert done.returncode == 5 and "another build or update is running" in done.stderr
    done, _ = update(run_annuaire, reference_dir, pair[1], db)  # released: it runs
    assert done.returncode == 0, done.stderr


@pytest.mark.integration
@pytest.mark.parametrize("stage", ["compared", "copied", "declarations", "organisations", "committed"])
def test_killed_at_any_stage_the_previous_directory_stays(
    built_m, pair, annuaire_bin, annuaire_env, reference_dir, tmp_path, stage
):
    db = copy_of(built_m, tmp_path)
    before = sha256(db)
    env = {**annuaire_env, "ANNUAIRE_UPDATE_PAUSE_AT": stage}
    proc = subprocess.Popen(
        [annuaire_bin, "update", "--source", pair[1], "--db", db, "--reference", reference_dir],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in proc.stderr:
            if f"paused at {stage}" in line:
                break
        else:
            pytest.fail(f"the update never reached {stage} (exit {proc.wait()})")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.communicate(timeout=30)  # and its pipes closed
    assert sha256(db) == before  # the old directory, untouched
    app = create_app(ApiSettings(db=str(db), rate_limit_per_minute=0))
    with TestClient(app) as client:
        assert client.get("/api/v1/stats").json()["nb_organismes"] > 1000  # and still served
    # The next run cleans up after the killed one and succeeds.
    done = subprocess.run(
        [annuaire_bin, "update", "--source", pair[1], "--db", db, "--reference", reference_dir],
        env=annuaire_env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert not list(tmp_path.glob(".annuaire.db.updating-*"))
    assert sha256(db) != before


def test_a_damaged_snapshot_is_refused(built_m, pair, run_annuaire, reference_dir, tmp_path):
    db = copy_of(built_m, tmp_path)
    before = sha256(db)
    damaged = tmp_path / "damaged.csv.gz"
    import gzip

    damaged.write_bytes(gzip.compress(pair[1].read_bytes())[:5000])  # cut short
    done, _ = update(run_annuaire, reference_dir, damaged, db)
    assert done.returncode == 2 and "damaged.csv.gz" in done.stderr
    assert sha256(db) == before


def test_pages_of_removed_and_modified_organisations(updated):
    db, report = updated
    conn = sqlite3.connect(db)
    gone = conn.execute(
        """SELECT o.identifiant FROM organismes o WHERE o.statut = 'supprime'
           AND NOT EXISTS (SELECT 1 FROM declarations d WHERE d.organisme_id = o.id AND d.statut = 'actif')"""
    ).fetchone()[0]
    conn.close()
    modified = next(iter(report["modified"]))
    app = create_app(ApiSettings(db=str(db), rate_limit_per_minute=0))
    with TestClient(app) as client:
        page = client.get(f"/organisme/{gone}")  # redirected to its canonical page
        assert page.status_code == 410
        assert (
            "ne figure plus dans la Liste publique" in page.text and "Historique des changements" in page.text
        )
        assert 'content="noindex"' in page.text
        changed = client.get(f"/organisme/{modified}")
        assert changed.status_code == 200
        assert (
            "Historique des changements" in changed.text
            and f"déclaration {modified} modifiée" in changed.text
        )
        sitemap = client.get("/sitemaps/1.xml").text
        assert gone not in sitemap
