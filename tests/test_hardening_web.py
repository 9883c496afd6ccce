"""The server under hostile requests (issue 19): forged proxy headers, pages past the end, ids out of
range, a database deleted while serving, HEAD requests, security headers, Host headers."""

from __future__ import annotations

import logging
import os
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from lxml import html

from annuaire.api import ApiSettings, create_app
from annuaire.corrections import CorrectionSettings
from annuaire.web import WebSettings

PASSWORD = "un mot de passe assez long"
PEER = ("203.0.113.5", 40000)  # a visitor's own address, as the server sees it


def client_for(
    db: Path, folder: Path, *, peer=PEER, rate_limit=0, proxies=(), web=None, **limits
) -> TestClient:
    settings = CorrectionSettings(path=str(folder / "corrections.sqlite"), **limits)
    extra = {"trusted_proxies": tuple(proxies)} if proxies else {}
    app = create_app(
        ApiSettings(
            db=str(db),
            rate_limit_per_minute=rate_limit,
            corrections=settings,
            web=web or WebSettings.from_settings(),
            **extra,
        )
    )
    base = "https://testserver" if limits.get("secure_cookies") else "http://testserver"
    return TestClient(app, base_url=base, client=peer)


def csrf_of(client: TestClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return html.fromstring(response.text).xpath("//input[@name='csrf']/@value")[0]


def try_login(client: TestClient, name: str, password: str, forged: str | None = None):
    token = csrf_of(client, "/admin/connexion")
    headers = {"X-Forwarded-For": forged} if forged else {}
    return client.post(
        "/admin/connexion",
        data={"csrf": token, "nom": name, "mot_de_passe": password},
        headers=headers,
        follow_redirects=False,
    )


# --- item 1: proxy headers -----------------------------------------------------------------------


def test_forged_forwarded_for_from_an_untrusted_peer_changes_nothing(sample_build, tmp_path):
    """No proxy is trusted by default: a different X-Forwarded-For on each request is still one client."""
    with client_for(sample_build.db, tmp_path, rate_limit=3) as client:
        answers = [
            client.get("/api/v1/stats", headers={"X-Forwarded-For": f"198.51.100.{i}"}) for i in range(6)
        ]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429, 429]
    assert all(int(a.headers["Retry-After"]) >= 1 for a in answers[3:])


def test_the_login_limit_and_the_audit_log_use_the_real_address(sample_build, tmp_path):
    """The probe's attack: wrong passwords, each with another forged header, then the right one."""
    with client_for(sample_build.db, tmp_path, logins_per_quarter=3) as client:
        store = client.app.state.guard.store
        store.add_moderator("paul", PASSWORD)
        statuses = [try_login(client, "paul", "non", forged=f"192.0.2.{i}").status_code for i in range(5)]
        right = try_login(client, "paul", PASSWORD, forged="192.0.2.200")
    assert statuses == [401, 401, 401, 429, 429]
    assert right.status_code == 429  # still limited: the header did not make a new client
    addresses = {e["detail"]["ip"] for e in store.journal()[0] if e["detail"] and "ip" in e["detail"]}
    assert addresses == {PEER[0]}


def test_a_trusted_proxy_names_the_client(sample_build, tmp_path):
    proxy = ("10.1.2.3", 5000)
    with client_for(
        sample_build.db, tmp_path, peer=proxy, proxies=("10.0.0.0/8",), rate_limit=2, logins_per_quarter=5
    ) as client:
        store = client.app.state.guard.store
        store.add_moderator("paul", PASSWORD)
        # A forged first address is ignored: the client is the last one not a trusted proxy.
        assert try_login(client, "paul", "non", forged="6.6.6.6, 198.51.100.7, 10.9.9.9").status_code == 401
        assert try_login(client, "paul", PASSWORD, forged="198.51.100.8").status_code == 303
        # The API's limit counts per real client behind the proxy.
        a = [
            client.get("/api/v1/stats", headers={"X-Forwarded-For": "198.51.100.20"}).status_code
            for _ in range(3)
        ]
        b = client.get("/api/v1/stats", headers={"X-Forwarded-For": "198.51.100.21"}).status_code
    assert a == [200, 200, 429] and b == 200
    logged = [(e["action"], e["detail"]["ip"]) for e in store.journal()[0] if e["detail"]]
    assert ("connexion_refusee", "198.51.100.7") in logged and ("connexion", "198.51.100.8") in logged


