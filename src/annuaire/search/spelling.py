"""Spelling: a word nobody in the directory uses, corrected towards the nearest one that is used.

The vocabulary is built from the directory when a worker loads it (the same tables on SQLite and
PostgreSQL, so the same corrections on both): the words of the organisations' names and communes
(what the full-text index holds), the official names of the communes (the gazetteer), and the
lexicon's words. Each word counts the organisations whose name or commune holds it.

A query word is known when some vocabulary word starts with it (the full-text search treats every
word as a prefix). An unknown word of four letters or more, letters only, is replaced by the
vocabulary words within one edit (two from eight letters, when none is within one; an edit is an
insertion, a deletion, a substitution or the swap of two neighbours: the optimal string alignment
distance), fewest edits first, then the lexicon's words, then the communes', then the most used.
Digits are never corrected: an identifier (NDA, SIRET, SIREN) is matched as typed or not at all.
"""

from __future__ import annotations

import bisect
import threading
from collections import Counter
from collections.abc import Iterable, Mapping

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA

MIN_LENGTH = 4  # shorter words are too many to guess (SST, FLE, BTS…)
MAX_CANDIDATES = 3
MAX_KEPT = 10
MEMO_SIZE = 20_000  # corrections remembered per vocabulary (typos repeat: "formaton")


def max_edits(word: str) -> int:
    return 2 if len(word) >= 8 else 1


def correctable(word: str) -> bool:
    return len(word) >= MIN_LENGTH and word.isascii() and word.isalpha()


class Speller:
    def __init__(
        self,
        counts: Counter[str] | dict[str, int],
        preferred: Iterable[Iterable[str]] = (),
        spelt: Mapping[str, str] | None = None,
    ):
        """`counts`: folded word → organisations using it; `preferred`: sets of words that win a
        tie, the first set first (the lexicon's words, then the communes'); `spelt`: how some folded
        words are written ("COMPTABILITE" → "comptabilité")."""
        self.counts = dict(counts)
        self.spelt = dict(spelt or {})
        self.priority: dict[str, int] = {}
        preferred = list(preferred)
        for rank, words in enumerate(preferred):
            for word in words:
                self.priority.setdefault(word, rank)
                self.counts.setdefault(word, 0)
        self.last = len(preferred)
        self.sorted = sorted(self.counts)
        self._index: tuple[list[str], np.ndarray, dict[str, np.ndarray]] | None = None
        self._lock = threading.Lock()
        self._memo: dict[str, list[tuple[str, int]]] = {}

    def _trigram_index(self) -> tuple[list[str], np.ndarray, dict[str, np.ndarray]]:
        """The words that may be corrections, their lengths, and a trigram index over them:
        candidates share trigrams with the word typed, and only they are measured. Built on the first
        correction (most searches need none)."""
        with self._lock:
            if self._index is None:
                words = [w for w in self.sorted if w.isalpha() and len(w) >= MIN_LENGTH - 1]
                postings: dict[str, list[int]] = {}
                for i, word in enumerate(words):
                    for gram in set(trigrams(word)):
                        postings.setdefault(gram, []).append(i)
                lengths = np.array([len(w) for w in words], dtype=np.int16)
                self._index = (
                    words,
                    lengths,
                    {g: np.array(ids, dtype=np.int32) for g, ids in postings.items()},
                )
            return self._index

    def known(self, word: str) -> bool:
        """Some vocabulary word is the word or starts with it."""
        i = bisect.bisect_left(self.sorted, word)
        return i < len(self.sorted) and self.sorted[i].startswith(word)

    def candidates(self, word: str, limit: int = MAX_CANDIDATES) -> list[tuple[str, int]]:
        """(vocabulary word, edits) nearest to `word`, best first; none for a word that cannot be
        corrected."""
        if not correctable(word):
            return []
        found = self._memo.get(word)
        if found is None:
            found = self._nearest(word)
            if len(self._memo) < MEMO_SIZE:
                self._memo[word] = found
        return found[:limit]

    def _nearest(self, word: str) -> list[tuple[str, int]]:
        """Words within one edit; within two, for a long word that has none within one."""
        found = self._within(word, 1, needed=trigrams_needed(word, 1))
        if not found and max_edits(word) >= 2:
            found = self._within(word, 2, needed=trigrams_needed(word, 2))
        found.sort(
            key=lambda wd: (
                wd[1],
                self.priority.get(wd[0], self.last),
                likelihood(word, wd[0]) if wd[1] == 1 else 0,
                -self.counts.get(wd[0], 0),
                wd[0],
            )
        )
        return found[:MAX_KEPT]

    def _within(self, word: str, edits: int, needed: int) -> list[tuple[str, int]]:
        """Vocabulary words within `edits` of `word` among those sharing `needed` distinct trigrams
        with it (trigrams_needed; when that leaves none to share, the whole length band is measured)."""
        words, lengths, postings = self._trigram_index()
        in_band = np.abs(lengths - len(word)) <= edits
        if needed >= 1:
            lists = [postings[g] for g in set(trigrams(word)) if g in postings]
            if not lists:
                return []
            shared = np.bincount(np.concatenate(lists), minlength=len(words))
            close = np.flatnonzero((shared >= needed) & in_band)
        else:
            close = np.flatnonzero(in_band)
        if not len(close):
            return []
        pool = [words[i] for i in close.tolist()]
        distances = process.cdist([word], pool, scorer=OSA.distance, score_cutoff=edits, dtype=np.uint8)[0]
        return [
            (pool[i], int(distances[i]))
            for i in np.flatnonzero(distances <= edits).tolist()
            if pool[i] != word
        ]

    def shown(self, word: str) -> str:
        """How a corrected word is written: with its accents when the lexicon or a commune's name
        has them, else in lower case."""
        return self.spelt.get(word, word.lower())

    def unknown(self, words: Iterable[str]) -> list[str]:
        """The words that need a correction: correctable and unknown."""
        return [w for w in words if correctable(w) and not self.known(w)]


