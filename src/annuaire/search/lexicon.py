"""What people type for a training need, mapped onto NSF specialities and Qualiopi scopes.

The words come from a reviewed data file, `data/lexique.toml` (French): each entry lists terms as
people write them ("secourisme", "SST", "sauveteur secouriste du travail"), the NSF speciality
codes they mean (the Liste publique's `codeSpecialite1..3`, most specific first) or the Qualiopi
scope, and where the entry comes from (the NSF nomenclature's group labels, the RNCP's certification
titles, common training vocabulary). `scripts/lexicon_candidates.py` proposes entries from the
RNCP's open data for a person to review; nothing is loaded from there at run time.

Terms and queries are compared on keys (`term_key`): folded (case, accents and punctuation
ignored), elided articles and linking words dropped ("cours d'anglais" ~ "cours anglais"), each
word reduced to a singular form by French plural rules (`singular`: "langues" ~ "langue",
"chevaux" ~ "cheval", "bureaux" ~ "bureau"). The same function reads both sides, so a plural, an
accent or an elision never decides a match. Feminine forms are written in the file.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

from ..clean.names import fold
from .params import SCOPES

SPECIALITY = "specialite"
SCOPE = "portee"
CERTIFIED = "certifie"
FILLER = "outil"  # "formation", "cours", "stage": says training without saying which
KINDS = (SPECIALITY, SCOPE, CERTIFIED, FILLER)

# Elided words ("l'", "d'", "qu'"…) and linking words: dropped from keys, so "cours d'anglais",
# "cours anglais" and "cours de l'anglais" compare equal.
ELIDED = frozenset({"L", "D", "J", "M", "N", "S", "T", "C", "QU", "JUSQU", "LORSQU", "PUISQU"})
LINKING = frozenset(
    {"A", "AU", "AUX", "DE", "DES", "DU", "EN", "ET", "LA", "LE", "LES", "OU", "POUR", "SUR", "UN", "UNE"}
)
MAX_TERM_WORDS = 8
NSF_LABEL = "NSF : libellé du groupe"


def singular(word: str) -> str:
    """A folded word's singular by French plural rules ("LANGUES" → "LANGUE", "CHEVAUX" → "CHEVAL",
    "BUREAUX" → "BUREAU"). Words of three letters or fewer are kept (SST, FLE, BTS). Only a key:
    "ANGLAIS" gives "ANGLAI", on both sides of every comparison."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("EAUX") or word.endswith("EUX"):
        return word[:-1]
    if word.endswith("AUX"):
        return word[:-3] + "AL"
    if word.endswith(("S", "X")) and not word.endswith("SS"):
        return word[:-1]
    return word


def word_key(folded_word: str) -> str | None:
    """One folded word's key, or None when it is an elided or linking word."""
    if folded_word in ELIDED or folded_word in LINKING:
        return None
    key = singular(folded_word)
    return None if key in LINKING else key  # "UNES", "POURS": a linking word mistyped as a plural


