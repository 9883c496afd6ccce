"""The PostgreSQL backend against the SQLite one on the sample: the same answers to random requests,
the same exports, updates, atomic builds seen by concurrent readers, migrations, copy, lock, serve.

(The search and API test modules also run whole on both backends: see `backend` in conftest.py.)
"""

from __future__ import annotations

import random
import socket
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import httpx
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annuaire.errors import EXIT_MISSING
from annuaire.search import ClusterQuery, SearchQuery, open_searcher
from annuaire.search.params import SCOPES, SORTS, STATUSES, Filters
from annuaire.search.postgres import tsquery
from annuaire.search.text import fts_expression, tokens
from annuaire.store import open_store
from annuaire.store.migrations import latest_version, migrations
from annuaire.store.postgres_store import migrate_postgres
from annuaire.store.sqlite_store import migrate_sqlite


def current_version(location: str) -> int:
    return open_store(location).schema_version()


def random_requests(db: Path, count: int, seed: int) -> list[SearchQuery]:
    """Search requests drawn from the directory's own content: text as typed (words cut short, case
    and accents varied), every filter, radius around places or points, every sort, facets."""
    rng = random.Random(seed)
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    names = [row[0] for row in conn.execute("SELECT denomination FROM organismes")]
    departements = [row[0] for row in conn.execute("SELECT DISTINCT code_departement FROM recherche")]
    regions = [row[0] for row in conn.execute("SELECT DISTINCT code_region FROM recherche")]
    communes = [row[0] for row in conn.execute("SELECT DISTINCT code_commune_insee FROM recherche")]
    postcodes = [row[0] for row in conn.execute("SELECT DISTINCT code_postal FROM recherche")]
    specialities = [row[0] for row in conn.execute("SELECT code FROM specialites")]
    points = conn.execute("SELECT latitude, longitude FROM recherche WHERE latitude IS NOT NULL").fetchall()
    conn.close()
    requests = []
    for _ in range(count):
        f: dict = {}
        if rng.random() < 0.6:
            words = rng.choice(names).split()[: rng.randint(1, 3)]
            words[-1] = words[-1][: rng.randint(1, max(1, len(words[-1])))]
            f["q"] = " ".join(words).lower() if rng.random() < 0.5 else " ".join(words)
        for name, values, p in (
            ("departement", departements, 0.15),
            ("region", regions, 0.1),
            ("commune", communes, 0.05),
            ("code_postal", postcodes, 0.05),
            ("specialite", specialities, 0.1),
        ):
            if rng.random() < p:
                f[name] = rng.choice([v for v in values if v])
        if rng.random() < 0.2:
            f["portees"] = tuple(rng.sample(SCOPES, rng.randint(1, 2)))
        if rng.random() < 0.15:
            f["certifie"] = rng.random() < 0.5
        if rng.random() < 0.1:
            f["statut"] = rng.choice(STATUSES)
        if rng.random() < 0.3:
            if rng.random() < 0.5:
                f["autour"] = rng.choice([c for c in communes + postcodes if c])
            else:
                lat, lon = rng.choice(points)
                f["lat"], f["lon"] = lat + rng.uniform(-0.2, 0.2), lon + rng.uniform(-0.2, 0.2)
            f["rayon_km"] = rng.choice([1.0, 5.0, 10.0, 30.0, 100.0])
        requests.append(
            SearchQuery(Filters(**f), tri=rng.choice(SORTS), par_page=100, facettes=rng.random() < 0.7)
        )
    return requests


def answer(searcher, query: SearchQuery) -> dict:
    try:
        return searcher.search(query.checked())
    except Exception as exc:  # a refusal (unknown place…) must be the same on both sides
        return {"error": f"{type(exc).__name__}: {exc}"}


