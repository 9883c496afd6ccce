"""What a public site owes, through the ASGI app on the sample directory: right figures for merged
organisations (page, meta description, JSON-LD, API, export), French error pages for every error a
visitor can reach, French API errors, the legal pages, Open Graph meta, gzip, the sitemap crawl,
the Qualiopi filters, the identity card (NAF, SIRENE, Annuaire des Entreprises), the outlines under
the maps."""

from __future__ import annotations

import csv
import json
import re
import shutil
import sqlite3
from dataclasses import replace

import pytest
from fastapi import Request
from fastapi.testclient import TestClient
from lxml import html

from annuaire.api import ApiSettings, create_app
from annuaire.api.errors import french_message
from annuaire.clean.text import accent_capitals
from annuaire.search import SearchQuery
from annuaire.search.params import Filters
from annuaire.sources.naf import naf_label, naf_labels
from annuaire.web import slugs, text
from annuaire.web.contours import simplify_geojson
from annuaire.web.errors import error_page
from annuaire.web.history import modification_words
from annuaire.web.settings import Publisher


def tree_of(response) -> html.HtmlElement:
    return html.fromstring(response.text)


@pytest.fixture(scope="module")
def client(sample_build):
    with TestClient(create_app(ApiSettings(db=str(sample_build.db), rate_limit_per_minute=0))) as c:
        yield c


@pytest.fixture(scope="module")
def merged(sample_searcher):
    """Every merged organisation of the sample (several declarations under one SIRET)."""
    found = [
        o
        for o in (sample_searcher.organisation(e[0]) for e in sample_searcher.sitemap_entries())
        if o["nb_declarations"] > 1
    ]
    assert len(found) > 20
    return found


def principal(org: dict) -> dict:
    return next(
        d
        for d in org["declarations"]
        if d["numero_declaration_activite"] == org["numero_declaration_activite"]
    )


# -- 1. figures of a merged organisation ---------------------------------------------------------


def test_merged_organisations_show_their_most_recent_declarations_figures(client, merged):
    """The page's activity, its meta description and JSON-LD, and the API give the most recent
    declaration's trainees and trainers; each NDA's own figures are in the declarations table."""
    summed = 0
    for org in merged:
        recent = principal(org)
        assert recent["date_derniere_declaration"] == max(
            d["date_derniere_declaration"] or "" for d in org["declarations"]
        )
        api = client.get(f"/api/v1/organismes/{org['id_organisme']}").json()
        assert (api["nb_stagiaires"], api["effectif_formateurs"]) == (
            recent["nb_stagiaires"],
            recent["effectif_formateurs"],
        )
        page = client.get(slugs.organisation_path(org))
        tree = tree_of(page)
        facts = {
            dt.text_content(): dd.text_content()
            for dt, dd in zip(
                tree.xpath("//section[@aria-labelledby='activite']//dt"),
                tree.xpath("//section[@aria-labelledby='activite']//dd"),
                strict=True,
            )
        }
        assert facts["Stagiaires (dernier exercice)"] == text.number(recent["nb_stagiaires"])
        assert facts["Formateurs"] == text.number(recent["effectif_formateurs"])
        rows = tree.xpath("//table[contains(@class, 'declarations')]/tbody/tr")
        assert len(rows) == len(org["declarations"])
        for row, d in zip(rows, org["declarations"], strict=True):
            cells = [c.text_content() for c in row.xpath("td")]
            assert d["numero_declaration_activite"] in row.xpath("th")[0].text_content()
            assert cells[1:3] == [text.number(d["nb_stagiaires"]), text.number(d["effectif_formateurs"])]
        description = tree.xpath("//meta[@name='description']/@content")[0]
        jsonld = json.loads(tree.xpath("//script[@type='application/ld+json']/text()")[0])
        total = sum(d["nb_stagiaires"] or 0 for d in org["declarations"])
        if recent["nb_stagiaires"]:
            words = text.plural(recent["nb_stagiaires"], "stagiaire", "stagiaires")
            assert words in jsonld["description"]
            assert words in description or description.endswith("…")
        if total != (recent["nb_stagiaires"] or 0):
            summed += 1
            wrong = text.plural(total, "stagiaire", "stagiaires")
            assert wrong not in jsonld["description"] and wrong not in description
    assert summed > 10  # organisations whose sum would have differed: the case the test is about


