"""Editorial guides: front matter checks, mention finding (property-based), safe rendering with the
directory's links, and the pages (/guides/, /guides/{slug}, guides on département pages)."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from lxml import html

from annuaire.api import ApiSettings, create_app
from annuaire.guides import GuideLibrary, default_folder
from annuaire.guides.library import GuideError, read_guide
from annuaire.guides.links import find_mentions, mention_pattern
from annuaire.guides.render import render_markdown
from annuaire.web import WebSettings, slugs

NAMES = {
    "Gironde": "33",
    "Rhône": "69",
    "Bouches-du-Rhône": "13",
    "Cher": "18",
    "Savoie": "73",
    "Haute-Savoie": "74",
}
PATTERN = mention_pattern(NAMES)


def mentions(text: str) -> list[tuple[str, str, str]]:
    return [(text[m.start : m.end], m.kind, m.key) for m in find_mentions(text, PATTERN, NAMES)]


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# -- front matter -------------------------------------------------------------------------------------


def test_a_guide_is_read_with_its_front_matter(tmp_path):
    guide = read_guide(
        write(
            tmp_path,
            "mon-guide.md",
            '---\ntitre: Un titre\ndate: 2026-01-02\ndepartements: [33, "2a", 1]\n---\nCorps',
        )
    )
    assert (guide.slug, guide.titre, guide.date, guide.departements, guide.body) == (
        "mon-guide",
        "Un titre",
        "2026-01-02",
        ("33", "2A", "01"),
        "Corps",
    )


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("---\ndescription: x\n---\nCorps", "`titre`"),
        ("---\ntitre: T\nslug: Pas Bon\n---\n", "slug"),
        ("---\ntitre: T\ndepartements: 33\n---\n", "list of codes"),
        ('---\ntitre: T\ndepartements: ["99"]\n---\n', "99"),
        ("---\ntitre: T\ndate: hier\n---\n", "YYYY-MM-DD"),
        ("---\ntitre: a: b: c\n---\n", "unreadable"),
    ],
)
def test_wrong_front_matter_is_explained(tmp_path, text, words):
    with pytest.raises(GuideError, match=words.replace("`", "`?")):
        read_guide(write(tmp_path, "g.md", text))


def test_the_library_leaves_out_broken_guides_and_rereads_changes(tmp_path, caplog):
    write(tmp_path, "bon.md", '---\ntitre: Bon\ndate: 2026-01-01\ndepartements: ["33"]\n---\nTexte')
    write(tmp_path, "casse.md", "---\ndescription: sans titre\n---\n")
    library = GuideLibrary(tmp_path)
    with caplog.at_level(logging.WARNING):
        assert list(library.guides()) == ["bon"]
    assert "casse.md left out" in caplog.text and "`titre`" in caplog.text
    assert [g.slug for g in library.for_departement("33")] == ["bon"] and library.for_departement("75") == []
    write(tmp_path, "nouveau.md", "---\ntitre: Nouveau\ndate: 2026-02-01\n---\n")
    assert list(library.guides()) == ["nouveau", "bon"]  # newest first


def test_the_shipped_guides_are_all_valid():
    files = sorted(default_folder().glob("*.md"))
    guides = GuideLibrary(default_folder()).guides()
    assert len(files) >= 3 and len(guides) == len(files)
    for guide in guides.values():
        assert guide.titre and guide.description and guide.date and len(guide.body) > 1000


# -- mentions ------------------------------------------------------------------------------------------


def test_departements_are_found_by_name_and_code():
    assert mentions("En Gironde (33), dans le Rhône et en (2A).") == [
        ("Gironde (33)", "departement", "33"),
        ("Rhône", "departement", "69"),
        ("(2A)", "departement", "2A"),
    ]
    assert mentions("Les Bouches-du-Rhône et la Haute-Savoie") == [
        ("Bouches-du-Rhône", "departement", "13"),
        ("Haute-Savoie", "departement", "74"),
    ]
    assert mentions("un cher ami, le Chery, la Savoies, (99), (3)") == []


def test_organisations_are_found_by_nda_and_siret():
    assert mentions("NDA 11755555555, SIRET 356 000 000 00048 ou 35600000000048.") == [
        ("11755555555", "organisme", "11755555555"),
        ("356 000 000 00048", "organisme", "35600000000048"),
        ("35600000000048", "organisme", "35600000000048"),
    ]
    assert mentions("1234567890 1234567890123 123456789012345 01 23 45 67 89") == []


@given(st.text(alphabet=st.sampled_from(list("Gironde Rhône(33)0123456789 -aB"))))
def test_mentions_never_overlap_and_stay_in_the_text(text):
    found = find_mentions(text, PATTERN, NAMES)
    for a, b in zip(found, found[1:], strict=False):
        assert a.end <= b.start
    for m in found:
        assert 0 <= m.start < m.end <= len(text)
        assert m.kind in ("departement", "organisme")


# -- rendering ----------------------------------------------------------------------------------------


def resolver(kind: str, key: str):
    pages = {
        ("departement", "33"): ("/formation/33/", "Gironde (33)"),
        ("organisme", "11755555555"): ("/o/1", "Org"),
    }
    return pages.get((kind, key))


def test_markdown_is_rendered_safely_with_the_directory_links():
    body = (
        "# Titre\n\nEn Gironde (33), voir 11755555555 et [ce centre](organisme:11755555555) ou "
        "[un inconnu](organisme:999).\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n"
        "[clic](javascript:alert(3)) [donnée](data:text/html;base64,PHNjcmlwdD4=) "
        "[déjà un lien sur Gironde](/ailleurs)\n\n`Gironde` en code\n"
    )
    out = render_markdown(body, NAMES, resolver)
    tree = html.fromstring(f"<div>{out}</div>")
    links = {a.text_content(): a.get("href") for a in tree.xpath("//a")}
    assert links["Gironde (33)"] == "/formation/33/"
    assert links["11755555555"] == "/o/1" and links["ce centre"] == "/o/1"
    assert links["un inconnu"] == "/recherche?q=999"
    assert links["déjà un lien sur Gironde"] == "/ailleurs"  # no link inside a link
    assert not tree.xpath("//script | //img | //*[@onerror]")
    assert "&lt;script&gt;" in out and "javascript:" not in str(links.values()) and "data:" not in str(links)
    assert tree.xpath("//code")[0].text == "Gironde"


MARKUP = st.text(
    alphabet=st.sampled_from(list("<>\"'=/:[]()!#*`\n -ascriptjvonerolimgGironde(33)")) | st.characters(),
    max_size=200,
)


@given(MARKUP)
def test_no_markdown_can_bring_a_script_or_an_event_handler(body):
    out = render_markdown(body, NAMES, resolver)
    assert "<script" not in out.lower() and "<iframe" not in out.lower()
    tree = html.fromstring(f"<div>{out}</div>")
    for element in tree.iter():
        assert not [name for name in element.attrib if name.lower().startswith("on")]
        for name in ("href", "src"):
            value = element.get(name, "").strip().lower()
            assert not value.startswith(("javascript:", "vbscript:", "data:text"))


# -- pages --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def guides_site(sample_build, sample_searcher, tmp_path_factory):
    folder = tmp_path_factory.mktemp("guides")
    dep = next(d for d in sample_searcher.departements() if d["nb_organismes"] > 5)
    entry = sample_searcher.sitemap_entries()[10]
    org = sample_searcher.organisation(entry[0])
    write(
        folder,
        "essai.md",
        f"---\ntitre: Essai <b>gras</b>\ndescription: Un essai\ndate: 2026-05-01\n"
        f'departements: ["{dep["code"]}"]\n---\n'
        f"Dans le département {dep['nom']}, l'organisme {org['numero_declaration_activite']} et "
        f"[celui-ci](organisme:{org['id_organisme']}).\n\n<script>alert('guide')</script>\n",
    )
    web = replace(WebSettings.from_settings(), guides_dir=folder)
    app = create_app(ApiSettings(db=str(sample_build.db), rate_limit_per_minute=0, web=web))
    with TestClient(app) as client:
        yield client, dep, org


def test_guides_are_listed_and_rendered_with_links(guides_site):
    client, dep, org = guides_site
    assert client.get("/guides", follow_redirects=False).headers["location"] == "/guides/"
    listing = html.fromstring(client.get("/guides/").text)
    assert listing.xpath("//ul[@class='guide-list']//a[@href='/guides/essai']")
    response = client.get("/guides/essai")
    assert response.status_code == 200
    tree = html.fromstring(response.text)
    assert tree.xpath("//h1")[0].text_content() == "Essai <b>gras</b>"  # the title as text
    article = tree.xpath("//article")[0]
    hrefs = {a.text_content(): a.get("href") for a in article.xpath(".//a")}
    assert hrefs[dep["nom"]] == slugs.departement_path(dep["code"])
    assert hrefs[org["numero_declaration_activite"]] == slugs.organisation_path(org)
    assert hrefs["celui-ci"] == slugs.organisation_path(org)
    assert not [s for s in tree.xpath("//script") if "alert" in (s.text or "")]
    assert "&lt;script&gt;alert" in response.text
    assert client.get("/guides/inconnu").status_code == 404
    sitemap = client.get("/sitemaps/1.xml").text
    assert "<loc>http://testserver/guides/essai</loc><lastmod>2026-05-01</lastmod>" in sitemap
    assert sitemap.index("/guides/essai") < sitemap.index(slugs.departement_path(dep["code"]))
    departement = html.fromstring(client.get(slugs.departement_path(dep["code"])).text)
    assert departement.xpath("//section[@aria-labelledby='guides-departement']//a[@href='/guides/essai']")


def test_the_shipped_guides_are_served(api_client):
    listing = html.fromstring(api_client.get("/guides/").text)
    slugs_listed = [a.get("href") for a in listing.xpath("//ul[@class='guide-list']//h2/a")]
    assert {"/guides/qualiopi", "/guides/bilan-de-competences", "/guides/vae"} <= set(slugs_listed)
    for href in slugs_listed:
        tree = html.fromstring(api_client.get(href).text)
        assert tree.xpath("//article//h2")
    qualiopi = html.fromstring(api_client.get("/guides/qualiopi").text)
    assert "/formation/33/" in qualiopi.xpath("//article//a/@href")
    assert html.fromstring(api_client.get("/").text).xpath("//nav//a[@href='/guides/']")
