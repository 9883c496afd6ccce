"""The search layer on the sample directory, checked against brute force over its tables."""

from __future__ import annotations

import random
import sqlite3

import pytest

from annuaire.clean.names import fold
from annuaire.search import ClusterQuery, SearchQuery
from annuaire.search.geo import haversine_km
from annuaire.search.params import SCOPES, Filters


def run(searcher, **kwargs):
    query_args = {k: kwargs.pop(k) for k in ("tri", "page", "par_page", "facettes") if k in kwargs}
    return searcher.search(SearchQuery(Filters(**kwargs), **query_args).checked())


def every_id(searcher, **kwargs) -> list[str]:
    """Every result id, page after page."""
    ids, page = [], 1
    while True:
        found = run(searcher, page=page, par_page=100, **kwargs)
        ids += [r["id_organisme"] for r in found["resultats"]]
        if page >= found["pages"]:
            return ids
        page += 1


@pytest.fixture
def sample_searcher(backend_searcher):
    """Every test here runs on each backend (SQLite, PostgreSQL); `db` is the truth they check against
    (the same sample, built alike)."""
    return backend_searcher


@pytest.fixture(scope="module")
def db(sample_build):
    conn = sqlite3.connect(sample_build.db)
    conn.row_factory = sqlite3.Row
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def located(db):
    """Active organisations with coordinates: identifiant → (lat, lon)."""
    return {
        row[0]: (row[1], row[2])
        for row in db.execute(
            """SELECT o.identifiant, l.latitude, l.longitude FROM organismes o
               JOIN localisations l ON l.nda = o.nda_principal
               WHERE l.latitude IS NOT NULL AND o.statut = 'actif'"""
        )
    }


def test_distinctive_names_come_first(sample_searcher, db):
    rows = db.execute("SELECT identifiant, denomination FROM organismes ORDER BY id").fetchall()
    rng = random.Random(4)
    for identifiant, name in rng.sample(rows, 40):
        found = run(sample_searcher, q=name, par_page=5)
        first = found["resultats"][0]
        # The organisation itself, or one with exactly the same name (homonyms tie).
        assert first["id_organisme"] == identifiant or " ".join(
            fold(first["denomination"]).split()
        ) == " ".join(fold(name).split()), (name, first)
        assert identifiant in every_id(sample_searcher, q=name)


def test_case_and_accents_ignored(sample_searcher, db):
    accented = db.execute(
        "SELECT denomination FROM organismes WHERE denomination GLOB '*[éÉèÈ]*' ORDER BY id LIMIT 10"
    ).fetchall()
    assert accented, "the sample should hold accented names"
    for (name,) in accented:
        plain = fold(name).lower()
        assert every_id(sample_searcher, q=plain) == every_id(sample_searcher, q=name.upper())


def test_every_word_is_required_and_the_last_is_a_prefix(sample_searcher, db):
    name = db.execute(
        """SELECT denomination, commune FROM organismes
           WHERE length(denomination) > 12 AND commune IS NOT NULL ORDER BY id LIMIT 1 OFFSET 7"""
    ).fetchone()
    word = max(fold(name[0]).split(), key=len)
    typed = f"{word} {fold(name[1]).split()[0][:3]}"
    found = run(sample_searcher, q=typed, par_page=100)
    assert found["total"] >= 1
    for r in found["resultats"]:
        haystack = fold(f"{r['denomination']} {r['commune'] or ''}")
        assert word in haystack.split() or any(w.startswith(word) for w in haystack.split())


def test_exact_lookups_with_spaces(sample_searcher, db):
    row = db.execute(
        "SELECT identifiant, siret, siren, nda_principal FROM organismes WHERE siret IS NOT NULL LIMIT 1"
    ).fetchone()
    spaced_siret = " ".join([row["siret"][:3], row["siret"][3:6], row["siret"][6:9], row["siret"][9:]])
    spaced_nda = f"{row['nda_principal'][:2]} {row['nda_principal'][2:4]} {row['nda_principal'][4:]}"
    for q in (spaced_siret, spaced_nda, row["siret"], row["nda_principal"]):
        assert [r["id_organisme"] for r in run(sample_searcher, q=q)["resultats"]] == [row["identifiant"]]
    assert row["identifiant"] in every_id(sample_searcher, q=f"{row['siren'][:3]} {row['siren'][3:]}")
    assert sample_searcher.organisation(spaced_nda)["id_organisme"] == row["identifiant"]
    assert sample_searcher.organisation(spaced_siret)["id_organisme"] == row["identifiant"]


def test_previous_nda_finds_its_organisation(sample_searcher, db):
    row = db.execute(
        """SELECT p.nda_precedent, o.identifiant FROM ndas_precedents p
           JOIN declarations d ON d.nda = p.nda JOIN organismes o ON o.id = d.organisme_id LIMIT 1"""
    ).fetchone()
    assert row is not None, "the sample should hold declarations with previous NDAs"
    assert row[1] in every_id(sample_searcher, q=row[0])
    assert sample_searcher.organisation(row[0])["id_organisme"] == row[1]


