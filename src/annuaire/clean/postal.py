"""Postal codes and COG codes."""

from __future__ import annotations


def pad_postcode(raw: str) -> tuple[str | None, bool]:
    """Return (5-digit postal code or None, whether a lost leading zero was restored)."""
    value = (raw or "").strip().replace(" ", "")
    if not (value.isascii() and value.isdigit()):
        return None, False
    if len(value) == 5:
        return value, False
    if len(value) == 4:
        return "0" + value, True
    return None, False


def departement_of_commune(insee: str) -> str:
    """Département code from a commune INSEE code: 2A/2B as they are, 97x/98x on three characters."""
    return insee[:3] if insee[:2] in ("97", "98") else insee[:2]


def departement_of_postcode(postcode: str) -> str | None:
    """Best guess of the département from a postal code, used only when the commune is unknown."""
    if not postcode or len(postcode) != 5:
        return None
    if postcode[:2] in ("97", "98"):
        return postcode[:3]
    if postcode[:2] == "20":
        return "2A" if int(postcode) < 20200 else "2B"
    return postcode[:2]


def pad_region(raw: str) -> str | None:
    value = (raw or "").strip()
    if value.isascii() and value.isdigit() and 1 <= len(value) <= 2:
        return value.zfill(2)
    return value or None
