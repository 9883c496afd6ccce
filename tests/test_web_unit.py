"""The website's pure parts: slugs and paths, French wording, generated descriptions, JSON-LD, charts,
sitemap files."""

from __future__ import annotations

import json
from datetime import date

import pytest
from lxml import etree

from annuaire.web import slugs, text
from annuaire.web.charts import bar_chart
from annuaire.web.jsonld import organisation_jsonld, script_json
from annuaire.web.sitemap import file_count, index_xml, robots_txt, urlset_xml

ORG = {
    "id_organisme": "12345678900011",
    "siret": "12345678900011",
    "siren": "123456789",
    "denomination": "École d'Été & Co",
    "numero_declaration_activite": "11755555575",
    "numeros_declaration_activite": ["11755555575", "84691234569"],
    "adresse": "12 RUE DE LA PAIX",
    "code_postal": "75002",
    "commune": "PARIS 02",
    "code_commune_insee": "75102",
    "code_departement": "75",
    "departement": "Paris",
    "region": "Île-de-France",
    "certification_actions_formation": True,
    "certification_bilans_competences": False,
    "certification_vae": True,
    "certification_apprentissage": False,
    "date_derniere_declaration": "2025-03-01",
    "latitude": 48.868,
    "longitude": 2.331,
    "specialites": [
        {"code": "333", "libelle": "Enseignement, formation"},
        {"code": "331", "libelle": "Santé"},
    ],
    # The most recent declaration's figures (the search layer's), never the declarations' sum.
    "nb_stagiaires": 120,
    "effectif_formateurs": 4,
    "declarations": [
        {"nb_stagiaires": 120, "effectif_formateurs": 4},
        {"nb_stagiaires": 120, "effectif_formateurs": 4},
    ],
}


@pytest.mark.parametrize(
    ("raw", "slug"),
    [
        ("École d'Été & Co", "ecole-d-ete-co"),
        ("  SARL   X.Y.Z  ", "sarl-x-y-z"),
        ("ŒUVRE — Ça", "uvre-ca"),
        ("", "organisme"),
        ("***", "organisme"),
        (None, "organisme"),
    ],
)
def test_slugify(raw, slug):
    assert slugs.slugify(raw) == slug


def test_slugs_are_capped_at_a_word_boundary():
    slug = slugs.slugify("formation " * 30)
    assert len(slug) <= slugs.MAX_SLUG and not slug.endswith("-") and slug.endswith("formation")


def test_organisation_path_round_trips_the_id():
    path = slugs.organisation_path(ORG)
    assert path == "/formation/75/paris-02-75102/ecole-d-ete-co-12345678900011"
    assert slugs.organisation_key(path.rsplit("/", 1)[1]) == "12345678900011"
    nda = {**ORG, "id_organisme": "NDA11755555575", "denomination": "X"}
    assert slugs.organisation_key(slugs.organisation_path(nda).rsplit("/", 1)[1]) == "NDA11755555575"


def test_organisation_without_place_lives_at_its_id():
    assert slugs.organisation_path({**ORG, "code_commune_insee": None}) == "/organisme/12345678900011"


def test_commune_and_departement_paths():
    assert slugs.commune_path("2A", "AJACCIO", "2A004") == "/formation/2a/ajaccio-2a004/"
    assert slugs.commune_code("ajaccio-2a004") == "2A004"
    assert slugs.commune_code("lyon-09-69389") == "69389"
    assert slugs.commune_code("lyon") is None
    assert slugs.departement_path("974") == "/formation/974/"
    assert slugs.region_path("Provence-Alpes-Côte d'Azur") == "/region/provence-alpes-cote-d-azur/"


