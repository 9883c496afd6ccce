"""The website in a real browser: Debian's Chromium, headless, driven by Playwright against
`annuaire serve` on the sample directory. Map tiles are refused (as without internet): the pages must
work without them. Screenshots go to test-artifacts/web/ (printed at the end of the run)."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from conftest import REPO

CHROMIUM = os.environ.get("ANNUAIRE_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts" / "web"
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
TILES = re.compile(r"^https://tile\.openstreetmap\.org/")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(annuaire_bin, annuaire_env, sample_build):
    port = free_port()
    env = {**annuaire_env, "ANNUAIRE_TILE_URL": "https://tile.openstreetmap.org/{z}/{x}/{y}.png"}
    proc = subprocess.Popen(
        [annuaire_bin, "serve", "--db", sample_build.db, "--port", str(port), "--rate-limit", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(base + "/", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "the server did not start within 60 s"
        time.sleep(0.3)
    yield base
    proc.terminate()
    proc.communicate(timeout=20)  # and its pipes closed


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).is_file():
        pytest.fail(f"Chromium not found at {CHROMIUM} (apt-get install chromium)", pytrace=False)
    if not AXE.is_file():
        pytest.fail(f"{AXE} missing: run `make install` (npm ci)", pytrace=False)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        chromium.close()


class Console:
    """Console errors and uncaught exceptions of a page, except failed tile loads (expected here)."""

    def __init__(self, page):
        self.errors: list[str] = []
        page.on("console", self._message)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))

    def _message(self, message):
        if message.type == "error" and not TILES.match(message.location.get("url") or ""):
            self.errors.append(f"{message.text} at {message.location}")


@pytest.fixture
def page(browser, server):
    # bypass_csp: axe-core is injected into the pages, the admin and form pages forbid scripts
    context = browser.new_context(
        base_url=server, viewport={"width": 1366, "height": 900}, locale="fr-FR", bypass_csp=True
    )
    tab = context.new_page()
    tab.route(TILES, lambda route: route.abort())  # no internet: tiles never load
    tab.set_default_timeout(15_000)
    console = Console(tab)
    yield tab
    context.close()
    assert console.errors == []


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def total(page) -> int:
    heading = page.locator("#resultats-titre").inner_text()
    return int(re.match(r"[\d\u202f ]+", heading).group(0).replace("\u202f", "").replace(" ", ""))


def wait_for_results(page) -> None:
    page.wait_for_function(
        "document.querySelector('#resultats-titre') && !document.querySelector('[aria-busy]')"
    )


def wait_for_map(page) -> None:
    """Until the map has drawn the clusters of the filters the results show."""
    page.wait_for_function(
        """() => {
            const map = document.querySelector('#carte');
            const results = document.querySelector('#resultats .results');
            return map.dataset.etat === 'pret' && map.dataset.filtresAffiches === results.dataset.filtres;
        }"""
    )


def test_search_filter_paginate_open_and_go_back(page):
    page.goto("/")
    page.fill("#q", "formation")
    page.wait_for_selector("#q-suggestions li[role=option]")
    assert page.get_attribute("#q", "aria-expanded") == "true"
    page.press("#q", "Enter")
    page.wait_for_url(re.compile(r"/recherche\?q=formation$"))
    all_matches = total(page)
    assert all_matches > 40 and page.locator("ol.cards > li").count() == 20
    wait_for_map(page)
    assert page.locator("#carte .grappe").count() > 0
    shot(page, "recherche")

    page.evaluate("window.__sameDocument = true")  # gone if the page reloads
    page.check("#portee-vae")
    page.wait_for_url(re.compile(r"portee=vae"))
    page.wait_for_function(
        "document.querySelector('#resultats-titre') && !document.querySelector('[aria-busy]')"
    )
    filtered = total(page)
    assert 0 < filtered < all_matches
    assert all("VAE" in card.inner_text() for card in page.locator("ol.cards > li").all())
    wait_for_map(page)
    assert page.evaluate("window.__sameDocument") is True
    assert int(page.get_attribute("#carte", "data-total")) == filtered

    page.uncheck("#portee-vae")
    page.wait_for_url(re.compile(r"/recherche\?q=formation$"))
    first_page = page.locator("ol.cards h3 a").all_inner_texts()
    page.click("nav.pager a[rel=next]")
    page.wait_for_url(re.compile(r"page=2"))
    page.wait_for_function("document.activeElement && document.activeElement.id === 'resultats-titre'")
    second_page = page.locator("ol.cards h3 a").all_inner_texts()
    assert second_page and not set(first_page) & set(second_page)
    assert page.evaluate("window.__sameDocument") is True
    assert "page 2" in page.locator("#resultats-titre").inner_text()

    name = second_page[0]
    page.click(f"ol.cards h3 a >> text={name}")
    page.wait_for_url(re.compile(r"/formation/[0-9a-z]+/[^/]+/[^/]+$"))
    assert page.locator("h1").inner_text() == name
    assert page.locator("script[type='application/ld+json']").count() == 1
    shot(page, "organisme")

    page.go_back()
    page.wait_for_url(re.compile(r"page=2"))
    page.wait_for_selector("ol.cards h3 a")
    assert page.locator("ol.cards h3 a").all_inner_texts() == second_page
    assert (
        page.locator("h1").inner_text() == "Rechercher un organisme de formation"
    )  # the page, not the fragment
    assert page.locator("#recherche #q").input_value() == "formation"
    page.go_back()
    page.wait_for_url(re.compile(r"/recherche\?q=formation$"))
    page.wait_for_function("!/page 2/.test(document.querySelector('#resultats-titre').innerText)")
    assert page.locator("ol.cards h3 a").all_inner_texts() == first_page


def test_map_clusters_zoom_in_when_activated(page):
    page.goto("/recherche")
    wait_for_map(page)
    before = page.evaluate("window.annuaireMap.map.getZoom()")
    clusters = page.locator("#carte .grappe")
    assert clusters.count() > 0
    biggest = max(clusters.all(), key=lambda c: int(c.inner_text()))
    page.evaluate("document.querySelector('#carte').dataset.etat = 'attente'")
    biggest.focus()  # markers are in the tab order: Enter zooms as a click does
    page.keyboard.press("Enter")
    page.wait_for_function(f"window.annuaireMap.map.getZoom() > {before}")
    wait_for_map(page)
    shown = page.locator("#carte .grappe").count() + page.locator("#carte .point").count()
    assert shown > 0
    shot(page, "carte-zoom")


def test_a_facet_link_narrows_the_search_in_place(page):
    page.goto("/recherche?q=formation")
    wait_for_map(page)
    before = total(page)
    page.evaluate("window.__sameDocument = true")
    page.click("details.facets summary")
    link = page.locator("details.facets a[href*='departement=']").first
    count = int(link.locator("xpath=..").locator(".count").inner_text().replace("\u202f", "").lstrip("· "))
    link.click()
    page.wait_for_url(re.compile(r"departement="))
    wait_for_results(page)
    code = re.search(r"departement=([0-9AB]+)", page.url).group(1)
    assert total(page) == count < before
    assert page.locator("#departement").input_value() == code
    assert page.evaluate("window.__sameDocument") is True
    wait_for_map(page)
    assert int(page.get_attribute("#carte", "data-total")) == count


def test_keyboard_autocomplete_opens_a_commune(page):
    page.goto("/")
    page.focus("#q")
    page.keyboard.type("pari")
    page.wait_for_selector("#q-suggestions li[role=option]")
    options = page.locator("#q-suggestions li[role=option]")
    labels = options.all_inner_texts()
    index = next(i for i, label in enumerate(labels) if label.startswith("Paris"))
    for _ in range(index + 1):
        page.keyboard.press("ArrowDown")
    assert page.get_attribute("#q", "aria-activedescendant") == options.nth(index).get_attribute("id")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/formation/75/paris-[0-9-]+/$"))
    assert page.locator("h1").inner_text().startswith("Organismes de formation à Paris")


def test_pages_work_without_javascript(browser, server):
    context = browser.new_context(base_url=server, java_script_enabled=False)
    tab = context.new_page()
    tab.goto("/")
    tab.fill("#q", "formation")
    tab.click("form[role=search] button[type=submit]")
    tab.wait_for_url(re.compile(r"/recherche\?q=formation"))
    assert tab.locator("ol.cards > li").count() == 20
    tab.click("nav.pager a[rel=next]")
    tab.wait_for_url(re.compile(r"page=2"))
    assert "page 2" in tab.locator("#resultats-titre").inner_text()
    context.close()


def test_phone_layout_does_not_scroll_sideways(browser, server):
    context = browser.new_context(base_url=server, viewport={"width": 375, "height": 740}, is_mobile=True)
    tab = context.new_page()
    tab.route(TILES, lambda route: route.abort())
    tab.goto("/formation/75/")
    organisation = tab.locator("ol.cards h3 a").first.get_attribute("href")
    for url, name in (
        ("/", "mobile-accueil"),
        ("/recherche?q=formation", "mobile-recherche"),
        ("/formation/75/", "mobile-departement"),
        (organisation, "mobile-organisme"),
    ):
        tab.goto(url)
        assert tab.evaluate("document.documentElement.scrollWidth") <= 375, url
        tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    context.close()


def axe_violations(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


VIEWPORTS = {
    "ordinateur": {"viewport": {"width": 1366, "height": 900}},
    "telephone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}
# Every page type a visitor can reach (None: the first organisation listed in Paris).
PAGE_TYPES = [
    ("/", "accueil"),
    ("/recherche?q=formation&portee=actions_formation", "recherche-filtree"),
    ("/recherche?autour=Nullepartville", "recherche-commune-inconnue"),
    ("/recherche?q=zzzzqqqq", "recherche-sans-resultat"),
    ("/recherche?q=anglais+paris", "recherche-comprise"),
    ("/recherche?q=formaton", "recherche-orthographe"),
    ("/recherche?q=vae+marseille", "recherche-a-elargir"),
    ("/formation/75/", "departement"),
    ("/region/ile-de-france/", "region"),
    (None, "organisme"),
    ("/guides/", "guides"),
    ("/guides/qualiopi", "guide"),
    ("/sources", "sources"),
    ("/qualite", "qualite"),
    ("/statistiques", "statistiques"),
    ("/donnees/", "donnees"),
    ("/mentions-legales", "mentions-legales"),
    ("/accessibilite", "accessibilite"),
    ("/donnees-personnelles", "donnees-personnelles"),
    ("/api/docs", "api-docs"),
    ("/admin/connexion", "admin-connexion"),
    ("/pas-une-page", "erreur-404"),
    ("/formation/75/?page=500", "erreur-page-au-dela"),
]


def first_organisation(tab) -> str:
    tab.goto("/formation/75/")
    return tab.locator("ol.cards h3 a").first.get_attribute("href")


@pytest.mark.parametrize("device", VIEWPORTS)
def test_no_serious_accessibility_violation_on_any_page_type(browser, server, device):
    """axe-core on every page type, on a computer's screen and a phone's: no serious or critical
    violation; no page scrolls sideways on the phone."""
    context = browser.new_context(base_url=server, locale="fr-FR", bypass_csp=True, **VIEWPORTS[device])
    tab = context.new_page()
    tab.route(TILES, lambda route: route.abort())
    tab.set_default_timeout(15_000)
    console = Console(tab)
    found = {}
    for url, name in PAGE_TYPES:
        if url is None:
            url = first_organisation(tab)
        tab.goto(url)
        if tab.locator("#carte").count():
            wait_for_map(tab)
        if name == "api-docs":
            tab.wait_for_selector(".swagger-ui .opblock")
        violations = axe_violations(tab)
        if violations:
            found[url] = violations
        width = tab.evaluate("document.documentElement.scrollWidth")
        assert width <= VIEWPORTS[device]["viewport"]["width"], (url, width)
        tab.screenshot(path=str(ARTIFACTS / f"{device}-{name}.png"), full_page=True)
    context.close()
    assert found == {}
    # the browser reports the error pages' own status (404, 422) as failed loads: expected here
    assert [e for e in console.errors if not re.search(r"status of (404|422)", e)] == []


@pytest.mark.parametrize("device", VIEWPORTS)
def test_the_statistics_map_is_drawn_without_script_nor_tiles(browser, server, device):
    """The map of France on the statistics page, at a computer's width and a phone's: drawn by the
    server (JavaScript off, nothing asked of another host), filled with the stylesheet's tints, its
    legend and table beside it, nothing scrolling sideways but the table's own region."""
    viewport = VIEWPORTS[device]["viewport"]
    context = browser.new_context(
        base_url=server, locale="fr-FR", java_script_enabled=False, **VIEWPORTS[device]
    )
    tab = context.new_page()
    hosts = set()
    tab.on("request", lambda r: hosts.add(re.match(r"^[a-z]+://[^/]+", r.url).group(0)))
    tab.goto("/statistiques")
    assert hosts == {server}
    figure = tab.locator("svg.choroplethe")
    assert figure.get_attribute("role") == "img"
    box = figure.bounding_box()
    assert box["width"] >= min(viewport["width"] - 60, 700), box
    assert tab.locator("svg.choroplethe path").count() == 101
    tints = tab.evaluate(
        """() => {
            const found = {};
            for (const p of document.querySelectorAll('svg.choroplethe path'))
                found[p.getAttribute('class')] = getComputedStyle(p).fill;
            return found;
        }"""
    )
    assert len(tints) >= 2 and len(set(tints.values())) == len(tints), tints  # one fill per tint
    assert "rgb(0, 0, 0)" not in tints.values()  # the stylesheet's, not SVG's default black
    assert tab.locator("ul.legende li").count() >= len(tints)
    assert tab.locator("ul.legende li").first.is_visible()
    rows = tab.locator("#tableau-departements-chiffres tbody tr")
    assert rows.count() == 109
    assert tab.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    tab.screenshot(path=str(ARTIFACTS / f"{device}-statistiques-sans-script.png"), full_page=True)
    context.close()