def test_random_requests_give_the_same_answers(sample_build, sample_postgres):
    sqlite_side, postgres_side = open_searcher(str(sample_build.db)), open_searcher(sample_postgres)
    try:
        requests = random_requests(sample_build.db, 400, seed=7)
        differing = []
        found = 0
        for query in requests:
            a, b = answer(sqlite_side, query), answer(postgres_side, query)
            found += bool(a.get("total"))
            if a != b:  # ids, order, distances, totals and facet counts: everything
                differing.append(query)
        assert not differing, f"{len(differing)} of {len(requests)} differ, first: {differing[0]}"
        assert found > len(requests) / 3  # the requests are not all empty
    finally:
        postgres_side.close()


def test_both_query_classes_answer_the_same_plain_values(sample_build, sample_postgres):
    """The searcher asks each backend the same questions (search/queries.py): SQLite's and
    PostgreSQL's statements, each in its own dialect, give the same plain Python values."""
    from annuaire.search.postgres import PostgresQueries
    from annuaire.search.sqlite import SQLiteQueries

    lite, pg = SQLiteQueries(sample_build.db), PostgresQueries(sample_postgres)
    db = sqlite3.connect(sample_build.db)
    try:
        org = db.execute(
            """SELECT o.id, o.identifiant, o.siret, o.siren, o.nda_principal, o.code_departement,
                      o.code_commune_insee, o.code_postal
               FROM organismes o WHERE o.siret IS NOT NULL AND o.code_postal IS NOT NULL
               ORDER BY o.nb_declarations DESC, o.id LIMIT 1"""
        ).fetchone()
        oid, identifiant, siret, siren, nda, departement, commune, postal = org
        ids = [r[0] for r in db.execute("SELECT id FROM organismes ORDER BY id LIMIT 30")]
        assert lite.columns() == pg.columns() and len(lite.columns()[0]) > 100
        assert len(pg.text_matches(["FORMATION"], True)) > 10
        for words, prefix in ((["FORMATION"], True), (["CO"], True), (["FORMATION", "PARIS"], False)):
            assert sorted(lite.text_matches(words, prefix).tolist()) == sorted(
                pg.text_matches(words, prefix).tolist()
            )
        for kind, digits in (("siret", siret), ("siren", siren), ("nda", nda)):
            assert sorted(lite.identifier_matches(kind, digits)) == sorted(
                pg.identifier_matches(kind, digits)
            )
            assert oid in lite.identifier_matches(kind, digits)
        assert lite.postal_communes(postal) == pg.postal_communes(postal) != ()
        by_id = lambda rows: sorted(rows, key=lambda r: r["id"])  # noqa: E731
        assert by_id(lite.summaries(ids)) == by_id(pg.summaries(ids)) and len(lite.summaries(ids)) == 30
        for key in (identifiant, "ABSENT"):
            assert lite.organisation_by_identifier(key) == pg.organisation_by_identifier(key)
        for key in (nda, siret, "0"):
            assert lite.organisation_by_number(key) == pg.organisation_by_number(key)
        assert lite.organisation_details(oid) == pg.organisation_details(oid) is not None
        declarations = lite.declarations(oid)
        assert [d["nda"] for d in declarations] == [d["nda"] for d in pg.declarations(oid)]
        for d in declarations:
            assert lite.declaration_specialities(d["nda"]) == pg.declaration_specialities(d["nda"])
            assert lite.previous_ndas(d["nda"]) == pg.previous_ndas(d["nda"])
        assert lite.departement(departement) == pg.departement(departement) is not None
        assert lite.commune(commune) == pg.commune(commune) is not None
        assert lite.communes_named([commune, "00000"]) == pg.communes_named([commune, "00000"])
        for question in ("departements", "regions", "departement_regions", "departement_names"):
            assert getattr(lite, question)() == getattr(pg, question)(), question
        for question in ("speciality_labels", "sitemap_rows", "scopes_held", "populations"):
            assert getattr(lite, question)() == getattr(pg, question)(), question
        assert lite.gazetteer_rows(True) == pg.gazetteer_rows(True)
        assert sorted(lite.commune_word_counts(), key=str) == sorted(pg.commune_word_counts(), key=str)
        assert lite.has_table("historique") and pg.has_table("historique")
        assert not lite.has_table("absente") and not pg.has_table("absente")
    finally:
        db.close()
        lite.close()
        pg.close()


