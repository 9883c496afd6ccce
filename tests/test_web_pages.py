"""The website over the sample directory, through the ASGI app: every page type, redirects, the
JSON-LD of every organisation page, titles, the sitemap against the sitemaps.org schemas."""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from lxml import etree, html

from annuaire.api import ApiSettings, create_app
from annuaire.web import slugs

SCHEMAS = Path(__file__).with_name("schemas")


def page(client: TestClient, url: str, status: int = 200) -> html.HtmlElement:
    response = client.get(url)
    assert response.status_code == status, f"{url}: {response.status_code}"
    assert response.headers["content-type"].startswith("text/html")
    return html.fromstring(response.text)


def only(tree: html.HtmlElement, xpath: str) -> str:
    (found,) = tree.xpath(xpath)
    return found if isinstance(found, str) else found.text_content()


@pytest.fixture(scope="module")
def sample_searcher(backend_searcher):
    """Every page test runs on each backend (SQLite, PostgreSQL), with the API client of the same one."""
    return backend_searcher


@pytest.fixture(scope="module")
def api_client(backend_api_client):
    return backend_api_client


@pytest.fixture(scope="module")
def entries(sample_searcher):
    return sample_searcher.sitemap_entries()


def test_home_has_search_key_figures_and_territories(api_client, sample_searcher):
    tree = page(api_client, "/")
    stats = sample_searcher.stats()
    assert tree.xpath("//form[@action='/recherche']//input[@name='q' and @role='combobox']")
    assert tree.xpath("//label[@for='q']")
    figures = " ".join(tree.xpath("//dl[@class='key-figures']//dd/text()")).replace("\u202f", "")
    assert str(stats["nb_organismes"]) in figures and str(stats["nb_certifies"]) in figures
    links = set(tree.xpath("//section[@id='territoires']//a/@href"))
    assert "/formation/75/" in links and any(href.startswith("/region/") for href in links)
    assert api_client.get("/", follow_redirects=False).status_code == 200


def test_search_filters_counts_and_pagination(api_client, sample_searcher):
    tree = page(api_client, "/recherche?q=formation")
    cards = tree.xpath("//ol[@class='cards']/li")
    assert len(cards) == 20
    heading = only(tree, "//h2[@id='resultats-titre']").replace("\u202f", "")
    total = int(re.match(r"(\d+)", heading).group(1))
    assert total > 20
    assert tree.xpath("//details[@class='facets']//li")
    next_page = only(tree, "//nav[@class='pager']//a[@rel='next']/@href")
    assert next_page == "/recherche?q=formation&page=2"
    second = page(api_client, next_page)
    first_names = tree.xpath("//ol[@class='cards']//h3/a/text()")
    assert not set(first_names) & set(second.xpath("//ol[@class='cards']//h3/a/text()"))
    filtered = page(api_client, "/recherche?q=formation&portee=vae&departement=75")
    for card in filtered.xpath("//ol[@class='cards']/li"):
        assert "VAE" in card.xpath(".//li[@class='badge']/text()")
        assert re.search(r"\b75\d{3}\b", card.text_content())
    assert filtered.xpath("//input[@id='portee-vae']/@checked")
    assert only(filtered, "//select[@id='departement']/option[@selected]/@value") == "75"


def test_search_around_a_commune_by_name_or_code(api_client, sample_searcher):
    by_code = page(api_client, "/recherche?autour=75011&rayon=3")
    distances = [float(d.replace(",", ".")) for d in re.findall(r"à ([\d,]+) km", by_code.text_content())]
    assert distances and distances == sorted(distances) and max(distances) <= 3
    by_name = page(api_client, "/recherche?autour=Paris 11&rayon=3")
    assert "autour de Paris 11" in only(by_name, "//h2[@id='resultats-titre']")
    unknown = page(api_client, "/recherche?autour=Nullepartville", status=422)
    assert "Commune inconnue" in only(unknown, "//div[@role='alert']")