def test_the_organisations_export_has_the_most_recent_declarations_figures(sample_build, merged):
    with (sample_build.out / "organismes.csv").open(encoding="utf-8", newline="") as fh:
        rows = {r["id_organisme"]: r for r in csv.DictReader(fh)}
    with (sample_build.out / "organismes.json").open(encoding="utf-8") as fh:
        typed = {r["id_organisme"]: r for r in json.load(fh)}
    for org in merged:
        recent = principal(org)
        row = rows[org["id_organisme"]]
        assert row["nb_stagiaires"] == (
            "" if recent["nb_stagiaires"] is None else str(recent["nb_stagiaires"])
        )
        assert row["effectif_formateurs"] == (
            "" if recent["effectif_formateurs"] is None else str(recent["effectif_formateurs"])
        )
        assert row["debut_exercice"] == (recent["debut_exercice"] or "")
        assert typed[org["id_organisme"]]["nb_stagiaires"] == recent["nb_stagiaires"]


# -- 2. errors --------------------------------------------------------------------------------------


def assert_error_page(response, status: int, title: str) -> html.HtmlElement:
    assert response.status_code == status, (response.url, response.status_code)
    assert response.headers["content-type"].startswith("text/html")
    tree = tree_of(response)
    assert tree.xpath("/html/@lang") == ["fr"]
    assert tree.xpath("//h1")[0].text_content() == title
    links = tree.xpath("//main//a/@href")
    assert "/" in links and "/recherche" in links  # a way back
    assert tree.xpath("//link[@rel='stylesheet' and @href='/static/site/site.css']")  # styled
    return tree


@pytest.mark.parametrize(
    "url",
    [
        "/pas-une-page",
        "/formation/zz/",
        "/formation/75/paris-99999/",
        "/organismes/00000000000000/correction",
        "/guides/pas-un-guide",
        "/region/pas-une-region/",
        "/sitemaps/99.xml",
    ],
)
def test_not_found_is_the_french_error_page(client, url):
    assert_error_page(client.get(url), 404, "Page introuvable")


def listings(searcher) -> list[tuple[str, Filters]]:
    """A département, a région and a commune of the sample, with the filters of their listing."""
    dep = searcher.departement("75")
    commune = searcher.commune(dep["communes"][0]["code_insee"])
    region = next(r for r in searcher.regions() if r["code"] == dep["code_region"])
    return [
        (slugs.departement_path("75"), Filters(departement="75")),
        (slugs.departement_path("69"), Filters(departement="69")),
        (slugs.region_path(region["nom"]), Filters(region=region["code"])),
        (
            slugs.commune_path("75", commune["nom"], commune["code_insee"]),
            Filters(commune=commune["code_insee"]),
        ),
    ]


def test_a_listing_past_its_end_answers_404_with_a_link_to_its_last_page(client, sample_searcher):
    for path, filters in listings(sample_searcher):
        last = sample_searcher.search(SearchQuery(filters, tri="nom", par_page=20).checked())["pages"]
        assert client.get(f"{path}?page={last}").status_code == 200, path
        for page in sorted({last + 1, 50, 500, 10**12} - set(range(1, last + 1))):
            tree = assert_error_page(client.get(f"{path}?page={page}"), 404, "Page introuvable")
            assert f"compte {text.plural(last, 'page', 'pages')}" in tree.text_content()
            link = tree.xpath("//ul[@class='error-links']/li[1]/a/@href")[0]
            assert link == (f"{path}?page={last}" if last > 1 else path)
            assert client.get(link).status_code == 200


