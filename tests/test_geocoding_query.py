"""What is sent to the geocoder: the street part, without PO boxes and building details."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annuaire.geocoding.ban import Query, parse_answer
from annuaire.geocoding.query import cache_key, street_query


@pytest.mark.parametrize(
    ("street", "expected"),
    [
        ("BATIMENT B 196 AVENUE DU 11 NOVEMBRE", "196 AVENUE DU 11 NOVEMBRE"),
        ("4 AVENUE ANATOLE FRANCE TSA 12925", "4 AVENUE ANATOLE FRANCE"),
        ("TSA 77942", ""),
        ("BP 79646", ""),
        ("CS 40001 - 10 rue de la Paix", "10 rue de la Paix"),
        ("12 RUE X 3EME ETAGE", "12 RUE X"),
        ("BAT C, 222 RUE DE L EGLISE", "222 RUE DE L EGLISE"),
        ("ZA DES BRUYERES 62 ALLEE GAMBETTA", "62 ALLEE GAMBETTA"),
        ("CENTRE D AFFAIRES LE PHENIX 226 AVENUE DU PORT", "226 AVENUE DU PORT"),
        ("10 BIS AVENUE JEAN JAURES", "10 BIS AVENUE JEAN JAURES"),
        ("LIEU DIT LE BOURG", "LIEU DIT LE BOURG"),
        ("", ""),
    ],
)
def test_street_query(street, expected):
    assert street_query(street) == expected


def test_cache_key_ignores_case_accents_and_spacing():
    assert cache_key("12 Rue  de l'Église", "75008", "75108") == cache_key(
        "12 RUE DE L EGLISE", "75008", "75108"
    )
    assert cache_key("12 RUE X", "75008", "75108") != cache_key("12 RUE X", "75009", "75109")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_street_query_never_raises_and_is_idempotent(text):
    once = street_query(text)
    assert street_query(once) == once
    assert "  " not in once


def test_parse_answer_reads_results_and_flags_missing_rows():
    sent = [Query("a", "1 rue x"), Query("b", "2 rue y"), Query("c", "3 rue z")]
    text = (
        "id,q,latitude,longitude,result_label,result_score,result_type,result_citycode\n"
        "a,1 rue x,48.1,2.2,1 Rue X,0.91,housenumber,75108\n"
        "b,2 rue y,,,,,,\n"
        "c,3 rue z,48.3"  # cut short
    )
    out = parse_answer(text, sent)
    assert out["a"].answer.latitude == 48.1 and out["a"].answer.type == "housenumber"
    assert out["b"].answer is None and out["b"].error is None
    assert out["c"].answer is None and out["c"].error == "truncated_csv"


def test_parse_answer_without_result_columns():
    out = parse_answer("id,q\na,1 rue x\n", [Query("a", "1 rue x")])
    assert out["a"].error == "missing_columns"