def test_trusted_proxies_are_checked():
    from annuaire import settings
    from annuaire.api.proxies import parse_trusted_proxies
    from annuaire.errors import InputError

    assert parse_trusted_proxies(" 10.0.0.1, 192.168.0.0/16 ,::1") == ("10.0.0.1", "192.168.0.0/16", "::1")
    assert settings.read({}).trusted_proxies == ()
    with pytest.raises(ValueError, match="proxy.example"):
        parse_trusted_proxies("10.0.0.1, proxy.example")
    with pytest.raises(InputError, match="ANNUAIRE_TRUSTED_PROXIES: .*proxy.example"):
        settings.read({"ANNUAIRE_TRUSTED_PROXIES": "10.0.0.1, proxy.example"})


# --- item 4: no 500 for a visitor ----------------------------------------------------------------


@pytest.fixture(scope="module")
def site(sample_build, tmp_path_factory):
    folder = tmp_path_factory.mktemp("hardening-site")
    with client_for(sample_build.db, folder, corrections_per_hour=500, logins_per_quarter=500) as client:
        yield client


def test_pages_past_the_end_are_not_found(site):
    first = site.get("/recherche", params={"q": "formation"})
    assert first.status_code == 200
    pages = max(int(n) for n in re.findall(r"page=(\d+)", first.text))
    assert site.get("/recherche", params={"q": "formation", "page": pages}).status_code == 200
    for page in (pages + 1, pages + 3, 10**20):
        answer = site.get("/recherche", params={"q": "formation", "page": page})
        assert answer.status_code == 404, page
        # the search form kept, saying the page does not exist, with a link to the last one
        assert "n'existe pas" in html.fromstring(answer.text).text_content()
    assert site.get("/formation/75/", params={"page": 400}).status_code == 404
    assert site.get("/formation/75/", params={"page": "99999999999999999999"}).status_code == 404
    assert site.get("/recherche", params={"q": "zzzzqqqq", "page": 2}).status_code == 404
    assert site.get("/recherche", params={"q": "zzzzqqqq"}).status_code == 200  # no result: one page


@pytest.mark.parametrize(
    "url",
    [
        "/sitemaps/%C2%B2.xml",
        "/sitemaps/99999999999999999999999.xml",
        "/organisme/" + "9" * 40,
        "/formation/" + "1" * 40,
        "/organismes/" + "9" * 40 + "/correction",
        "/admin/?page=%C2%B2",
        "/recherche?page=%C2%B2",
    ],
)
def test_odd_ids_and_numbers_do_not_fail(site, url):
    assert site.get(url).status_code in (200, 303, 404)


def test_an_api_id_out_of_range_is_refused(site):
    assert site.get("/api/v1/organismes/" + "9" * 40).status_code == 404
    assert site.get("/api/v1/organismes/" + "9" * 41).status_code == 422


def test_an_out_of_range_correction_id_in_an_admin_post(site):
    store = site.app.state.guard.store
    store.add_moderator("moderatrice", PASSWORD)
    assert try_login(site, "moderatrice", PASSWORD).status_code == 303
    token = csrf_of(site, "/admin/")
    for correction in ("9" * 40, "²", "12345678901234567890"):
        answer = site.post(
            f"/admin/corrections/{correction}/approuver", data={"csrf": token}, follow_redirects=False
        )
        assert answer.status_code in (404, 422), correction
    answer = site.post("/admin/corrections/123456/approuver", data={"csrf": token}, follow_redirects=False)
    assert answer.status_code == 409  # a number in range that is not a correction: as before


@pytest.mark.integration
def test_a_deleted_database_answers_503_then_recovers(sample_build, tmp_path, caplog):
    db = tmp_path / "annuaire.db"
    shutil.copyfile(sample_build.db, db)
    urls = [
        "/",
        "/recherche?q=formation",
        "/formation/75/",
        "/api/v1/stats",
        "/api/v1/organismes?q=formation",
    ]
    with client_for(db, tmp_path) as client:
        assert [client.get(u).status_code for u in urls] == [200] * len(urls)
        aside = db.with_name("aside.db")
        os.replace(db, aside)
        with caplog.at_level(logging.ERROR, logger="annuaire.web"):
            answers = [client.get(u) for u in urls]
        assert [a.status_code for a in answers] == [503] * len(urls)
        assert all(a.headers["Retry-After"].isdigit() for a in answers)
        assert "indisponible" in answers[0].text and '<html lang="fr">' in answers[0].text
        assert "indisponible" in answers[3].json()["detail"]
        assert any("unavailable" in r.getMessage() for r in caplog.records)
        assert client.head("/").status_code == 503
        # Not a database (a half-copied file, say): unavailable too.
        db.write_bytes(b"not a database " * 100)
        assert [client.get(u).status_code for u in urls] == [503] * len(urls)
        # The file comes back: served again, without a restart.
        os.replace(aside, db)
        assert [client.get(u).status_code for u in urls] == [200] * len(urls)


