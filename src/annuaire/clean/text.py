"""Text repair: mojibake and white space."""

from __future__ import annotations

import re

import ftfy
from ftfy.badness import is_bad

_SPACES = re.compile(r"\s+")
# Characters that only show up in text that was decoded with the wrong codec (UTF-8 read as
# Windows-1252 or Latin-1). Text without them is left to the cheap path.
_MOJIBAKE_MARKERS = ("Ã", "Â", "â€", "Å", "Ê", "Ë", "Î", "Ï", "Ô", "Ù", "Û", "\u00ad", "\ufffd")


def normalise_space(value: str) -> str:
    """Trim and collapse runs of white space (including line breaks and tabs) to one space."""
    if not value:
        return ""
    if (
        value.isascii()
        and "  " not in value
        and value == value.strip()
        and "\n" not in value
        and "\t" not in value
        and "\r" not in value
    ):
        return value
    return _SPACES.sub(" ", value).strip()


# A lower-cased mojibake pair: "ã" (from "Ã", byte C3) then a character that Windows-1252 gives to a
# UTF-8 continuation byte (80–BF), itself possibly lower-cased ("Š" → "š"). "SOCIÃ‰TÃ‰" lower-cased
# is "sociã‰tã‰", which ftfy cannot read back.
_CONTINUATION = "".join(
    sorted(
        {c for b in range(0x80, 0xC0) for c in bytes([b]).decode("cp1252", "ignore") for c in (c, c.lower())}
    )
)
_LOWER_MOJIBAKE = re.compile("ã[" + re.escape(_CONTINUATION) + "]")


def _repair_lowered(match: re.Match[str]) -> str:
    pair = match.group(0)
    fixed = ftfy.fix_encoding(pair.upper())
    return fixed.lower() if fixed != pair.upper() else pair


def looks_like_mojibake(value: str) -> bool:
    return not value.isascii() and any(m in value for m in _MOJIBAKE_MARKERS)


def repair_mojibake(value: str) -> str:
    """Undo mis-decoded UTF-8 (`SOCIÃ‰TÃ‰` → `SOCIÉTÉ`) with ftfy; leave anything else as it is.

    Only ftfy's encoding repair is applied: no change of case, quotes or width, so that names keep
    their published spelling.
    """
    if value.isascii():
        return value
    # fix_encoding's own first test, without the cost of building its configuration: text that
    # does not look like mojibake would come back unchanged.
    fixed = ftfy.fix_encoding(value) if is_bad(value) else value
    if "ã" in fixed:  # mojibake that was lower-cased after the damage (ftfy does not see it)
        fixed = _LOWER_MOJIBAKE.sub(_repair_lowered, fixed)
    return fixed


class TextCleaner:
    """Repairs text fields, remembering results: the same labels come back thousands of times."""

    def __init__(self) -> None:
        self._memo: dict[str, tuple[str, bool]] = {}

    def __call__(self, value: str) -> tuple[str, bool]:
        """Return (clean text, whether mojibake was repaired)."""
        if not value:
            return "", False
        if value.isascii():  # the common case: nothing to repair, spaces at most
            return " ".join(value.split()), False
        hit = self._memo.get(value)
        if hit is not None:
            return hit
        text = value
        repaired = False
        if not text.isascii():
            fixed = repair_mojibake(text)
            repaired = fixed != text
            text = fixed
        result = (normalise_space(text), repaired)
        if len(self._memo) < 500_000:
            self._memo[value] = result
        return result


# Words of reference labels (NSF specialities) that the Liste publique writes without the accent on
# their capital, as typists do: "Economie" for "Économie". Only these whole words, in title case.
_ACCENTED_WORDS = (
    "Économie Énergie Électricité Électronique Électrotechnique Échanges Éducation Édition Études État "
    "Équipement Équipements Élevage École Écoles Écologie Éthique Évaluation Établissement "
    "Établissements Épargne Équitation"
)
_CAPITAL_ACCENTS = {word.replace("É", "E", 1): word for word in _ACCENTED_WORDS.split()}
_TITLE_WORD = re.compile(r"\bE[a-zàâçéèêëîïôûùüÿœ]+\b")


def accent_capitals(label: str) -> str:
    """ "Economie" → "Économie": the accent typists leave off a capital É, on the known words only."""
    if "E" not in label:
        return label
    return _TITLE_WORD.sub(lambda m: _CAPITAL_ACCENTS.get(m.group(0), m.group(0)), label)
