"""Public corrections and their moderation: the checks (pure, property-based), the password hashes,
the overlay, and the website through the ASGI app on the sample: the form (CSRF, honeypot, rate
limit, French errors), the admin area (login, sessions, approve, reject, audit log), escaping of
script payloads everywhere they come back, SQL injection attempts that change nothing, and an
approved correction that outlives `annuaire update`."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from lxml import html

from annuaire.api import ApiSettings, create_app
from annuaire.corrections import CorrectionSettings, CorrectionStore
from annuaire.corrections.fields import FIELDS, Submission, check_submission, email_is_valid, tidy
from annuaire.corrections.overlay import apply_corrections
from annuaire.corrections.passwords import hash_password, password_problem, verify_password
from annuaire.web import slugs

PASSWORD = "un mot de passe assez long"
SCRIPT = '<script>alert("x")</script>'
VALID = {"champ": "denomination", "valeur": "Formation Exemple", "message": "Vu sur Kbis", "email": "a@b.fr"}


# -- pure checks --------------------------------------------------------------------------------------


def test_a_valid_submission_is_normalised():
    submission, errors = check_submission(
        {"champ": "siret", "valeur": " 356 000 000 00048 ", "message": "a\r\n  b ", "email": " A@B.FR "}
    )
    assert errors == {}
    assert submission == Submission("siret", "35600000000048", "a\nb", "a@b.fr")


@pytest.mark.parametrize(
    ("form", "field", "words"),
    [
        ({**VALID, "champ": "certification"}, "champ", "Choisissez"),
        ({**VALID, "valeur": ""}, "valeur", "Indiquez la valeur"),
        ({**VALID, "champ": "code_postal", "valeur": "3300"}, "valeur", "cinq chiffres"),
        ({**VALID, "champ": "siret", "valeur": "12345678901234"}, "valeur", "SIRET n'est pas valide"),
        ({**VALID, "valeur": "x" * 201}, "valeur", "200 caractères"),
        ({**VALID, "message": "x" * 2001}, "message", "2000 caractères"),
        ({**VALID, "email": ""}, "email", "Indiquez une adresse"),
        ({**VALID, "email": "pas-une-adresse"}, "email", "n'est pas valide"),
    ],
)
def test_invalid_submissions_get_a_french_message(form, field, words):
    _, errors = check_submission(form)
    assert list(errors) == [field] and words in errors[field]


@given(st.dictionaries(st.sampled_from(["champ", "valeur", "message", "email", "autre"]), st.text()))
def test_any_form_is_checked_without_failing(form):
    submission, errors = check_submission(form)
    for value in (submission.valeur, submission.email):
        assert not re.search(r"[\x00-\x1f\x7f]", value)
    assert set(errors) <= {"champ", "valeur", "message", "email"}
    if not errors:
        assert submission.champ in FIELDS and email_is_valid(submission.email)


@given(st.text())
def test_tidy_leaves_no_control_character_and_no_double_space(text):
    tidied = tidy(text)
    assert not re.search(r"[\x00-\x1f\x7f]", tidied) and "  " not in tidied and tidied == tidied.strip()


@given(st.from_regex(r"[a-z0-9._+-]{1,20}@[a-z0-9]{1,10}\.[a-z]{2,6}", fullmatch=True))
def test_ordinary_addresses_are_valid(address):
    assert email_is_valid(address)


@pytest.mark.parametrize(
    "address", ["a@b", "a b@c.fr", "<a>@b.fr", "a@b..fr", "a@-b.fr", "@b.fr", "a@b.fr\n"]
)
def test_odd_addresses_are_not(address):
    assert not email_is_valid(address)


def test_passwords_are_salted_scrypt_hashes():
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first != second and first.startswith("scrypt$") and PASSWORD not in first
    assert verify_password(PASSWORD, first) and verify_password(PASSWORD, second)
    assert not verify_password(PASSWORD + "!", first)
    for broken in ("", "scrypt$1$2", "md5$a$b$c$d$e", "scrypt$x$8$1$AA==$AA=="):
        assert not verify_password(PASSWORD, broken)
    assert password_problem("court") and password_problem(" " + PASSWORD) and not password_problem(PASSWORD)


def test_the_overlay_applies_the_latest_decision_and_logs_it():
    org = {"id_organisme": "1", "denomination": "A", "siret": None, "siren": None, "historique": []}
    approved = [
        {"id": 2, "champ": "denomination", "valeur": "C", "decide_le": "2026-03-01T10:00:00Z"},
        {"id": 1, "champ": "denomination", "valeur": "B", "decide_le": "2026-02-01T10:00:00Z"},
        {"id": 3, "champ": "siret", "valeur": "35600000000048", "decide_le": "2026-02-15T10:00:00Z"},
    ]
    out = apply_corrections(org, approved)
    assert out["denomination"] == "C" and out["siret"] == "35600000000048" and out["siren"] == "356000000"
    assert org["denomination"] == "A"  # the original is not changed
    assert {c["champ"]: (c["valeur"], c["date"], c["valeur_source"]) for c in out["corrections"]} == {
        "denomination": ("C", "2026-03-01", "A"),
        "siret": ("35600000000048", "2026-02-15", None),
    }
    assert [e["date"] for e in out["historique"]] == ["2026-03-01", "2026-02-15", "2026-02-01"]
    assert {e["evenement"] for e in out["historique"]} == {"correction_verifiee"}
    assert apply_corrections(org, []) is org


# -- the website --------------------------------------------------------------------------------------


def make_client(db: Path, folder: Path, **limits) -> tuple[TestClient, CorrectionStore]:
    settings = CorrectionSettings(path=str(folder / "corrections.sqlite"), **limits)
    app = create_app(ApiSettings(db=str(db), rate_limit_per_minute=0, corrections=settings))
    # Secure cookies go back only over HTTPS: the client then speaks to https://testserver.
    base = "https://testserver" if limits.get("secure_cookies") else "http://testserver"
    return TestClient(app, base_url=base), app.state.guard.store


@pytest.fixture(scope="module")
def site(sample_build, tmp_path_factory):
    # limits high enough for the tests' bursts (the limits have tests of their own)
    client, store = make_client(
        sample_build.db,
        tmp_path_factory.mktemp("corrections"),
        corrections_per_hour=500,
        logins_per_quarter=500,
    )
    with client:
        yield client, store


@pytest.fixture(scope="module")
def orgs(sample_searcher):
    """Active organisations of the sample with a SIRET (distinct ones for tests that change them)."""
    found = []
    for entry in sample_searcher.sitemap_entries():
        org = sample_searcher.organisation(entry[0])
        if org["siret"] and org["statut"] == "actif":
            found.append(org)
        if len(found) == 12:
            return found
    raise AssertionError("the sample has too few organisations with a SIRET")


def csrf_of(client: TestClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return html.fromstring(response.text).xpath("//input[@name='csrf']/@value")[0]


def post_correction(client: TestClient, org: dict, **fields):
    url = f"/organismes/{org['id_organisme']}/correction"
    data = {"csrf": csrf_of(client, url), **VALID, **fields}
    return client.post(url, data=data, follow_redirects=False)


def login(client: TestClient, store: CorrectionStore, name: str = "moderatrice") -> None:
    store.add_moderator(name, PASSWORD)
    token = csrf_of(client, "/admin/connexion")
    done = client.post(
        "/admin/connexion",
        data={"csrf": token, "nom": name, "mot_de_passe": PASSWORD, "suite": "/admin/"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/admin/"


def decide(client: TestClient, correction_id: int, action: str, **extra):
    token = csrf_of(client, "/admin/")
    return client.post(
        f"/admin/corrections/{correction_id}/{action}", data={"csrf": token, **extra}, follow_redirects=False
    )


def count(store: CorrectionStore) -> int:
    return sum(store.counts().values())


def test_the_form_is_protected_and_not_cached(site, orgs):
    client, _ = site
    fresh = TestClient(client.app)
    response = fresh.get(f"/organismes/{orgs[0]['id_organisme']}/correction")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert "script-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    cookie = response.headers["set-cookie"]
    assert "annuaire_csrf=" in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    tree = html.fromstring(response.text)
    assert tree.xpath("//form[@method='post']//input[@type='hidden' and @name='csrf']/@value")
    assert tree.xpath("//div[@aria-hidden='true']/input[@name='site_web' and @tabindex='-1']")
    assert {o for o in tree.xpath("//select[@name='champ']/option/@value") if o} == set(FIELDS)
    for name in ("valeur", "message", "email"):
        assert tree.xpath(f"//label[@for='{name}']")


def test_a_correction_is_stored_awaiting_moderation(site, orgs):
    client, store = site
    org = orgs[0]
    before = count(store)
    done = post_correction(client, org, champ="code_postal", valeur="33000", email="Jean@Exemple.fr")
    assert done.status_code == 303
    assert done.headers["location"] == f"/organismes/{org['id_organisme']}/correction?envoye=1"
    assert "bien été reçu" in client.get(done.headers["location"]).text
    rows, _ = store.listing("en_attente")
    row = next(r for r in rows if r["organisme"] == org["id_organisme"])
    assert (row["champ"], row["valeur"], row["email"], row["statut"]) == (
        "code_postal",
        "33000",
        "jean@exemple.fr",
        "en_attente",
    )
    assert row["valeur_actuelle"] == org["code_postal"] and count(store) == before + 1


def test_a_post_without_a_valid_csrf_token_is_refused(site, orgs):
    client, store = site
    url = f"/organismes/{orgs[1]['id_organisme']}/correction"
    token = csrf_of(client, url)
    before = count(store)
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for data in ({**VALID}, {**VALID, "csrf": ""}, {**VALID, "csrf": forged}, {**VALID, "csrf": "x.y.z"}):
        assert client.post(url, data=data, follow_redirects=False).status_code == 403
    # A good token with another browser's cookie (a cross-site POST carries the victim's cookie,
    # never the attacker's token's seed).
    other = TestClient(client.app)
    other.get(url)
    assert other.post(url, data={**VALID, "csrf": token}, follow_redirects=False).status_code == 403
    assert count(store) == before


def test_invalid_values_are_answered_in_french_and_not_stored(site, orgs):
    client, store = site
    before = count(store)
    response = post_correction(client, orgs[1], champ="code_postal", valeur="3300", email="nulle-part")
    assert response.status_code == 422
    tree = html.fromstring(response.text)
    alert = tree.xpath("//div[@id='erreurs']")[0].text_content()
    assert (
        "contient 2 erreurs :" in " ".join(alert.split())
        and "cinq chiffres" in alert
        and "adresse électronique" in alert
    )
    assert tree.xpath("//input[@id='valeur' and @aria-invalid='true']/@value") == ["3300"]
    assert count(store) == before


def test_the_honeypot_looks_accepted_but_stores_nothing(site, orgs):
    client, store = site
    before = count(store)
    done = post_correction(client, orgs[1], site_web="http://spam.example")
    assert done.status_code == 303 and "envoye=1" in done.headers["location"]
    assert count(store) == before


def test_corrections_are_rate_limited_per_ip(sample_build, orgs, tmp_path):
    client, store = make_client(sample_build.db, tmp_path, corrections_per_hour=2)
    with client:
        assert [post_correction(client, orgs[2]).status_code for _ in range(2)] == [303, 303]
        refused = post_correction(client, orgs[2])
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
        assert "Trop de signalements" in refused.text
    assert count(store) == 2


def test_script_payloads_come_back_escaped_in_the_form(site, orgs):
    client, store = site
    before = count(store)
    payload = {"valeur": SCRIPT, "message": SCRIPT, "email": f"{SCRIPT}@x.fr", "champ": f"{SCRIPT}"}
    response = post_correction(client, orgs[3], **payload)
    assert response.status_code == 422
    assert SCRIPT not in response.text and "&lt;script&gt;" in response.text
    tree = html.fromstring(response.text)
    assert not [s for s in tree.xpath("//script") if "alert" in (s.text or "")]
    assert tree.xpath("//textarea[@id='message']")[0].text == SCRIPT  # shown as typed, as text
    assert count(store) == before


def test_sql_injection_attempts_change_nothing(site, orgs):
    client, store = site
    for key in ("1' OR '1'='1", "1; DROP TABLE organismes; --", "x' UNION SELECT 1 --"):
        assert client.get(f"/organismes/{key}/correction").status_code == 404
        assert client.post(f"/organismes/{key}/correction", data=VALID).status_code == 404
    injection = "x'); DROP TABLE corrections; --"
    done = post_correction(client, orgs[4], valeur=injection, message="' OR 1=1 --")
    assert done.status_code == 303
    rows, _ = store.listing()
    assert any(r["valeur"] == injection and r["message"] == "' OR 1=1 --" for r in rows)
    token = csrf_of(client, "/admin/connexion")
    for name in ("' OR '1'='1", "admin' --", 'x" OR 1=1 --'):
        refused = client.post(
            "/admin/connexion", data={"csrf": token, "nom": name, "mot_de_passe": "' OR '1'='1"}
        )
        assert refused.status_code == 401
    conn = sqlite3.connect(store.path)
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    conn.close()
    assert {"corrections", "moderateurs", "sessions", "journal"} <= tables
    assert client.get(slugs.organisation_path(orgs[4])).status_code == 200


def test_admin_pages_need_a_session(site):
    client, store = site
    anonymous = TestClient(client.app)
    for url in ("/admin/", "/admin/journal", "/admin/?statut=toutes"):
        response = anonymous.get(url, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/admin/connexion")
    token = csrf_of(anonymous, "/admin/connexion")
    for url in ("/admin/corrections/1/approuver", "/admin/corrections/1/rejeter", "/admin/deconnexion"):
        assert anonymous.post(url, data={"csrf": token}, follow_redirects=False).status_code == 401
    # a forged session cookie is no session
    anonymous.cookies.set("annuaire_session", "bidon.bidon.bidon", path="/admin")
    assert anonymous.get("/admin/", follow_redirects=False).status_code == 303


def test_login_refusals_are_logged_and_sessions_are_secure_cookies(sample_build, tmp_path):
    client, store = make_client(sample_build.db, tmp_path, secure_cookies=True)
    with client:
        store.add_moderator("paul", PASSWORD)
        token = csrf_of(client, "/admin/connexion")
        wrong = client.post("/admin/connexion", data={"csrf": token, "nom": "paul", "mot_de_passe": "non"})
        assert wrong.status_code == 401 and "incorrect" in wrong.text
        no_csrf = client.post("/admin/connexion", data={"nom": "paul", "mot_de_passe": PASSWORD})
        assert no_csrf.status_code == 403
        done = client.post(
            "/admin/connexion",
            data={
                "csrf": token,
                "nom": "paul",
                "mot_de_passe": PASSWORD,
                "suite": "https://ailleurs.example/",
            },
            follow_redirects=False,
        )
        assert done.status_code == 303 and done.headers["location"] == "/admin/"  # never another site
        cookie = done.headers["set-cookie"]
        for flag in ("annuaire_session=", "HttpOnly", "Secure", "Path=/admin"):
            assert flag in cookie
        assert "samesite=strict" in cookie.lower()
        assert PASSWORD not in cookie
    actions = [(e["moderateur"], e["action"]) for e in store.journal()[0]]
    assert ("paul", "connexion_refusee") in actions and ("paul", "connexion") in actions


def test_logins_are_rate_limited(sample_build, tmp_path):
    client, store = make_client(sample_build.db, tmp_path, logins_per_quarter=3)
    with client:
        token = csrf_of(client, "/admin/connexion")
        statuses = [
            client.post("/admin/connexion", data={"csrf": token, "nom": "x", "mot_de_passe": "y"}).status_code
            for _ in range(4)
        ]
    assert statuses == [401, 401, 401, 429]


def test_moderation_approves_rejects_and_logs_every_action(site, orgs):
    client, store = site
    org, other = orgs[5], orgs[6]
    payload = f"{SCRIPT} Centre corrigé"
    assert post_correction(client, org, valeur=payload, message=SCRIPT).status_code == 303
    assert post_correction(client, other, champ="commune", valeur="Ailleurs").status_code == 303
    rows, _ = store.listing("en_attente")
    first = next(r for r in rows if r["organisme"] == org["id_organisme"])
    second = next(r for r in rows if r["organisme"] == other["id_organisme"])
    login(client, store)
    listing = client.get("/admin/?statut=en_attente")
    assert listing.status_code == 200 and listing.headers["cache-control"] == "no-store"
    assert SCRIPT not in listing.text and "&lt;script&gt;" in listing.text
    tree = html.fromstring(listing.text)
    assert tree.xpath(f"//tr[@id='correction-{first['id']}']//form[contains(@action, 'approuver')]")
    assert not [s for s in tree.xpath("//script") if "alert" in (s.text or "")]
    # without a valid CSRF token: refused, nothing decided
    bare = client.post(f"/admin/corrections/{first['id']}/approuver", data={}, follow_redirects=False)
    assert bare.status_code == 403 and store.get(first["id"])["statut"] == "en_attente"
    assert decide(client, first["id"], "approuver").status_code == 303
    assert decide(client, second["id"], "rejeter", motif=f"doublon {SCRIPT}").status_code == 303
    assert decide(client, first["id"], "rejeter").status_code == 409  # already decided
    assert decide(client, 10**9, "approuver").status_code == 409
    assert store.get(first["id"])["statut"] == "approuvee" and store.get(second["id"])["statut"] == "rejetee"
    assert store.get(first["id"])["decide_par"] == "moderatrice"
    journal = client.get("/admin/journal")
    assert SCRIPT not in journal.text and "&lt;script&gt;" in journal.text
    entries = [(e["action"], e["correction_id"]) for e in store.journal()[0]]
    assert ("approbation", first["id"]) in entries and ("rejet", second["id"]) in entries
    approved = client.get("/admin/?statut=approuvee").text
    assert "&lt;script&gt;" in approved and SCRIPT not in approved

    # The approved correction is shown on the organisation's page (escaped), in the API and in
    # search results; the rejected one nowhere.
    page = client.get(f"/organisme/{org['id_organisme']}")
    assert page.status_code == 200
    assert SCRIPT not in page.text and "&lt;script&gt;" in page.text
    tree = html.fromstring(page.text)
    assert payload in tree.xpath("//h1")[0].text_content()
    notice = tree.xpath("//div[@id='corrections-verifiees']")[0].text_content()
    assert "correction vérifiée le" in notice and org["denomination"] in notice
    history = tree.xpath("//section[@aria-labelledby='historique']")[0].text_content()
    assert "correction vérifiée (dénomination)" in history
    # The name is inside the JSON-LD as data ("<" escaped), never a script of its own.
    (jsonld,) = [s for s in tree.xpath("//script") if "alert(" in (s.text or "")]
    assert jsonld.get("type") == "application/ld+json" and json.loads(jsonld.text)["name"] == payload
    api = client.get(f"/api/v1/organismes/{org['id_organisme']}").json()
    assert api["denomination"] == payload
    assert api["corrections"][0]["champ"] == "denomination" and api["corrections"][0]["date"]
    assert api["historique"][0]["evenement"] == "correction_verifiee"
    assert [d["denomination"] for d in api["declarations"]] != [payload]  # the source stays visible
    found = client.get("/api/v1/organismes", params={"q": org["siret"]}).json()["resultats"]
    assert found[0]["denomination"] == payload
    cards = client.get("/recherche", params={"q": org["siret"]}).text
    assert "Centre corrigé" in cards and SCRIPT not in cards
    card = html.fromstring(cards).xpath("//ol[@class='cards']/li")[0]
    assert "Correction vérifiée le" in card.xpath(".//p[@class='verified']")[0].text_content()
    assert client.get(f"/api/v1/organismes/{other['id_organisme']}").json()["commune"] == other["commune"]


PAYLOADS = [
    '"><img src=x onerror=alert(1)>',
    "</textarea><svg/onload=alert(2)>",
    "javascript:alert(3)//{{ 7*7 }}{% raw %}",
    "<a href='javascript:alert(4)'>clic</a>",
]


def no_active_content(tree) -> None:
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        assert element.tag not in ("img", "svg", "iframe", "object"), element.tag
        assert not [name for name in element.attrib if name.lower().startswith("on")], element.tag
        assert not element.get("href", "").lower().startswith("javascript:")


@pytest.mark.parametrize("number", range(len(PAYLOADS)))
def test_payloads_in_every_field_stay_text_from_the_form_to_the_published_page(site, orgs, number):
    client, store = site
    payload, org = PAYLOADS[number], orgs[8 + number]
    refused = post_correction(client, org, champ=payload, valeur=payload, message=payload, email=payload)
    assert refused.status_code == 422
    no_active_content(html.fromstring(refused.text))
    assert post_correction(client, org, valeur=payload, message=payload).status_code == 303
    (row,) = store.listing("en_attente", organisme=org["id_organisme"])[0]
    assert (row["valeur"], row["message"]) == (payload, payload)  # stored as typed
    login(client, store, "verificatrice")
    listing = html.fromstring(client.get("/admin/", params={"organisme": org["id_organisme"]}).text)
    no_active_content(listing)
    cells = [" ".join(td.text_content().split()) for td in listing.xpath("//tbody/tr/td")]
    assert " ".join(payload.split()) in cells
    assert decide(client, row["id"], "approuver").status_code == 303
    page = html.fromstring(client.get(f"/organisme/{org['id_organisme']}").text)
    no_active_content(page)
    assert page.xpath("//h1")[0].text_content() == payload
    assert client.get(f"/api/v1/organismes/{org['id_organisme']}").json()["denomination"] == payload


def test_the_admin_list_filters_by_status_field_and_organisation(site, orgs):
    client, store = site
    org = orgs[7]
    assert post_correction(client, org, champ="commune", valeur="Villefiltre").status_code == 303
    assert post_correction(client, org, champ="adresse", valeur="1 rue du Filtre").status_code == 303
    login(client, store, "filtreuse")

    def listed(**params) -> list[str]:
        tree = html.fromstring(client.get("/admin/", params=params).text)
        return [" ".join(td.text_content().split()) for td in tree.xpath("//tbody/tr/td[5]")]

    assert listed(statut="toutes", organisme=org["id_organisme"]) == ["1 rue du Filtre", "Villefiltre"]
    assert listed(statut="en_attente", organisme=org["numero_declaration_activite"], champ="commune") == [
        "Villefiltre"
    ]
    assert listed(statut="rejetee", organisme=org["id_organisme"]) == []
    for injection in ("' OR '1'='1", "x') OR 1=1 --"):
        assert listed(statut="toutes", organisme=injection) == []
    assert listed(statut="en_attente' OR 1=1 --", organisme=org["id_organisme"], champ="x' OR 1=1") == [
        "Villefiltre",  # an unknown status is "en_attente" (oldest first), an unknown field no filter
        "1 rue du Filtre",
    ]
    tree = html.fromstring(client.get("/admin/", params={"statut": "toutes", "champ": "commune"}).text)
    retour = tree.xpath("//input[@name='retour']/@value")
    assert retour and all(r == "/admin/?statut=toutes&champ=commune" for r in retour)


def test_an_approved_correction_can_be_withdrawn(site, orgs):
    client, store = site
    org = orgs[1]
    assert post_correction(client, org, champ="commune", valeur="Villeretiree").status_code == 303
    (row,) = store.listing("en_attente", organisme=org["id_organisme"])[0]
    login(client, store, "retireuse")
    assert decide(client, row["id"], "retirer").status_code == 409  # not approved yet
    assert decide(client, row["id"], "approuver").status_code == 303
    api = f"/api/v1/organismes/{org['id_organisme']}"
    assert client.get(api).json()["commune"] == "Villeretiree"
    listing = html.fromstring(client.get("/admin/", params={"statut": "approuvee"}).text)
    assert listing.xpath(f"//tr[@id='correction-{row['id']}']//form[contains(@action, 'retirer')]")
    bare = client.post(f"/admin/corrections/{row['id']}/retirer", data={}, follow_redirects=False)
    assert bare.status_code == 403
    assert decide(client, row["id"], "retirer", motif="corrigé à la source").status_code == 303
    assert decide(client, row["id"], "retirer").status_code == 409
    after = client.get(api).json()
    assert after["commune"] == org["commune"] and not after.get("corrections")
    assert store.get(row["id"])["statut"] == "rejetee"
    assert ("retrait", row["id"], {"motif": "corrigé à la source"}) in [
        (e["action"], e["correction_id"], e["detail"]) for e in store.journal()[0]
    ]


def test_logging_out_ends_the_session(site):
    client, store = site
    login(client, store, "sortante")
    token = csrf_of(client, "/admin/")
    cookie = client.cookies.get("annuaire_session")
    assert client.post("/admin/deconnexion", data={"csrf": token}, follow_redirects=False).status_code == 303
    again = TestClient(client.app)
    again.cookies.set("annuaire_session", cookie, path="/admin")  # the old cookie, replayed
    assert again.get("/admin/", follow_redirects=False).status_code == 303
    assert ("sortante", "deconnexion") in [(e["moderateur"], e["action"]) for e in store.journal()[0]]


def _add_many(path: str, worker: int, n: int) -> None:
    store = CorrectionStore(path)
    org = {"id_organisme": f"ORG{worker}", "numero_declaration_activite": None, "denomination": "X"}
    for i in range(n):
        store.add(org, Submission("commune", f"Ville {worker}-{i}", "", "a@b.fr"))
    store.close()


@pytest.mark.integration
def test_several_worker_processes_write_the_same_file(tmp_path):
    import multiprocessing

    path = str(tmp_path / "corrections.sqlite")
    CorrectionStore(path).counts()  # created, in WAL mode
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_add_many, args=(path, w, 40)) for w in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT count(*), count(DISTINCT valeur) FROM corrections").fetchone() == (120, 120)
    conn.close()


# -- the command line and updates ---------------------------------------------------------------------


def test_admin_add_user_reads_the_password_from_stdin(annuaire_bin, annuaire_env, tmp_path):
    db = tmp_path / "annuaire.db"
    db.touch()

    def admin(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(annuaire_bin), "admin", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=annuaire_env,
            timeout=60,
        )

    def add(name: str, password: str) -> subprocess.CompletedProcess:
        return admin("add-user", "--db", str(db), "--password-stdin", name, stdin=password + "\n")

    assert admin("list-users", "--db", str(db)).returncode == 2  # no corrections file yet
    done = add("claire", PASSWORD)
    assert done.returncode == 0, done.stderr
    store = CorrectionStore(str(db) + ".corrections.sqlite")
    assert store.path.stat().st_mode & 0o777 == 0o600  # hashes, addresses, the key: the owner's only
    assert store.check_login("claire", PASSWORD) and not store.check_login("claire", "autre chose")
    short = add("claire", "court")
    assert short.returncode == 2 and "at least 12 characters" in short.stderr
    bad_name = add("claire dupont", PASSWORD)
    assert bad_name.returncode == 2 and "a name has" in bad_name.stderr
    assert add("claire", PASSWORD + " bis").returncode == 0
    assert store.check_login("claire", PASSWORD + " bis") and not store.check_login("claire", PASSWORD)
    assert add("marc", PASSWORD).returncode == 0
    listed = admin("list-users", "--db", str(db))
    assert listed.returncode == 0 and [line.split("\t")[0] for line in listed.stdout.splitlines()] == [
        "claire",
        "marc",
    ]
    token = store.open_session("marc", 1)
    assert store.session_user(token) == "marc"
    assert admin("remove-user", "--db", str(db), "marc").returncode == 0
    assert store.session_user(token) is None and not store.check_login("marc", PASSWORD)
    missing = admin("remove-user", "--db", str(db), "marc")
    assert missing.returncode == 2 and "no such moderator" in missing.stderr


@pytest.mark.integration
def test_an_approved_correction_outlives_an_update(
    run_build, run_annuaire, reference_dir, shared_dir, tmp_path
):
    of = shared_dir / "data" / "of"
    db = tmp_path / "annuaire.db"
    assert run_build(of / "sample-M.csv", db).returncode == 0
    before = db.stat().st_ino
    from annuaire.search import open_searcher

    searcher = open_searcher(str(db))
    org = next(
        o
        for o in (searcher.organisation(e[0]) for e in searcher.sitemap_entries()[100:])
        if o["siret"] and o["statut"] == "actif"
    )
    searcher.close()
    store = CorrectionStore(str(db) + ".corrections.sqlite")
    correction_id = store.add(org, Submission("adresse", "12 rue de la Vérification", "", "a@b.fr"))
    assert store.decide(correction_id, "approuver", "moderatrice")
    store.close()

    done = run_annuaire("update", "--source", of / "sample-M+1.csv", "--db", db, "--reference", reference_dir)
    assert done.returncode == 0, done.stderr
    assert db.stat().st_ino != before  # the directory's file was replaced

    app = create_app(ApiSettings(db=str(db), rate_limit_per_minute=0))
    with TestClient(app) as client:
        api = client.get(f"/api/v1/organismes/{org['id_organisme']}").json()
        assert api["adresse"] == "12 rue de la Vérification"
        assert api["corrections"][0]["valeur"] == "12 rue de la Vérification"
        page = html.fromstring(client.get(f"/organisme/{org['id_organisme']}").text)
        assert "12 rue de la Vérification" in page.xpath("//address")[0].text_content()
        assert (
            "correction vérifiée" in page.xpath("//section[@aria-labelledby='historique']")[0].text_content()
        )


def test_approvals_reach_other_connections_and_this_one(tmp_path):
    """Result pages ask the file only for organisations with an approved correction; that list
    follows approvals made through another connection (another worker) and through this one."""
    path = tmp_path / "corrections.sqlite"
    reader, moderator = CorrectionStore(path), CorrectionStore(path)
    org = {"id_organisme": "35600000000048", "numero_declaration_activite": "11755555555"}
    key = [(org["id_organisme"], org["numero_declaration_activite"])]
    first = reader.add(org, Submission("denomination", "NOUVEAU NOM", "", "a@b.fr"))
    second = reader.add(org, Submission("code_postal", "75002", "", "a@b.fr"))
    assert reader.approved_for(key) == {}
    assert moderator.decide(first, "approuver", "moderatrice")  # another connection
    assert [c["valeur"] for c in reader.approved_for(key)[org["id_organisme"]]] == ["NOUVEAU NOM"]
    assert reader.decide(second, "approuver", "moderatrice")  # this connection
    assert {c["valeur"] for c in reader.approved_for(key)[org["id_organisme"]]} == {"NOUVEAU NOM", "75002"}
    assert moderator.decide(first, "retirer", "moderatrice")
    assert [c["valeur"] for c in reader.approved_for(key)[org["id_organisme"]]] == ["75002"]
    assert reader.approved_for([("00000000000000", "11700000000")]) == {}