def test_search_fragment_for_scripts(api_client):
    response = api_client.get("/recherche?q=formation&page=2", headers={"X-Partial": "1"})
    assert response.status_code == 200 and "<html" not in response.text
    assert "X-Partial" in response.headers["vary"]
    assert "X-Partial" in api_client.get("/recherche?q=formation&page=2").headers["vary"]
    fragment = html.fragment_fromstring(response.text)
    assert "q=formation" in fragment.get("data-filtres")
    assert len(fragment.xpath("//ol[@class='cards']/li")) == 20


def test_suggestions_give_organisations_and_communes(api_client, sample_searcher):
    found = api_client.get("/suggestions", params={"q": "pari"}).json()
    assert any(
        c["nom"].startswith("Paris") and c["url"].startswith("/formation/75/") for c in found["communes"]
    )
    name = sample_searcher.sitemap_entries()[0][1]
    found = api_client.get("/suggestions", params={"q": name}).json()
    assert any(o["nom"] == name for o in found["organismes"])
    for o in found["organismes"]:
        assert api_client.get(o["url"]).status_code == 200
    assert api_client.get("/suggestions", params={"q": "a"}).json() == {
        "recherches": [],
        "organismes": [],
        "communes": [],
    }


@pytest.mark.integration
def test_every_organisation_page_has_jsonld_canonical_and_a_unique_title(
    api_client, sample_searcher, entries
):
    titles, descriptions, located = {}, {}, 0
    for identifiant, name, dep, insee, commune, _declared in entries:
        path = slugs.organisation_path(
            {
                "id_organisme": identifiant,
                "denomination": name,
                "code_departement": dep,
                "code_commune_insee": insee,
                "commune": commune,
            }
        )
        tree = page(api_client, path)
        assert only(tree, "//link[@rel='canonical']/@href") == "http://testserver" + path
        (script,) = tree.xpath("//script[@type='application/ld+json']/text()")
        data = json.loads(script)
        assert data["@type"] == "EducationalOrganization" and data["name"] == name
        assert data["address"]["@type"] == "PostalAddress" and data["address"]["postalCode"]
        assert data["address"]["addressLocality"]
        org = sample_searcher.organisation(identifiant)
        located += org["latitude"] is not None
        if org["latitude"] is None:  # never placed: no claimed position
            assert "geo" not in data
        else:
            assert data["geo"] == {
                "@type": "GeoCoordinates",
                "latitude": org["latitude"],
                "longitude": org["longitude"],
            }
        assert only(tree, "//h1") == name
        titles.setdefault(only(tree, "/html/head/title"), []).append(identifiant)
        descriptions.setdefault(only(tree, "//meta[@name='description']/@content"), []).append(identifiant)
    assert len(entries) > 1500 and located == len(entries)  # every sample organisation has a place
    assert {t: ids for t, ids in titles.items() if len(ids) > 1} == {}
    assert {d: ids for d, ids in descriptions.items() if len(ids) > 1} == {}


def test_organisation_page_content(api_client, sample_searcher, entries):
    org = next(
        o
        for o in (sample_searcher.organisation(e[0]) for e in entries)
        if o["siret"] and o["specialites"] and o["nb_declarations"] > 1
    )
    tree = page(api_client, slugs.organisation_path(org))
    body = tree.text_content()
    for nda in org["numeros_declaration_activite"]:
        assert nda in only(tree, "//section[@aria-labelledby='declarations']")
    assert org["siret"] in body and org["siren"] in body
    assert org["specialites"][0]["libelle"] in body
    assert tree.xpath("//div[@id='mini-carte' and @data-lat and @data-lon]")
    assert tree.xpath("//div[contains(@class, 'warning')]")  # the sample's declarations are years old
    correction = only(tree, "//a[contains(@href, '/correction')]/@href")
    notice = page(api_client, correction)
    assert "Signaler une correction" in only(notice, "//h1")
    assert notice.xpath("//form[@method='post']//input[@name='csrf']")
    page(api_client, "/organismes/00000000000000/correction", status=404)


