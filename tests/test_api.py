"""The JSON API on the sample directory: shapes, caching headers, CORS, errors, rate limit."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from annuaire.api import ApiSettings, create_app, models

ENDPOINTS = [
    ("/api/v1/organismes?q=formation&facettes=true", models.ResultatRecherche),
    (
        "/api/v1/organismes?autour=75011&rayon=3&tri=distance&portee=vae&portee=bilans_competences",
        models.ResultatRecherche,
    ),
    ("/api/v1/departements", list[models.DepartementResume]),
    ("/api/v1/departements/2a", models.Departement),
    ("/api/v1/regions", list[models.Region]),
    ("/api/v1/communes/75111", models.Commune),
    ("/api/v1/specialites", list[models.SpecialiteCompte]),
    ("/api/v1/clusters?bbox=-5.5,41,10,51.5&zoom=5", models.Grappes),
    ("/api/v1/clusters?bbox=2.2,48.8,2.5,48.9&zoom=13&certifie=true", models.Grappes),
    ("/api/v1/stats", models.Statistiques),
]


@pytest.fixture
def api_client(backend_api_client):
    """The tests below run on each backend (SQLite, PostgreSQL)."""
    return backend_api_client


@pytest.mark.parametrize("url, model", ENDPOINTS)
def test_endpoints_answer_their_documented_shape(api_client, url, model):
    from pydantic import TypeAdapter

    response = api_client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    TypeAdapter(model).validate_python(response.json(), strict=False)
    assert response.headers["etag"].startswith('"')
    assert "max-age" in response.headers["cache-control"]


def test_organisation_by_id_siret_and_nda(api_client):
    first = api_client.get("/api/v1/organismes?par_page=1&certifie=true").json()["resultats"][0]
    for key in (first["id_organisme"], first["numero_declaration_activite"]):
        response = api_client.get(f"/api/v1/organismes/{key}")
        assert response.status_code == 200
        org = models.Organisme.model_validate(response.json())
        assert org.id_organisme == first["id_organisme"]
    spaced = first["numero_declaration_activite"][:2] + " " + first["numero_declaration_activite"][2:]
    assert api_client.get(f"/api/v1/organismes/{spaced}").json()["id_organisme"] == first["id_organisme"]
    missing = api_client.get("/api/v1/organismes/00000000000")
    assert missing.status_code == 404 and missing.json() == {"detail": "organisme introuvable"}


def test_etag_answers_304(api_client):
    first = api_client.get("/api/v1/stats")
    again = api_client.get("/api/v1/stats", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == first.headers["etag"]
    other = api_client.get("/api/v1/stats", headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200


def test_cors(api_client):
    response = api_client.get("/api/v1/stats", headers={"Origin": "https://example.org"})
    assert response.headers["access-control-allow-origin"] == "*"
    preflight = api_client.options(
        "/api/v1/organismes",
        headers={"Origin": "https://example.org", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 200 and "GET" in preflight.headers["access-control-allow-methods"]


@pytest.mark.parametrize(
    "url, param",
    [
        ("/api/v1/organismes?page=0", "page"),
        ("/api/v1/organismes?par_page=101", "par_page"),
        ("/api/v1/organismes?departement=96", "departement"),
        ("/api/v1/organismes?portee=qualiopi", "portee"),
        ("/api/v1/organismes?lat=48.8", "lon"),
        ("/api/v1/organismes?lat=abc&lon=2", "lat"),
        ("/api/v1/organismes?tri=distance", "tri"),
        ("/api/v1/organismes?autour=99999", "autour"),
        ("/api/v1/clusters?bbox=1,2,3&zoom=4", "bbox"),
        ("/api/v1/clusters?bbox=-5,41,10,51&zoom=15", "bbox"),
        ("/api/v1/clusters?bbox=-5,41,10,51", "zoom"),
    ],
)
def test_invalid_parameters_answer_422_naming_them(api_client, url, param):
    response = api_client.get(url)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail and param in detail[0]["loc"] and detail[0]["msg"]


def test_unknown_codes_answer_404(api_client):
    for url in ("/api/v1/departements/00", "/api/v1/communes/99999", "/api/v1/communes/%00"):
        assert api_client.get(url).status_code == 404


def test_awkward_inputs_never_fail(api_client):
    for q in ['"', "*", "NEAR(a b)", "a OR b", "^x", "\x00", "é" * 200, "' OR 1=1 --", "💡", "-", "(("]:
        response = api_client.get("/api/v1/organismes", params={"q": q})
        assert response.status_code in (200, 422), (q, response.text)


def test_openapi_and_docs(api_client):
    spec = api_client.get("/api/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    paths = set(spec["paths"])
    for path in (
        "/api/v1/organismes",
        "/api/v1/organismes/{id}",
        "/api/v1/departements",
        "/api/v1/departements/{code}",
        "/api/v1/regions",
        "/api/v1/communes/{code}",
        "/api/v1/specialites",
        "/api/v1/clusters",
        "/api/v1/stats",
    ):
        assert path in paths
    assert {p["name"] for p in spec["paths"]["/api/v1/organismes"]["get"]["parameters"]} >= {
        "q",
        "portee",
        "departement",
        "lat",
        "lon",
        "rayon",
        "page",
        "par_page",
        "facettes",
    }
    assert "swagger" in api_client.get("/api/docs").text.lower()


def test_rate_limit_answers_429_with_retry_after(sample_build):
    app = create_app(ApiSettings(db=str(sample_build.db), rate_limit_per_minute=5))
    with TestClient(app) as client:
        codes = [client.get("/api/v1/stats").status_code for _ in range(8)]
        assert codes[:5] == [200] * 5 and codes[5:] == [429] * 3
        limited = client.get("/api/v1/stats")
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.json()["detail"]
        assert client.get("/api/openapi.json").status_code == 200  # only /api/v1… is limited


def test_a_replaced_database_is_served_at_once(sample_build, tmp_path, run_build, real_extract_csv):
    """A build swaps the file: the next request reads the new directory, without a restart."""
    import shutil

    db = tmp_path / "annuaire.db"
    shutil.copy(sample_build.db, db)
    app = create_app(ApiSettings(db=str(db), rate_limit_per_minute=0))
    with TestClient(app) as client:
        before = client.get("/api/v1/stats").json()["nb_organismes"]
        built = run_build(real_extract_csv, db)
        assert built.returncode == 0, built.stderr
        after = client.get("/api/v1/stats").json()["nb_organismes"]
        assert before != after
        assert after == client.get("/api/v1/organismes?statut=actif").json()["total"]


def test_summaries_kept_in_memory_follow_a_replaced_database(
    sample_build, tmp_path, run_build, real_extract_csv
):
    """Result summaries are kept in memory per version of the file: after a swap, a page lists the
    new directory's records, never the old ones."""
    import shutil
    import sqlite3

    db = tmp_path / "annuaire.db"
    shutil.copy(sample_build.db, db)
    app = create_app(ApiSettings(db=str(db), rate_limit_per_minute=0))
    with TestClient(app) as client:
        first = client.get("/api/v1/organismes?tri=nom&par_page=100").json()["resultats"]
        again = client.get("/api/v1/organismes?tri=nom&par_page=100").json()["resultats"]
        assert first == again  # the second page came from memory, identical
        built = run_build(real_extract_csv, db)
        assert built.returncode == 0, built.stderr
        after = client.get("/api/v1/organismes?tri=nom&par_page=100").json()["resultats"]
    with sqlite3.connect(db) as conn:
        names = dict(conn.execute("SELECT identifiant, denomination FROM organismes"))
    assert after and after != first
    assert all(names[r["id_organisme"]] == r["denomination"] for r in after)


def test_query_string_parsing(api_client):
    """Repeated list parameters, lax scalars, unknown parameters ignored, every error listed."""
    both = api_client.get(
        "/api/v1/organismes?portee=vae&portee=apprentissage&facettes=true&par_page=5&inconnu=1"
    ).json()
    vae = api_client.get("/api/v1/organismes?portee=vae&par_page=5").json()
    apprentissage = api_client.get("/api/v1/organismes?portee=apprentissage&par_page=5").json()
    assert len(both["resultats"]) == 5
    assert max(vae["total"], apprentissage["total"]) <= both["total"] <= vae["total"] + apprentissage["total"]
    assert both["facettes"]["portees"]["vae"] == vae["total"]
    response = api_client.get("/api/v1/organismes?page=x&par_page=0&facettes=peut-etre")
    assert response.status_code == 422
    assert {tuple(d["loc"]) for d in response.json()["detail"]} == {
        ("query", "page"),
        ("query", "par_page"),
        ("query", "facettes"),
    }