def test_search_past_its_end_answers_404_with_the_form_and_the_last_page(client):
    first = client.get("/recherche?q=formation")
    pages = int(re.search(r"sur ([\d\u202f]+)", first.text).group(1).replace("\u202f", ""))
    for page in (pages + 1, 50, 500, 99999999):
        answer = client.get(f"/recherche?q=formation&page={page}")
        assert answer.status_code == 404
        tree = tree_of(answer)
        assert tree.xpath("//form[@id='recherche']")  # the form stays, to search again
        alert = tree.xpath("//*[@id='erreur-recherche']")[0]
        assert "n'existe pas" in alert.text_content()
        last = alert.xpath(".//a/@href")[0]
        assert f"page={pages}" in last and client.get(last).status_code == 200
    partial = client.get("/recherche?q=formation&page=500", headers={"X-Partial": "1"})
    assert partial.status_code == 404 and "erreur-recherche" in partial.text and "<html" not in partial.text


def test_a_server_error_is_the_french_error_page_and_french_json(sample_build):
    app = create_app(ApiSettings(db=str(sample_build.db), rate_limit_per_minute=0))
    with TestClient(app, raise_server_exceptions=False) as client:

        def broken(*args, **kwargs):
            raise RuntimeError("a bug")

        app.state.searcher.organisation = broken
        app.state.searcher.stats = broken
        tree = assert_error_page(client.get("/organisme/123"), 500, "Erreur du serveur")
        assert "a bug" not in tree.text_content()  # nothing of the traceback shown
        assert client.get("/organisme/123").headers["cache-control"] == "no-store"
        api = client.get("/api/v1/organismes/123")
        assert api.status_code == 500 and api.json() == {"detail": "Erreur interne du serveur"}
        assert client.get("/api/v1/stats").json() == {"detail": "Erreur interne du serveur"}


def test_error_page_renders_any_status_with_headers(sample_build):
    """The one render function other code calls (a missing database's 503 with Retry-After…)."""
    app = create_app(ApiSettings(db=str(sample_build.db), rate_limit_per_minute=0))

    @app.get("/essai-503")
    async def unavailable(request: Request):
        return error_page(request, 503, headers={"Retry-After": "30"})

    with TestClient(app) as client:
        answer = client.get("/essai-503")
        assert_error_page(answer, 503, "Service momentanément indisponible")
        assert answer.headers["retry-after"] == "30"
        assert_error_page(client.post("/"), 405, "Action impossible")


@pytest.mark.parametrize(
    ("query", "param", "words"),
    [
        ("page=0", "page", "« page » doit être supérieur ou égal à 1"),
        ("page=x", "page", "« page » : nombre entier attendu"),
        ("departement=zz", "departement", "n'a pas le format attendu (code de département"),
        ("portee=peinture", "portee", "valeurs permises : actions_formation, bilans_competences, vae ou"),
        ("certifie=peut-etre", "certifie", "« certifie » : true ou false attendu"),
        ("rayon=500&lat=45&lon=4", "rayon", "« rayon » doit être inférieur ou égal à 200"),
        ("q=" + "x" * 300, "q", "« q » : 200 caractères au plus"),
        ("statut=efface", "statut", "valeurs permises : actif, supprime ou tous"),
    ],
)
def test_api_validation_errors_are_french_and_name_the_parameter(client, query, param, words):
    answer = client.get(f"/api/v1/organismes?{query}")
    assert answer.status_code == 422 and answer.headers["content-type"] == "application/json"
    (detail,) = answer.json()["detail"]
    assert detail["loc"][:2] == ["query", param] and words in detail["msg"]
    assert not re.search(r"\b(should|Input|Field required|valid)\b", detail["msg"])


def test_api_errors_in_french_for_missing_parameters_and_unknown_addresses(client):
    detail = client.get("/api/v1/clusters").json()["detail"]
    assert [d["msg"] for d in detail] == [
        "« bbox » : paramètre obligatoire manquant",
        "« zoom » : paramètre obligatoire manquant",
    ]
    assert client.get("/api/v1/nulle-part").json() == {
        "detail": "Introuvable : aucune ressource à cette adresse"
    }
    assert client.post("/api/v1/stats").json() == {"detail": "Méthode non permise sur cette adresse"}
    long_id = client.get("/api/v1/organismes/" + "1" * 60)
    assert long_id.status_code == 422 and "40 caractères au plus" in long_id.json()["detail"][0]["msg"]


