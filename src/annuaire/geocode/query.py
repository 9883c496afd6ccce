"""What to ask the geocoder: the place part of an address, and the key it is cached under.

Pure functions, no state. The Liste publique's street field mixes the place (`196 AVENUE DU 11
NOVEMBRE`) with how mail is delivered (`BP 123`, `CS 40001`, `TSA 12345`, `CEDEX 07`) and where a door
is inside a building (`BATIMENT B`, `3EME ETAGE`, `APPT 12`, `RESIDENCE LES PINS`). The geocoder knows
nothing of the latter and they drag its score down, so they are removed, the street itself kept:

    BATIMENT B 196 AVENUE DU 11 NOVEMBRE           → 196 AVENUE DU 11 NOVEMBRE
    27, rue des Marais Bâtiment B - 1er étage      → 27 RUE DES MARAIS
    RUE DES ECOLES RESIDENCE LES RESTANQUES BAT B9 → RUE DES ECOLES
    AVENUE DE LA RESIDENCE                         → AVENUE DE LA RESIDENCE (the street's name)
    RESIDENCE LES PINS                             → RESIDENCE LES PINS (all there is)

The result is upper case ASCII without punctuation (the geocoder folds text the same way), at most
`MAX_STREET` characters (Addok refuses a query longer than 200), and `clean_street` is idempotent.
"""

from __future__ import annotations

import re

from ..clean.names import fold
from ..clean.postal import pad_postcode

MAX_STREET = 150
MAX_CITY = 40

# Street types (and their usual abbreviations) that start the name of a street.
_TYPES = (
    "RUE|R|AVENUE|AV|AVE|BOULEVARD|BD|BLD|BOUL|PLACE|PL|CHEMIN|CHE|CH|CHEM|ROUTE|RTE|RT|IMPASSE|IMP"
    "|ALLEE|ALLEES|ALL|QUAI|COURS|CRS|SQUARE|SQ|PASSAGE|PASS|FAUBOURG|FBG|CHAUSSEE|PROMENADE|PROM"
    "|ESPLANADE|VOIE|SENTIER|RUELLE|MONTEE|TRAVERSE|CITE|HAMEAU|HAM|LIEU DIT|LIEUDIT|QUARTIER|QUAR"
    "|LOTISSEMENT|DOMAINE|DOM|CLOS|PARVIS|ROND POINT|RPT|VILLA|MAIL|TERRASSE|CARREFOUR|PORT|VIA"
)
_ORDINAL = r"(?:BIS|TER|QUATER|QUINQUIES|[A-Z])"
# A numbered street: `12 RUE`, `163 TER RUE`, `73D RTE`, `279 B AVENUE`.
_NUMBERED = re.compile(rf"\b\d{{1,5}}[A-Z]?(?:\s+{_ORDINAL})?\s+(?:{_TYPES})\b")
_TYPE = re.compile(rf"\b(?:{_TYPES})\b")

# How mail is delivered: not a place.
_POSTAL = re.compile(
    r"\b(?:(?:B\s?P|BOITE\s+POSTALE|CEDEX|CIDEX)(?:\s+N)?(?:\s*\d+)?|(?:C\s?S|T\s?S\s?A)(?:\s+N)?\s*\d+)\b"
)
# Floors.
_FLOOR = re.compile(
    r"\b(?:\d{1,2}\s*(?:E|EME|IEME|ER|ERE|ND|NDE)\s+(?:ETAGE|ETG)|(?:ETAGE|ETG)\s*(?:N\s*)?\d{1,2}"
    r"|(?:PREMIER|DEUXIEME|TROISIEME|QUATRIEME|CINQUIEME|SIXIEME|SEPTIEME|HUITIEME|DERNIER)\s+ETAGE"
    r"|REZ\s+DE\s+CHAUSSEE|RDC)\b"
)
# Units inside a building, always with their number: `APPT 12`, `BUREAU 3`, `PORTE 4`.
_UNIT = re.compile(
    r"\b(?:APPARTEMENT|APPART|APPT|APT|APP|LOGEMENT|LGT|BUREAUX|BUREAU|BUR|CHAMBRE|PORTE|LOCAL|LOT|BOX"
    r"|CELLULE|SUITE)\s*(?:N\s*)?\d{1,4}[A-Z]?\b"
)
# Buildings, stairs, entrances with a short designator: `BATIMENT B`, `BAT 2`, `BAT B9`, `ESC A`.
# A number followed by a street type is the house number, not the building's.
_BUILDING = re.compile(
    r"\b(?:BATIMENTS?|BATIM|BAT|BLOC|ESCALIER|ESC|ENTREE|HALL|CAGE|PAVILLON|PAV)\s*(?:N\s*)?"
    rf"(?:[A-Z]\d{{0,2}}|\d{{1,3}}[A-Z]?)\b(?!\s+(?:{_ORDINAL}\s+)?(?:{_TYPES})\b)"
)
# Complements that, after the street, run to the end of it: `… RESIDENCE LES PINS BAT B9`.
_COMPLEMENT_WORDS = (
    r"IMMEUBLE|IMM|RESIDENCE|RES|BATIMENTS?|BAT|BLOC|ESCALIER|ESC|TOUR|ZI|ZA|ZAC|ZAE|ZONE|TECHNOPOLE"
    r"|TECHNOPARC|CENTRE COMMERCIAL|CENTRE D AFFAIRES|CENTRE D ACTIVITES?|PARC D ACTIVITES?"
    r"|PARC TECHNOLOGIQUE|PARC D AFFAIRES|P A|PA|PEPINIERE|HOTEL D ENTREPRISES"
)
_COMPLEMENT = re.compile(rf"(?:{_COMPLEMENT_WORDS})\b")
_ARTICLES = frozenset("DE DU DES LA LE LES L D AU AUX ET EN SUR SOUS".split())
_LEADING_COMPLEMENT = re.compile(rf"^(?:{_COMPLEMENT_WORDS}|APPARTEMENT|APPT|ETAGE|REZ DE CHAUSSEE)\b")
# Parts of the field: a comma, a semicolon, brackets, a dash between spaces.
_SEPARATORS = re.compile(r"[,;()\[\]]|\s[-–]\s")
# `27, rue …`: a comma after a house number does not separate parts.
_NUMBER_COMMA = re.compile(r"(?<![\w,])(\d{1,5}\s*(?:bis|ter|[a-z])?)\s*,", re.IGNORECASE)
_SPACES = re.compile(r"\s+")
_CEDEX_CITY = re.compile(r"\b(?:CEDEX|CIDEX)\b(?:\s*\d+)?")


