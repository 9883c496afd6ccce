"""What kind of address a declaration gives: a street, only a city, or a PO box."""

from __future__ import annotations

import re

STREET = "voie"
CITY_ONLY = "commune_seule"
PO_BOX = "boite_postale"
NONE = "aucune"

_PO_BOX = re.compile(
    r"\b(?:B\.?\s?P\.?|C\.?\s?S\.?|T\.?\s?S\.?\s?A\.?|BOITE\s+POSTALE|CEDEX)(?:\s*N?[°o]?\s*\d+|\s|$)",
    re.IGNORECASE,
)
_CEDEX = re.compile(r"\bCEDEX\b", re.IGNORECASE)


def address_kind(street: str, city: str, postcode: str | None) -> str:
    """Classify an address. A PO box (BP, CS, TSA) or a CEDEX distribution is not a place."""
    if _PO_BOX.search(street or "") or _CEDEX.search(city or ""):
        return PO_BOX
    if (street or "").strip():
        return STREET
    if (city or "").strip() or postcode:
        return CITY_ONLY
    return NONE
