"""What a query says: a need, a Qualiopi scope, "certified", a place, or words of a name (pure).

"anglais Lyon" is a need (NSF 136, lexicon.py) and a place (gazetteer.py's resolver); "VAE à
Marseille" a scope and a place; "formation secourisme" a filler and a need; "greta lyon" the words
of a name (GRETA is nothing the lexicon knows) and a place. A reading keeps every word's position,
so each part can be taken out of the query again (the page's removable chips).

Rules:
- A place is the longest run of words at the end of the query that the gazetteer resolves
  (communes, arrondissements, Paris/Lyon/Marseille, postal codes; then a département by its name),
  else at its start ("Lyon anglais"). Words that are all lexicon words are not a place ("formation
  maçon" is masonry, not Mâcon; "plomberie Santes" is in Santes, the lexicon's word being
  "santé"); nor is a lone word of one or two letters unless "à" or "en" comes
  before it. A name several communes bear keeps the namesake with the most organisations in the
  directory (`weights`), else the most populated, and names the others.
  Linking words just before the place ("à", "sur", "près de") belong to it.
- Lexicon terms are found in the other words, longest first (lexicon.py).
- What is left, stop words aside, are the words of a name: the query is then read as a name first
  (understanding.py).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..clean.names import fold
from ..gazetteer import DEPARTEMENT, MAX_PLACE_WORDS, MUNICIPAL_KINDS, POSTCODE, Gazetteer, Place
from .lexicon import CERTIFIED, FILLER, SCOPE, SPECIALITY, Entry, Lexicon, word_key
from .text import STOPWORDS

PLACE = "lieu"
# Words that may stand between a need and its place: "VAE à Marseille", "anglais près de Lyon".
PLACE_LINKS = frozenset(
    {
        "A",
        "AU",
        "AUX",
        "EN",
        "SUR",
        "DANS",
        "PRES",
        "DE",
        "DU",
        "DES",
        "D",
        "VERS",
        "AUTOUR",
        "PROCHE",
        "COTE",
        "CHEZ",
    }
)
WORD = re.compile(r"[^\W_]+")  # a word: letters and digits


@dataclass(frozen=True, slots=True)
class Word:
    typed: str  # as typed (without the punctuation around it)
    folded: str  # upper case, no accents: what is compared (after a spelling correction)
    corrected_from: str | None = None  # the folded word typed, when the speller replaced it
    shown: str | None = None  # how a correction is written (accents: "comptabilité")
    span: tuple[int, int] = (0, 0)  # where it is in the text typed (NFC)

    def corrected(self, folded: str, shown: str) -> Word:
        return Word(self.typed, folded, self.folded, shown, self.span)


def words_of(text: str) -> list[Word]:
    """The words of a query as typed and folded: "cours d'anglais à Saint-Étienne" → cours, d,
    anglais, à, Saint, Étienne. A word whose folding splits it (a ligature, a symbol) gives several,
    the first holding its place in the text."""
    out = []
    for m in WORD.finditer(unicodedata.normalize("NFC", text or "")):
        for k, folded in enumerate(fold(m.group()).split()):
            out.append(Word(m.group(), folded, span=m.span() if k == 0 else (m.end(), m.end())))
    return out


@dataclass(frozen=True, slots=True)
class Part:
    """A piece of the query understood: a lexicon term, or a place."""

    kind: str  # specialite, portee, certifie, outil (lexicon.py), lieu
    positions: tuple[int, ...]  # the words it covers
    entry: Entry | None = None
    place: Place | None = None
    others: tuple[Place, ...] = ()  # a place's namesakes (the name was ambiguous)

    @property
    def term(self) -> Entry:
        """A lexicon part's entry (a need, a scope, the certification)."""
        assert self.entry is not None, self.kind
        return self.entry

    @property
    def where(self) -> Place:
        """A place part's place."""
        assert self.place is not None, self.kind
        return self.place


