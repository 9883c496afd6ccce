"""Text repair, comparison names and address kinds (annuaire.clean.text, .names, .address)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annuaire.clean.address import CITY_ONLY, NONE, PO_BOX, STREET, address_kind
from annuaire.clean.names import comparison_name, fold
from annuaire.clean.text import TextCleaner, looks_like_mojibake, normalise_space, repair_mojibake

# --- mojibake and spaces -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("SOCIÃ‰TÃ‰", "SOCIÉTÉ"),
        ("SOCIÃ‰TÃ‰ GÃ‰NÃ‰RALE", "SOCIÉTÉ GÉNÉRALE"),
        ("Ã©cole de la rÃ©ussite", "école de la réussite"),
        ("Centre de formation Ã  distance", "Centre de formation à distance"),
        ("FORMATION CONTINUE DE L'Ã‰NERGIE", "FORMATION CONTINUE DE L'ÉNERGIE"),
    ],
)
def test_mojibake_is_repaired(raw, expected):
    assert looks_like_mojibake(raw)
    assert repair_mojibake(raw) == expected
    assert TextCleaner()(raw) == (expected, True)


@pytest.mark.parametrize(
    "text", ["SOCIÉTÉ GÉNÉRALE", "Société Générale", "École Ça Ira", "ÉCOLE NATIONALE D'ÉQUITATION", "LYCÉE"]
)
def test_correct_text_is_left_alone(text):
    assert repair_mojibake(text) == text
    assert TextCleaner()(text) == (text, False)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  SARL   X  ", "SARL X"),
        ("12 rue\nde la Paix", "12 rue de la Paix"),
        ("12\true de la\r\nPaix ", "12 rue de la Paix"),
        ("Société  Générale ", "Société Générale"),
        ("École\u00a0Centrale", "École Centrale"),
        ("", ""),
        ("   ", ""),
        ("plain", "plain"),
    ],
)
def test_spaces_are_normalised(raw, expected):
    assert normalise_space(raw) == expected
    assert TextCleaner()(raw) == (expected, False)


def test_mojibake_and_spaces_together():
    assert TextCleaner()("  SOCIÃ‰TÃ‰   NOUVELLE ") == ("SOCIÉTÉ NOUVELLE", True)


def test_cleaner_memo_gives_same_answer():
    clean = TextCleaner()
    first = clean("SOCIÃ‰TÃ‰  X")
    assert clean("SOCIÃ‰TÃ‰  X") == first == ("SOCIÉTÉ X", True)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_cleaner_output_is_trimmed_and_collapsed(value):
    text, repaired = TextCleaner()(value)
    assert isinstance(repaired, bool)
    assert text == text.strip()
    assert "  " not in text and "\n" not in text and "\t" not in text
    if value.isascii():
        assert not repaired and text == " ".join(value.split())


# --- comparison names ----------------------------------------------------------------------------------


def test_legal_form_position_and_punctuation_do_not_matter():
    assert comparison_name("SARL X") == comparison_name("X SARL") == comparison_name("x s.a.r.l.") == "X"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("SARL FORMAPLUS", "Formaplus SARL"),
        ("S.A.S. FORMAPLUS", "FORMAPLUS SAS"),
        ("Société Générale", "SOCIETE GENERALE"),
        ("ROY GUILLAUME", "GUILLAUME ROY"),
        ("M. ROY GUILLAUME", "Guillaume Roy"),
        ("MME DUPONT MARIE", "Marie Dupont"),
        ("ÉCOLE-DES-ARTS", "ecole des arts"),
        ("EURL  L'ATELIER", "L ATELIER"),
    ],
)
def test_spellings_of_one_name_compare_equal(a, b):
    assert comparison_name(a) == comparison_name(b)


@pytest.mark.parametrize(("a", "b"), [("FORMAPLUS", "FORMAPLUS 2"), ("ALPHA FORMATION", "BETA FORMATION")])
def test_different_names_stay_different(a, b):
    assert comparison_name(a) != comparison_name(b)


def test_name_made_only_of_a_legal_form_is_kept():
    assert comparison_name("SARL") == "SARL"
    assert comparison_name("") == ""


def test_fold():
    assert fold("Saint-Étienne du Rouvray") == "SAINT ETIENNE DU ROUVRAY"
    assert fold("L'Haÿ-les-Roses") == "L HAY LES ROSES"
    # A typographic apostrophe separates words like a straight one; ligatures are spelled out.
    assert fold("L’ÉCOLE DU CŒUR") == fold("L'ECOLE DU COEUR") == "L ECOLE DU COEUR"
    assert fold("Ægir ß Øre") == "AEGIR SS ORE"
    assert fold("ΑΘΗΝΑ 2") == "2"  # letters with no Latin form: separators, never glued together


# --- address kinds -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("street", "city", "postcode", "expected"),
    [
        ("12 rue de la Paix", "PARIS", "75002", STREET),
        ("BP 123", "ANNECY", "74000", PO_BOX),
        ("B.P. 45", "ANNECY", "74000", PO_BOX),
        ("12 rue de la Paix BP 123", "ANNECY", "74000", PO_BOX),
        ("bp123", "ANNECY", "74000", PO_BOX),
        ("CS 70001", "LYON", "69001", PO_BOX),
        ("12 avenue Foch CS 20015", "LYON", "69006", PO_BOX),
        ("TSA 12345", "PARIS", "75015", PO_BOX),
        ("Boite postale 12", "NANTES", "44000", PO_BOX),
        ("12 rue de la Paix", "PARIS CEDEX 02", "75002", PO_BOX),
        ("12 rue de la Paix", "Lyon cedex", "69002", PO_BOX),
        ("", "PARIS", "75002", CITY_ONLY),
        ("   ", "PARIS", "75002", CITY_ONLY),
        ("", "", "75002", CITY_ONLY),
        ("", "", None, NONE),
        ("  ", " ", None, NONE),
        ("BPI France 6 boulevard Haussmann", "PARIS", "75009", STREET),  # BPI is no PO box
        ("3 rue des Tsars", "PARIS", "75016", STREET),
        ("Impasse des Bps", "PARIS", "75016", STREET),
    ],
)
def test_address_kind(street, city, postcode, expected):
    assert address_kind(street, city, postcode) == expected


@pytest.mark.parametrize(
    "damaged, repaired",
    [
        ("sarl mosanka mã‰tiers", "sarl mosanka métiers"),  # mojibake lower-cased after the damage
        ("sã©curitã© incendie", "sécurité incendie"),
        ("pã¢tisserie", "pâtisserie"),
        ("maã®tre", "maître"),
        ("São Paulo", "São Paulo"),  # a real ã stays
        ("ã la carte", "ã la carte"),
    ],
)
def test_lower_cased_mojibake_is_repaired(damaged, repaired):
    assert repair_mojibake(damaged) == repaired


@given(st.text())
def test_fold_gives_words_of_capital_letters_and_digits(value):
    folded = fold(value)
    assert re.fullmatch(r"([A-Z0-9]+( [A-Z0-9]+)*)?", folded), folded
    assert fold(folded) == folded
