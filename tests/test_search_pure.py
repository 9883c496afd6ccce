"""Pure parts of the search layer: query text, identifiers, parameters, geometry."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from annuaire.search import text
from annuaire.search.columns import ROW_FIELDS, Columns
from annuaire.search.geo import bbox_around, haversine_km, mercator
from annuaire.search.params import ClusterQuery, Filters, QueryError, SearchQuery


def test_tokens_fold_case_accents_and_punctuation():
    assert text.tokens("Sécurité-Incendie l'Étoile") == ["SECURITE", "INCENDIE", "ETOILE"]
    assert text.tokens("securite") == text.tokens("SÉCURITÉ")
    # As typed on a phone or pasted from a document: a typographic apostrophe separates words too.
    assert text.tokens("l’école du cœur") == text.tokens("L'ECOLE DU COEUR") == ["ECOLE", "COEUR"]


def test_stopwords_dropped_except_alone_or_last():
    assert text.tokens("centre de formation") == ["CENTRE", "FORMATION"]
    assert text.tokens("de") == ["DE"]
    assert text.tokens("formation de") == ["FORMATION", "DE"]


def test_fts_expression_prefixes_from_two_characters():
    assert text.fts_expression(["SECU", "A"]) == '"SECU"* "A"'


@given(st.text(max_size=80))
def test_fts_expression_never_carries_syntax(value):
    expression = text.fts_expression(text.tokens(value))
    assert re.fullmatch(r'(?:"[A-Z0-9]+"\*? ?)*', expression + " " if expression else "")


@pytest.mark.parametrize(
    "value, expected",
    [
        ("11 75 02044 82", ("nda", "11750204482")),
        ("118 140 028 14", ("nda", "11814002814")),
        ("97 1 2000 12345", ("nda", "971200012345")),
        ("356 000 000 00048", ("siret", "35600000000048")),
        ("356.000.000", ("siren", "356000000")),
        ("formation 75", None),
        ("١٢٣٤٥٦٧٨٩", None),  # non-ASCII digits are not identifiers
    ],
)
def test_identifier_detection(value, expected):
    assert text.identifier(value) == expected


def test_filters_normalise_codes():
    f = Filters(departement="2a", commune="2a004", autour=" 69003 ").checked()
    assert (f.departement, f.commune, f.autour) == ("2A", "2A004", "69003")


@pytest.mark.parametrize(
    "filters, param",
    [
        (Filters(departement="9"), "departement"),
        (Filters(departement="96"), "departement"),
        (Filters(region="1"), "region"),
        (Filters(commune="7501"), "commune"),
        (Filters(code_postal="7500A"), "code_postal"),
        (Filters(portees=("qualiopi",)), "portee"),
        (Filters(statut="radie"), "statut"),
        (Filters(lat=48.8), "lon"),
        (Filters(lat=91.0, lon=2.0), "lat"),
        (Filters(lat=float("nan"), lon=2.0), "lat"),
        (Filters(lat=48.0, lon=2.0, rayon_km=0), "rayon"),
        (Filters(lat=48.0, lon=2.0, rayon_km=500), "rayon"),
        (Filters(autour="x" * 101), "autour"),
        (Filters(autour="69003", lat=45.0, lon=4.8), "autour"),
        (Filters(q="x" * 201), "q"),
    ],
)
def test_filters_reject_with_the_parameter_named(filters, param):
    with pytest.raises(QueryError) as caught:
        filters.checked()
    assert caught.value.param == param and caught.value.message


@pytest.mark.parametrize(
    "query, param",
    [
        (SearchQuery(page=0), "page"),
        (SearchQuery(par_page=101), "par_page"),
        (SearchQuery(tri="distance"), "tri"),
        (SearchQuery(tri="hasard"), "tri"),
    ],
)
def test_search_query_bounds(query, param):
    with pytest.raises(QueryError) as caught:
        query.checked()
    assert caught.value.param == param


def test_cluster_query_bounds():
    ClusterQuery(-5, 41, 10, 51.5, 5).checked()
    for bad in (ClusterQuery(10, 41, -5, 51.5, 5), ClusterQuery(-5, 41, 10, 51.5, 21)):
        with pytest.raises(QueryError):
            bad.checked()
    with pytest.raises(QueryError, match="trop grande"):
        ClusterQuery(-5, 41, 10, 51.5, 14).checked()


def test_haversine_known_distance():
    # Paris (Notre-Dame) to Lyon (Bellecour): about 392 km.
    assert haversine_km(48.853, 2.3499, 45.7578, 4.8320) == pytest.approx(392, abs=2)
    assert haversine_km(45.0, 3.0, 45.0, 3.0) == 0


@given(
    st.floats(-60, 60),
    st.floats(-179, 179),
    st.floats(0.1, 200),
    st.floats(0, 1),
    st.floats(0, 2 * math.pi),
)
def test_bbox_around_holds_every_point_within_the_radius(lat, lon, km, fraction, bearing):
    # A point at distance fraction*km along a bearing (spherical destination formula).
    d = fraction * km / 6371.0088
    p1, l1 = math.radians(lat), math.radians(lon)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(bearing))
    l2 = l1 + math.atan2(
        math.sin(bearing) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2)
    )
    plat, plon = math.degrees(p2), math.degrees(l2)
    if not -180 <= plon <= 180:
        return  # across the antimeridian: not a case for a French directory
    south, west, north, east = bbox_around(lat, lon, km)
    assert south <= plat <= north and west <= plon <= east


@given(st.floats(-85, 85), st.floats(-85, 85), st.floats(-180, 180))
def test_mercator_y_grows_southwards(lat1, lat2, lon):
    (x1, y1), (x2, y2) = mercator(lat1, lon), mercator(lat2, lon)
    assert 0 <= x1 <= 1 and 0 <= y1 <= 1 and x1 == x2
    if lat1 > lat2:
        assert y1 <= y2


@st.composite
def directories(draw):
    """Small search tables: names from a tiny alphabet (many shared prefixes and exact twins)."""
    n = draw(st.integers(1, 60))
    names = draw(st.lists(st.text("AB ", min_size=1, max_size=4), min_size=n, max_size=n))
    completeness = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    rows = []
    for i, (name, c) in enumerate(zip(names, completeness, strict=True)):
        row = dict.fromkeys(ROW_FIELDS)
        row.update(id=i * 3 + 1, nom=name, completude=c, statut="actif", certifie=0)
        row.update(actions_formation=0, bilans_competences=0, vae=0, apprentissage=0)
        rows.append(tuple(row[f] for f in ROW_FIELDS))
    mask = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    return Columns(rows, []), np.array(mask, dtype=bool), draw(st.text("AB ", min_size=1, max_size=3))


@given(directories())
def test_relevance_order_is_exact_name_then_prefix_then_completeness_then_name(case):
    """Whatever the share of matches (sorted, or picked from the precomputed order): the order is the
    brute-force sort by (tier, -completeness, name, id)."""
    columns, mask, typed = case
    positions, _ = columns.ordered(mask, "pertinence", typed, None)
    names = columns.names
    completeness = {int(p): int(r) for r, p in enumerate(columns.by_relevance)}

    def key(p):
        tier = 0 if names[p] == typed else 1 if names[p].startswith(typed) else 2
        return (tier, completeness[p])

    expected = sorted(np.flatnonzero(mask).tolist(), key=key)
    assert positions.tolist() == expected
