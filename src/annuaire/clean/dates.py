"""Dates of the Liste publique: dd/mm/yyyy, sometimes ISO, sometimes impossible."""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache

_FR = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ].*)?$")


@lru_cache(maxsize=65536)
def parse_date(raw: str) -> tuple[str | None, bool]:
    """Return (ISO 8601 date or None, whether the value was present but impossible)."""
    value = (raw or "").strip()
    if not value:
        return None, False
    m = _FR.match(value)
    if m:
        day, month, year = int(m[1]), int(m[2]), int(m[3])
    else:
        m = _ISO.match(value)
        if not m:
            return None, True
        year, month, day = int(m[1]), int(m[2]), int(m[3])
    if not 1900 <= year <= 2100:
        return None, True
    try:
        return date(year, month, day).isoformat(), False
    except ValueError:
        return None, True
