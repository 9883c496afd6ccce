"""Mentions of départements and organisations in a guide's text (pure functions).

- a département's name, with its code in brackets or not ("Gironde", "Gironde (33)"), or a code
  alone in brackets ("(33)", "(2A)", "(974)");
- an organisation by its NDA (11 digits, 12 overseas) or SIRET (14 digits, spaces allowed between
  groups: "123 456 789 00012").
Names match with their capitals and accents as written (a département is a proper noun: "Cher" the
département, never "cher" the adjective), whole words only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

IDENTIFIER = r"(?<!\d)(?<!\d )(?:\d{3} ?\d{3} ?\d{3} ?\d{5}|\d{11,12})(?![\d])"
CODE = r"\((?:0[1-9]|[1-8][0-9]|9[0-5]|2[AB]|97[1-8])\)"


@dataclass(frozen=True)
class Mention:
    start: int
    end: int
    kind: str  # departement, organisme
    key: str  # the département code, or the identifier's digits


def mention_pattern(names: dict[str, str]) -> re.Pattern:
    """One pattern for every kind of mention; `names` maps each département's name to its code."""
    ordered = sorted(names, key=len, reverse=True)  # "Haute-Savoie" before "Savoie"
    parts = []
    if ordered:
        alternatives = "|".join(re.escape(n) for n in ordered)
        parts.append(rf"(?P<nom>(?<![\w-])(?:{alternatives})(?![\w-]))(?P<nomcode> {CODE})?")
    parts.append(rf"(?P<code>{CODE})")
    parts.append(rf"(?P<id>{IDENTIFIER})")
    return re.compile("|".join(parts))


def find_mentions(text: str, pattern: re.Pattern, names: dict[str, str]) -> list[Mention]:
    found = []
    for m in pattern.finditer(text):
        if m.group("code"):
            found.append(Mention(m.start(), m.end(), "departement", m.group("code")[1:-1]))
        elif m.groupdict().get("nom"):
            found.append(Mention(m.start(), m.end(), "departement", names[m.group("nom")]))
        else:
            found.append(Mention(m.start(), m.end(), "organisme", m.group("id").replace(" ", "")))
    return found