def test_a_correction_is_sent_from_an_organisation_page(browser, server):
    context = browser.new_context(
        base_url=server, viewport={"width": 1366, "height": 900}, locale="fr-FR", bypass_csp=True
    )
    page = context.new_page()
    page.route(TILES, lambda route: route.abort())
    page.set_default_timeout(15_000)
    console = Console(page)
    page.goto("/formation/75/")
    page.locator("ol.cards h3 a").first.click()
    page.get_by_role("link", name="Signaler une correction").click()
    page.wait_for_url(re.compile(r"/organismes/[^/]+/correction$"))
    box = page.locator("#site_web").bounding_box()
    assert box is None or box["x"] + box["width"] <= 0  # the honeypot stays out of sight
    assert axe_violations(page) == []
    page.select_option("#champ", "code_postal")
    page.fill("#valeur", "750")
    page.fill("#email", "lectrice@exemple.fr")
    page.click("button[type=submit]")
    page.wait_for_selector("#erreurs")
    assert "contient 1 erreur :" in page.locator("#erreurs").inner_text()
    assert "cinq chiffres" in page.locator("#erreurs").inner_text()
    assert page.get_attribute("#valeur", "aria-invalid") == "true"
    shot(page, "correction-erreur")
    page.fill("#valeur", "75011")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"envoye=1$"))
    assert "bien été reçu" in page.locator("[role=status]").inner_text()
    context.close()
    # the browser reports the form's 422 answer (invalid value) as a failed load: expected here
    assert [e for e in console.errors if "status of 422" not in e] == []