def test_french_message_keeps_unknown_kinds_french():
    message = french_message({"loc": ("query", "x"), "type": "something_new", "msg": "Bad", "input": "y"})
    assert message == "« x » : valeur invalide (reçu : « y »)"


# -- 3. no outside assets --------------------------------------------------------------------------


def test_api_docs_need_no_outside_host_and_no_inline_script(client):
    docs = client.get("/api/docs")
    tree = tree_of(docs)
    scripts = tree.xpath("//script")
    assert all(
        s.get("src", "").startswith("/static/") for s in scripts if s.get("type") != "application/ld+json"
    )
    assert not [s for s in scripts if (s.text or "").strip()]  # no inline script (a CSP can forbid them)
    assert not re.search(r"(src|href)=\"https?://", docs.text.split("<footer")[0].split("</header>")[1])
    assert "/static/site/api-docs.js" in docs.text
    assert client.get("/static/site/api-docs.js").status_code == 200


@pytest.mark.parametrize(
    "url", ["/", "/recherche?q=formation", "/formation/75/", "/sources", "/mentions-legales", "/pas-une-page"]
)
def test_pages_run_no_inline_script(client, url):
    tree = tree_of(client.get(url))
    inline = [
        s for s in tree.xpath("//script") if (s.text or "").strip() and s.get("type") != "application/ld+json"
    ]
    assert inline == []
    assert all(s.get("src", "/").startswith("/") for s in tree.xpath("//script[@src]"))
    assert all(h.startswith("/") for h in tree.xpath("//link[@rel='stylesheet']/@href"))


def test_departement_outlines_are_served_simplified(client, reference_dir):
    answer = client.get("/carte/departements.geojson")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/geo+json"
    data = answer.json()
    codes = {f["properties"]["code"] for f in data["features"]}
    assert {"01", "2A", "2B", "75", "971", "976"} <= codes and len(codes) == 101
    original = (reference_dir / "departements-contours.geojson").stat().st_size
    assert len(answer.content) < original / 5
    again = client.get("/carte/departements.geojson", headers={"If-None-Match": answer.headers["etag"]})
    assert again.status_code == 304
    search = tree_of(client.get("/recherche"))
    assert search.xpath("//div[@id='carte']/@data-contours") == ["/carte/departements.geojson"]


