"""What to ask the geocoder: the street part of an address without what is not a place.

Pure functions. `BP 123`, `CS 40001`, `TSA 12345`, `CEDEX 07`, `BATIMENT B`, `3EME ETAGE`, `APPT 12`
say how mail is delivered or where a door is inside a building: the geocoder knows nothing of them
and they drag its score down.
"""

from __future__ import annotations

import re

from ..clean.names import fold

_NOISE = [
    r"\b(?:B\.?\s?P\.?|C\.?\s?S\.?|T\.?\s?S\.?\s?A\.?|BOITE\s+POSTALE)\s*N?[°O]?\s*\d+\b",
    r"\bCEDEX\b(?:\s*\d+)?",
    r"\b(?:BATIMENT|BAT|BLOC|IMMEUBLE|IMM|ESCALIER|ESC|ENTREE|HALL|PORTE)\.?\s+[A-Z0-9]{1,3}\b",
    r"\b\d{1,2}\s*(?:E|EME|ER|ERE)\s+ETAGE\b",
    r"\bETAGE\s+\d{1,2}\b",
    r"\b(?:REZ\s+DE\s+CHAUSSEE|RDC)\b",
    r"\b(?:APPARTEMENT|APPT|APP|APT|BUREAU|BUR|LOT|LOCAL)\.?\s*N?[°O]?\s*[A-Z0-9]{1,4}\b",
]
_NOISE_RE = re.compile("|".join(_NOISE), re.IGNORECASE)
_STREET_TYPES = (
    "RUE|AVENUE|AV|AVE|BOULEVARD|BD|BVD|CHEMIN|CH|ALLEE|ALL|IMPASSE|IMP|PLACE|PL|ROUTE|RTE|QUAI|COURS|"
    "PROMENADE|ESPLANADE|SQUARE|SQ|PASSAGE|VOIE|RUELLE|SENTIER|CHAUSSEE|ROND[- ]POINT|FAUBOURG|FG|MONTEE|"
    "TRAVERSE|CITE|HAMEAU|LIEU[- ]DIT|LD|VILLA|CLOS|PARVIS|PORT|SENTE|CARREFOUR|CORNICHE|DOMAINE"
)
# "<number> [BIS|TER|A] <street type>": where the street part of an address starts. What precedes it
# (ZA DES BRUYERES, CENTRE D AFFAIRES LE PHENIX, RESIDENCE LES PINS) is a complement.
_NUMBERED_STREET = re.compile(
    r"\b\d{1,4}\s*(?:BIS|TER|QUATER|[A-Z])?\s*,?\s+(?:" + _STREET_TYPES + r")\b", re.IGNORECASE
)
_SPACES = re.compile(r"\s+")
_PUNCT = re.compile(r"^[\s,;:\-/]+|[\s,;:\-/]+$")


def street_query(street: str) -> str:
    """The street part worth sending: `BATIMENT B 196 AVENUE DU 11 NOVEMBRE` → `196 AVENUE DU 11 NOVEMBRE`."""
    text = _NOISE_RE.sub(" ", street or "")
    text = _SPACES.sub(" ", text)
    numbered = _NUMBERED_STREET.search(text)
    if numbered and numbered.start() > 0:
        text = text[numbered.start() :]
    text = re.sub(r"\s*,\s*(,\s*)+", ", ", text)
    return _PUNCT.sub("", text).strip()


def cache_key(street: str, postcode: str | None, citycode: str | None) -> str:
    """Same address, same key: case, accents, punctuation and spacing do not matter."""
    return "|".join((fold(street_query(street)), postcode or "", citycode or ""))