# A map whose département outlines are drawn (map.js counts them in data-contours-affiches).
DRAWN = "[data-contours-affiches]:not([data-contours-affiches='0'])"


def test_the_site_works_with_every_outside_host_blocked(browser, server):
    """No internet at all (every host but the site's own refused): the home page, the search with
    its map (clusters over the départements' outlines), an organisation page and the API docs work."""
    context = browser.new_context(base_url=server, viewport={"width": 1366, "height": 900}, locale="fr-FR")
    outside: list[str] = []

    def gate(route):
        if route.request.url.startswith(server):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", gate)
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    console = Console(tab)
    tab.goto("/")
    assert tab.locator("h1").inner_text() == "Trouver un organisme de formation"
    tab.goto("/recherche?q=formation")
    wait_for_map(tab)
    # Selectors, not wait_for_function: the page's CSP forbids the eval a predicate string needs.
    tab.wait_for_selector(f"#carte{DRAWN}", state="attached")
    tab.wait_for_selector("#carte[data-tuiles='indisponibles']", state="attached")
    assert tab.locator("#carte .grappe").count() > 0
    assert tab.locator("#carte path.leaflet-interactive, #carte svg path").count() >= 101  # the outlines
    filled = tab.evaluate("getComputedStyle(document.querySelector('#carte svg path')).fillOpacity")
    assert float(filled) == 1  # tiles failed: the land is drawn
    shot(tab, "hors-ligne-recherche")
    organisation = tab.locator("ol.cards h3 a").first.get_attribute("href")
    tab.goto(organisation)
    assert tab.locator("section[aria-labelledby='identite']").count() == 1
    if tab.locator("#mini-carte").count():
        tab.wait_for_selector(f"#mini-carte{DRAWN}", state="attached")
    tab.goto("/api/docs")
    tab.wait_for_selector(".swagger-ui .opblock")
    assert tab.locator(".swagger-ui .opblock").count() >= 10
    assert "Annuaire des organismes de formation" in tab.locator(".swagger-ui .info").inner_text()
    shot(tab, "hors-ligne-api-docs")
    context.close()
    assert outside and all(TILES.match(u) for u in outside)  # only the tiles were asked elsewhere
    assert console.errors == []