def test_map_clusters_and_pages_are_the_same(sample_build, sample_postgres):
    sqlite_side, postgres_side = open_searcher(str(sample_build.db)), open_searcher(sample_postgres)
    try:
        for zoom, box in (
            (5, (41.0, -5.5, 51.5, 10.0)),
            (9, (48.5, 1.8, 49.2, 2.9)),
            (13, (48.8, 2.2, 48.9, 2.5)),
        ):
            for filters in (Filters(), Filters(q="formation"), Filters(portees=("vae",), certifie=True)):
                sud, ouest, nord, est = box
                query = ClusterQuery(ouest=ouest, sud=sud, est=est, nord=nord, zoom=zoom, filters=filters)
                query = query.checked()
                assert sqlite_side.clusters(query) == postgres_side.clusters(query)
        assert sqlite_side.stats() | {"date_construction": None} == postgres_side.stats() | {
            "date_construction": None
        }
        for name in ("departements", "regions", "specialites", "sitemap_entries"):
            assert getattr(sqlite_side, name)() == getattr(postgres_side, name)(), name
        assert sqlite_side.departement("2A") == postgres_side.departement("2A")
        assert sqlite_side.region("84") == postgres_side.region("84")
        assert sqlite_side.suggest_communes("sai") == postgres_side.suggest_communes("sai")
        for identifiant, *_ in sqlite_side.sitemap_entries()[::97]:
            assert sqlite_side.organisation(identifiant) == postgres_side.organisation(identifiant)
    finally:
        postgres_side.close()


def test_full_text_uses_the_index_and_folds_like_sqlite(sample_postgres):
    """Accents and case folded, every word required, the last a prefix from two letters."""
    with psycopg.connect(sample_postgres) as conn:
        conn.execute("SET search_path = annuaire, public")
        words = conn.execute("SELECT annuaire.search_words('Société  d''Études-Cœur 75011')").fetchone()[0]
        assert words == "'75011' 'COEUR' 'D' 'ETUDES' 'SOCIETE'"
        conn.execute("SET enable_seqscan = off")
        plan = "\n".join(
            row[0]
            for row in conn.execute(
                "EXPLAIN SELECT rowid FROM organismes_fts WHERE mots @@ to_tsquery('simple', 'FORM:*')"
            )
        )
        assert "organismes_fts_mots" in plan
        plan = "\n".join(
            row[0]
            for row in conn.execute(
                """EXPLAIN SELECT id FROM recherche r WHERE public.ST_DWithin(r.lieu,
                   public.ST_MakePoint(2.35, 48.85)::public.geography, 5000, false)"""
            )
        )
        assert "recherche_lieu" in plan