# Letters side by side on French (AZERTY) and English (QWERTY) keyboards.
_ROWS = ("AZERTYUIOP", "QSDFGHJKLM", "WXCVBN", "QWERTYUIOP", "ASDFGHJKL", "ZXCVBNM")
NEAR = {
    letter: {
        row[j]
        for row in _ROWS
        for i, x in enumerate(row)
        if x == letter
        for j in (i - 1, i + 1)
        if 0 <= j < len(row)
    }
    for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
}


def likelihood(typed: str, word: str) -> int:
    """How likely a one-edit slip turns `word` into `typed`, 0 most: two letters swapped, a letter
    doubled or one of a double dropped; then a letter dropped or a key beside hit instead; then a
    key beside hit as well; then another letter added or replaced."""
    if len(typed) == len(word):
        diff = [i for i in range(len(word)) if typed[i] != word[i]]
        if len(diff) == 2 and diff[1] == diff[0] + 1:
            return 0
        if len(diff) == 1:
            return 1 if typed[diff[0]] in NEAR.get(word[diff[0]], ()) else 3
        return 3
    if len(typed) == len(word) + 1:  # a letter added: doubled, beside its neighbour, or else
        i = next((k for k in range(len(word)) if typed[k] != word[k]), len(word))
        extra = typed[i]
        if (i > 0 and typed[i - 1] == extra) or (i + 1 < len(typed) and typed[i + 1] == extra):
            return 0
        beside = {typed[k] for k in (i - 1, i + 1) if 0 <= k < len(typed)}
        return 2 if NEAR.get(extra, set()) & beside else 3
    i = next((k for k in range(len(typed)) if typed[k] != word[k]), len(typed))  # a letter dropped
    dropped = word[i]
    if (i > 0 and word[i - 1] == dropped) or (i + 1 < len(word) and word[i + 1] == dropped):
        return 0
    return 1


def trigrams_needed(word: str, edits: int) -> int:
    """The distinct trigrams a vocabulary word within `edits` of `word` is asked to share with it.
    One edit touches at most four trigram positions of the word (a swap of two letters), so at most
    four of its distinct trigrams go missing: a bound, counted on distinct trigrams since a word that
    repeats one (AAABCAAA) has fewer of them than letters. Two edits: eight fewer, and at least two
    (a long word's corrections two edits away; a short one has none, max_edits)."""
    distinct = len(set(trigrams(word)))
    return distinct - 4 if edits == 1 else max(2, distinct - 8)


def trigrams(word: str) -> list[str]:
    """The word's three-letter sequences, its ends marked: FORMA → $FO FOR ORM RMA MA$."""
    padded = f"${word}$"
    return [padded[i : i + 3] for i in range(len(padded) - 2)]
