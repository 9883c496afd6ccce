"""Names normalised for comparison only: never shown, never published."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

LEGAL_FORMS = frozenset(
    [
        "SARL",
        "SAS",
        "SASU",
        "EURL",
        "SA",
        "SCOP",
        "SCIC",
        "SCI",
        "SNC",
        "SCS",
        "SCA",
        "SELARL",
        "SELAS",
        "SELAFA",
        "SEM",
        "SPL",
        "GIE",
        "EI",
        "EIRL",
        "ASSOC",
        "ASSO",
        "ET",
        "CIE",
    ]
)
CIVILITIES = frozenset(["M", "MR", "MME", "MLLE", "MONSIEUR", "MADAME", "MADEMOISELLE"])
_NON_ALNUM = re.compile(r"[^A-Z0-9]+")


# ASCII text folds without Unicode decomposition: everything but A-Z and 0-9 becomes a space.
_ASCII_NON_ALNUM = str.maketrans(
    {c: " " for c in map(chr, range(128)) if not ("A" <= c <= "Z" or "0" <= c <= "9")}
)


def fold(value: str) -> str:
    """Upper case, accents removed, anything but letters and digits turned into spaces."""
    if not value:
        return ""
    if value.isascii():  # most names: the same result as below, at a third of the cost
        return " ".join(value.upper().translate(_ASCII_NON_ALNUM).split())
    decomposed = unicodedata.normalize("NFKD", value)
    ascii_only = decomposed.encode("ascii", "ignore").decode("ascii").upper()
    return _NON_ALNUM.sub(" ", ascii_only).strip()


@lru_cache(maxsize=262144)
def comparison_name(value: str) -> str:
    """Key under which two spellings of one organisation's name compare equal.

    "SARL X", "X SARL", "x s.a.r.l." → "X". Words are sorted so that word order does not matter
    ("ROY GUILLAUME" = "GUILLAUME ROY"); civilities and legal forms are dropped.
    """
    folded = fold(value.replace(".", ""))
    words = [w for w in folded.split() if w not in LEGAL_FORMS and w not in CIVILITIES]
    if not words:  # a name made only of a legal form: keep it rather than compare empty strings
        words = folded.split()
    return " ".join(sorted(words))