def test_exports_are_identical(sample_build, sample_postgres, run_annuaire, tmp_path):
    done = run_annuaire("export", "--db", sample_postgres, "--out", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    for name in ("declarations.csv", "organismes.csv", "quarantaine.csv"):
        assert (tmp_path / "out" / name).read_bytes() == (sample_build.out / name).read_bytes(), name


# -- builds and updates --------------------------------------------------------------------------


def _counts(url: str) -> tuple[int, int, str]:
    """(organisations, search rows, version) read in one snapshot."""
    with psycopg.connect(url) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        # Names resolved before the snapshot (as the searcher does): see search/postgres.py.
        conn.execute("LOCK TABLE annuaire.organismes, annuaire.recherche, annuaire.meta IN ACCESS SHARE MODE")
        organisations = conn.execute("SELECT count(*) FROM annuaire.organismes").fetchone()[0]
        rows = conn.execute("SELECT count(*) FROM annuaire.recherche").fetchone()[0]
        version = conn.execute("SELECT value FROM annuaire.meta WHERE key = 'version'").fetchone()[0]
        return organisations, rows, version


def _schemas(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {
            row[0] for row in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'annuaire%'")
        }


def test_readers_see_the_old_directory_or_the_new_never_half(
    postgres, run_build, sample_csv, real_extract_csv
):
    url = postgres.create_database("annuaire_swap")
    assert run_build(sample_csv, url).returncode == 0
    before = _counts(url)
    seen, errors, stop = set(), [], threading.Event()

    def read() -> None:
        searcher = open_searcher(url)
        searcher.queries.version_ttl = 0.0
        try:
            while not stop.is_set():
                seen.add(_counts(url)[:2])
                found = searcher.search(SearchQuery(Filters(q="formation")).checked())
                assert found["total"] >= 0
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            searcher.close()

    readers = [threading.Thread(target=read) for _ in range(3)]
    for t in readers:
        t.start()
    try:
        rebuilt = run_build(real_extract_csv, url)
    finally:
        # Until a reader has seen the new directory (its first search loads the new columns, places
        # and spelling vocabulary: a second or so on a busy machine), 30 s at most.
        after = _counts(url)
        deadline = time.monotonic() + 30
        while after[:2] not in seen and not errors and time.monotonic() < deadline:
            time.sleep(0.1)
        stop.set()
        for t in readers:
            t.join(30)
    assert rebuilt.returncode == 0, rebuilt.stderr
    after = _counts(url)
    assert not errors, errors
    assert after[2] != before[2] and after[0] != before[0]
    assert seen == {before[:2], after[:2]}  # both seen, nothing else
    assert before[0] == before[1] and after[0] == after[1]
    assert _schemas(url) == {"annuaire"}  # the building and retired schemas are gone


def test_a_failed_build_leaves_the_previous_directory(
    postgres, run_build, sample_csv, reference, monkeypatch
):
    from annuaire.pipeline import build as build_module
    from annuaire.store.postgres import PostgresBuildWriter

    url = postgres.create_database("annuaire_failed")
    assert run_build(sample_csv, url).returncode == 0
    before = _counts(url)

    def broken(self):
        raise RuntimeError("disk full while indexing")

    monkeypatch.setattr(PostgresBuildWriter, "finish", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        build_module.build(str(sample_csv), open_store(url), reference)
    assert _counts(url) == before
    assert _schemas(url) == {"annuaire"}
    searcher = open_searcher(url)
    try:
        assert searcher.stats()["nb_organismes"] > 1000
    finally:
        searcher.close()


def test_a_second_build_waits_for_the_lock(postgres, run_build, sample_csv):
    url = postgres.create_database("annuaire_lock")
    from annuaire.store.postgres_store import ADVISORY_KEY

    with psycopg.connect(url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_KEY,))
        done = run_build(sample_csv, url)
    assert done.returncode == 5, done.stderr
    assert "another build or update is running" in done.stderr
    assert not open_store(url).exists()


def test_an_update_gives_what_sqlite_gives(
    postgres, shared_dir, run_build, run_annuaire, reference_dir, tmp_path
):
    of = shared_dir / "data" / "of"
    url = postgres.create_database("annuaire_update")
    db = tmp_path / "annuaire.db"
    # PostgreSQL's update cleans in forked workers (the sample is too small for them by default)
    # while it holds its connection and the advisory lock; SQLite's in its own process.
    for location, jobs in ((url, "2"), (db, "1")):
        assert run_build(of / "sample-M.csv", location).returncode == 0
        done = run_annuaire(
            "update", "--db", location, "--source", of / "sample-M+1.csv", "--reference", reference_dir,
            "--report", tmp_path / "update.json", env={"ANNUAIRE_CLEANING_JOBS": jobs},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    for location, out in ((url, "pg"), (db, "sqlite")):
        assert run_annuaire("export", "--db", location, "--out", tmp_path / out).returncode == 0
    for name in ("declarations.csv", "organismes.csv", "quarantaine.csv"):
        assert (tmp_path / "pg" / name).read_bytes() == (tmp_path / "sqlite" / name).read_bytes(), name
    sqlite_side, postgres_side = open_searcher(str(db)), open_searcher(url)
    try:
        with sqlite3.connect(db) as conn:
            changed = [
                row[0]
                for row in conn.execute(
                    """SELECT DISTINCT o.identifiant FROM historique h
                       JOIN organismes o ON o.id = h.organisme_id ORDER BY 1 LIMIT 20"""
                )
            ]
        assert changed
        for identifiant in changed:  # the change log included
            assert sqlite_side.organisation(identifiant) == postgres_side.organisation(identifiant)
        for query in random_requests(db, 100, seed=11):
            assert answer(sqlite_side, query) == answer(postgres_side, query), query
    finally:
        postgres_side.close()
    again = run_annuaire(
        "update", "--db", url, "--source", of / "sample-M+1.csv", "--reference", reference_dir,
        "--report", tmp_path / "again.json",
    )  # fmt: skip
    assert again.returncode == 0 and "Nothing changed" in again.stdout


def test_copy_between_backends(sample_build, postgres, run_annuaire, tmp_path):
    url = postgres.create_database("annuaire_copy")
    done = run_annuaire("copy", "--from", sample_build.db, "--to", url)
    assert done.returncode == 0, done.stderr
    back = tmp_path / "back.db"
    assert run_annuaire("copy", "--from", url, "--to", back).returncode == 0
    original, copied, returned = (
        open_searcher(str(sample_build.db)),
        open_searcher(url),
        open_searcher(str(back)),
    )
    try:
        for query in random_requests(sample_build.db, 60, seed=3):
            expected = answer(original, query)
            assert answer(copied, query) == expected == answer(returned, query), query
    finally:
        copied.close()
    missing = run_annuaire("copy", "--from", tmp_path / "none.db", "--to", url)
    assert missing.returncode == EXIT_MISSING and "no directory there" in missing.stderr


# -- migrations ---------------------------------------------------------------------------------


# What version 3 added (migration 0003_lieux), to take away from a directory to make it an older one.
PLACE_COLUMNS = {
    "regions": ["type_liaison"],
    "departements": ["type_liaison"],
    "communes": ["type", "commune_parente", "population"],
    "declarations": ["origine_lieu", "date_origine_lieu"],
    "sirene": ["adresse", "code_postal", "code_commune", "latitude", "longitude", "diffusion"],
}


def as_version_2(conn: sqlite3.Connection) -> None:
    """A directory as version 2 wrote it: without the places' columns and table."""
    for table, columns in PLACE_COLUMNS.items():
        for column in columns:
            conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    conn.execute("DROP TABLE communes_anciennes")
    conn.execute("PRAGMA user_version = 2")


def test_sqlite_migration_adds_the_change_log(sample_build, run_annuaire, tmp_path):
    db = tmp_path / "old.db"
    db.write_bytes(sample_build.db.read_bytes())
    with sqlite3.connect(db) as conn:  # as built before the change log existed
        as_version_2(conn)
        conn.execute("DROP TABLE historique")
        conn.execute("PRAGMA user_version = 1")
    done = run_annuaire("migrate", "--db", db)
    assert done.returncode == 0, done.stderr
    assert "applied 0002 historique" in done.stdout and "applied 0003 lieux" in done.stdout
    assert current_version(str(db)) == latest_version("sqlite") == 3
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM historique").fetchone() == (0,)
    assert migrate_sqlite(str(db)) == []  # nothing left to do
    assert current_version(str(sample_build.db)) == 3  # a build starts at the latest version


def test_sqlite_migration_of_places_keeps_the_directory_usable(sample_build, run_annuaire, tmp_path):
    """A version 2 directory migrated: the places' columns back, every declaration's origin told from
    what it holds, its columns in the order a build writes them (updates insert rows by position),
    and the searcher and an update work on it."""
    db = tmp_path / "v2.db"
    db.write_bytes(sample_build.db.read_bytes())
    with sqlite3.connect(db) as conn:
        as_version_2(conn)
    done = run_annuaire("migrate", "--db", db)
    assert done.returncode == 0 and "applied 0003 lieux" in done.stdout, done.stderr
    with sqlite3.connect(db) as conn, sqlite3.connect(sample_build.db) as fresh:
        for table in PLACE_COLUMNS:
            migrated = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            assert migrated == [r[1] for r in fresh.execute(f"PRAGMA table_info({table})")], table
        origins = dict(conn.execute("SELECT origine_lieu, count(*) FROM declarations GROUP BY 1"))
        expected = dict(fresh.execute(
            "SELECT CASE WHEN code_departement IS NULL THEN 'aucune' ELSE 'liste_publique' END, count(*) "
            "FROM declarations GROUP BY 1"
        ))  # fmt: skip
        assert origins == expected
    from annuaire.search import SearchQuery, open_searcher
    from annuaire.search.params import Filters

    searcher = open_searcher(str(db))
    try:
        found = searcher.search(SearchQuery(Filters(autour="Paris 11e", rayon_km=2)).checked())
        assert found["centre"]["code"] == "75111" and found["total"] > 0  # the names La Poste gave it
    finally:
        searcher.close()


def test_postgres_migrations_apply_in_order_once(postgres, run_build, run_annuaire, sample_csv, tmp_path):
    url = postgres.create_database("annuaire_migrate")
    assert run_build(sample_csv, url).returncode == 0
    assert current_version(url) == latest_version("postgresql")
    done = run_annuaire("migrate", "--db", url)
    assert done.returncode == 0 and f"schema version {latest_version('postgresql')}" in done.stdout
    folder = tmp_path / "migrations"
    folder.mkdir()
    latest = latest_version("postgresql")
    for migration in migrations("postgresql"):  # those a build already applied, then two more
        (folder / f"{migration.version:04d}_{migration.name}.sql").write_text(migration.sql)
    site, broken = folder / f"{latest + 1:04d}_site_web.sql", folder / f"{latest + 2:04d}_broken.sql"
    site.write_text("ALTER TABLE organismes ADD COLUMN site_web TEXT;")
    broken.write_text("ALTER TABLE nulle_part ADD COLUMN x TEXT;")
    with pytest.raises(psycopg.errors.UndefinedTable):
        migrate_postgres(url, folder)
    assert current_version(url) == latest + 1  # the first committed, the broken one rolled back whole
    broken.write_text("CREATE INDEX organismes_site_web ON organismes(site_web);")
    assert [m.version for m in migrate_postgres(url, folder)] == [latest + 2]
    assert migrate_postgres(url, folder) == []
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(site_web) FROM annuaire.organismes").fetchone() == (0,)


def test_missing_directories_are_reported(postgres, run_annuaire):
    url = postgres.create_database("annuaire_empty")
    for args in (("migrate", "--db", url), ("export", "--db", url, "--out", "x"), ("serve", "--db", url)):
        done = run_annuaire(*args)
        assert done.returncode == EXIT_MISSING and "no such database" in done.stderr, args


# -- several web workers on one database -----------------------------------------------------------


def test_two_workers_serve_one_database(annuaire_bin, annuaire_env, sample_postgres):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            annuaire_bin,
            "serve",
            "--db",
            sample_postgres,
            "--port",
            str(port),
            "--workers",
            "2",
            "--rate-limit",
            "0",
        ],
        env=annuaire_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/api/v1/stats", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read().decode()
                assert time.monotonic() < deadline, "the server did not start within 60 s"
                time.sleep(0.3)
        with httpx.Client(base_url=base, timeout=10) as client:
            totals = {
                client.get("/api/v1/organismes", params={"q": "formation", "facettes": "true"}).json()[
                    "total"
                ]
                for _ in range(20)
            }
            assert len(totals) == 1 and totals.pop() > 0
            page = client.get("/")
            assert page.status_code == 200 and "organismes" in page.text.lower()
    finally:
        proc.terminate()
        proc.communicate(timeout=20)  # and its pipes closed


def test_replaced_locations_are_searched_alike(postgres, run_build, sample_csv, tmp_path):
    """`annuaire geocode`'s last step on both backends: new coordinates, search tables derived again."""
    url = postgres.create_database("annuaire_geocode")
    db = tmp_path / "annuaire.db"
    for location in (url, db):
        assert run_build(sample_csv, location).returncode == 0
    with sqlite3.connect(db) as conn:
        ndas = [row[0] for row in conn.execute("SELECT nda_principal FROM organismes ORDER BY id LIMIT 40")]
    moved = [
        (nda, 45.76 + i / 1000, 4.83 + i / 1000, 0.9, "housenumber", "Lyon", "ban")
        for i, nda in enumerate(ndas)
    ]
    for location in (url, str(db)):
        assert open_store(location).replace_locations(moved) == len(moved)
    sqlite_side, postgres_side = open_searcher(str(db)), open_searcher(url)
    try:
        query = SearchQuery(Filters(lat=45.77, lon=4.84, rayon_km=5), tri="distance", par_page=100).checked()
        near = postgres_side.search(query)
        assert near == sqlite_side.search(query)
        assert len({r["numero_declaration_activite"] for r in near["resultats"]} & set(ndas)) == len(ndas)
    finally:
        postgres_side.close()


# -- text folding: PostgreSQL's words against Python's fold --------------------------------------

FRENCH_TEXT = st.text(
    alphabet=st.sampled_from(
        list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        + list("éèêëàâäîïôöùûüçÉÈÊËÀÂÎÏÔÙÛÇ")
        + list(" -'’.,;:/()&+_\"«»\t")
    ),
    max_size=60,
)


@pytest.fixture(scope="module")
def words_connection(sample_postgres):
    with psycopg.connect(sample_postgres, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def fts5():
    """SQLite's full-text table as the SQLite store declares it, and its vocabulary."""
    conn = sqlite3.connect(":memory:")
    conn.execute('CREATE VIRTUAL TABLE t USING fts5(x, tokenize = "unicode61 remove_diacritics 2")')
    conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'row')")
    yield conn
    conn.close()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(FRENCH_TEXT, FRENCH_TEXT)
def test_postgres_words_are_sqlite_words(words_connection, fts5, name, query):
    """For French text, PostgreSQL indexes the words SQLite's FTS5 does (upper case, accents off,
    split on anything but letters and digits), and a search (the query folded by `text.tokens`)
    matches in PostgreSQL exactly when it matches in FTS5."""
    indexed = words_connection.execute(
        "SELECT tsvector_to_array(annuaire.search_words(%s))", (name,)
    ).fetchone()[0]
    fts5.execute("DELETE FROM t")
    fts5.execute("INSERT INTO t (x) VALUES (?)", (name,))
    assert set(indexed) == {row[0].upper() for row in fts5.execute("SELECT term FROM v")}
    words = tokens(query)
    if not words:
        return
    (matched,) = words_connection.execute(
        "SELECT annuaire.search_words(%s) @@ %s::tsquery", (name, tsquery(words))
    ).fetchone()
    found = fts5.execute("SELECT count(*) FROM t WHERE t MATCH ?", (fts_expression(words),)).fetchone()[0]
    assert matched == bool(found)


def test_an_unreachable_server_is_said_without_the_password(run_annuaire, sample_csv, reference_dir):
    url = "postgresql://annuaire:s3cr3t@127.0.0.1:9/annuaire"
    for args in (
        ("build", "--source", sample_csv, "--db", url, "--reference", reference_dir, "--no-progress"),
        ("serve", "--db", url),
        ("export", "--db", url, "--out", "nowhere"),
    ):
        done = run_annuaire(*args)
        assert done.returncode == 6, (args, done.stderr)
        assert "cannot connect to PostgreSQL" in done.stderr and "127.0.0.1" in done.stderr
        assert "s3cr3t" not in done.stderr + done.stdout and "Traceback" not in done.stderr


def test_tsquery_quotes_every_word_and_prefixes_from_two_letters():
    assert tsquery(["ECOLE", "D", "LY"]) == "'ECOLE':* & 'D' & 'LY':*"
    assert tsquery(["ECOLE", "LY"], prefix=False) == "'ECOLE' & 'LY'"


def test_a_nul_in_a_key_finds_nothing_on_postgres(sample_postgres):
    """PostgreSQL text cannot hold NUL: the searcher's queries send U+FFFD instead, so that a key
    holding one finds nothing, as on SQLite, rather than failing."""
    searcher = open_searcher(sample_postgres)
    try:
        assert searcher.organisation("AB\x00CD") is None
        assert searcher.departement("7\x005") is None
        assert searcher.queries.postal_communes("75\x00001") == ()
    finally:
        searcher.close()


def test_secondary_sources_and_provenance_on_both_backends(
    postgres, run_annuaire, real_extract_csv, reference_dir, shared_dir, tmp_path
):
    """A build with a secondary source (issue 9) works on PostgreSQL: the same sources, matches and
    provenance as SQLite, shown the same in an organisation's detail, and kept by `copy`."""
    datadock = shared_dir / "data" / "real" / "datadock-qualiopi-2021-10.csv"
    url = postgres.create_database("annuaire_sources")
    db = tmp_path / "sources.db"
    for location in (db, url):
        done = run_annuaire(
            "build", "--source", real_extract_csv, "--db", location, "--reference", reference_dir,
            "--no-geocode", "--no-progress", "--extra-source", f"datadock={datadock}",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    with sqlite3.connect(db) as conn:
        matched = [r[0] for r in conn.execute("SELECT DISTINCT organisme_id FROM provenance ORDER BY 1")]
        sources = conn.execute("SELECT nom, statut, lignes, rapprochees FROM sources_secondaires").fetchall()
    assert matched and sources and sources[0][3] > 0
    lite, pg = open_searcher(str(db)), open_searcher(url)
    try:
        for oid in matched:
            with sqlite3.connect(db) as conn:
                (key,) = conn.execute("SELECT identifiant FROM organismes WHERE id = ?", (oid,)).fetchone()
            expected = lite.organisation(key)
            assert expected["provenance"]["sources"], key
            assert pg.organisation(key)["provenance"] == expected["provenance"]
    finally:
        pg.close()
    back = tmp_path / "back.db"
    assert run_annuaire("copy", "--from", url, "--to", back).returncode == 0
    with sqlite3.connect(back) as conn:
        assert (
            conn.execute("SELECT nom, statut, lignes, rapprochees FROM sources_secondaires").fetchall()
            == sources
        )


def test_sirene_answers_on_postgresql(postgres, run_build, sample_csv, annuaire_bin, annuaire_env, tmp_path):
    """`annuaire sirene --db postgresql://…` records SIRENE's answers in the directory, as on SQLite:
    a closed establishment is flagged in the organisation's detail."""
    from sirene_server import SireneServer, is_closed

    url = postgres.create_database("annuaire_sirene")
    built = run_build(sample_csv, url)
    assert built.returncode == 0, built.stderr
    env = dict(annuaire_env, ANNUAIRE_CACHE_DIR=str(tmp_path / "cache"))
    with SireneServer() as server:
        done = subprocess.run(
            [str(annuaire_bin), "sirene", "--db", url, "--url", server.base_url,
             "--limit", "100", "--rate", "60000", "--no-progress"],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT siret, etat_administratif FROM annuaire.sirene").fetchall()
    assert len(rows) == 100
    assert {s for s, state in rows if state == "F"} == {s for s, _ in rows if is_closed(s)}
    closed = next(s for s, state in rows if state == "F")
    searcher = open_searcher(url)
    try:
        assert searcher.organisation(closed)["sirene"]["ferme"] is True
    finally:
        searcher.close()
