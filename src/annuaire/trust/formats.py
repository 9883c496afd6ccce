"""French formats of a cell, and the format and type of a column from its name and values.

Each check takes a value already stripped of surrounding spaces and says whether it is a valid value
of the format: a SIRET must pass python-stdnum's checks (La Poste's rule included), a date must exist
in the calendar, a département or a région must be a code of the COG."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from datetime import date

from ..clean.identifiers import siren_is_valid, siret_is_valid

DEPARTEMENTS = frozenset(
    [f"{n:02d}" for n in range(1, 96) if n != 20]
    + ["2A", "2B"]
    + [str(n) for n in (971, 972, 973, 974, 975, 976, 977, 978, 984, 986, 987, 988, 989)]
)
REGIONS = frozenset(
    [
        "01",
        "02",
        "03",
        "04",
        "06",
        "11",
        "24",
        "27",
        "28",
        "32",
        "44",
        "52",
        "53",
        "75",
        "76",
        "84",
        "93",
        "94",
    ]
)
_DIGITS = re.compile(r"^[0-9]+$")
_INTEGER = re.compile(r"^-?(0|[1-9][0-9]*)$")
_DECIMAL = re.compile(r"^-?[0-9]+([.,][0-9]+)?$")
_DMY = re.compile(r"^([0-9]{2})/([0-9]{2})/([0-9]{4})$")
_ISO = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})([T ][0-9:.]+(Z|[+-][0-9:]+)?)?$")
_INSEE = re.compile(r"^([0-9]{5}|2[AaBb][0-9]{3})$")
_GEOPOINT = re.compile(r"^\s*(-?[0-9]+\.[0-9]+)\s*[,;]\s*(-?[0-9]+\.[0-9]+)\s*$")
BOOLEANS = frozenset(["true", "false", "vrai", "faux", "oui", "non", "yes", "no"])


def _digits(value: str, n: int) -> bool:
    return len(value) == n and bool(_DIGITS.match(value))


def is_siret(value: str) -> bool:
    return siret_is_valid(value.replace(" ", ""))


def is_siren(value: str) -> bool:
    return siren_is_valid(value.replace(" ", ""))


def is_nda(value: str) -> bool:
    return _digits(value, 11) or (_digits(value, 12) and value[:2] in ("97", "98"))


def is_postal_code(value: str) -> bool:
    return _digits(value, 5) and value[:2] != "00"


def is_insee_commune(value: str) -> bool:
    return bool(_INSEE.match(value)) and value[:2] != "00"


def is_departement(value: str) -> bool:
    return value.upper() in DEPARTEMENTS


def is_region(value: str) -> bool:
    return value in REGIONS


def is_date(value: str) -> bool:
    found = _DMY.match(value)
    if found:
        day, month, year = (int(g) for g in found.groups())
    else:
        found = _ISO.match(value)
        if not found:
            return False
        year, month, day = (int(g) for g in found.groups()[:3])
    try:
        date(year, month, day)
    except ValueError:
        return False
    return 1800 <= year <= 2200


def is_boolean(value: str) -> bool:
    return value.lower() in BOOLEANS


def _number(value: str) -> float | None:
    if not _DECIMAL.match(value):
        return None
    return float(value.replace(",", "."))


def is_latitude(value: str) -> bool:
    number = _number(value)
    return number is not None and -90 <= number <= 90 and ("." in value or "," in value)


def is_longitude(value: str) -> bool:
    number = _number(value)
    return number is not None and -180 <= number <= 180 and ("." in value or "," in value)


def is_geopoint(value: str) -> bool:
    found = _GEOPOINT.match(value)
    return found is not None and -90 <= float(found.group(1)) <= 90 and -180 <= float(found.group(2)) <= 180


def is_integer(value: str) -> bool:
    return bool(_INTEGER.match(value))


def is_number(value: str) -> bool:
    return bool(_DECIMAL.match(value))


# format → (check, Table Schema type, French label, name hints, needs a hint to be chosen)
FORMATS: dict[str, tuple[Callable[[str], bool], str, str, tuple[str, ...], bool]] = {
    "siret": (is_siret, "string", "SIRET", ("siret",), False),
    "siren": (is_siren, "string", "SIREN", ("siren",), False),
    "nda": (is_nda, "string", "numéro de déclaration d'activité", ("declarationactivite", "nda"), True),
    "date": (is_date, "date", "date", ("date",), False),
    "booleen": (is_boolean, "boolean", "booléen", (), False),
    "geopoint": (is_geopoint, "geopoint", "coordonnées latitude, longitude", ("gps", "coordonnees"), True),
    "latitude": (is_latitude, "number", "latitude", ("latitude", "lat"), True),
    "longitude": (is_longitude, "number", "longitude", ("longitude", "lon", "lng"), True),
    "code_postal": (is_postal_code, "string", "code postal", ("codepostal", "postal"), False),
    "code_commune_insee": (
        is_insee_commune,
        "string",
        "code commune INSEE",
        ("insee", "codecommune"),
        True,
    ),
    "departement": (is_departement, "string", "code de département", ("departement", "dept", "dep"), True),
    "region": (is_region, "string", "code de région", ("region",), True),
}
LABELS = {name: spec[2] for name, spec in FORMATS.items()}
DETECT_SHARE = 0.8  # share of the values that must match for a format chosen from the values alone
HINTED_SHARE = 0.5  # … when the column's name says so (dirty columns keep their format)


def fold_name(name: str) -> str:
    """A column name folded for hints: lower case, no accents, letters and digits only."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]", "", text)


def _hinted(name: str, hints: Sequence[str]) -> bool:
    folded = fold_name(name)
    last = fold_name(re.split(r"[._/]", name)[-1]) if name else ""
    return any(h in folded if len(h) > 3 else (last == h or last.startswith(h)) for h in hints)


def detect(name: str, values: Sequence[str]) -> tuple[str | None, str]:
    """(format or None, Table Schema type) of a column from its name and a sample of its non-empty,
    stripped values."""
    if not values:
        return None, "string"
    shares = {f: sum(1 for v in values if spec[0](v)) / len(values) for f, spec in FORMATS.items()}
    for fmt, (_, type_, _, hints, _) in FORMATS.items():  # the name first, when the values agree enough
        if hints and _hinted(name, hints) and shares[fmt] >= HINTED_SHARE:
            return fmt, type_
    for fmt, (_, type_, _, _, needs_hint) in FORMATS.items():
        if not needs_hint and shares[fmt] >= DETECT_SHARE:
            return fmt, type_
    if all(_DIGITS.match(v) for v in values) and any(len(v) > 1 and v.startswith("0") for v in values):
        return None, "string"  # a code: its leading zeros matter
    if all(is_integer(v) for v in values):
        return None, "integer"
    if all(is_number(v) for v in values):
        return None, "number"
    return None, "string"