def test_simplification_keeps_shapes_and_drops_islets():
    square = [[0, 0], [0.001, 0.0000001], [1, 0], [1, 1], [0, 1], [0, 0]]
    islet = [[5, 5], [5.001, 5], [5.001, 5.001], [5, 5]]
    data = {
        "features": [
            {
                "properties": {"code": "01", "nom": "Ain", "extra": 1},
                "geometry": {"type": "MultiPolygon", "coordinates": [[square], [islet]]},
            }
        ]
    }
    (feature,) = simplify_geojson(data)["features"]
    assert feature["properties"] == {"code": "01", "nom": "Ain"}
    assert feature["geometry"]["coordinates"] == [[[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]]


def test_no_map_box_without_leaflet(sample_build):
    """Without `npm ci` no empty map box is shown, and the API docs say the interactive part is missing."""
    settings = ApiSettings(db=str(sample_build.db), rate_limit_per_minute=0)
    bare = replace(settings, web=replace(settings.web, node_modules=None))
    with TestClient(create_app(bare)) as client:
        search = client.get("/recherche?q=formation")
        assert search.status_code == 200 and 'id="carte"' not in search.text and "leaflet" not in search.text
        docs = client.get("/api/docs")
        assert (
            docs.status_code == 200 and "n'est pas installée" in docs.text and "swagger-ui" not in docs.text
        )
        assert "/api/openapi.json" in docs.text


# -- 4. Qualiopi ------------------------------------------------------------------------------------


def test_badges_name_qualiopi_and_the_scope(client):
    tree = tree_of(client.get("/recherche?portee=vae"))
    badges = tree.xpath("//ol[@class='cards']//li[@class='badge']/text()")
    assert badges and all(b.startswith("Qualiopi · ") for b in badges)
    assert "Qualiopi · VAE" in badges and "Qualiopi · Formation" not in badges


def test_certified_filter_and_clickable_non_certified_facet(client, sample_searcher):
    stats = sample_searcher.stats()
    tree = tree_of(client.get("/recherche"))
    assert tree.xpath("//input[@type='checkbox' and @name='certifie' and @value='oui']")
    assert tree.xpath("//label[@for='certifie']")[0].text_content() == "Certifié Qualiopi"
    certified = tree_of(client.get("/recherche?certifie=oui"))
    assert certified.xpath("//input[@id='certifie']/@checked")
    heading = certified.xpath("//h2[@id='resultats-titre']")[0].text_content()
    assert text.number(stats["nb_certifies"]) in heading
    link = tree.xpath("//details[@class='facets']//a[text()='Non certifiés']/@href")
    assert link == ["/recherche?certifie=non"]
    uncertified = tree_of(client.get(link[0]))
    count = uncertified.xpath("//h2[@id='resultats-titre']")[0].text_content()
    assert text.number(stats["nb_organismes"] - stats["nb_certifies"]) in count
    assert uncertified.xpath("//input[@id='certifie-non']/@value") == ["non"]
    assert not uncertified.xpath("//ol[@class='cards']//li[@class='badge']")
    # the box checked over the facet's hidden field: the box wins
    both = tree_of(client.get("/recherche?certifie=non&certifie=oui"))
    assert text.number(stats["nb_certifies"]) in both.xpath("//h2[@id='resultats-titre']")[0].text_content()


def test_active_filters_are_summed_up_and_each_removable(client):
    url = "/recherche?q=formation&portee=vae&portee=apprentissage&departement=75&autour=69003&rayon=20"
    tree = tree_of(client.get(url))
    chips = tree.xpath("//div[@class='active-filters']//a")
    words = [c.text_content().replace("✕", "").strip() for c in chips]
    assert words == [
        "« formation »",
        "Qualiopi · VAE",
        "Qualiopi · Apprentissage",
        "Paris (75)",
        "Autour de 69003 (Lyon 3e Arrondissement) (20 km)",
    ]
    assert all(c.get("aria-label").startswith("Retirer le filtre ") for c in chips)
    hrefs = [c.get("href") for c in chips]
    assert hrefs[1] == "/recherche?q=formation&portee=apprentissage&departement=75&autour=69003&rayon=20"
    assert hrefs[4] == "/recherche?q=formation&portee=vae&portee=apprentissage&departement=75"
    assert all(client.get(h).status_code == 200 for h in hrefs)


def test_no_result_says_aucun_and_an_unknown_commune_is_an_alert_above_the_form(client):
    none = tree_of(client.get("/recherche?q=zzzzqqqq"))
    assert none.xpath("//h2[@id='resultats-titre']")[0].text_content() == "Aucun organisme trouvé"
    unknown = client.get("/recherche?autour=Nullepartville")
    assert unknown.status_code == 422
    tree = tree_of(unknown)
    alert = tree.xpath("//*[@role='alert']")
    assert len(alert) == 1 and "Commune inconnue" in alert[0].text_content()
    # above the form, where a phone shows it first
    order = [e.get("id") for e in tree.xpath("//*[@id='erreur-recherche' or @id='recherche']")]
    assert order == ["erreur-recherche", "recherche"]


# -- 5. pages a public site owes ---------------------------------------------------------------------


PAGE_TYPES = [
    "/",
    "/recherche?q=formation",
    "/formation/75/",
    "/region/ile-de-france/",
    "/guides/",
    "/guides/qualiopi",
    "/sources",
    "/qualite",
    "/donnees/",
    "/mentions-legales",
    "/accessibilite",
    "/donnees-personnelles",
    "/api/docs",
    "/admin/connexion",
    "/pas-une-page",
]


@pytest.mark.parametrize("url", PAGE_TYPES)
def test_every_page_links_the_legal_pages_and_has_open_graph_meta(client, url):
    answer = client.get(url)
    tree = tree_of(answer)
    footer = tree.xpath("//footer//a/@href")
    assert {"/mentions-legales", "/accessibilite", "/donnees-personnelles"} <= set(footer)
    title = tree.xpath("/html/head/title")[0].text_content()
    description = tree.xpath("//meta[@name='description']/@content")[0]
    meta = {m.get("property") or m.get("name"): m.get("content") for m in tree.xpath("//meta")}
    assert meta["og:title"] == meta["twitter:title"] == title
    assert meta["og:description"] == meta["twitter:description"] == description
    assert meta["og:url"] == tree.xpath("//link[@rel='canonical']/@href")[0]
    assert meta["og:locale"] == "fr_FR" and meta["twitter:card"] == "summary" and meta["og:site_name"]


def test_legal_pages_say_a_compléter_until_the_publisher_is_set(client, sample_build):
    for url in ("/mentions-legales", "/accessibilite", "/donnees-personnelles"):
        assert "à compléter" in client.get(url).text
    settings = ApiSettings(db=str(sample_build.db), rate_limit_per_minute=0)
    publisher = Publisher(
        name="Association Exemple",
        address="1 rue de l'Exemple, 75001 Paris",
        contact="contact@exemple.fr",
        director="Camille Exemple",
        hosting="Hébergeur Exemple, 2 rue des Serveurs, 59000 Lille, 01 02 03 04 05",
    )
    with TestClient(create_app(replace(settings, web=replace(settings.web, publisher=publisher)))) as c:
        notice = c.get("/mentions-legales").text
        for value in (
            "Association Exemple",
            "Camille Exemple",
            "Hébergeur Exemple",
            "mailto:contact@exemple.fr",
        ):
            assert value in notice
        assert "à compléter" not in notice
        statement = tree_of(c.get("/accessibilite"))
        assert "non conforme" in statement.text_content() and "RGAA" in statement.text_content()
        assert "mailto:contact@exemple.fr" in statement.xpath("//a/@href")
        privacy = c.get("/donnees-personnelles").text
        assert "365 jours après la décision" in privacy and "annuaire_session" in privacy
        assert "annuaire_csrf" in privacy and "forget-email" in privacy


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("/", "text/html"),
        ("/api/v1/organismes?q=formation&par_page=100", "application/json"),
        ("/sitemaps/1.xml", "application/xml"),
        ("/api/v1/exports/organismes.csv", "text/csv"),
        ("/carte/departements.geojson", "application/geo+json"),
    ],
)
def test_text_answers_are_gzipped(client, url, kind):
    answer = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith(kind)
    assert answer.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in answer.headers["vary"]
    plain = client.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == answer.content  # httpx decoded