def test_old_slugs_and_bare_identifiers_redirect_permanently(api_client, sample_searcher, entries):
    org = next(o for o in (sample_searcher.organisation(e[0]) for e in entries) if o["siret"])
    canonical = slugs.organisation_path(org)
    dep, commune, slug = canonical.split("/")[2:]
    identifiant = org["id_organisme"].lower()
    for old in (
        f"/formation/{dep}/{commune}/ancien-nom-{identifiant}",
        f"/formation/13/marseille-13055/{slug}",
        f"/organisme/{org['siret']}",
        f"/organisme/{org['numero_declaration_activite']}",
        f"/formation/{org['numero_declaration_activite']}",
        f"/formation/{org['siret']}",
    ):
        response = api_client.get(old, follow_redirects=False)
        assert response.status_code == 301, old
        assert response.headers["location"] == canonical, old
    assert api_client.get(canonical, follow_redirects=False).status_code == 200
    page(api_client, f"/formation/{dep}/{commune}/inconnu-99999999999999", status=404)


def test_departement_page(api_client, sample_searcher):
    dep = max(sample_searcher.departements(), key=lambda d: d["nb_organismes"])
    path = slugs.departement_path(dep["code"])
    tree = page(api_client, path)
    assert dep["nom"] in only(tree, "//h1") and dep["nom"] in only(tree, "/html/head/title")
    lead = only(tree, "//p[@class='lead']").replace("\u202f", "")
    assert str(dep["nb_organismes"]) in lead and str(dep["nb_certifies"]) in lead
    assert len(tree.xpath("//table[@class='figures']//tbody/tr")) == 4
    assert tree.xpath("//svg[@role='img']/*[local-name()='title']")
    communes = tree.xpath("//section[@aria-labelledby='communes']//a/@href")
    assert communes and all(page(api_client, href) is not None for href in communes[:3])
    listed = tree.xpath("//section[@aria-labelledby='liste']//ol[@class='cards']/li")
    assert len(listed) == min(20, dep["nb_organismes"])
    if dep["nb_organismes"] > 20:
        second = page(api_client, path + "?page=2")
        assert only(second, "//link[@rel='canonical']/@href").endswith(path + "?page=2")
        assert "page 2" in only(second, "/html/head/title")
    assert api_client.get(f"/formation/{dep['code']}", follow_redirects=False).headers["location"] == path
    assert api_client.get("/formation/2A/", follow_redirects=False).headers["location"] == "/formation/2a/"
    page(api_client, "/formation/99/", status=404)


def test_commune_and_region_pages(api_client, sample_searcher):
    commune = sample_searcher.commune("75111")
    path = slugs.commune_path("75", commune["nom"], "75111")
    tree = page(api_client, path)
    assert "Paris 11" in only(tree, "//h1")
    assert len(tree.xpath("//ol[@class='cards']/li")) == min(20, commune["nb_organismes"])
    moved = api_client.get("/formation/75/autre-nom-75111/", follow_redirects=False)
    assert moved.status_code == 301 and moved.headers["location"] == path
    region = next(r for r in sample_searcher.regions() if r["code"] == "11")
    tree = page(api_client, slugs.region_path(region["nom"]))
    assert region["nom"] in only(tree, "//h1")
    assert "/formation/75/" in tree.xpath("//section[@aria-labelledby='departements']//a/@href")
    page(api_client, "/region/atlantide/", status=404)


def test_titles_differ_between_page_kinds(api_client):
    urls = ["/", "/recherche", "/formation/75/", "/formation/13/", "/region/ile-de-france/"]
    titles = [only(page(api_client, u), "/html/head/title") for u in urls]
    assert len(set(titles)) == len(titles)


def test_not_found_pages_and_the_api_untouched(api_client):
    tree = page(api_client, "/pas-une-page", status=404)
    assert only(tree, "//h1") == "Page introuvable"
    assert api_client.get("/api/v1/pas-un-point").json() == {
        "detail": "Introuvable : aucune ressource à cette adresse"
    }
    assert api_client.get("/api/v1/organismes/00000000000000").json() == {"detail": "organisme introuvable"}
    assert api_client.get("/api/docs").status_code == 200
    assert api_client.get("/static/leaflet/leaflet.js").status_code == 200


