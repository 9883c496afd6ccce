"""From what a person typed to the organisations it means, in which order (backend-neutral).

The reading (interpret.py) says which words are a need, a scope, "certified", a place, or a name;
this module turns it into a mask over the search columns (columns.py) and a ranking, trying in turn:

1. every word understood ("anglais Lyon", "VAE à Marseille", "Lyon", "secourisme"): the
   organisations with the speciality (any of the entry's codes), the scope, the certification, in
   the place (a city with its arrondissements, the communes a postal code serves, a département),
   plus those whose name holds the need's words, plus those whose name is exactly the query.
   Ranked: the exact name first (a one-word need's namesakes last); then a need's first code with
   the need's words in the name, the first code, another code with the words, another code, the
   words alone; certified first for a need; nearer the place's centre first; then the usual
   relevance (more complete record, name, id).
   Without a need, those whose name holds the scope's or filler's words ("formation Lyon") first.
2. words of a name ("afpa", "greta lyon", "sanlo rh"): the full-text match of every word (names and
   communes, each word a prefix), without the fillers if nothing matches with them; if still
   nothing, without one of its words (the shortest first). Ranked: the exact name, names starting
   with the words (whole, then the last one begun), names holding every word whole, the rest.
3. nothing matches the name's words but the query also says what or where ("greta anglais Lyon"):
   the name's words among the organisations that need, scope and place mean (the need ordering
   them if it must); a name found elsewhere only gives nothing here (and suggestions); words that
   no organisation uses are set aside (`mots_ignores`, "formation anglais intensif Lyon").

Before that, a word nobody in the directory uses is corrected (spelling.py): the corrected queries
are tried likeliest first and the first read well is kept (every word understood, or a name's
words found whole), else the best read; when nothing is found and words were set aside, known but
rare words may be corrected too. The interpretation says which word became which. Full-text
matches come from the backend (`words_matching`, FTS5 or tsvector, which give the same ids);
everything else here is Python on the columns, so both backends agree.
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..gazetteer import DEPARTEMENT, POSTCODE, Gazetteer, Place
from . import text
from .columns import Columns, Ranking, haversine
from .interpret import PLACE, Part, Reading, Word, display, read, words_of
from .lexicon import FILLER, Lexicon
from .params import QueryError
from .spelling import Speller, correctable

# (folded words, each a prefix?) → ids of the organisations whose name or commune holds them all
WordsMatching = Callable[[list[str], bool], np.ndarray]
MAX_UNKNOWN = 4  # more unknown words than this: a sentence, not a typo (nothing corrected)
MAX_VARIANTS = 8  # corrected queries tried at most
RARE = 2  # a word this few organisations use may be a mistyped one
NEARBY_KM = 30.0  # how far an empty search looks for communes that have what it asks
MEMO_SIZE = 1024  # names holding some words, kept per directory version

CRITERIA = "criteres"
NAME = "nom"
NAME_AND_CRITERIA = "nom_et_criteres"
CRITERIA_WITHOUT_NAME = "criteres_sans_mots_inconnus"
# How well a reading explains the query (0 best): a name found as typed; every word understood, or
# a name's words all found whole; found as prefixes; a name's words among the rest's; words set
# aside; nothing.
GOOD, WEAK, EMPTY = 1, 4, 9


@dataclass
class Understanding:
    reading: Reading
    kind: str  # criteres, nom, nom_et_criteres, criteres_sans_mots_inconnus
    mask: np.ndarray  # the organisations the query means (before the other filters)
    ranking: Ranking | None = None
    name_words: tuple[int, ...] = ()  # positions of the words searched in names
    ignored: tuple[int, ...] = ()  # positions of words set aside
    applied: tuple[Part, ...] = ()  # the parts used as conditions
    quality: int = 0  # how well it explains the query, 0 best (understand() compares corrections)
    columns: Columns | None = None  # the columns the mask is over (a directory swapped meanwhile: others)

    @property
    def empty(self) -> bool:
        return not self.mask.any()


@dataclass
class Context:
    """What understanding a query needs from the searcher."""

    columns: Columns
    lexicon: Lexicon
    gazetteer: Gazetteer
    speller: Speller
    words_matching: WordsMatching
    weights: Mapping[str, int]  # organisations per INSEE code (namesakes, nearby communes)
    labels: Mapping[str, str] = field(default_factory=dict)  # NSF code → label (the directory's)
    memo: dict[Any, Any] = field(default_factory=dict)  # names holding some words, kept per directory version


def check_text(q: str) -> list[Word]:
    """The query's words; QueryError when there is nothing to look for (punctuation only, or only
    words too common to narrow a search)."""
    words = words_of(q)
    shown = q.strip()[:40]
    if not words:
        raise QueryError("q", f"« {shown} » ne contient aucun mot ni chiffre à chercher")
    if all(w.folded in text.STOPWORDS for w in words):
        raise QueryError(
            "q",
            f"« {shown} » ne contient que des mots trop courants : ajoutez un nom, un besoin "
            "(« anglais », « cariste »…) ou un lieu (« Lyon », « 33000 »)",
        )
    return words


def understand(q: str, ctx: Context, *, correct: bool = True) -> Understanding:
    """The organisations `q` means (see the module's rules)."""
    words = check_text(q)
    source = unicodedata.normalize("NFC", q)
    if not correct:
        return _finish(_plan(_read(words, ctx, source), ctx), ctx)
    best = _best(_variants(words, ctx.speller, unknown_only=True), ctx, source)
    if best.quality >= WEAK:
        # Nothing found, or only with words set aside: a known word may be the mistyped one.
        forced = _variants(words, ctx.speller, unknown_only=False)
        if forced != [words]:
            other = _best(forced, ctx, source)
            if other.quality < best.quality:
                best = other
    if best.empty and best.reading.corrected and not best.reading.understood:
        best = _plan(_read(words, ctx, source), ctx)  # no correction finds anything: what was typed
    return _finish(best, ctx)


def _read(words: list[Word], ctx: Context, source: str) -> Reading:
    return read(words, ctx.lexicon, ctx.gazetteer, ctx.weights, source)


def _finish(u: Understanding, ctx: Context) -> Understanding:
    u.columns = ctx.columns
    return u


def _best(variants: list[list[Word]], ctx: Context, source: str) -> Understanding:
    """The first variant read well (every word understood, or a name's words found whole); else
    the one read best, the first of equals. Variants come nearest and likeliest first."""
    best: Understanding | None = None
    for variant in variants:
        found = _plan(_read(variant, ctx, source), ctx)
        if best is None or found.quality < best.quality:
            best = found
        if best.quality <= GOOD:
            break
    assert best is not None
    return best


def _variants(words: list[Word], speller: Speller, *, unknown_only: bool) -> list[list[Word]]:
    """The query with words corrected, nearest corrections first: its unknown words, or (not
    `unknown_only`) any word that may be corrected. The query itself when no word needs one, none
    can be corrected, or too many would be (a sentence, not a typo)."""
    if unknown_only:
        chosen = [i for i, w in enumerate(words) if speller.unknown([w.folded])]
    else:
        chosen = [i for i, w in enumerate(words) if correctable(w.folded)]
    if not chosen or len(chosen) > MAX_UNKNOWN:
        return [words]
    options: list[list[tuple[int, str | None, int]]] = [
        [(i, c, d) for c, d in speller.candidates(words[i].folded)] + [(i, None, 0)] for i in chosen
    ]
    if unknown_only:  # an unknown word stays only when nothing near it is known
        options = [o[:-1] if len(o) > 1 else o for o in options]
    else:  # a known word is corrected only towards a word more used, unless it is rare itself
        options = [
            [
                (i, c, d)
                for i, c, d in o
                if c is None
                or speller.counts.get(words[i].folded, 0) <= RARE
                or speller.counts.get(c, 0) >= speller.counts.get(words[i].folded, 0)
            ]
            for o in options
        ]
    combos = sorted(
        (combo for combo in itertools.product(*options) if any(c is not None for _, c, _ in combo)),
        key=lambda combo: sum(d for _, _, d in combo),
    )
    if not combos:
        return [words]
    out = []
    for combo in combos[:MAX_VARIANTS]:
        variant = list(words)
        for i, correction, _ in combo:
            if correction is not None:
                variant[i] = words[i].corrected(correction, speller.shown(correction))
        out.append(variant)
    return out


# -- plans -----------------------------------------------------------------------------------------


def _plan(reading: Reading, ctx: Context) -> Understanding:
    if reading.understood:
        return _criteria(reading, ctx, ignored=())
    content = _content(reading, range(len(reading.words)))
    criteria = [p for p in reading.parts if p.kind != FILLER]
    # 2. A name: every word, then without the fillers.
    fillers = {i for p in reading.parts if p.kind == FILLER for i in p.positions}
    tries = [content]
    if fillers:
        tries.append([i for i in content if i not in fillers])
    for positions in tries:
        if positions and (found := _name(reading, positions, ctx)) is not None:
            return found
    if not criteria:  # a name that nothing matches: without one of its words, shortest first
        return _name_without_a_word(reading, content, ctx)
    # 3. The name's words among what the rest means; the need as an order if it must; words that no
    #    organisation uses set aside (a name that exists elsewhere is not: nothing is found here).
    by_name = _matching(reading, list(reading.residual), ctx)
    for need_filter in (True, False) if reading.needs else (True,):
        within = _criteria(reading, ctx, ignored=(), need_filter=need_filter)
        named = within.mask & by_name
        if named.any():
            return Understanding(
                within.reading,
                NAME_AND_CRITERIA,
                named,
                within.ranking,
                name_words=reading.residual,
                applied=within.applied,
                quality=3,
            )
    if by_name.any():
        within = _criteria(reading, ctx, ignored=())
        empty = np.zeros(ctx.columns.size, dtype=bool)
        return Understanding(  # a name found elsewhere: nothing here is an answer too
            within.reading,
            NAME_AND_CRITERIA,
            empty,
            name_words=reading.residual,
            applied=within.applied,
            quality=3,
        )
    return _criteria(reading, ctx, ignored=reading.residual)


def _name(
    reading: Reading, positions: list[int], ctx: Context, ignored: tuple[int, ...] = ()
) -> Understanding | None:
    """The organisations whose name or commune holds the words at `positions` (each a prefix), in
    tiers: the name itself, names starting with the words (whole, then the last one begun), names
    holding them all whole, the rest; None when there are none."""
    c = ctx.columns
    matched = _matching(reading, positions, ctx)
    if not matched.any():
        return None
    whole = _matching(reading, positions, ctx, prefix=False)
    tiers = np.full(c.size, 4, dtype=np.int8)
    tiers[whole] = 3
    # The name as typed, its little words included ("GRETA DE PARIS"), or only the words searched.
    exact = np.zeros(c.size, dtype=bool)
    for name in dict.fromkeys(
        [reading.folded(range(positions[0], positions[-1] + 1)), reading.folded(positions)]
    ):
        tiers[c.names_starting(name)] = np.minimum(tiers[c.names_starting(name)], 2)
        tiers[c.names_starting(name + " ")] = 1
        exact[c.exact_name(name)] = True
    tiers[exact] = 0
    tiers[~matched] = 9
    held = matched & (tiers <= 3)
    if ignored:
        quality = 4
    elif matched[exact].any():
        quality = 0
    else:
        quality = 1 if held.any() else 2
    return Understanding(
        reading, NAME, matched, Ranking(tiers), name_words=tuple(positions), ignored=ignored, quality=quality
    )


def _name_without_a_word(reading: Reading, content: list[int], ctx: Context) -> Understanding:
    """A name whose words together match nothing: the same without one of them (a mistyped short
    word, a word the name lacks), the shortest set aside first; else nothing."""
    if len(content) >= 2:
        for left_out in sorted(content, key=lambda i: (len(reading.words[i].folded), i)):
            kept = [i for i in content if i != left_out]
            found = _name(reading, kept, ctx, ignored=(left_out,))
            if found is not None:
                return found
    empty = np.zeros(ctx.columns.size, dtype=bool)
    return Understanding(reading, NAME, empty, name_words=tuple(content), quality=EMPTY)


def _content(reading: Reading, positions: Iterable[int]) -> list[int]:
    return [i for i in positions if reading.words[i].folded not in text.STOPWORDS]


def _matching(reading: Reading, positions: list[int], ctx: Context, *, prefix: bool = True) -> np.ndarray:
    """Organisations whose name or commune holds every word at `positions` (each a prefix, or
    whole words)."""
    c = ctx.columns
    words = text.tokens(reading.folded(positions))
    m = np.zeros(c.size, dtype=bool)
    if not words:
        return m
    ids = ctx.words_matching(words, prefix)
    ids = ids[ids < len(c.position)]
    found = c.position[ids]
    m[found[found >= 0]] = True
    return m


def _names_holding(reading: Reading, positions: list[int], ctx: Context) -> np.ndarray:
    """Organisations whose name (not commune) holds every word at `positions`, each as a prefix."""
    words = tuple(text.tokens(reading.folded(positions)))
    found = ctx.memo.get(words)
    if found is None:
        matched = np.flatnonzero(_matching(reading, positions, ctx))
        names = ctx.columns.names
        found = np.array(
            [
                p
                for p in matched.tolist()
                if all(any(h.startswith(w) for h in names[p].split()) for w in words)
            ],
            dtype=np.int64,
        )
        if len(ctx.memo) >= MEMO_SIZE:
            ctx.memo.clear()
        ctx.memo[words] = found
    m = np.zeros(ctx.columns.size, dtype=bool)
    m[found] = True
    return m


def _criteria(
    reading: Reading, ctx: Context, ignored: tuple[int, ...], *, need_filter: bool = True
) -> Understanding:
    """1. What the need, scope, certification and place mean (see the module's rules). Without
    `need_filter`, the need orders the organisations of the place and scope instead of choosing
    them. A place several communes are named keeps the one where the rest finds most."""
    c = ctx.columns
    base = np.ones(c.size, dtype=bool)
    applied: list[Part] = []
    for part in reading.scopes:
        base &= c.scopes[part.term.codes[0]]
        applied.append(part)
    if reading.certified is not None:
        base &= c.certified
        applied.append(reading.certified)
    needs = reading.needs
    need = primary = named = None
    if needs:
        need = np.ones(c.size, dtype=bool)
        primary = np.ones(c.size, dtype=bool)
        for part in needs:
            need &= c.has_speciality(part.term.codes)
            primary &= c.has_speciality(part.term.codes[:1])
            if need_filter:
                applied.append(part)
        words = [i for p in needs for i in p.positions]
        named = _names_holding(reading, _content(reading, words), ctx)
        if need_filter:
            base &= need | named
    centre = None
    if (place := reading.place) is not None:
        if place.others:
            place = _namesake(place, base, c)
            reading = replace(reading, parts=tuple(place if p.kind == PLACE else p for p in reading.parts))
        base &= place_mask(c, place.where)
        applied.append(place)
        if place.where.latitude is not None and place.where.longitude is not None:
            centre = (place.where.latitude, place.where.longitude)
    mask = base
    tiers = np.full(c.size, 9, dtype=np.int8)
    if needs:
        assert need is not None and primary is not None and named is not None  # set with the needs
        named = named & mask
        tiers[mask] = 6
        tiers[named] = 5
        tiers[mask & need] = 4
        tiers[named & need] = 3
        tiers[mask & primary] = 2
        tiers[named & primary] = 1
    else:
        tiers[mask] = 2
        words = [i for p in reading.parts if p.kind != PLACE and p.entry is not None for i in p.positions]
        if words:
            tiers[mask & _names_holding(reading, _content(reading, words), ctx)] = 1
    # The query as an organisation's whole name: first when it is a name of two words or more, or
    # means what the query asks; a one-word need ("santé") keeps its namesakes for the end.
    kept = [i for i in range(len(reading.words)) if i not in ignored]
    exact = np.zeros(c.size, dtype=bool)
    exact[c.exact_name(reading.folded(kept))] = True
    if len(_content(reading, kept)) >= 2 or not needs:
        tiers[exact] = 0
    else:
        assert need is not None  # there are needs
        tiers[exact & need] = 0
        tiers[exact & ~need] = 7
    mask |= exact
    return Understanding(
        reading,
        CRITERIA if not ignored else CRITERIA_WITHOUT_NAME,
        mask,
        Ranking(tiers, certified_first=bool(needs), centre=centre),
        ignored=ignored,
        applied=tuple(applied),
        # Every word understood is a good reading, found or not (an empty one gets suggestions).
        quality=4 if ignored else 1 if mask.any() or reading.understood else EMPTY,
    )


def _namesake(part: Part, wanted: np.ndarray, c: Columns) -> Part:
    """Among the communes of one name, the one holding the most of what the query asks for (the
    first, most organisations, on a tie)."""
    candidates = (part.where, *part.others)
    counts = [int(np.count_nonzero(wanted & place_mask(c, p))) for p in candidates]
    best = max(range(len(candidates)), key=lambda i: (counts[i], -i))
    if best == 0:
        return part
    chosen = candidates[best]
    return replace(part, place=chosen, others=tuple(p for p in candidates if p is not chosen))


def place_mask(c: Columns, place: Place) -> np.ndarray:
    """The organisations in a place: a city with its arrondissements, the communes a postal code
    serves (or an organisation's own postal code: CEDEX), a département."""
    if place.kind == DEPARTEMENT:
        return np.asarray(c.departement.codes == c.departement[place.code])
    codes = place.communes or (place.code,)
    m = np.isin(c.commune.codes, [c.commune[code] for code in codes])
    if place.kind == POSTCODE:
        m |= c.postal_code.codes == c.postal_code[place.code]
    return m


# -- what the API and the page say ---------------------------------------------------------------------


def interpretation(u: Understanding, lexicon: Lexicon, labels: Mapping[str, str]) -> dict[str, Any]:
    """The `interpretation` object of a search's answer: what was understood, each part with the
    query to send without it (`sans`)."""
    r = u.reading
    corrections = [
        {"mot": w.typed, "correction": display(w)} for w in r.words if w.corrected_from is not None
    ]
    out: dict[str, Any] = {
        "texte": r.source,
        "texte_corrige": r.text() if corrections else None,
        "corrections": corrections,
        "lecture": u.kind,
        "specialites": [],
        "portees": [],
        "certifie": None,
        "lieu": None,
        "mots_nom": r.shown(u.name_words) if u.name_words else None,
        "mots_ignores": [r.shown([i]) for i in u.ignored],
    }
    for part in u.applied:
        common = {"mots": r.shown(part.positions), "sans": r.text(without=part)}
        if part.kind == "specialite":
            codes = list(part.term.codes)
            out["specialites"].append(
                {
                    "codes": codes,
                    "libelle": labels.get(codes[0]) or lexicon.groups.get(codes[0], codes[0]),
                    "libelle_court": lexicon.short_label(codes[0]),
                    **common,
                }
            )
        elif part.kind == "portee":
            out["portees"].append({"portee": part.term.codes[0], **common})
        elif part.kind == "certifie":
            out["certifie"] = common
        elif part.kind == PLACE:
            rest = r.text(without=part)
            out["lieu"] = {
                **part.where.as_dict(),
                "libelle": part.where.label(),
                **common,
                "autres": [
                    {
                        "type": o.kind,
                        "code": o.code,
                        "nom": o.nom,
                        "code_departement": o.code_departement,
                        "libelle": o.choice_label(),
                        "q": f"{rest} {o.choice()}".strip(),
                    }
                    for o in part.others
                ],
            }
    return out


def identifier_interpretation(q: str, found: tuple[str, str]) -> dict[str, Any]:
    kind, digits = found
    return {
        "texte": q,
        "texte_corrige": None,
        "corrections": [],
        "lecture": "identifiant",
        "identifiant": {"type": kind, "valeur": digits},
        "specialites": [],
        "portees": [],
        "certifie": None,
        "lieu": None,
        "mots_nom": None,
        "mots_ignores": [],
    }


def suggestions(u: Understanding, ctx: Context, others: np.ndarray) -> list[dict[str, Any]]:
    """What to try when the search finds nothing: the query without its place, scope, certification
    or need; the same in nearby communes; another spelling. Each is counted with the search's other
    conditions (`others`: the mask of its filters but the text); only those that find something are
    offered, at most six."""
    r = u.reading
    out: list[dict[str, Any]] = []
    seen = {r.text()}

    def offer(reason: str, words: str, q: str, mask: np.ndarray) -> None:
        if q in seen or len(out) >= 6:
            return
        seen.add(q)
        total = int(np.count_nonzero(mask & others))
        if total:
            out.append({"raison": reason, "texte": words, "q": q, "total": total})

    reasons = {"lieu": "sans_lieu", "portee": "sans_portee", "certifie": "sans_certification"}
    place = r.place if r.place in u.applied else None
    without_place = None
    for part in u.applied:
        rest = r.text(without=part)
        if rest:
            plan = _plan(_read(_without_words(r, part), ctx, r.source), ctx)
            offer(
                reasons.get(part.kind, "sans_specialite"),
                f"« {rest} » sans « {r.shown(part.positions)} »",
                rest,
                plan.mask,
            )
            if part is place:
                without_place = plan
    if place is not None and without_place is not None and place.where.latitude is not None:
        rest = r.text(without=place)
        for p in _nearby(without_place.mask & others, ctx, place.where):
            offer(
                "commune_proche",
                f"« {rest} » à {p.nom}",
                f"{rest} {p.choice()}".strip(),
                place_mask(ctx.columns, p) & without_place.mask,
            )
    if not r.corrected:
        for words in _respellings(r, ctx.speller):
            respelt = _plan(_read(words, ctx, r.source), ctx)
            shown = " ".join(display(x) if x.corrected_from else x.typed for x in words)
            offer("orthographe", f"« {shown} »", shown, respelt.mask)
    return out


def _nearby(wanted: np.ndarray, ctx: Context, place: Place) -> list[Place]:
    """Up to three communes within NEARBY_KM of a place that hold organisations of `wanted`, nearest
    first."""
    c = ctx.columns
    positions = np.flatnonzero(wanted & ~np.isnan(c.lat))
    if not len(positions):
        return []
    lat0, lon0 = place.latitude, place.longitude
    assert lat0 is not None and lon0 is not None  # the caller's place has a position
    near = positions[haversine(c.lat[positions], c.lon[positions], lat0, lon0) <= NEARBY_KM]
    inside = set(place.communes or (place.code,))
    found: dict[str, tuple[float, Place]] = {}
    for code in {c.commune.values[k] for k in c.commune.codes[near].tolist() if k >= 0} - inside:
        p = ctx.gazetteer.commune(code)
        if p is not None and p.latitude is not None:
            d = float(haversine(np.array([p.latitude]), np.array([p.longitude]), lat0, lon0)[0])
            found[code] = (d, p)
    return [found[k][1] for k in sorted(found, key=lambda k: (found[k][0], k))[:3]]


def _without_words(reading: Reading, part: Part) -> list[Word]:
    return [w for i, w in enumerate(reading.words) if i not in set(part.positions)]


def _respellings(r: Reading, speller: Speller) -> list[list[Word]]:
    """The query with one word spelt as a known word near it (at most two such queries)."""
    out = []
    for i, w in enumerate(r.words):
        used = speller.counts.get(w.folded, 0)
        for candidate, _ in speller.candidates(w.folded, limit=1):
            if used > RARE and speller.counts.get(candidate, 0) < used:
                continue  # a word many use is no typo for a word fewer use
            words = list(r.words)
            words[i] = w.corrected(candidate, speller.shown(candidate))
            out.append(words)
        if len(out) >= 2:
            break
    return out
