"""Places as visitors and API clients see them, on the sample directory: "autour de" a commune named
any way (Aix-en-Provence centres on Aix, not on the Marseille postal code 13001), the `centre` naming
the place resolved, ambiguous names answered with their candidates, Paris, Lyon and Marseille as cities
listing their arrondissements, official names in suggestions, the COG's articles on territory pages."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest


def centre_of(api_client, autour: str, rayon: float = 5) -> dict:
    response = api_client.get(
        "/api/v1/organismes", params={"autour": autour, "rayon": rayon, "tri": "distance"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    distances = [r["distance_km"] for r in body["resultats"]]
    assert distances == sorted(distances) and all(d <= rayon for d in distances)
    return body["centre"]


def test_around_aix_en_provence_centres_on_aix(api_client):
    centre = centre_of(api_client, "Aix-en-Provence")
    assert (centre["type"], centre["code_commune_insee"], centre["nom"]) == (
        "commune",
        "13001",
        "Aix-en-Provence",
    )
    assert abs(centre["latitude"] - 43.53) < 0.05 and abs(centre["longitude"] - 5.45) < 0.1
    marseille = centre_of(api_client, "13001")  # five digits: La Poste's postal code of Marseille 1er
    assert (marseille["type"], marseille["code_postal"], marseille["code_commune_insee"]) == (
        "code_postal",
        "13001",
        "13201",
    )
    assert marseille["latitude"] < centre["latitude"] - 0.1


@pytest.mark.parametrize(
    ("typed", "kind", "code"),
    [
        ("Saint-Étienne", "commune", "42218"),
        ("st etienne", "commune", "42218"),
        ("Clermont-Ferrand", "commune", "63113"),
        ("Paris 11e", "arrondissement", "75111"),
        ("Lyon 3e", "arrondissement", "69383"),
        ("Lyon", "ville", "69123"),
        ("Saint-Denis (93)", "commune", "93066"),
        ("69003", "code_postal", "69003"),
    ],
)
def test_the_centre_names_the_place_resolved(api_client, typed, kind, code):
    centre = centre_of(api_client, typed, rayon=3)
    assert (centre["type"], centre["code"]) == (kind, code)
    assert centre["nom"] and centre["latitude"] is not None


def test_position_centre_and_no_centre(api_client):
    body = api_client.get("/api/v1/organismes", params={"lat": 45.76, "lon": 4.84, "rayon": 2}).json()
    assert body["centre"]["type"] == "position" and body["centre"]["code"] is None
    assert api_client.get("/api/v1/organismes").json()["centre"] is None


@pytest.mark.parametrize(
    ("typed", "expected"), [("Saint-Denis", ["93066", "97411"]), ("Valence", ["26362", "82186"])]
)
def test_an_ambiguous_name_answers_its_candidates(api_client, typed, expected):
    response = api_client.get("/api/v1/organismes", params={"autour": typed})
    assert response.status_code == 422
    (problem,) = response.json()["detail"]
    assert problem["loc"] == ["query", "autour"]
    for code in expected:
        assert f"({code})" in problem["msg"]


def test_an_unknown_place_is_a_422_naming_the_parameter(api_client):
    response = api_client.get("/api/v1/organismes", params={"autour": "Nullepartville"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "autour"]


def test_cities_list_their_arrondissements(api_client):
    lyon = api_client.get("/api/v1/communes/69123").json()
    assert (lyon["type"], lyon["nom"], lyon["ville"]) == ("ville", "Lyon", None)
    arrondissements = lyon["arrondissements"]
    assert [a["code_insee"] for a in arrondissements] == [f"6938{n}" for n in range(1, 10)]
    assert lyon["nb_organismes"] == sum(a["nb_organismes"] for a in arrondissements) > 0
    third = api_client.get("/api/v1/communes/69383").json()
    assert (third["type"], third["ville"]) == ("arrondissement", {"code_insee": "69123", "nom": "Lyon"})
    assert api_client.get("/api/v1/communes/69232").json()["code_insee"] == "69123"  # a former code
    by_city = api_client.get("/api/v1/organismes", params={"commune": "69123", "par_page": 1}).json()
    assert by_city["total"] == lyon["nb_organismes"]


def test_city_page_lists_its_arrondissements(api_client):
    page = api_client.get("/formation/69/lyon-69123/")
    assert page.status_code == 200
    for n in range(1, 10):
        suffix = "er" if n == 1 else "e"
        assert f'href="/formation/69/lyon-{n}{suffix}-arrondissement-6938{n}/"' in page.text
    assert "Par arrondissement" in page.text
    arrondissement = api_client.get("/formation/69/lyon-3e-arrondissement-69383/")
    assert arrondissement.status_code == 200
    assert 'href="/formation/69/lyon-69123/"' in arrondissement.text  # its city, in the breadcrumb
    assert api_client.get("/formation/69/lyon-69232/", follow_redirects=False).headers["location"] == (
        "/formation/69/lyon-69123/"
    )


def test_departement_page_speaks_of_the_rhone_and_counts_lyon_as_a_city(api_client):
    page = api_client.get("/formation/69/").text
    assert "Organismes de formation du Rhône (69)" in page and "Le département du Rhône" in page
    top = re.search(r'<ol class="ranked">(.*?)</ol>', page, re.S).group(1)
    assert 'href="/formation/69/lyon-69123/"' in top and "Arrondissement" not in top
    lyon = next(
        c for c in api_client.get("/api/v1/departements/69").json()["communes"] if c["code_insee"] == "69123"
    )
    assert lyon["nombre"] == api_client.get("/api/v1/communes/69123").json()["nb_organismes"]


def test_search_page_offers_the_candidates_of_an_ambiguous_place(api_client):
    page = api_client.get("/recherche", params={"autour": "Saint-Denis", "rayon": 10})
    assert page.status_code == 422 and "Plusieurs lieux" in page.text
    assert f"autour={quote('Saint-Denis (93066)')}" in page.text.replace("+", "%20")
    chosen = api_client.get("/recherche", params={"autour": "Saint-Denis (93066)", "rayon": 10})
    assert chosen.status_code == 200 and "autour de Saint-Denis" in chosen.text


def test_suggestions_give_official_names(api_client):
    found = api_client.get("/suggestions", params={"q": "st eti"}).json()["communes"]
    assert found and found[0]["nom"] == "Saint-Étienne" and found[0]["url"].endswith("-42218/")


def test_the_search_box_finds_saint_communes_typed_st(api_client, sample_build):
    """Communes carry their official names ("Saint-Étienne"); typed as La Poste writes them ("st
    etienne"), they are still found by the search box."""
    import sqlite3

    with sqlite3.connect(sample_build.db) as conn:
        oid, commune = conn.execute(
            """SELECT identifiant, commune FROM organismes
               WHERE commune LIKE 'Saint-%' AND statut = 'actif' ORDER BY identifiant LIMIT 1"""
        ).fetchone()
    typed = "st " + commune.split("-", 1)[1].replace("-", " ").lower()
    found = api_client.get("/api/v1/organismes", params={"q": typed, "par_page": 100}).json()
    assert oid in {r["id_organisme"] for r in found["resultats"]}, (typed, found["total"])