def test_robots_txt(api_client):
    robots = api_client.get("/robots.txt")
    assert robots.headers["content-type"].startswith("text/plain")
    assert "Sitemap: http://testserver/sitemap.xml" in robots.text and "Disallow: /api/" in robots.text
    assert "Disallow: /admin/" in robots.text


def sitemap_locations(client: TestClient) -> tuple[list[str], list[list[str]]]:
    """The index's sitemap files and the URLs of each, every document validated on the way."""
    index_schema = etree.XMLSchema(etree.parse(str(SCHEMAS / "siteindex.xsd")))
    urlset_schema = etree.XMLSchema(etree.parse(str(SCHEMAS / "sitemap.xsd")))
    index = etree.fromstring(client.get("/sitemap.xml").content)
    index_schema.assertValid(index)
    files = [loc.text for loc in index.iter("{*}loc")]
    urls = []
    for url in files:
        response = client.get(url)
        assert response.headers["content-type"].startswith("application/xml")
        doc = etree.fromstring(response.content)
        urlset_schema.assertValid(doc)
        urls.append([loc.text for loc in doc.iter("{*}loc")])
    return files, urls


def test_sitemap_validates_and_lists_every_page(api_client, entries):
    files, urls = sitemap_locations(api_client)
    assert files == ["http://testserver/sitemaps/1.xml"]
    listed = set(urls[0])
    assert "http://testserver/" in listed and "http://testserver/formation/75/" in listed
    for identifiant, name, dep, insee, commune, _ in entries[:50]:
        org = {
            "id_organisme": identifiant,
            "denomination": name,
            "code_departement": dep,
            "code_commune_insee": insee,
            "commune": commune,
        }
        assert "http://testserver" + slugs.organisation_path(org) in listed
    assert len(listed) == len(urls[0]) > len(entries)
    for url in list(listed)[:: max(1, len(listed) // 40)]:
        assert (
            api_client.get(url.removeprefix("http://testserver"), follow_redirects=False).status_code == 200
        )
    assert api_client.get("/sitemaps/2.xml").status_code == 404
    assert api_client.get("/sitemaps/x.xml").status_code == 404


def test_sitemap_splits_into_files_of_at_most_the_limit(sample_build):
    settings = ApiSettings(db=str(sample_build.db), rate_limit_per_minute=0)
    small = replace(
        settings, web=replace(settings.web, sitemap_max_urls=500, site_url="https://annuaire.test")
    )
    with TestClient(create_app(small)) as client:
        files, urls = sitemap_locations(client)
        total = sum(len(u) for u in urls)
        assert len(files) == math.ceil(total / 500) >= 4
        assert all(len(u) == 500 for u in urls[:-1]) and 0 < len(urls[-1]) <= 500
        assert all(u.startswith("https://annuaire.test/") for chunk in urls for u in chunk)
        assert len({u for chunk in urls for u in chunk}) == total


def test_facet_links_set_one_filter_each(api_client):
    tree = page(api_client, "/recherche?q=formation&page=3")
    links = tree.xpath("//details[@class='facets']//a/@href")
    departement = next(h for h in links if "departement=" in h)
    assert departement.startswith("/recherche?q=formation&departement=") and "page=" not in departement
    narrowed = page(api_client, departement)
    code = departement.rsplit("=", 1)[1]
    assert only(narrowed, "//select[@id='departement']/option[@selected]/@value") == code
    again = next(h for h in narrowed.xpath("//details[@class='facets']//a/@href") if "departement=" in h)
    assert again.count("departement=") == 1


def test_api_docs_load_swagger_ui_from_the_app(api_client):
    docs = api_client.get("/api/docs")
    assert docs.status_code == 200 and "/static/swagger-ui/swagger-ui-bundle.js" in docs.text
    assert "cdn." not in docs.text
    assert api_client.get("/static/swagger-ui/swagger-ui-bundle.js").status_code == 200
    assert api_client.get("/static/swagger-ui/swagger-ui.css").status_code == 200
