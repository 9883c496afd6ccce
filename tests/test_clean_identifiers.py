"""SIRET, SIREN and NDA validation and repair (annuaire.clean.identifiers)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from stdnum import luhn
from stdnum.fr import siret as stdnum_siret

from annuaire.clean import identifiers
from annuaire.clean.identifiers import (
    check_identifiers,
    check_nda,
    check_siren,
    check_siret,
    compact,
    siren_is_valid,
    siret_is_valid,
    split_ndas,
)

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

VALID_SIRET = "73282932000074"  # Apple France
LA_POSTE_HEAD_OFFICE = "35600000000048"
LA_POSTE_ESTABLISHMENT = "35600000049837"  # digit sum a multiple of 5, not a Luhn number


def digits(n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=n, max_size=n)


def with_check_digit(body: str) -> str:
    return body + luhn.calc_check_digit(body)


@st.composite
def valid_sirets(draw, prefix: str = "") -> str:
    """A SIRET valid by the plain rule (a Luhn SIREN and a Luhn SIRET), starting with `prefix`."""
    siren = with_check_digit(prefix + draw(digits(8 - len(prefix))))
    return with_check_digit(siren + draw(digits(4)))


# Random 14-digit strings, plus strings under La Poste's SIREN, which random digits never reach.
fourteen_digits = st.one_of(digits(14), digits(5).map(lambda s: "356000000" + s), valid_sirets())


# --- compact -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("732 829 320 00074", VALID_SIRET),
        ("732.829.320.00074", VALID_SIRET),
        ("732-829-320-00074", VALID_SIRET),
        ("", ""),
        ("12345", "12345"),
    ],
)
def test_compact_removes_separators(raw, expected):
    assert compact(raw) == expected


# --- SIRET ---------------------------------------------------------------------------------------------


def test_valid_siret():
    assert check_siret(VALID_SIRET) == (VALID_SIRET, "valide")
    assert check_siret(" 732 829 320 00074 ") == (VALID_SIRET, "valide")


def test_lost_leading_zero_is_restored():
    siret = with_check_digit("041782129" + "0001")
    assert stdnum_siret.is_valid(siret)
    assert check_siret(siret.lstrip("0")) == (siret, "zero_restaure")
    assert check_siret(siret) == (siret, "valide")


def test_la_poste_sirets_are_valid_by_their_own_rule():
    assert not luhn.is_valid(LA_POSTE_ESTABLISHMENT)
    assert stdnum_siret.is_valid(LA_POSTE_ESTABLISHMENT)
    assert check_siret(LA_POSTE_HEAD_OFFICE) == (LA_POSTE_HEAD_OFFICE, "valide")
    assert check_siret(LA_POSTE_ESTABLISHMENT) == (LA_POSTE_ESTABLISHMENT, "valide")


def test_la_poste_siret_failing_its_rule_is_invalid():
    # Luhn-valid, but La Poste's establishments (other than the head office) follow the digit-sum rule
    # only, and 3+5+6+1+4 = 19 is not a multiple of 5: stdnum (and INSEE) reject it.
    assert luhn.is_valid("35600000000014")
    assert not stdnum_siret.is_valid("35600000000014")
    assert not siret_is_valid("35600000000014")
    assert check_siret("35600000000014") == (None, "invalide")


@pytest.mark.parametrize("raw", [VALID_SIRET[:-1] + "5", "73282932000075", "12345678901234"])
def test_bad_checksum_is_withheld(raw):
    assert check_siret(raw) == (None, "invalide")


@pytest.mark.parametrize("raw", ["", "   "])
def test_missing_siret(raw):
    assert check_siret(raw) == (None, "absent")


@pytest.mark.parametrize("raw", ["7328293200007A", "N/A", "732829320000740", "73282932", "1234"])
def test_malformed_siret(raw):
    assert check_siret(raw) == (None, "invalide")


@SETTINGS
@given(fourteen_digits)
@example("35600000000014")
def test_check_siret_on_any_14_digits(value):
    siret, status = check_siret(value)
    if siret is None:
        assert status == "invalide"
        assert not stdnum_siret.is_valid(value)
    else:
        assert (siret, status) == (value, "valide")
        assert stdnum_siret.is_valid(siret)


@SETTINGS
@given(fourteen_digits)
@example(LA_POSTE_HEAD_OFFICE)
@example(LA_POSTE_ESTABLISHMENT)
@example("35600000000014")
def test_siret_is_valid_agrees_with_stdnum(value):
    assert siret_is_valid(value) == stdnum_siret.is_valid(value)


@SETTINGS
@given(st.one_of(valid_sirets(prefix="0"), valid_sirets(prefix="00"), valid_sirets(prefix="0000")))
def test_zero_stripped_valid_siret_is_restored(siret):
    assert stdnum_siret.is_valid(siret)
    stripped = siret.lstrip("0")
    if len(stripped) < 9:
        assert check_siret(stripped)[0] is None  # too short to be a SIRET that only lost zeros
    else:
        assert check_siret(stripped) == (siret, "zero_restaure")


@SETTINGS
@given(st.text(max_size=20))
def test_check_siret_never_publishes_an_invalid_siret(raw):
    siret, status = check_siret(raw)
    assert status in {"valide", "zero_restaure", "invalide", "absent"}
    if siret is not None:
        assert len(siret) == 14 and siret.isascii() and siret.isdigit()
        assert stdnum_siret.is_valid(siret)


@SETTINGS
@given(st.text(alphabet="0123456789", min_size=1, max_size=24))
def test_fast_luhn_agrees_with_stdnum(value):
    assert identifiers._luhn_ok(value) == luhn.is_valid(value)


# --- SIREN ---------------------------------------------------------------------------------------------


def test_siren():
    assert siren_is_valid("732829320")
    assert not siren_is_valid("732829321")
    assert not siren_is_valid("73282932")
    assert check_siren("732 829 320") == "732829320"
    assert check_siren("41782129") == "041782129"  # a lost leading zero
    assert check_siren("abc") is None
    assert check_siren("") is None


def test_siren_is_derived_from_a_valid_siret():
    ids = check_identifiers(VALID_SIRET, "")
    assert ids.siret == VALID_SIRET and ids.siret_status == "valide"
    assert ids.siren == "732829320"
    assert not ids.siren_mismatch


def test_siren_agreeing_with_siret():
    ids = check_identifiers(VALID_SIRET, "732829320")
    assert ids.siren == "732829320" and not ids.siren_mismatch


def test_siren_disagreeing_with_siret_is_flagged():
    ids = check_identifiers(VALID_SIRET, "552100554")
    assert ids.siren == "732829320"  # the SIRET wins
    assert ids.siren_mismatch
    assert ids.siren_raw == "552100554" and ids.siret_raw == VALID_SIRET


def test_siren_with_lost_zero_is_not_a_mismatch():
    siret = with_check_digit("041782129" + "0001")
    ids = check_identifiers(siret.lstrip("0"), siret[1:9])
    assert ids.siret == siret and ids.siret_status == "zero_restaure"
    assert ids.siren == siret[:9]
    assert not ids.siren_mismatch


def test_published_siren_kept_when_siret_invalid():
    ids = check_identifiers("73282932000075", "732829320")
    assert ids.siret is None and ids.siret_status == "invalide"
    assert ids.siren == "732829320"
    assert not ids.siren_mismatch


def test_invalid_siren_alone_is_dropped():
    ids = check_identifiers("", "732829321")
    assert ids.siret is None and ids.siret_status == "absent"
    assert ids.siren is None


def test_identifiers_keep_raw_values_trimmed():
    ids = check_identifiers("  732 829 320 00074 ", " 732829320 ")
    assert ids.siret_raw == "732 829 320 00074"
    assert ids.siren_raw == "732829320"
    assert ids.siret == VALID_SIRET


# --- NDA -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("11755555575", ("11755555575", False)),
        (" 117 555 555 75 ", ("11755555575", False)),
        ("1755555575", ("01755555575", True)),  # 10 digits: a lost leading zero
        ("972123456789", ("972123456789", False)),  # overseas: 12 digits
        ("984123456789", ("984123456789", False)),
        ("974123456789", ("974123456789", False)),
        ("117555555755", (None, False)),  # 12 digits, not overseas
        ("123456789", (None, False)),
        ("1175555557512", (None, False)),
        ("", (None, False)),
        ("7487P000187", (None, False)),  # pre-2015 style
        ("NDA11755555575", (None, False)),
    ],
)
def test_check_nda(raw, expected):
    assert check_nda(raw) == expected


@SETTINGS
@given(digits(11))
def test_eleven_digit_nda_is_kept(value):
    assert check_nda(value) == (value, False)


@SETTINGS
@given(digits(10))
def test_ten_digit_nda_is_padded(value):
    assert check_nda(value) == ("0" + value, True)


@SETTINGS
@given(digits(12))
def test_twelve_digit_nda_only_overseas(value):
    nda, padded = check_nda(value)
    assert not padded
    assert nda == (value if value[:2] in ("97", "98") else None)


@SETTINGS
@given(st.text(max_size=16))
@example("²²²²²²²²²²²")  # superscript twos: str.isdigit() says digits, int() refuses them
@example("١١٧٥٥٥٥٥٥٧٥")  # Arabic-Indic digits
def test_check_nda_returns_ascii_digits_or_nothing(raw):
    nda, padded = check_nda(raw)
    if nda is None:
        assert not padded
    else:
        assert nda.isascii() and nda.isdigit(), f"{raw!r} accepted as NDA {nda!r}"
        assert len(nda) == 11 or (len(nda) == 12 and nda[:2] in ("97", "98"))
        int(nda)  # the pipeline sorts NDAs as integers


def test_split_ndas():
    assert split_ndas("11755555575, 11755555576") == ["11755555575", "11755555576"]
    assert split_ndas("11755555575;11755555575 | 1755555577") == ["11755555575", "01755555577"]
    assert split_ndas("") == []
    assert split_ndas("garbage, 123") == []
