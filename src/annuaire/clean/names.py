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


# Letters that Unicode does not decompose into a base letter and an accent: spelled out.
_SPELLED_OUT = str.maketrans({"Œ": "OE", "œ": "OE", "Æ": "AE", "æ": "AE", "ß": "SS", "Ø": "O", "ø": "O"})


def fold(value: str) -> str:
    """Upper case, accents removed, ligatures spelled out (Œ → OE), anything else but letters and
    digits turned into spaces: a typographic apostrophe separates words as a straight one does
    ("L’ÉCOLE" and "L'ECOLE" both give "L ECOLE")."""
    if not value:
        return ""
    if value.isascii():  # most names: the same result as below, at a third of the cost
        return " ".join(value.upper().translate(_ASCII_NON_ALNUM).split())
    decomposed = unicodedata.normalize("NFKD", value.translate(_SPELLED_OUT))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).upper()
    return _NON_ALNUM.sub(" ", bare).strip()


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


_SAINTS = {"SAINT": "ST", "SAINTE": "STE", "SAINTS": "STS", "SAINTES": "STES"}


def place_words(name: str) -> str:
    """A commune's name as the full-text index holds it: folded, with "Saint" also written "St" (a
    search for "st etienne" finds Saint-Étienne, now named as the COG names it)."""
    folded = fold(name)
    short = [_SAINTS[w] for w in folded.split() if w in _SAINTS]
    return f"{folded} {' '.join(short)}" if short else folded
