"""Postal codes, COG codes and dates (annuaire.clean.postal, annuaire.clean.dates)."""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from annuaire.clean.dates import parse_date
from annuaire.clean.postal import departement_of_commune, departement_of_postcode, pad_postcode, pad_region

SETTINGS = settings(max_examples=300, deadline=None)
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)


# --- postal codes --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("75008", ("75008", False)),
        (" 75008 ", ("75008", False)),
        ("75 008", ("75008", False)),
        ("1000", ("01000", True)),  # Bourg-en-Bresse, zero lost in a spreadsheet
        ("6000", ("06000", True)),
        ("97227", ("97227", False)),
        ("", (None, False)),
        ("   ", (None, False)),
        ("750", (None, False)),
        ("750080", (None, False)),
        ("75OO8", (None, False)),
        ("F-75008", (None, False)),
    ],
)
def test_pad_postcode(raw, expected):
    assert pad_postcode(raw) == expected


@SETTINGS
@given(st.integers(min_value=1000, max_value=99999))
def test_pad_postcode_round_trips_int_ified_codes(n):
    code = f"{n:05d}"
    assert pad_postcode(str(int(code))) == (code, n < 10000)
    assert pad_postcode(code) == (code, False)


@SETTINGS
@given(st.text(max_size=8))
@example("٧٥٠٠٨")  # Arabic-Indic digits: str.isdigit() is true
@example("²²²²²")
def test_pad_postcode_returns_five_ascii_digits_or_nothing(raw):
    code, padded = pad_postcode(raw)
    if code is None:
        assert not padded
    else:
        assert re.fullmatch(r"[0-9]{5}", code), f"{raw!r} gave postal code {code!r}"


@pytest.mark.parametrize(
    ("insee", "expected"),
    [
        ("75108", "75"),
        ("01053", "01"),
        ("2A004", "2A"),
        ("2B033", "2B"),
        ("97101", "971"),
        ("97209", "972"),
        ("97411", "974"),
        ("97611", "976"),
        ("98735", "987"),
    ],
)
def test_departement_of_commune(insee, expected):
    assert departement_of_commune(insee) == expected


@pytest.mark.parametrize(
    ("postcode", "expected"),
    [
        ("75008", "75"),
        ("01000", "01"),
        ("20000", "2A"),  # Ajaccio
        ("20090", "2A"),
        ("20200", "2B"),  # Bastia
        ("20600", "2B"),
        ("97100", "971"),
        ("97400", "974"),
        ("", None),
        (None, None),
        ("7500", None),
    ],
)
def test_departement_of_postcode(postcode, expected):
    assert departement_of_postcode(postcode) == expected


@pytest.mark.parametrize(
    ("raw", "expected"), [("11", "11"), ("4", "04"), ("04", "04"), (" 6 ", "06"), ("", None)]
)
def test_pad_region(raw, expected):
    assert pad_region(raw) == expected


# --- dates ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("23/07/2021", ("2021-07-23", False)),
        ("1/2/2020", ("2020-02-01", False)),
        (" 29/02/2020 ", ("2020-02-29", False)),
        ("2021-07-23", ("2021-07-23", False)),
        ("2021-07-23T10:11:12", ("2021-07-23", False)),
        ("2021-07-23 10:11:12", ("2021-07-23", False)),
        ("", (None, False)),
        ("   ", (None, False)),
        ("31/02/2020", (None, True)),
        ("29/02/2021", (None, True)),
        ("00/01/2020", (None, True)),
        ("12/13/2020", (None, True)),
        ("2021-02-30", (None, True)),
        ("01/01/1899", (None, True)),
        ("01/01/2101", (None, True)),
        ("23.07.2021", (None, True)),
        ("hier", (None, True)),
    ],
)
def test_parse_date(raw, expected):
    assert parse_date(raw) == expected


@SETTINGS
@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)))
def test_parse_date_round_trips_french_dates(day):
    assert parse_date(day.strftime("%d/%m/%Y")) == (day.isoformat(), False)
    assert parse_date(f"{day.day}/{day.month}/{day.year:04d}") == (day.isoformat(), False)
    assert parse_date(day.isoformat()) == (day.isoformat(), False)


@SETTINGS
@given(st.text(max_size=30))
@example("31/02/2020")
@example("99/99/9999")
@example("0000-00-00")
def test_parse_date_never_raises(raw):
    iso, impossible = parse_date(raw)
    if iso is not None:
        assert not impossible
        assert ISO_DATE.match(iso)
        date.fromisoformat(iso)
    else:
        assert impossible == bool(raw.strip())