@dataclass(frozen=True)
class Reading:
    words: tuple[Word, ...]
    source: str = ""  # the text typed (NFC)
    parts: tuple[Part, ...] = ()
    residual: tuple[int, ...] = ()  # positions of the words understood as none of the parts
    identifier: tuple[str, str] | None = None

    def of(self, kind: str) -> list[Part]:
        return [p for p in self.parts if p.kind == kind]

    @property
    def needs(self) -> list[Part]:
        return self.of(SPECIALITY)

    @property
    def scopes(self) -> list[Part]:
        return self.of(SCOPE)

    @property
    def certified(self) -> Part | None:
        found = self.of(CERTIFIED)
        return found[0] if found else None

    @property
    def place(self) -> Part | None:
        found = self.of(PLACE)
        return found[0] if found else None

    @property
    def understood(self) -> bool:
        """Every word is a need, a scope, "certified", a place or a filler, and one at least is not
        a filler: the query says what and where, not whom."""
        return not self.residual and any(p.kind != FILLER for p in self.parts)

    @property
    def corrected(self) -> bool:
        return any(w.corrected_from for w in self.words)

    def folded(self, positions: Sequence[int] | None = None) -> str:
        """The folded words (all, or those at `positions`), corrections applied."""
        chosen = range(len(self.words)) if positions is None else positions
        return " ".join(self.words[i].folded for i in chosen)

    def typed(self, positions: Sequence[int]) -> str:
        return " ".join(self.words[i].typed for i in positions)

    def shown(self, positions: Sequence[int]) -> str:
        """The words at `positions` as typed (what separates them too, when they follow each other:
        "Saint-Denis"), corrected ones as corrected."""
        chosen = [self.words[i] for i in positions]
        consecutive = list(positions) == list(range(positions[0], positions[-1] + 1)) if positions else False
        if consecutive and not any(w.corrected_from for w in chosen):
            text = self.source[chosen[0].span[0] : max(w.span[1] for w in chosen)]
            if " ".join(text.split()):
                return " ".join(text.split())
        return " ".join(display(w) if w.corrected_from else w.typed for w in chosen)

    def text(self, *, without: Part | None = None, corrected: bool = True) -> str:
        """The query as typed (corrected words as corrected), without a part: the search that
        part's chip links to. What separates two words stays ("Saint-Denis"), unless one of them
        goes."""
        skip = set(without.positions) if without is not None else set()
        out: list[str] = []
        end, dropped = 0, True
        for i, w in enumerate(self.words):
            start, stop = w.span
            if stop <= start and start == end:  # the second word of a split one: nothing of its own
                continue
            separator = self.source[end:start]
            end = stop
            if i in skip:
                dropped = True
                continue
            word = display(w) if corrected and w.corrected_from else self.source[start:stop]
            out.append((" " if dropped and out else separator if out else "") + word)
            dropped = False
        return " ".join("".join(out).split()).strip(" -,;")


def display(word: Word) -> str:
    """A corrected word written in the case the person typed."""
    value = (word.shown or word.folded).lower()
    if word.typed.isupper():
        return value.upper()
    if word.typed[:1].isupper():
        return value.capitalize()
    return value


def read(
    words: Sequence[Word],
    lexicon: Lexicon,
    gazetteer: Gazetteer,
    weights: Mapping[str, int] | None = None,
    source: str | None = None,
) -> Reading:
    """The parts of a query (see the module's rules). `weights`: organisations per INSEE code, to
    choose among namesakes; `source`: the text the words come from (words_of), NFC."""
    words = tuple(words)
    folded = [w.folded for w in words]
    source = source if source is not None else " ".join(w.typed for w in words)
    if source and not all(source[w.span[0] : w.span[1]] == w.typed for w in words if w.span[1] > w.span[0]):
        source = " ".join(w.typed for w in words)  # words not from this text: spans made up below
        words = tuple(_respan(words))
    parts: list[Part] = []
    taken: set[int] = set()

    place = _place(folded, lexicon, gazetteer, weights or {})
    if place is not None:
        parts.append(place)
        taken.update(place.positions)
    free = [i for i in range(len(words)) if i not in taken]
    # Lexicon terms inside each run of consecutive free words.
    for run in _runs(free):
        for match in lexicon.find([folded[i] for i in run]):
            positions = tuple(run[p] for p in match.positions)
            parts.append(Part(match.entry.kind, positions, match.entry))
            taken.update(positions)
    residual = tuple(i for i in range(len(words)) if i not in taken and folded[i] not in STOPWORDS)
    parts.sort(key=lambda p: p.positions[0])
    return Reading(words, source, tuple(parts), residual)