def test_parquet_is_not_gzipped_again(client):
    answer = client.get("/api/v1/exports/organismes.parquet", headers={"Accept-Encoding": "gzip"})
    assert answer.status_code == 200 and "content-encoding" not in answer.headers


@pytest.mark.integration
def test_the_sitemap_crawl_finds_no_server_error(client):
    """The sitemap's first 2,000 URLs, each also with ?page=2, 50 and 500: never a 500."""
    index = client.get("/sitemap.xml").text
    urls: list[str] = []
    for part in re.findall(r"<loc>([^<]+)</loc>", index):
        urls += re.findall(r"<loc>([^<]+)</loc>", client.get(part.removeprefix("http://testserver")).text)
        if len(urls) >= 2000:
            break
    urls = [u.removeprefix("http://testserver") for u in urls[:2000]]
    assert len(urls) == 2000
    statuses: dict[int, int] = {}
    for url in urls:
        for suffix in ("", "?page=2", "?page=50", "?page=500"):
            status = client.get(url + suffix, follow_redirects=False).status_code
            statuses[status] = statuses.get(status, 0) + 1
            assert status < 500, url + suffix
    assert statuses[200] > 2000 and statuses.get(404, 0) > 0  # past-the-end pages of the listings


# -- 6. French -------------------------------------------------------------------------------------