def _shrink(text: str) -> str:
    """One round of removals on folded text; each removal makes the text shorter."""
    for pattern in (_POSTAL, _FLOOR, _UNIT, _BUILDING):
        text = pattern.sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    numbered = _NUMBERED.search(text)
    if numbered and numbered.start() > 0:
        # What comes before the house number is a complement: `ZI DES GRANDS CHAMPS 225 PLACE …`.
        text = text[numbered.start() :]
    street = _NUMBERED.search(text) or _TYPE.search(text)
    if street:
        # After the street's type and a word of its name, a complement runs to the end of the field;
        # after an article it is the street's name (`AVENUE DE LA RESIDENCE`).
        words = text[street.end() :].split()
        for i in range(1, len(words)):
            if words[i - 1] not in _ARTICLES and _COMPLEMENT.match(" ".join(words[i:])):
                text = (text[: street.end()] + " " + " ".join(words[:i])).strip()
                break
    return text


def _settle(text: str) -> str:
    """Apply `_shrink` until nothing changes (it terminates: every change shortens the text)."""
    while True:
        shorter = _shrink(text)
        if shorter == text:
            return text
        text = shorter


def _cap(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit + 1].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut[:limit].strip()


def clean_street(street: str | None) -> str:
    """The street part worth sending to the geocoder, folded; "" when nothing is left (`BP 123`)."""
    text = _NUMBER_COMMA.sub(r"\1 ", street or "")
    parts = [_settle(fold(part)) for part in _SEPARATORS.split(text)]
    parts = [p for p in parts if p]
    if len(parts) > 1:
        # A part that is only a complement (`Bât La Provence`) goes when another part is left.
        places = [p for p in parts if not _LEADING_COMPLEMENT.match(p)]
        parts = places or parts
    return _settle(_cap(" ".join(parts), MAX_STREET))


def has_housenumber(street: str | None) -> bool:
    """Whether the (cleaned) street starts with a house number."""
    return bool(re.match(r"\d", clean_street(street)))


def query_postcode(postcode: str | None) -> str:
    """Five digits (a lost leading zero restored), or "" when it is no postal code."""
    padded, _ = pad_postcode(postcode or "")
    return padded or ""


def query_city(city: str | None) -> str:
    """The city name, folded, without `CEDEX` and its number: `Paris Cedex 07` → `PARIS`."""
    return _cap(_SPACES.sub(" ", _CEDEX_CITY.sub(" ", fold(city or ""))).strip(), MAX_CITY)


def query_citycode(citycode: str | None) -> str:
    """A commune INSEE code (5 characters: digits, or 2A/2B for Corsica), else ""."""
    value = (citycode or "").strip().upper()
    return value if re.fullmatch(r"\d{5}|2[AB]\d{3}", value) else ""


def address_key(
    street: str | None, postcode: str | None, citycode: str | None, city: str | None = ""
) -> str:
    """The key an address is cached under: same place, same key, whatever the case, accents, spaces,
    punctuation or postal noise. The city's name counts only when the commune code is unknown (with the
    code, the name adds nothing). Raw or already cleaned parts give the same key."""
    code = query_citycode(citycode)
    return "|".join(
        (clean_street(street), query_postcode(postcode), code, "" if code else query_city(city))
    )
