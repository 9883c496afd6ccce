"""The statistics page (`/statistiques`), its API (`/api/v1/statistiques`) and CSV files: the
figures checked against the directory and the reference (populations from the COG's communes.json,
certified organisations per 10,000 inhabitants), the scope changes after an update M → M+1 of the
sample checked against the two directories' declarations and the snapshot's truth, on both backends;
the page, the API and the CSV files agreeing; the map drawn on the server (choropleth.py); the links
and the sitemap. Hypothesis checks the classes and the undoing of the change log."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import html

from annuaire.api import ApiSettings, create_app
from annuaire.search import open_searcher
from annuaire.search import statistics as stats
from annuaire.store import open_store
from annuaire.web import choropleth, text
from annuaire.web.settings import WebSettings

SCOPES = stats.SCOPE_CODES


# -- pure functions ---------------------------------------------------------------------------------


def test_rate_is_per_ten_thousand_inhabitants_to_two_decimals():
    assert stats.rate(13, 679_344) == 0.19  # 0.1914…
    assert stats.rate(0, 100) == 0.0
    assert stats.rate(5, None) is None and stats.rate(5, 0) is None
    assert stats.rate(1, 20_000) == 0.5


def test_figures_are_written_the_french_way():
    assert [text.decimal(v) for v in (0.16, 12.0, 1234.5, None)] == ["0,16", "12,00", "1\u202f234,50", "–"]
    assert [text.signed(v) for v in (12, -3, 0, 1500)] == ["+12", "\u22123", "0", "+1\u202f500"]


@given(st.lists(st.integers(0, 3000).map(lambda n: n / 100), max_size=120))
def test_quantile_classes_order_the_values_and_cover_them(values):
    breaks = stats.quantile_breaks(values)
    assert breaks == sorted(set(breaks)) and len(breaks) <= stats.CLASSES - 1
    classes = stats.classes(values, breaks)
    assert sum(c["nb_departements"] for c in classes) == len(values)
    assert [c["classe"] for c in classes] == list(range(1, len(classes) + 1))  # no empty class
    for lower, upper in zip(classes, classes[1:], strict=False):
        assert lower["maximum"] < upper["minimum"]  # a higher value is never in a lower class
    for value in values:
        found = stats.class_of(value, breaks)
        assert classes[found - 1]["minimum"] <= value <= classes[found - 1]["maximum"]
    if len(values) >= stats.CLASSES and len(set(values)) == len(values):  # five classes of equal size
        sizes = Counter(stats.class_of(v, breaks) for v in values)
        assert len(classes) == stats.CLASSES
        assert max(sizes.values()) - min(sizes.values()) <= 1


def test_a_value_alone_or_unknown_has_a_class_or_none():
    assert stats.quantile_breaks([]) == []
    assert stats.class_of(None, [1.0]) is None
    assert stats.classes([2.0, 2.0, None], stats.quantile_breaks([2.0, 2.0])) == [
        {"classe": 1, "minimum": 2.0, "maximum": 2.0, "nb_departements": 2}
    ]


SCOPE_SETS = st.frozensets(st.sampled_from(SCOPES))


@st.composite
def declaration_history(draw):
    """One declaration over one day's updates: its state before (absent, or its scopes), then events
    as updates write them (an `ajout` when absent, `modification`s naming the scopes gained and lost,
    a `suppression` last); the row keeps the last scopes it had."""
    before = draw(st.none() | SCOPE_SETS)
    events, state = [], before
    if state is None and draw(st.booleans()):
        state = draw(SCOPE_SETS)
        events.append(("ajout", None))
    if state is not None:
        for new in draw(st.lists(SCOPE_SETS, max_size=3)):
            tokens = [f"+{s}" for s in sorted(new - state)] + [f"-{s}" for s in sorted(state - new)]
            groups = ["certifications"] if tokens else ["adresse"]
            events.append(("modification", json.dumps(groups + tokens)))
            state = new
        if draw(st.booleans()):
            events.append(("suppression", None))
            return before, events, (False, state)
    return before, events, (state is not None, state or frozenset())


@given(st.lists(declaration_history(), max_size=12))
@settings(max_examples=200)
def test_undoing_the_change_log_finds_the_state_before_the_update(histories):
    events, now, expected = [], {}, {s: Counter() for s in SCOPES}
    for i, (before, logged, state) in enumerate(histories):
        nda = f"{i:011d}"
        events += [(nda, kind, fields) for kind, fields in logged]
        if logged:
            now[nda] = state
        active, held = state
        after = held if active else None
        for scope in SCOPES:
            was, is_ = before is not None and scope in before, after is not None and scope in after
            if is_ and not was:
                expected[scope]["declarations_ajoutees" if before is None else "portee_obtenue"] += 1
            elif was and not is_:
                expected[scope]["declarations_retirees" if after is None else "portee_retiree"] += 1
    found = stats.scope_changes(events, now)
    assert {s: {k: v for k, v in c.items() if v} for s, c in found.items()} == {
        s: dict(c) for s, c in expected.items()
    }


# -- the figures of the sample, on both backends ----------------------------------------------------


def cog_populations(reference_dir: Path) -> dict[str, int]:
    """Each département's population straight from the COG's communes.json (today's communes)."""
    totals: Counter = Counter()
    for c in json.loads((reference_dir / "communes.json").read_text(encoding="utf-8")):
        if c.get("type") == "commune-actuelle" and c.get("departement"):
            totals[c["departement"]] += c.get("population") or 0
    return dict(totals)


def certified_per_departement(location: str) -> tuple[Counter, Counter]:
    organisations, certified = Counter(), Counter()
    for o in open_store(location).organisations():
        if o["statut"] == "actif":
            organisations[o["code_departement"]] += 1
            if o["portees"]:
                certified[o["code_departement"]] += 1
    return organisations, certified


def test_per_ten_thousand_inhabitants_from_the_cog_and_the_directory(
    backend_searcher, backend, reference_dir
):
    figures = backend_searcher.statistiques()
    populations = cog_populations(reference_dir)
    organisations, certified = certified_per_departement(backend)
    rows = {r["code"]: r for r in figures["departements"]}
    assert len(rows) == 109 and "75" in rows and "2A" in rows and "976" in rows
    for code, row in rows.items():
        assert row["population"] == (populations.get(code) or None), code
        assert (row["nb_organismes"], row["nb_certifies"]) == (organisations[code], certified[code]), code
        if row["population"]:
            assert row["certifies_pour_10000"] == round(certified[code] * 10_000 / populations[code], 2)
            assert row["classe"] in range(1, len(figures["classes"]) + 1)
        else:
            assert row["certifies_pour_10000"] is None and row["classe"] is None
    assert rows["75"]["population"] == 2_103_778  # Paris once, not again with its arrondissements
    assert rows["69"]["population"] == populations["69"]
    france = figures["france"]
    assert france["population"] == sum(populations.values())
    assert france["nb_certifies"] == sum(certified.values())
    assert france["certifies_pour_10000"] == round(france["nb_certifies"] * 10_000 / france["population"], 2)
    # The classes: five, ordered, covering every département with a rate.
    classes = figures["classes"]
    assert len(classes) == 5
    assert sum(c["nb_departements"] for c in classes) == sum(1 for r in rows.values() if r["population"])
    for row in rows.values():
        if row["classe"]:
            c = classes[row["classe"] - 1]
            assert c["minimum"] <= row["certifies_pour_10000"] <= c["maximum"]
    # Per scope: the organisations and the active declarations holding it.
    declarations = [d for d in open_store(backend).declarations() if d["statut"] == "actif"]
    for p in figures["portees"]:
        assert p["nb_declarations"] == sum(1 for d in declarations if d[f"certification_{p['portee']}"])
        assert p["nb_organismes"] == backend_searcher.stats()["portees"][p["portee"]]
        assert p["evolution"] is None  # a build: no update yet
    assert figures["evolution"] is None


# -- after an update M → M+1, on both backends ---------------------------------------------------


@pytest.fixture(scope="module")
def updated(backend, run_build, run_annuaire, shared_dir, reference_dir, tmp_path_factory, request):
    """(the sample directory at M, a copy of it updated to M+1) on each backend."""
    of = shared_dir / "data" / "of"
    if backend.startswith("postgresql"):
        after = request.getfixturevalue("postgres").create_database("annuaire_statistiques")
        assert run_build(of / "sample-M.csv", after).returncode == 0
    else:
        after = str(tmp_path_factory.mktemp("statistiques") / "annuaire.db")
        shutil.copy(backend, after)
    done = run_annuaire(
        "update", "--db", after, "--source", of / "sample-M+1.csv", "--reference", reference_dir
    )
    assert done.returncode == 0, done.stderr
    return backend, after


def active_scopes(location: str) -> dict[str, frozenset[str]]:
    return {
        d["nda"]: frozenset(s for s in SCOPES if d[f"certification_{s}"])
        for d in open_store(location).declarations()
        if d["statut"] == "actif"
    }


def test_the_scope_changes_are_what_the_update_changed(updated, shared_dir):
    before, after = updated
    old, new = active_scopes(before), active_scopes(after)
    truth = json.loads((shared_dir / "data" / "of" / "sample-diff-truth.json").read_text(encoding="utf-8"))
    assert set(new) - set(old) == set(truth["added"]) and set(old) - set(new) == set(truth["removed"])
    changed = {n for n in set(old) & set(new) if old[n] != new[n]}
    assert changed == {n for n, groups in truth["modified"].items() if "certifications" in groups}
    expected = {s: Counter() for s in SCOPES}
    for nda in set(old) | set(new):
        for s in SCOPES:
            was, is_ = nda in old and s in old[nda], nda in new and s in new[nda]
            if is_ and not was:
                expected[s]["declarations_ajoutees" if nda not in old else "portee_obtenue"] += 1
            elif was and not is_:
                expected[s]["declarations_retirees" if nda not in new else "portee_retiree"] += 1
    searcher = open_searcher(after)
    try:
        figures = searcher.statistiques()
    finally:
        searcher.close()
    assert figures["evolution"]["date"] == figures["date_mise_a_jour"][:10]
    assert figures["evolution"]["date_precedente"] == figures["date_construction"][:10]
    gained = 0
    for p in figures["portees"]:
        s, change = p["portee"], p["evolution"]
        assert {k: change[k] for k in stats.CHANGES} == {k: expected[s][k] for k in stats.CHANGES}, s
        assert change["solde"] == sum(s in v for v in new.values()) - sum(s in v for v in old.values())
        assert p["nb_declarations"] == sum(s in v for v in new.values())
        gained += change["portee_obtenue"]
    assert gained > 0 and any(p["evolution"]["declarations_retirees"] for p in figures["portees"])


def cells(row) -> list[str]:
    return [c.text_content().strip() for c in row.xpath("th|td")]


def test_the_page_the_api_and_the_csv_files_agree(updated):
    _, after = updated
    with TestClient(create_app(ApiSettings(db=after, rate_limit_per_minute=0))) as client:
        page = client.get("/statistiques")
        api = client.get("/api/v1/statistiques")
        deps_csv = client.get("/api/v1/statistiques/departements.csv")
        scopes_csv = client.get("/api/v1/statistiques/portees.csv")
    assert page.status_code == api.status_code == deps_csv.status_code == scopes_csv.status_code == 200
    assert deps_csv.headers["content-type"] == "text/csv; charset=utf-8"
    figures = api.json()
    tree = html.fromstring(page.text)
    # The table by département: every row as the API says it.
    rows = tree.xpath("//table[@id='tableau-departements-chiffres']/tbody/tr")
    assert len(rows) == len(figures["departements"]) == 109
    classes = len(figures["classes"])
    for row, d in zip(rows, figures["departements"], strict=True):
        assert row.get("data-departement") == d["code"]
        name, population, organisations, certified, rate, klass = cells(row)
        assert name == f"{d['nom']} ({d['code']})"
        assert (population, organisations, certified) == (
            text.number(d["population"]),
            text.number(d["nb_organismes"]),
            text.number(d["nb_certifies"]),
        )
        assert rate == text.decimal(d["certifies_pour_10000"])
        assert klass == (f"{d['classe']} sur {classes}" if d["classe"] else "inconnue")
    # The map: each département's path in its class's tint, with its figure in its tooltip.
    paths = tree.xpath("//svg[@class='choroplethe']//*[local-name()='path']")
    assert len(paths) == 101
    by_code = {d["code"]: d for d in figures["departements"]}
    for path in paths:
        d = by_code[path.get("data-departement")]
        assert path.get("class") == choropleth.tint(d["classe"], classes)
        assert path.xpath("string(*[local-name()='title'])").startswith(f"{d['nom']} ({d['code']}) : ")
        assert text.decimal(d["certifies_pour_10000"]) in path.xpath("string(*[local-name()='title'])")
    legend = tree.xpath("//ul[@class='legende']/li")
    assert len(legend) == classes + (1 if any(d["classe"] is None for d in figures["departements"]) else 0)
    for item, c in zip(legend, figures["classes"], strict=False):
        assert f"de {text.decimal(c['minimum'])} à {text.decimal(c['maximum'])}" in item.text_content()
    # The table by scope, with the changes.
    scope_rows = tree.xpath("//table[@id='tableau-portees']/tbody/tr")
    for row, p in zip(scope_rows, figures["portees"], strict=True):
        e = p["evolution"]
        assert cells(row) == [
            p["libelle"],
            text.number(p["nb_organismes"]),
            text.number(p["nb_declarations"]),
            text.signed(e["declarations_ajoutees"]),
            text.signed(e["portee_obtenue"]),
            text.signed(-e["declarations_retirees"]),
            text.signed(-e["portee_retiree"]),
            text.signed(e["solde"]),
        ]
    key = {
        dt.text_content(): dd.text_content()
        for dt, dd in zip(tree.xpath("//dl//dt"), tree.xpath("//dl//dd"), strict=True)
    }
    assert key["Certifiés Qualiopi"] == text.number(figures["france"]["nb_certifies"])
    assert key["Certifiés pour 10\u202f000 habitants"] == text.decimal(
        figures["france"]["certifies_pour_10000"]
    )
    # The CSV files: the API's figures, as the exports write values.
    deps = list(csv.DictReader(io.StringIO(deps_csv.text)))
    assert list(deps[0]) == list(stats.DEPARTEMENT_COLUMNS)
    for row, d in zip(deps, figures["departements"], strict=True):
        assert row["code_departement"] == d["code"] and row["nom"] == d["nom"]
        assert row["population"] == ("" if d["population"] is None else str(d["population"]))
        assert (int(row["nb_organismes"]), int(row["nb_certifies"])) == (
            d["nb_organismes"],
            d["nb_certifies"],
        )
        assert row["certifies_pour_10000"] == (
            "" if d["certifies_pour_10000"] is None else repr(d["certifies_pour_10000"])
        )
        assert row["classe"] == ("" if d["classe"] is None else str(d["classe"]))
    scopes = list(csv.DictReader(io.StringIO(scopes_csv.text)))
    assert list(scopes[0]) == list(stats.SCOPE_COLUMNS)
    for row, p in zip(scopes, figures["portees"], strict=True):
        assert row["portee"] == p["portee"] and int(row["nb_organismes"]) == p["nb_organismes"]
        assert {k: int(row[k]) for k in (*stats.CHANGES, "solde")} == p["evolution"]
        assert (row["date_mise_a_jour"], row["date_precedente"]) == (
            figures["evolution"]["date"],
            figures["evolution"]["date_precedente"],
        )


def test_the_api_on_both_backends_before_any_update(backend_api_client):
    answer = backend_api_client.get("/api/v1/statistiques")
    assert answer.status_code == 200
    assert answer.json()["evolution"] is None
    assert (
        backend_api_client.get(
            "/api/v1/statistiques", headers={"If-None-Match": answer.headers["etag"]}
        ).status_code
        == 304
    )
    scopes = list(
        csv.DictReader(io.StringIO(backend_api_client.get("/api/v1/statistiques/portees.csv").text))
    )
    assert [r["portee"] for r in scopes] == list(SCOPES)
    assert all(r["solde"] == "" and r["date_mise_a_jour"] == "" for r in scopes)  # no update yet
    page = html.fromstring(backend_api_client.get("/statistiques").text)
    assert "pas encore été mis à jour" in page.xpath("string(//section[@aria-labelledby='portees-titre'])")
    openapi = backend_api_client.get("/api/openapi.json").json()
    assert "StatistiquesQualiopi" in openapi["components"]["schemas"]
    assert (
        "text/csv"
        in openapi["paths"]["/api/v1/statistiques/departements.csv"]["get"]["responses"]["200"]["content"]
    )


# -- without populations, without outlines ------------------------------------------------------------


def test_a_directory_without_populations_says_so_and_draws_no_map(sample_build, tmp_path):
    db = tmp_path / "annuaire.db"
    shutil.copy(sample_build.db, db)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE communes SET population = NULL")
    with TestClient(create_app(ApiSettings(db=str(db), rate_limit_per_minute=0))) as client:
        page = client.get("/statistiques")
        figures = client.get("/api/v1/statistiques").json()
    assert page.status_code == 200
    tree = html.fromstring(page.text)
    assert not tree.xpath("//svg[@class='choroplethe']")
    assert "populations des départements ne sont pas connues" in page.text
    assert figures["classes"] == [] and figures["france"]["certifies_pour_10000"] is None
    assert all(d["certifies_pour_10000"] is None for d in figures["departements"])
    assert len(tree.xpath("//table[@id='tableau-departements-chiffres']/tbody/tr")) == 109


def test_without_outlines_the_page_gives_the_table(sample_build, tmp_path):
    db = tmp_path / "annuaire.db"
    shutil.copy(sample_build.db, db)
    with sqlite3.connect(db) as conn:  # the build's reference folder forgotten: no outlines to find
        conn.execute("UPDATE meta SET value = '{}' WHERE key = 'build_report'")
    web = WebSettings(reference_dir=tmp_path)
    with TestClient(create_app(ApiSettings(db=str(db), rate_limit_per_minute=0, web=web))) as client:
        page = client.get("/statistiques")
    assert page.status_code == 200
    assert "contour des départements n'est pas disponible" in page.text
    assert (
        len(html.fromstring(page.text).xpath("//table[@id='tableau-departements-chiffres']/tbody/tr")) == 109
    )


# -- the map ------------------------------------------------------------------------------------------


def points_of(path: str) -> list[tuple[int, int]]:
    """The absolute points of a path written as choropleth.py writes them (M, then l steps, z)."""
    found = []
    for ring in re.findall(r"M([^z]*)z", path):
        start, _, rest = ring.partition("l")
        if "h" in start:  # a speck
            start = start.split("h")[0]
        x, y = map(int, start.split())
        found.append((x, y))
        numbers = list(map(int, rest.split())) if rest else []
        for dx, dy in zip(numbers[::2], numbers[1::2], strict=True):
            x, y = x + dx, y + dy
            found.append((x, y))
    return found


def test_the_map_of_the_reference_outlines(reference_dir):
    drawn = choropleth.drawing(reference_dir / "departements-contours.geojson")
    assert len(drawn.shapes) == 101
    assert [i.nom for i in drawn.insets] == ["Guadeloupe", "Martinique", "Guyane", "La Réunion", "Mayotte"]
    boxes = {}
    for shape in drawn.shapes:
        points = points_of(shape.path)
        assert len(points) >= 4, shape.code
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        assert 0 <= min(xs) <= max(xs) <= choropleth.WIDTH and 0 <= min(ys) <= max(ys) <= choropleth.HEIGHT
        boxes[shape.code] = (min(xs), min(ys), max(xs), max(ys))
    # Metropolitan France to the right of the insets, north up and west left; each island in its box.
    assert all(boxes[c][0] > choropleth.INSETS_WIDTH for c in boxes if not c.startswith("97"))
    assert boxes["59"][1] < boxes["66"][1] and boxes["29"][0] < boxes["67"][0]
    for inset, code in zip(drawn.insets, ("971", "972", "973", "974", "976"), strict=True):
        x1, y1, x2, y2 = boxes[code]
        assert (
            inset.x <= x1 and x2 <= inset.x + inset.width and inset.y <= y1 and y2 <= inset.y + inset.height
        )
    assert sum(len(s.path) for s in drawn.shapes) < 120_000  # a page, not a download


def test_tints_spread_over_the_palette_and_the_map_is_an_image_named_for_everyone():
    assert [choropleth.tint(k, 5) for k in (1, 2, 3, 4, 5, None)] == [
        "teinte-1", "teinte-2", "teinte-3", "teinte-4", "teinte-5", "teinte-nd",
    ]  # fmt: skip
    assert [choropleth.tint(k, 3) for k in (1, 2, 3)] == ["teinte-1", "teinte-3", "teinte-5"]
    assert choropleth.tint(1, 1) == "teinte-3"
    square = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": "01", "nom": "Ain"},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[5, 46], [6, 46], [6, 47], [5, 47], [5, 46]]],
                },
            },
            {
                "type": "Feature",
                "properties": {"code": "971", "nom": "Guadeloupe"},
                "geometry": {
                    "type": "MultiPolygon",
                    "coordinates": [[[[-61.8, 16], [-61.2, 16], [-61.2, 16.5], [-61.8, 16.5], [-61.8, 16]]]],
                },
            },
        ],
    }
    drawn = choropleth.layout(square)
    svg = str(
        choropleth.choropleth(
            drawn, {"01": 2, "971": None}, 5, "Titre <carte>", "Description", lambda c, n: f"{n} & {c}"
        )
    )
    tree = html.fromstring(svg)
    assert (
        tree.get("role") == "img"
        and tree.get("aria-labelledby") == "choroplethe-titre choroplethe-description"
    )
    assert tree.xpath("string(//title[@id='choroplethe-titre'])") == "Titre <carte>"
    assert [
        (p.get("data-departement"), p.get("class"), p.xpath("string(title)")) for p in tree.xpath("//path")
    ] == [
        ("01", "teinte-2", "Ain & 01"),
        ("971", "teinte-nd", "Guadeloupe & 971"),
    ]
    assert "<script" not in svg and "style=" not in svg


# -- links, sitemap ------------------------------------------------------------------------------------


def test_the_page_is_linked_from_every_footer_the_home_page_and_the_sitemap(api_client):
    for path in ("/", "/qualite", "/statistiques"):
        tree = html.fromstring(api_client.get(path).text)
        assert tree.xpath("//footer//a[@href='/statistiques']"), path
    home = html.fromstring(api_client.get("/").text)
    assert home.xpath("//main//a[@href='/statistiques']")
    sitemap = api_client.get("/sitemaps/1.xml").text
    assert "/statistiques</loc>" in sitemap
    page = api_client.get("/statistiques")
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert not html.fromstring(page.text).xpath("//script[not(@src) and not(@type='application/ld+json')]")
    assert len(page.content) < 400_000  # the map inline: about 60 kB of it