def test_capital_accents_of_speciality_labels():
    assert accent_capitals("Economie") == "Économie"
    assert accent_capitals("Electricité, électronique") == "Électricité, électronique"
    assert accent_capitals("Enseignement, formation") == "Enseignement, formation"
    assert accent_capitals("Energie, génie climatique") == "Énergie, génie climatique"


def test_the_directory_shows_economie_with_its_accent(client, sample_build):
    conn = sqlite3.connect(sample_build.db)
    labels = dict(conn.execute("SELECT code, libelle FROM specialites"))
    conn.close()
    assert labels["122"] == "Économie" and not any(v.startswith("Economie") for v in labels.values())
    assert "Économie" in client.get("/recherche").text


def test_scope_changes_in_words():
    assert modification_words(["certifications", "-vae", "+apprentissage"]) == (
        "certifications Qualiopi (VAE retirée et Apprentissage ajouté)"
    )
    assert modification_words(["adresse", "certifications", "+actions_formation"]) == (
        "adresse, certifications Qualiopi (Actions de formation ajoutées)"
    )
    assert modification_words(["-bilans_competences"]) == "Bilans de compétences retirés"


# -- 8. identity card --------------------------------------------------------------------------------


def test_naf_labels_are_insees_732_sub_classes():
    labels = naf_labels()
    assert len(labels) == 732
    assert naf_label("85.59A") == naf_label("8559a") == "Formation continue d'adultes"
    assert naf_label("85.59B") == "Autres enseignements"
    assert naf_label("80.4C") is None and naf_label(None) is None  # NAF rév. 1: a code alone


