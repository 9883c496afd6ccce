"""The Content-Security-Policy in a real browser (issue 19): the other browser tests bypass it (they
inject axe-core); here Chromium enforces it, and the pages, their maps and the API documentation must
work with no violation reported."""

from __future__ import annotations

import re

import pytest

from test_web_browser import TILES, Console, browser, server, wait_for_map  # noqa: F401 - fixtures

VIOLATION = re.compile(r"Content Security Policy|Refused to", re.IGNORECASE)


@pytest.fixture
def strict_page(browser, server):  # noqa: F811 - the fixtures imported above
    context = browser.new_context(base_url=server, viewport={"width": 1360, "height": 900}, locale="fr-FR")
    tab = context.new_page()
    tab.route(TILES, lambda route: route.abort())  # no internet: tiles never load
    tab.set_default_timeout(15_000)
    console = Console(tab)
    violations: list[str] = []
    tab.on("console", lambda m: violations.append(m.text) if VIOLATION.search(m.text) else None)
    yield tab
    context.close()
    assert violations == []
    assert console.errors == []


def test_search_page_and_its_map_under_the_policy(strict_page):
    strict_page.goto("/recherche?q=formation")
    assert "script-src 'self'" in strict_page.evaluate(
        "fetch(location.href).then(r => r.headers.get('content-security-policy'))"
    )
    wait_for_map(strict_page)
    assert strict_page.locator("#carte .grappe").count() > 0
    strict_page.fill("#q", "sa")
    strict_page.wait_for_selector("#q-suggestions li[role=option]")  # suggest.js runs


def test_an_organisation_page_and_its_map_under_the_policy(strict_page):
    strict_page.goto("/recherche?q=formation")
    strict_page.click("ol.cards h3 a >> nth=0")
    strict_page.wait_for_url(re.compile(r"/formation/[0-9a-z]+/[^/]+/[^/]+$"))
    strict_page.wait_for_selector(".leaflet-container")


def test_the_api_documentation_under_the_policy(strict_page):
    strict_page.goto("/api/docs")
    strict_page.wait_for_selector(".swagger-ui .info .title")
    assert "Annuaire" in strict_page.locator(".swagger-ui .info .title").inner_text()
    strict_page.wait_for_selector(".opblock-tag")  # the operations, from /api/openapi.json