def test_a_phone_shows_the_active_filters_above_the_results_each_removable(browser, server):
    context = browser.new_context(
        base_url=server,
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        locale="fr-FR",
    )
    tab = context.new_page()
    tab.route(TILES, lambda route: route.abort())
    tab.set_default_timeout(15_000)
    tab.goto("/recherche?q=formation&portee=vae")
    wait_for_results(tab)
    chips = tab.locator(".active-filters a")
    assert [" ".join(c.split()) for c in chips.all_inner_texts()] == ["« formation » ✕", "Qualiopi · VAE ✕"]
    summary = tab.locator(".active-filters").bounding_box()
    heading = tab.locator("#resultats-titre").bounding_box()
    assert summary["y"] < heading["y"]  # above the results' count
    filtered = total(tab)
    tab.evaluate("window.__sameDocument = true")
    tab.get_by_role("link", name="Retirer le filtre Qualiopi · VAE").click()
    tab.wait_for_url(re.compile(r"/recherche\?q=formation$"))
    wait_for_results(tab)
    assert total(tab) > filtered and tab.locator(".active-filters a").count() == 1
    assert tab.evaluate("window.__sameDocument") is True and not tab.is_checked("#portee-vae")
    shot(tab, "telephone-filtres-actifs")
    # an unknown commune: the alert is brought into view, not left below the folded form
    tab.click("#filtres summary")
    tab.fill("#autour", "Nullepartville")
    tab.click("#recherche button[type=submit]")
    tab.wait_for_selector("#erreur-recherche")
    tab.wait_for_function(
        "(() => { const r = document.querySelector('#erreur-recherche').getBoundingClientRect();"
        " return r.top >= 0 && r.bottom <= window.innerHeight; })()"
    )
    assert "Commune inconnue" in tab.locator("#erreur-recherche").inner_text()
    shot(tab, "telephone-commune-inconnue")
    context.close()