def test_nice_name_and_french_formats():
    assert text.nice_name("ST MARTIN DE RE") == "St Martin de Re"
    assert text.nice_name("AIX-EN-PROVENCE") == "Aix-En-Provence"
    assert text.nice_name("Déjà Bien") == "Déjà Bien"
    assert text.french_date("2025-03-01") == "1er mars 2025"
    assert text.french_date("2024-12-25") == "25 décembre 2024"
    assert text.french_date(None) == ""
    assert text.number(1234567) == "1\u202f234\u202f567"
    assert text.join_words(["a", "b", "c"]) == "a, b et c"


def test_staleness_is_six_months():
    today = date(2026, 1, 1)
    assert not text.is_stale("2025-09-01", today)
    assert text.is_stale("2025-06-01", today)
    assert text.is_stale(None, today)
    assert text.is_stale("not a date", today)


def test_description_uses_the_organisations_fields():
    described = text.describe(ORG)
    assert described.startswith("École d'Été & Co est un organisme de formation à Paris 02 (Paris)")
    assert "actions de formation et validation des acquis de l'expérience (VAE)" in described
    assert "enseignement, formation et santé" in described
    assert "120 stagiaires et 4 formateurs" in described  # not 240 and 8: a merged organisation
    assert "1er mars 2025" in described
    bare = {
        **ORG,
        "specialites": [],
        "declarations": [],
        "nb_stagiaires": None,
        "effectif_formateurs": None,
        **{f"certification_{s}": False for s in text.SCOPE_LABELS},
    }
    assert "sans certification Qualiopi" in text.describe(bare)
    assert text.describe(bare) != described
    assert len(text.meta_description(ORG)) <= 160


def test_jsonld_has_name_address_geo_and_identifiers():
    data = json.loads(script_json(organisation_jsonld(ORG, "https://x.test/p", "d")))
    assert data["@type"] == "EducationalOrganization" and data["name"] == ORG["denomination"]
    assert data["address"] == {
        "@type": "PostalAddress",
        "addressCountry": "FR",
        "streetAddress": "12 RUE DE LA PAIX",
        "postalCode": "75002",
        "addressLocality": "Paris 02",
        "addressRegion": "Île-de-France",
    }
    assert data["geo"] == {"@type": "GeoCoordinates", "latitude": 48.868, "longitude": 2.331}
    assert [i["value"] for i in data["identifier"]] == ["12345678900011", "11755555575", "84691234569"]
    assert len(data["hasCredential"]) == 2
    assert "geo" not in organisation_jsonld({**ORG, "latitude": None, "longitude": None}, "u", "d")


def test_jsonld_cannot_close_its_script_element():
    out = script_json(organisation_jsonld({**ORG, "denomination": "</script><b>"}, "u", "d"))
    assert "</script>" not in out and json.loads(out)["name"] == "</script><b>"


def test_bar_chart_is_accessible_svg():
    svg = etree.fromstring(str(bar_chart("Titre <x>", [("Santé", 10), ("Commerce", 5)])))
    ns = {"s": "http://www.w3.org/2000/svg"}
    assert svg.get("role") == "img"
    assert svg.find("s:title", ns).text == "Titre <x>"
    widths = [float(r.get("width")) for r in svg.findall("s:rect", ns)]
    assert widths[0] == 2 * widths[1]
    assert str(bar_chart("t", [])) == ""


def test_sitemap_files_are_valid_xml_with_escaped_urls():
    assert file_count(0, 50_000) == 1 and file_count(50_000, 50_000) == 1 and file_count(50_001, 50_000) == 2
    index = etree.fromstring(index_xml("https://x.test", 3, "2026-01-02").encode())
    assert [loc.text for loc in index.iter("{*}loc")][-1] == "https://x.test/sitemaps/3.xml"
    urlset = etree.fromstring(
        urlset_xml("https://x.test", [("/a?b=1&c=2", None), ("/d", "2025-01-01")]).encode()
    )
    assert [loc.text for loc in urlset.iter("{*}loc")] == ["https://x.test/a?b=1&c=2", "https://x.test/d"]
    assert "Sitemap: https://x.test/sitemap.xml" in robots_txt("https://x.test")