def term_key(text: str) -> tuple[str, ...]:
    """The key a term or a piece of query is compared on: "Bilans de compétences" → ("BILAN",
    "COMPETENCE")."""
    return tuple(k for w in fold(text).split() if (k := word_key(w)) is not None)


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of the lexicon: what its terms mean, and where it comes from."""

    kind: str  # specialite, portee, certifie, outil
    codes: tuple[str, ...]  # NSF codes (most specific first), or the Qualiopi scope; () otherwise
    terms: tuple[str, ...]  # as written in the file
    source: str


@dataclass(frozen=True, slots=True)
class Match:
    """A term found in a query: its words (positions in the query's word list) and its entry."""

    start: int
    end: int  # exclusive
    entry: Entry
    positions: tuple[int, ...]  # the query words it covers, linking words inside it included


class LexiconError(ValueError):
    """The lexicon file is not usable: which entry, and why."""


class Lexicon:
    def __init__(self, entries: Iterable[Entry], groups: dict[str, str]):
        """`entries` as read from the file; `groups`: NSF group code → official label."""
        self.entries = tuple(entries)
        self.groups = dict(groups)
        self.by_key: dict[tuple[str, ...], Entry] = {}
        for entry in self.entries:
            for term in entry.terms:
                key = term_key(term)
                if not key:
                    raise LexiconError(f"term {term!r} has no word once folded")
                if len(key) > MAX_TERM_WORDS:
                    raise LexiconError(f"term {term!r}: at most {MAX_TERM_WORDS} words")
                known = self.by_key.get(key)
                if known is not None and known != entry:
                    raise LexiconError(
                        f"term {term!r} means two things: {known.kind} {known.codes} "
                        f"({known.terms[0]!r}) and {entry.kind} {entry.codes} ({entry.terms[0]!r})"
                    )
                self.by_key[key] = entry
        # Each NSF group's label, and each part of it ("Agro-alimentaire, alimentation, cuisine"),
        # names the group too, where no entry gives the words another meaning.
        labelled = []
        for code, label in self.groups.items():
            parts = [p.strip() for p in re.split(r"[,:()]", label) if p.strip()]
            entry = Entry(SPECIALITY, (code,), tuple(dict.fromkeys([label, *parts])), NSF_LABEL)
            labelled.append(entry)
            for term in entry.terms:
                key = term_key(term)
                if key and len(key) <= MAX_TERM_WORDS:
                    self.by_key.setdefault(key, entry)
        self.entries += tuple(labelled)
        self.longest = max((len(k) for k in self.by_key), default=0)
        # The words of the terms as written (folded, not reduced to a singular): "SANTE", not "SANTES".
        self.written = frozenset(
            w for entry in self.entries for term in entry.terms for w in fold(term).split()
        )

    @classmethod
    def from_toml(cls, text: str, origin: str = "lexique.toml") -> Lexicon:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise LexiconError(f"{origin}: {exc}") from None
        groups = {str(code): label for code, label in data.get("groupes_nsf", {}).items()}
        entries = []
        for kind, section in ((SPECIALITY, "specialite"), (SCOPE, "portee"), (CERTIFIED, "certifie")):
            for i, raw in enumerate(data.get(section, []), 1):
                where = f"{origin}: [[{section}]] n° {i}"
                terms = tuple(raw.get("termes", ()))
                source = raw.get("source", "").strip()
                if not terms or not source:
                    raise LexiconError(f"{where}: « termes » et « source » sont requis")
                if kind == SPECIALITY:
                    codes = tuple(str(c) for c in raw.get("codes", ()))
                    unknown = [c for c in codes if c not in groups]
                    if not codes or unknown:
                        raise LexiconError(f"{where}: codes NSF inconnus ou absents : {unknown or codes}")
                elif kind == SCOPE:
                    codes = (raw.get("portee", ""),)
                    if codes[0] not in SCOPES:
                        raise LexiconError(f"{where}: portée {codes[0]!r} inconnue ({', '.join(SCOPES)})")
                else:
                    codes = ()
                entries.append(Entry(kind, codes, terms, source))
        fillers = data.get("outils", {})
        if fillers:
            entries.append(Entry(FILLER, (), tuple(fillers.get("termes", ())), fillers.get("source", "")))
        return cls(entries, groups)

    def find(self, words: Sequence[str]) -> list[Match]:
        """The terms in a list of folded words, longest first from the left; a word belongs to one
        term at most. Linking words may sit inside a term ("bilan de compétences") but never start
        or end one."""
        keys = [word_key(w) for w in words]
        found: list[Match] = []
        i = 0
        while i < len(words):
            if keys[i] is None:
                i += 1
                continue
            best = None
            content: list[int] = []
            j = i
            while j < len(words) and len(content) < self.longest:
                if keys[j] is not None:
                    content.append(j)
                    entry = self.by_key.get(tuple(keys[p] or "" for p in content))  # none is None
                    if entry is not None:
                        best = (j + 1, entry)
                j += 1
            if best is None:
                i += 1
                continue
            end, entry = best
            found.append(Match(i, end, entry, tuple(range(i, end))))
            i = end
        return found

    def short_label(self, code: str) -> str:
        """How a chip names a speciality: the NSF label's first part ("Langues vivantes")."""
        label = self.groups.get(code, code)
        return label.split(",")[0].strip()


LEXICON_FILE = "lexique.toml"


@cache
def default_lexicon() -> Lexicon:
    """The lexicon shipped in the package (read once)."""
    text = resources.files(__package__).joinpath("data", LEXICON_FILE).read_text(encoding="utf-8")
    return Lexicon.from_toml(text, f"search/data/{LEXICON_FILE}")