@pytest.mark.parametrize("radius", [2.0, 10.0, 35.0])
def test_radius_equals_brute_force(sample_searcher, located, radius):
    rng = random.Random(int(radius))
    for centre in rng.sample(sorted(located.values()), 5):
        expected = {k for k, (lat, lon) in located.items() if haversine_km(*centre, lat, lon) <= radius}
        found = every_id(sample_searcher, lat=centre[0], lon=centre[1], rayon_km=radius, tri="distance")
        assert set(found) == expected
        assert len(found) == len(set(found))


def test_distance_sort_is_ascending_and_reported(sample_searcher, located):
    lat, lon = sorted(located.values())[len(located) // 2]
    found = run(sample_searcher, lat=lat, lon=lon, rayon_km=80, tri="distance", par_page=100)
    distances = [r["distance_km"] for r in found["resultats"]]
    assert distances == sorted(distances) and distances
    for r in found["resultats"]:
        assert r["distance_km"] == pytest.approx(
            haversine_km(lat, lon, r["latitude"], r["longitude"]), abs=1e-3
        )


def test_around_a_commune_or_postal_code(sample_searcher, db):
    code_insee, postcodes = db.execute(
        """SELECT code_commune_insee, c.codes_postaux FROM organismes o
           JOIN communes c ON c.code_insee = o.code_commune_insee GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"""
    ).fetchone()
    by_commune = run(sample_searcher, autour=code_insee, rayon_km=5)
    assert by_commune["total"] >= 1 and by_commune["centre"]
    for postcode in postcodes.split():
        by_postcode = run(sample_searcher, autour=postcode, rayon_km=5)
        assert by_postcode["total"] >= 1, postcode


def test_facet_counts_add_up(sample_searcher):
    found = run(sample_searcher, facettes=True)
    facets = found["facettes"]
    assert sum(d["nombre"] for d in facets["departements"]) == found["total"]
    assert facets["certifie"]["oui"] + facets["certifie"]["non"] == found["total"]
    for scope in SCOPES:
        assert facets["portees"][scope] == run(sample_searcher, portees=(scope,))["total"]
    for d in facets["departements"][:5]:
        assert d["nombre"] == run(sample_searcher, departement=d["code"])["total"]
    for s in facets["specialites"][:5]:
        assert s["nombre"] == run(sample_searcher, specialite=s["code"])["total"]
    # Facets follow the query.
    narrowed = run(sample_searcher, portees=("vae",), facettes=True)
    assert narrowed["facettes"]["portees"]["vae"] == narrowed["total"]
    assert sum(d["nombre"] for d in narrowed["facettes"]["departements"]) == narrowed["total"]


def test_filters_hold_on_every_result(sample_searcher):
    department = run(sample_searcher, facettes=True)["facettes"]["departements"][0]["code"]
    for r in run(
        sample_searcher, departement=department, portees=("bilans_competences", "vae"), par_page=100
    )["resultats"]:
        assert r["code_departement"] == department
        assert r["certification_bilans_competences"] or r["certification_vae"]
    for r in run(sample_searcher, certifie=False, par_page=100)["resultats"]:
        assert not any(r[f"certification_{s}"] for s in SCOPES)


@pytest.mark.parametrize("tri", ["pertinence", "nom", "date"])
def test_pagination_is_stable_and_complete(sample_searcher, tri):
    whole = every_id(sample_searcher, q="formation", tri=tri)
    again = every_id(sample_searcher, q="formation", tri=tri)
    assert whole == again and len(whole) == len(set(whole))
    assert len(whole) == run(sample_searcher, q="formation")["total"]
    pages = [
        r["id_organisme"]
        for p in range(1, 4)
        for r in run(sample_searcher, q="formation", tri=tri, page=p, par_page=7)["resultats"]
    ]
    assert pages == whole[:21]


def test_sorts(sample_searcher):
    by_name = run(sample_searcher, tri="nom", par_page=100)["resultats"]
    names = [" ".join(fold(r["denomination"]).split()) for r in by_name]
    assert names == sorted(names)
    by_date = run(sample_searcher, tri="date", par_page=100)["resultats"]
    dates = [r["date_derniere_declaration"] for r in by_date if r["date_derniere_declaration"]]
    assert dates == sorted(dates, reverse=True)


def test_a_page_past_the_end_is_empty(sample_searcher):
    found = run(sample_searcher, q="formation", page=10_000)
    assert found["resultats"] == [] and found["total"] > 0


def test_clusters_count_every_located_organisation(sample_searcher, located):
    france = ClusterQuery(-5.5, 41.0, 10.0, 51.5, 5).checked()
    found = sample_searcher.clusters(france)
    inside = sum(1 for lat, lon in located.values() if 41.0 <= lat <= 51.5 and -5.5 <= lon <= 10.0)
    assert found["total"] >= inside
    assert found["total"] == sum(g["nombre"] for g in found["grappes"]) + len(found["organismes"])
    for g in found["grappes"]:
        b = g["limites"]
        assert b["sud"] <= g["latitude"] <= b["nord"] and b["ouest"] <= g["longitude"] <= b["est"]
    # Zooming in on the biggest cluster splits it.
    biggest = max(found["grappes"], key=lambda g: g["nombre"])
    b = biggest["limites"]
    closer = sample_searcher.clusters(ClusterQuery(b["ouest"], b["sud"], b["est"], b["nord"], 9).checked())
    assert len(closer["grappes"]) + len(closer["organismes"]) > 1
    # Filters apply to the map too.
    vae = sample_searcher.clusters(
        ClusterQuery(-5.5, 41.0, 10.0, 51.5, 5, Filters(portees=("vae",))).checked()
    )
    assert vae["total"] < found["total"]


def test_territories_and_reference_lists(sample_searcher):
    departements = sample_searcher.departements()
    assert {d["code"] for d in departements} >= {"01", "2A", "2B", "75", "974"}
    stats = sample_searcher.stats()
    assert sum(d["nb_organismes"] for d in departements) <= stats["nb_organismes"]
    paris = sample_searcher.departement("75")
    assert paris["nom"] == "Paris" and paris["region"] == "Île-de-France"
    assert paris["nb_organismes"] == run(sample_searcher, departement="75")["total"]
    assert sample_searcher.departement("00") is None
    regions = sample_searcher.regions()
    assert "75" in next(r for r in regions if r["code"] == "11")["departements"]
    commune = sample_searcher.commune(paris["communes"][0]["code_insee"])
    assert commune["nb_organismes"] == paris["communes"][0]["nombre"]
    assert sample_searcher.commune("99999") is None
    specialities = sample_searcher.specialites()
    assert all(s["libelle"] for s in specialities)


def test_organisation_detail(sample_searcher, db):
    identifiant, count = db.execute(
        "SELECT identifiant, nb_declarations FROM organismes ORDER BY nb_declarations DESC LIMIT 1"
    ).fetchone()
    org = sample_searcher.organisation(identifiant)
    assert len(org["declarations"]) == count == len(org["numeros_declaration_activite"])
    assert sample_searcher.organisation("nope") is None
    assert sample_searcher.organisation("") is None


def test_a_directory_built_before_the_change_log_still_serves(sample_build, tmp_path):
    import shutil

    from annuaire.search import open_searcher

    db = tmp_path / "old.db"
    shutil.copyfile(sample_build.db, db)
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE historique")
        identifiant = conn.execute("SELECT identifiant FROM organismes LIMIT 1").fetchone()[0]
    searcher = open_searcher(str(db))
    assert searcher.organisation(identifiant)["historique"] == []
    searcher.close()


def test_what_every_search_needs_outlives_a_crawl_of_many_pages(sample_build):
    """The search columns and kept summaries are pinned: hundreds of other cached values (a crawler
    walking every commune page) do not evict them, so no search pays for reloading them."""
    from annuaire.search import open_searcher
    from annuaire.search import searcher as backend

    searcher = open_searcher(str(sample_build.db))
    columns = searcher.columns()
    for n in range(backend.CACHE_SIZE + 50):
        searcher._cached(("page", n), lambda n=n: n)
    assert searcher.columns() is columns
    searcher.close()


def test_full_text_answers_kept_within_a_bound(sample_build, db, monkeypatch):
    """Kept full-text answers are the index's answers, read-only, and their total stays bounded
    (SQLite's FTS5 answers; PostgreSQL matches text in its own query)."""
    from annuaire.search import searcher as backend
    from annuaire.search.sqlite import SQLiteSearcher

    sample_searcher = SQLiteSearcher(sample_build.db)

    monkeypatch.setattr(backend, "MATCHES_KEPT", 50)
    kept = backend.Matches()
    for word in ("FORMATION", "CONSEIL", "SAS", "SARL", "ECOLE"):
        expression = f'"{word}"*'
        first = sample_searcher._words_matching([word])
        again = sample_searcher._words_matching([word])
        truth = [
            r[0]
            for r in db.execute(
                "SELECT rowid FROM organismes_fts WHERE organismes_fts MATCH ?", (expression,)
            )
        ]
        assert sorted(first.tolist()) == sorted(truth) and len(truth) > 0
        assert again is first and not first.flags.writeable
        kept.add(((word,), True), first)
        assert kept.total == sum(len(v) for v in kept.ids.values())
        assert kept.total <= 50 or len(kept.ids) == 1
