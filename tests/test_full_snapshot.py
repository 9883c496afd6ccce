"""The 150,364-row snapshot end to end, geocoded through a local Addok loaded with its BAN file, scored
against its truth: the acceptance figures of the build and of geocoding, checked on every run.

The geocoder's answers are kept between runs (see `answers_cache`): a run geocodes afresh only when
something that shapes the answers changed. CI, on a fresh clone, geocodes all 130,000 addresses."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from addok_server import REPO, AddokServer, index_key

pytestmark = [pytest.mark.slow, pytest.mark.geocoder]


def answers_cache(ban: Path) -> Path:
    """The geocoding cache for the full snapshot under .cache/full-snapshot/, named after what shapes
    its answers: the Addok index (the BAN file, Addok's packages, its configuration) and the code that
    writes the queries and reads the answers. Older ones are removed."""
    code = hashlib.sha256()
    src = REPO / "src" / "annuaire"
    for path in [*sorted((src / "geocoding").glob("*.py")), src / "pipeline" / "geocode.py"]:
        code.update(path.read_bytes())
    cache = REPO / ".cache" / "full-snapshot" / f"geocode-{index_key(ban)}-{code.hexdigest()[:12]}.sqlite"
    cache.parent.mkdir(parents=True, exist_ok=True)
    for other in cache.parent.glob("geocode-*"):
        if not other.name.startswith(cache.name):
            other.unlink(missing_ok=True)
    return cache


@pytest.fixture(scope="module")
def full_build(shared_dir: Path, run_annuaire, reference_dir, tmp_path_factory):
    of = shared_dir / "data" / "of"
    for name in (
        "liste-publique-of-M.csv.gz",
        "liste-publique-of-ban.ndjson.gz",
        "liste-publique-of-truth.csv.gz",
    ):
        if not (of / name).exists():
            pytest.fail(f"{of / name} is missing", pytrace=False)
    folder = tmp_path_factory.mktemp("full")
    db = folder / "annuaire.db"
    ban = of / "liste-publique-of-ban.ndjson.gz"
    with AddokServer(ban, workers=2) as addok:
        args = ["--source", of / "liste-publique-of-M.csv.gz", "--db", db, "--reference", reference_dir]
        args += [
            "--no-progress",
            "--geocode",
            "--geocoder-url",
            addok.url,
            "--geocode-cache",
            answers_cache(ban),
        ]
        built = run_annuaire("build", *args, timeout=1800)
    assert built.returncode == 0, built.stderr
    exported = run_annuaire("export", "--db", db, "--out", folder / "out", timeout=600)
    assert exported.returncode == 0, exported.stderr
    report = json.loads(db.with_name(db.name + ".report.json").read_text(encoding="utf-8"))
    return folder / "out", report, of


def _score(of: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(of.parent.parent / "tools" / "score.py"), *args], capture_output=True, text=True
    )


def test_full_snapshot_build_scores(full_build):
    out, _, of = full_build
    scored = _score(
        of,
        "build",
        "--truth",
        str(of / "liste-publique-of-truth.csv.gz"),
        "--declarations",
        str(out / "declarations.csv"),
        "--quarantine",
        str(out / "quarantaine.csv"),
    )
    assert scored.returncode == 0, scored.stdout + scored.stderr


def test_full_snapshot_geocoding_scores(full_build):
    out, report, of = full_build
    scored = _score(
        of,
        "geo",
        "--truth",
        str(of / "liste-publique-of-truth.csv.gz"),
        "--declarations",
        str(out / "declarations.csv"),
    )
    assert scored.returncode == 0, scored.stdout + scored.stderr
    assert report["rows"]["records"] == 150_364


@pytest.fixture(scope="module")
def full_searcher(full_build):
    from annuaire.search import open_searcher

    out, _, _ = full_build
    searcher = open_searcher(str(out.parent / "annuaire.db"))
    yield searcher
    searcher.close()


def test_full_snapshot_search(full_build, full_searcher):
    """On 150,000 geocoded organisations: names come first, radius equals brute force, facets add up."""
    import random
    import sqlite3

    from annuaire.clean.names import fold
    from annuaire.search import SearchQuery
    from annuaire.search.geo import haversine_km
    from annuaire.search.params import Filters

    out, _, _ = full_build
    conn = sqlite3.connect(out.parent / "annuaire.db")
    rows = conn.execute("SELECT identifiant, denomination FROM organismes").fetchall()
    located = conn.execute(
        """SELECT o.identifiant, l.latitude, l.longitude FROM organismes o
           JOIN localisations l ON l.nda = o.nda_principal WHERE l.latitude IS NOT NULL"""
    ).fetchall()
    conn.close()
    rng = random.Random(150)
    for identifiant, name in rng.sample(rows, 50):
        first = full_searcher.search(SearchQuery(Filters(q=name), par_page=1).checked())["resultats"][0]
        assert (
            first["id_organisme"] == identifiant or fold(first["denomination"]).split() == fold(name).split()
        )
    for _, lat, lon in rng.sample(located, 5):
        expected = {i for i, la, lo in located if haversine_km(lat, lon, la, lo) <= 3.0}
        found, page = [], 1
        while True:
            answer = full_searcher.search(
                SearchQuery(
                    Filters(lat=lat, lon=lon, rayon_km=3.0), tri="distance", page=page, par_page=100
                ).checked()
            )
            found += [r["id_organisme"] for r in answer["resultats"]]
            if page >= answer["pages"]:
                break
            page += 1
        assert set(found) == expected and len(found) == len(expected)
    everything = full_searcher.search(SearchQuery(facettes=True).checked())
    assert sum(d["nombre"] for d in everything["facettes"]["departements"]) == everything["total"] > 140_000


def test_full_snapshot_without_addresses_is_placed_with_sirene(
    shared_dir: Path, run_annuaire, reference_dir, tmp_path
):
    """The 150,364-row snapshot whose addresses are emptied on 45 % of the rows, built with its SIRENE
    stock (no geocoder: SIRENE's own positions apply), scored by score.py locate."""
    of = shared_dir / "data" / "of"
    names = [
        "liste-publique-of-sans-adresse-M.csv.gz",
        "liste-publique-of-sans-adresse-sirene-etablissements.csv.gz",
        "liste-publique-of-sans-adresse-truth.csv.gz",
    ]
    for name in names:
        if not (of / name).exists():
            pytest.fail(f"{of / name} is missing", pytrace=False)
    db = tmp_path / "annuaire.db"
    built = run_annuaire(
        "build", "--source", of / names[0], "--db", db, "--reference", reference_dir, "--no-progress",
        "--no-geocode", "--sirene-stock", of / names[1], timeout=1800,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    exported = run_annuaire("export", "--db", db, "--out", tmp_path / "out", "--formats", "csv", timeout=600)
    assert exported.returncode == 0, exported.stderr
    scored = _score(
        of,
        "locate",
        "--truth",
        str(of / names[2]),
        "--declarations",
        str(tmp_path / "out" / "declarations.csv"),
    )
    assert scored.returncode == 0, scored.stdout + scored.stderr
