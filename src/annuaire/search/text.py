"""Query text: folding, tokens, the FTS5 expression, identifiers typed in the search box."""

from __future__ import annotations

import re

from ..clean.names import fold

# Words too common to narrow a search; dropped unless they are all the query has or the word being typed.
STOPWORDS = frozenset(
    ["A", "AU", "AUX", "D", "DE", "DES", "DU", "EN", "ET", "L", "LA", "LE", "LES", "POUR", "SUR", "UN", "UNE"]
)
_SEPARATORS = re.compile(r"[\s./-]+")


def folded(text: str) -> str:
    """The form names are compared in: upper case, no accents, punctuation as single spaces."""
    return " ".join(fold(text).split())


def tokens(text: str) -> list[str]:
    """Search words: folded, stop words dropped unless nothing else remains or it is the last word
    (the one being typed)."""
    words = folded(text).split()
    kept = [w for i, w in enumerate(words) if w not in STOPWORDS or i == len(words) - 1]
    return kept or words


MIN_PREFIX = 2  # a single letter is matched as a word: as a prefix it would match a third of the directory


def fts_expression(words: list[str], prefix: bool = True) -> str:
    """An FTS5 query requiring every word, each as a prefix (results while typing) from two characters,
    or (not `prefix`) each as a whole word.

    Words are folded to [A-Z0-9] so quoting them is enough to keep FTS5 syntax out of user input.
    """
    return " ".join(f'"{w}"*' if prefix and len(w) >= MIN_PREFIX else f'"{w}"' for w in words)


def identifier(text: str) -> tuple[str, str] | None:
    """("siret" | "siren" | "nda", digits) when the text is one identifier, spaces and dots allowed."""
    digits = _SEPARATORS.sub("", text)
    if not digits.isascii() or not digits.isdigit():
        return None
    if len(digits) == 14:
        return "siret", digits
    if len(digits) == 9:
        return "siren", digits
    if len(digits) == 11 or (len(digits) == 12 and digits.startswith(("97", "98"))):
        return "nda", digits
    return None
