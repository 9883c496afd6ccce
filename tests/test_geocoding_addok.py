"""Geocoding against a real Addok (Redis + addok-fr + addok-france + addok-csv) loaded with the sample's
BAN import file: precision against the truth, the citycode filter, the cache, `annuaire geocode`."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from annuaire.geocoding.ban import BanClient, Query


@pytest.fixture(scope="session")
def geocoded(addok, run_annuaire, sample_csv, reference_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("geocoded")
    db, cache = folder / "annuaire.db", folder / "geocode.sqlite"

    def build():
        done = run_annuaire(
            "build",
            "--source",
            sample_csv,
            "--db",
            db,
            "--reference",
            reference_dir,
            "--no-progress",
            "--geocode",
            "--geocoder-url",
            addok.url,
            "--geocode-cache",
            cache,
            "--geocode-batch-size",
            "500",
            timeout=600,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(db.with_name(db.name + ".report.json").read_text(encoding="utf-8"))

    first = build()
    exported = run_annuaire("export", "--db", db, "--out", folder / "out")
    assert exported.returncode == 0, exported.stderr
    second = build()
    return {"db": db, "out": folder / "out", "first": first, "second": second, "cache": cache}


def test_geocoded_sample_meets_the_truth(geocoded, shared_dir):
    scored = subprocess.run(
        [
            sys.executable,
            str(shared_dir / "tools" / "score.py"),
            "geo",
            "--truth",
            str(shared_dir / "data" / "of" / "sample-truth.csv.gz"),
            "--declarations",
            str(geocoded["out"] / "declarations.csv"),
        ],
        capture_output=True,
        text=True,
    )
    assert scored.returncode == 0, scored.stdout + scored.stderr


def test_report_counts_geocoding(geocoded):
    report = geocoded["first"]["geocoding"]
    assert report["distinct_addresses_sent"] > 1500
    assert report["by_method"]["ban"] > 1500
    assert sum(report["by_method"].values()) == geocoded["first"]["rows"]["declarations"]


def test_second_build_sends_nothing(geocoded):
    report = geocoded["second"]["geocoding"]
    assert report["distinct_addresses_sent"] == 0
    assert report["requests"].get("requests", 0) == 0
    assert report["by_method"] == geocoded["first"]["geocoding"]["by_method"]


def test_spatial_index_is_filled(geocoded):
    with sqlite3.connect(geocoded["db"]) as conn:
        indexed = conn.execute("SELECT count(*) FROM organismes_geo").fetchone()[0]
        organisations = conn.execute("SELECT count(*) FROM organismes").fetchone()[0]
        boxes = conn.execute(
            """SELECT count(*) FROM declarations d JOIN localisations l USING (nda)
               WHERE d.type_adresse != 'voie' AND l.geo_type IN ('housenumber', 'street')"""
        ).fetchone()[0]
    assert indexed >= 0.99 * organisations
    assert boxes == 0


def test_citycode_filter_is_applied(addok):
    with BanClient(addok.url, retries=0) as client:
        # A real street of the sample (Vauhallan, 91635), asked within the right commune and a wrong one.
        right = client.geocode([Query("a", "173 Cours Clemenceau", "91430", "91635")])["a"]
        wrong = client.geocode([Query("a", "173 Cours Clemenceau", "91430", "75056")])["a"]
    assert right.answer is not None and right.answer.citycode == "91635"
    assert wrong.answer is None or wrong.answer.citycode != "91635"


def test_geocode_command_relocates_an_existing_directory(
    addok, run_annuaire, sample_csv, reference_dir, tmp_path, geocoded
):
    db = tmp_path / "plain.db"
    built = run_annuaire(
        "build",
        "--source",
        sample_csv,
        "--db",
        db,
        "--reference",
        reference_dir,
        "--no-progress",
        "--no-geocode",
    )
    assert built.returncode == 0, built.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM localisations WHERE geo_methode = 'ban'").fetchone()[0] == 0
    done = run_annuaire(
        "geocode",
        "--db",
        db,
        "--reference",
        reference_dir,
        "--geocoder-url",
        addok.url,
        "--geocode-cache",
        geocoded["cache"],
        "--no-progress",
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(db) as conn:
        ban = conn.execute("SELECT count(*) FROM localisations WHERE geo_methode = 'ban'").fetchone()[0]
    assert ban == geocoded["first"]["geocoding"]["by_method"]["ban"]