def test_certified_box_and_non_certified_facet_in_place(page):
    page.goto("/recherche?q=formation")
    wait_for_results(page)
    everything = total(page)
    page.evaluate("window.__sameDocument = true")
    page.check("#certifie")
    page.wait_for_url(re.compile(r"certifie=oui"))
    wait_for_results(page)
    certified = total(page)
    assert 0 < certified < everything
    page.uncheck("#certifie")
    page.wait_for_url(re.compile(r"/recherche\?q=formation$"))
    wait_for_results(page)
    page.click("details.facets summary")
    page.click("details.facets a:text-is('Non certifiés')")
    page.wait_for_url(re.compile(r"certifie=non"))
    wait_for_results(page)
    assert total(page) == everything - certified
    page.select_option("#tri", "nom")  # another change keeps the facet's condition
    page.wait_for_url(re.compile(r"tri=nom"))
    wait_for_results(page)
    assert "certifie=non" in page.url and total(page) == everything - certified
    assert page.evaluate("window.__sameDocument") is True


def test_typing_a_need_and_a_place_shows_chips_and_removing_one_widens(page):
    """Issue 18: "anglais paris" typed in the box is a need and a place, shown as removable chips."""
    page.goto("/recherche")
    page.fill("#q", "anglais paris")
    page.press("#q", "Enter")
    page.wait_for_url(re.compile(r"/recherche\?q=anglais\+paris$"))
    wait_for_results(page)
    chips = page.locator(".understood a.chip")
    assert [" ".join(c.split()) for c in chips.all_inner_texts()] == ["Langues vivantes ×", "Paris ×"]
    narrow = total(page)
    assert 0 < narrow == page.locator("ol.cards > li").count()
    assert all("Paris" in card.inner_text() for card in page.locator("ol.cards > li").all())
    shot(page, "recherche-comprise")
    page.evaluate("window.__sameDocument = true")
    page.locator(".understood a.chip", has_text="Paris").click()
    page.wait_for_url(re.compile(r"/recherche\?q=anglais$"))
    page.wait_for_function(f"!/^{narrow} /.test(document.querySelector('#resultats-titre').innerText)")
    wait_for_results(page)
    assert total(page) > narrow  # the place removed: English anywhere
    assert [" ".join(c.split()) for c in page.locator(".understood a.chip").all_inner_texts()] == [
        "Langues vivantes ×"
    ]
    assert page.locator("#q").input_value() == "anglais"
    assert page.evaluate("window.__sameDocument") is True


def test_the_suggestions_offer_the_corrected_spelling(page):
    page.goto("/")
    page.focus("#q")
    page.keyboard.type("formaton")
    page.wait_for_selector("#q-suggestions li.search-option")
    first = page.locator("#q-suggestions li[role=option]").first
    assert first.inner_text().startswith("formation") and "orthographe corrigée" in first.inner_text()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/recherche\?q=formation$"))
    wait_for_results(page)
    assert total(page) > 0
    page.goto("/recherche?q=formaton")
    wait_for_results(page)
    assert page.locator(".spelling").inner_text().startswith("Résultats pour « formation »")
    page.click("#orthographe-exacte")
    page.wait_for_url(re.compile(r"correction=non"))
    wait_for_results(page)
    assert page.locator("#resultats-titre").inner_text() == "Aucun organisme trouvé"
    assert page.locator(".spelling").count() == 0