def _respan(words: Sequence[Word]) -> list[Word]:
    out, at = [], 0
    for w in words:
        out.append(Word(w.typed, w.folded, w.corrected_from, w.shown, (at, at + len(w.typed))))
        at += len(w.typed) + 1
    return out


def _runs(positions: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for i in positions:
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def _place(
    folded: list[str], lexicon: Lexicon, gazetteer: Gazetteer, weights: Mapping[str, int]
) -> Part | None:
    """The place at the end of the query (else at its start), with the linking words before it."""
    n = len(folded)
    if n == 0:
        return None
    kinds = (*MUNICIPAL_KINDS, POSTCODE)
    found = None
    # At the end: the longest tail the resolver knows (gazetteer.split_place's rule).
    head, resolution = gazetteer.split_place(" ".join(folded), kinds)
    if resolution.places:
        start = len(head.split())
        # "à Brest" is Brest, not Abrest: a linking word is not part of the place when the rest is one.
        while start < n - 1 and folded[start] in PLACE_LINKS:
            shorter = gazetteer.resolve(" ".join(folded[start + 1 :]), kinds)
            if not shorter.places:
                break
            start, resolution = start + 1, shorter
        if _plausible(folded, start, n, lexicon):
            found = (start, n, resolution)
    if found is None:  # a département by its name ("anglais Gironde"), never a bare code
        for start in range(max(0, n - MAX_PLACE_WORDS), n):
            tail = folded[start:]
            if len(tail) == 1 and tail[0] in ("2A", "2B"):
                continue
            resolution = gazetteer.resolve(" ".join(tail), (DEPARTEMENT,))
            if resolution.places and _plausible(folded, start, n, lexicon):
                found = (start, n, resolution)
                break
    if found is None and n > 1:  # at the start: "Lyon anglais"
        for end in range(min(n - 1, MAX_PLACE_WORDS), 0, -1):
            resolution = gazetteer.resolve(" ".join(folded[:end]), kinds)
            if resolution.places and _plausible(folded, 0, end, lexicon):
                found = (0, end, resolution)
                break
    if found is None:
        return None
    start, end, resolution = found
    while start > 0 and folded[start - 1] in PLACE_LINKS:
        start -= 1
    places = resolution.places
    if len(places) > 1:  # namesakes: the one with most organisations first (a stable sort keeps the rest)
        places = tuple(sorted(places, key=lambda p: -weights.get(p.code, 0)))
    return Part(PLACE, tuple(range(start, end)), place=places[0], others=tuple(places[1:10]))


def _plausible(folded: list[str], start: int, end: int, lexicon: Lexicon) -> bool:
    """Whether words [start, end) may be a place rather than a need: not all lexicon words, and
    not a lone short word without "à"/"en" before it (Y, Eu, By are communes too)."""
    words = folded[start:end]
    if all(w.isdigit() for w in words) and not (len(words) == 1 and len(words[0]) == 5):
        return False  # "CACES 1 3 5": numbers, not the Ille-et-Vilaine; a postal code has five digits
    # A commune that is a lexicon word only once made singular ("Santes" ~ "santé") stays a commune.
    covered = {p for m in lexicon.find(words) for p in m.positions if words[p] in lexicon.written}
    covered |= {i for i, w in enumerate(words) if word_key(w) is None}
    if len(covered) == len(words):
        return False
    if all(len(w) <= 2 and not w.isdigit() for w in words):
        return start > 0 and folded[start - 1] in ("A", "EN")
    return True