HEAD_URLS = [
    "/",
    "/recherche?q=formation",
    "/formation/75/",
    "/guides/",
    "/sitemap.xml",
    "/robots.txt",
    "/qualite",
    "/api/v1/stats",
    "/api/v1/organismes?q=formation",
    "/api/v1/departements",
    "/api/openapi.json",
    "/api/docs",
    "/static/site/site.css",
    "/page-qui-n-existe-pas",
]


@pytest.mark.parametrize("url", HEAD_URLS)
def test_head_works_wherever_get_does(site, url):
    got = site.get(url)
    head = site.head(url)
    assert head.status_code == got.status_code
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]
    if "content-length" in got.headers:
        assert head.headers["content-length"] == got.headers["content-length"]


# --- item 5: headers and hosts -------------------------------------------------------------------

PAGES = [
    "/",
    "/recherche?q=formation",
    "/formation/75/",
    "/guides/",
    "/qualite",
    "/api/docs",
    "/admin/connexion",
]


@pytest.mark.parametrize("url", [*PAGES, "/api/v1/stats", "/page-qui-n-existe-pas"])
def test_security_headers(site, url):
    answer = site.get(url)
    policy = answer.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if " " in d.strip())
    script = directives.get("script-src", directives.get("default-src"))
    assert "'unsafe-inline'" not in script and "'unsafe-eval'" not in script
    assert directives["frame-ancestors"] == "'none'"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] in ("strict-origin-when-cross-origin", "same-origin")
    assert "strict-transport-security" not in answer.headers  # plain HTTP: no HSTS


@pytest.mark.parametrize("url", PAGES)
def test_pages_have_no_inline_script(site, url):
    tree = html.fromstring(site.get(url).content)
    for script in tree.xpath("//script"):
        assert script.get("src") or script.get("type") == "application/ld+json", html.tostring(script)[:200]
    assert not tree.xpath("//@*[starts-with(name(), 'on')]")  # no onclick= and the like


def test_hsts_when_cookies_are_secure(sample_build, tmp_path):
    with client_for(sample_build.db, tmp_path, secure_cookies=True) as client:
        assert client.get("/").headers["strict-transport-security"].startswith("max-age=")


def test_an_unknown_host_is_refused(site):
    answer = site.get("/", headers={"Host": "evil.example"})
    assert answer.status_code == 400
    assert "evil.example" not in answer.text
    for host in ("localhost:8000", "127.0.0.1", "[::1]:8000", "testserver"):
        assert site.get("/robots.txt", headers={"Host": host}).status_code == 200, host


def test_links_use_an_allowed_host_or_the_site_url(sample_build, tmp_path):
    base = WebSettings.from_settings()
    web = replace(base, allowed_hosts=("annuaire.example.org", "*.annuaire.example.org"))
    with client_for(sample_build.db, tmp_path, web=web) as client:
        robots = client.get("/robots.txt", headers={"Host": "annuaire.example.org"})
        assert "Sitemap: http://annuaire.example.org/sitemap.xml" in robots.text
        assert client.get("/", headers={"Host": "www.annuaire.example.org"}).status_code == 200
        assert client.get("/", headers={"Host": "localhost"}).status_code == 400  # not in the list
        assert client.get("/", headers={"Host": "annuaire.example.org.evil.example"}).status_code == 400
        # A redirect built from the request's URL (a missing trailing slash) stays on an allowed host.
        moved = client.get(
            "/region/ile-de-france", headers={"Host": "annuaire.example.org"}, follow_redirects=False
        )
        assert moved.status_code in (301, 307)
        assert moved.headers["location"].startswith(("/", "http://annuaire.example.org/"))
    web = replace(base, site_url="https://annuaire.example.org")
    with client_for(sample_build.db, tmp_path, web=web) as client:
        for host in ("localhost", "annuaire.example.org"):
            page = client.get("/", headers={"Host": host})
            assert page.status_code == 200
            canonical = html.fromstring(page.content).xpath("//link[@rel='canonical']/@href")[0]
            assert canonical == "https://annuaire.example.org/"
        sitemap = client.get("/sitemap.xml", headers={"Host": "localhost"}).text
        assert "https://annuaire.example.org/sitemaps/1.xml" in sitemap and "localhost" not in sitemap
        assert client.get("/", headers={"Host": "evil.example"}).status_code == 400