def test_identity_card_shows_naf_sirene_state_and_the_annuaire_des_entreprises(
    sample_build, tmp_path, merged
):
    db = tmp_path / "annuaire.db"
    shutil.copyfile(sample_build.db, db)
    open_org, closed_org = [o for o in merged if o["siret"]][:2]
    conn = sqlite3.connect(db)
    conn.executemany(
        """INSERT OR REPLACE INTO sirene (siret, etat_administratif, date_fermeture, denomination,
               activite_principale, etat_unite_legale, date_verification, api)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
        [
            (open_org["siret"], "A", None, "EXEMPLE FORMATION", "85.59A", "A", "2026-11-20", "stock"),
            (
                closed_org["siret"],
                "F",
                "2025-06-30",
                None,
                "8559B",
                "C",
                "2026-11-20",
                "recherche-entreprises",
            ),
        ],
    )
    conn.commit()
    conn.close()
    with TestClient(create_app(ApiSettings(db=str(db), rate_limit_per_minute=0))) as client:
        card = tree_of(client.get(slugs.organisation_path(open_org))).xpath(
            "//section[@aria-labelledby='identite']"
        )[0]
        words = " ".join(card.text_content().split())
        assert "85.59A – Formation continue d'adultes" in words
        assert "actif (vérifié le 20 novembre 2026)" in words
        assert card.xpath(".//a/@href") == [
            f"https://annuaire-entreprises.data.gouv.fr/entreprise/{open_org['siren']}"
        ]
        closed = tree_of(client.get(slugs.organisation_path(closed_org)))
        words = " ".join(closed.xpath("//section[@aria-labelledby='identite']")[0].text_content().split())
        assert "8559B – Autres enseignements" in words and "fermé depuis le 30 juin 2025" in words
        api = client.get(f"/api/v1/organismes/{open_org['id_organisme']}").json()
        assert api["sirene"]["activite_principale_libelle"] == "Formation continue d'adultes"


def test_identity_card_before_sirene_ran_says_what_will_come(client, merged):
    org = next(o for o in merged if o["siren"])
    card = tree_of(client.get(slugs.organisation_path(org))).xpath("//section[@aria-labelledby='identite']")[
        0
    ]
    assert "répertoire SIRENE" in card.text_content() and "NAF" in card.text_content()
    assert f"/entreprise/{org['siren']}" in card.xpath(".//a/@href")[0]


# -- 7. sources: La Poste's description recorded ------------------------------------------------------


def test_la_postes_recorded_description_gives_it_a_real_score(
    sample_build, run_annuaire, reference_dir, shared_dir, tmp_path
):
    """The reference download records La Poste's data.gouv.fr description where `annuaire profile`
    reads it, as `annuaire fetch` does: its score then reflects its metadata (here, a description of
    the Liste publique's shape under La Poste's slug, made for the test)."""
    from annuaire.sources import snapshots

    described = json.loads((shared_dir / "data" / "datagouv" / "dataset-liste-publique-of.json").read_text())
    described.update(
        id="5a0b0c0d0e0f", slug=snapshots.LAPOSTE_DATASET, title="Base officielle des codes postaux"
    )
    folder = tmp_path / "snapshots"
    snapshots.record_description(snapshots.LAPOSTE_DATASET, described, folder)
    db = tmp_path / "annuaire.db"
    shutil.copyfile(sample_build.db, db)
    done = run_annuaire(
        "profile", "--db", db, "--reference", reference_dir, "--snapshots", folder, "--rows", "200"
    )
    assert done.returncode == 0, done.stderr
    profiles = json.loads((tmp_path / "annuaire.db.sources.json").read_text(encoding="utf-8"))
    poste = next(s for s in profiles["sources"] if s["cle"] == "laposte")
    assert poste["jeu_de_donnees"]["metadonnees_recuperees"] and poste["licence"]["id"] == "lo-2.0"
    assert poste["score"]["total"] > 50
    with TestClient(create_app(ApiSettings(db=str(db), rate_limit_per_minute=0))) as client:
        tree = tree_of(client.get("/sources"))
        section = tree.xpath("//section[@id='laposte']")[0]
        assert "non évalué" not in section.text_content()
        assert section.xpath(".//details/summary")  # operator details folded away


def test_e_mail_addresses_are_kept_as_long_as_the_privacy_page_says(tmp_path, run_annuaire, sample_build):
    """Erased N days after the decision (ANNUAIRE_CORRECTIONS_EMAIL_DAYS), and at once on request
    with `annuaire admin forget-email`; the corrections themselves stay."""
    from datetime import timedelta

    from annuaire.corrections import CorrectionStore
    from annuaire.corrections import store as store_module
    from annuaire.corrections.fields import Submission

    path = tmp_path / "corrections.sqlite"
    store = CorrectionStore(path)
    org = {
        "id_organisme": "12345678900011",
        "numero_declaration_activite": "11755555575",
        "code_postal": "75001",
    }
    old = store.add(org, Submission("code_postal", "75002", "", "ancienne@exemple.fr"))
    recent = store.add(org, Submission("code_postal", "75003", "", "recente@exemple.fr"))
    waiting = store.add(org, Submission("code_postal", "75004", "", "Attente@Exemple.fr"))
    store.decide(old, "rejeter", "moderatrice")
    store.decide(recent, "approuver", "moderatrice")
    store._conn().execute(
        "UPDATE corrections SET decide_le = ? WHERE id = ?",
        (store_module.iso(store_module.now() - timedelta(days=400)), old),
    )
    assert store.forget_old_emails(365) == 1
    assert [store.get(i)["email"] for i in (old, recent, waiting)] == [
        "",
        "recente@exemple.fr",
        "Attente@Exemple.fr",
    ]
    assert store.forget_old_emails(0) == 0  # 0: kept
    store.close()
    done = run_annuaire(
        "admin", "forget-email", "--db", sample_build.db, "--corrections", path, "attente@exemple.fr"
    )
    assert done.returncode == 0 and "erased from 1 correction" in done.stdout, done.stderr
    store = CorrectionStore(path)
    assert store.get(waiting)["email"] == "" and store.get(waiting)["valeur"] == "75004"
    assert any(e["action"] == "adresse_effacee" for e in store.journal()[0])
    store.close()
