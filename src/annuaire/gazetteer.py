"""The place resolver: what a person types to say where ("Saint-Étienne", "st etienne", "Paris 11e",
"Lyon 3", "69003", "13001", "Saint-Denis (93)") → the places it can mean, under their official names.

One resolver for everything a user types: the search box, "autour de", the API's `autour=`, the
suggestions (and, next, the search lexicon that finds a place at the end of a query: `split_place`).
Built from the directory's geography tables (`communes`, `communes_anciennes`, `departements`: the
COG's official names, kinds and former codes, La Poste's postal codes and positions), so the web and
the API need nothing else. Pure: no I/O once built.

Rules:
- Names are compared on a key: case, accents, hyphens and apostrophes ignored, `St`/`Ste` read as
  `Saint`/`Sainte`, arrondissement numbers as numbers ("Paris 11e", "PARIS 11", "Paris 11ème
  arrondissement" are one key); a name without its article ("Rochelle") is tried last.
- A name several communes bear ("Saint-Denis": 93 and 974, and two villages; "Valence") gives every
  candidate, most populated first, never a guess. A département ("Saint-Denis 93", "Saint-Denis
  (974)", "Valence, Drôme") or a postal code ("Valence 26000") after the name chooses.
- Five digits are a postal code when La Poste knows one ("13001": Marseille 1er), else an INSEE code;
  `2A004` is an INSEE code; two or three characters that are a département's code are that
  département (when départements are asked for). A place found by name is kept with its kind: the
  INSEE code of Aix-en-Provence (13001) is never read again as a postal code.
- The code of a commune merged since, or the name of a delegated commune, resolves to today's commune.
- Paris, Lyon and Marseille are cities (`ville`) covering their arrondissements.

Kinds (`Place.kind`): `commune`, `arrondissement` (of Paris, Lyon, Marseille), `ville` (those three),
`code_postal`, `departement`.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .clean.names import fold

COMMUNE = "commune"
ARRONDISSEMENT = "arrondissement"
CITY = "ville"
POSTCODE = "code_postal"
DEPARTEMENT = "departement"
KINDS = (COMMUNE, ARRONDISSEMENT, CITY, POSTCODE, DEPARTEMENT)
# What may be a search's centre ("autour de"): a point with a radius, not a whole département.
CENTRE_KINDS = (COMMUNE, ARRONDISSEMENT, CITY, POSTCODE)
MUNICIPAL_KINDS = (COMMUNE, ARRONDISSEMENT, CITY)

_ABBREVIATIONS = {"ST": "SAINT", "STE": "SAINTE", "STS": "SAINTS", "STES": "SAINTES"}
_ORDINAL = re.compile(r"(\d{1,2})(?:E|EME|ER|ERE|EMES|ERES|ND|NDE)?")
_DROPPED = frozenset({"ARRONDISSEMENT", "ARR", "ARRT", "ARRDT", "CEDEX"})
_ARTICLES = frozenset({"LE", "LA", "LES", "L"})
_DEPARTEMENT_CODE = re.compile(r"(0[1-9]|[1-8][0-9]|9[0-5]|2[AB]|97[1-8]|98[4-9])")
_INSEE_CODE = re.compile(r"([0-9]{5}|2[AB][0-9]{3})")
_POSTCODE = re.compile(r"[0-9]{5}")
_QUALIFIED = re.compile(r"^(?P<name>.+?)\s*(?:\((?P<paren>[^()]+)\)|,\s*(?P<comma>[^,]+)|\s(?P<code>\S+))$")
MAX_PLACE_WORDS = 8  # the longest tail of a query `split_place` tries


def place_key(text: str) -> str:
    """The key names are compared on: "Saint-Étienne" and "st etienne" → "SAINT ETIENNE";
    "Paris 11e Arrondissement", "PARIS 11" and "paris 11ème" → "PARIS 11"."""
    words = []
    for word in fold(text or "").split():
        word = _ABBREVIATIONS.get(word, word)
        if word in _DROPPED:
            continue
        if (m := _ORDINAL.fullmatch(word)) is not None:
            word = str(int(m.group(1)))
        words.append(word)
    return " ".join(words)


def loose_key(key: str) -> str:
    """A key without its articles: "LA ROCHELLE" ~ "ROCHELLE"."""
    return " ".join(w for w in key.split() if w not in _ARTICLES)


@dataclass(frozen=True, slots=True)
class Place:
    kind: str  # commune, arrondissement, ville, code_postal, departement
    code: str  # the INSEE code (commune, arrondissement, ville), the postal code, the département's code
    nom: str  # the official name (for a postal code, the names of the communes it serves)
    code_commune_insee: str | None  # the commune (for a postal code, when it serves one)
    code_departement: str | None
    latitude: float | None
    longitude: float | None
    communes: tuple[str, ...] = ()  # the INSEE codes it covers (a city: itself and its arrondissements)
    population: int | None = None
    ville: str | None = None  # an arrondissement's city

    def as_dict(self) -> dict:
        """The place as the API names it (`centre` of a search)."""
        return {
            "type": self.kind,
            "code": self.code,
            "nom": self.nom,
            "code_commune_insee": self.code_commune_insee,
            "code_postal": self.code if self.kind == POSTCODE else None,
            "code_departement": self.code_departement,
            "latitude": self.latitude,
            "longitude": self.longitude,
        }

    def label(self) -> str:
        """How a page names it: "Lyon 3e Arrondissement", "69003 (Lyon 3e Arrondissement)",
        "Rhône (69)"."""
        if self.kind == POSTCODE:
            return f"{self.code} ({self.nom})" if self.nom else self.code
        if self.kind == DEPARTEMENT:
            return f"{self.nom} ({self.code})"
        return self.nom

    def choice(self) -> str:
        """What to type to mean this place and no other: "Saint-Denis (93066)", a postal code."""
        return self.code if self.kind == POSTCODE else f"{self.nom} ({self.code})"

    def choice_label(self) -> str:
        """A candidate as a list of choices shows it: "Saint-Denis (Seine-Saint-Denis, 93)"."""
        if self.kind in (POSTCODE, DEPARTEMENT):
            return self.label()
        return f"{self.nom} ({self.code_departement})"


@dataclass(frozen=True, slots=True)
class Resolution:
    """What a text means: the places it can be, best first (one: resolved; several: to choose from;
    none: unknown), and how they were found (`code_postal`, `code_insee`, `ancien_code`,
    `departement`, `nom`, `ancien_nom`, `nom_sans_article`, or "" when nothing)."""

    text: str
    places: tuple[Place, ...] = ()
    how: str = ""

    @property
    def place(self) -> Place | None:
        """The place, when the text means exactly one."""
        return self.places[0] if len(self.places) == 1 else None

    @property
    def ambiguous(self) -> bool:
        return len(self.places) > 1


@dataclass
class _Commune:
    code: str
    nom: str
    postcodes: tuple[str, ...]
    departement: str
    kind: str
    parent: str | None
    population: int | None
    latitude: float | None
    longitude: float | None
    members: list[str] = field(default_factory=list)  # a city's arrondissements


class Gazetteer:
    """The places of a directory, and what people type to name them."""

    def __init__(
        self,
        communes: Iterable[Sequence],
        former: Iterable[Sequence] = (),
        departements: Iterable[Sequence] = (),
    ):
        """`communes`: rows of the `communes` table, in its column order (code, name, postal codes —
        space-separated or a sequence —, département, région, latitude, longitude, kind, parent city,
        population); `former`: the `communes_anciennes` table's (former code, today's code, former
        name); `departements`: (code, name)."""
        self._communes: dict[str, _Commune] = {}
        for code, nom, postcodes, dep, _, lat, lon, kind, parent, population in communes:
            if isinstance(postcodes, str):
                postcodes = tuple(postcodes.split())
            self._communes[code] = _Commune(
                code, nom, tuple(postcodes), dep, kind or COMMUNE, parent, population, lat, lon
            )
        for c in self._communes.values():
            if c.kind == ARRONDISSEMENT and c.parent in self._communes:
                self._communes[c.parent].members.append(c.code)
                self._communes[c.parent].kind = CITY
        self._by_key: dict[str, list[str]] = defaultdict(list)
        self._by_loose: dict[str, list[str]] = defaultdict(list)
        self._by_compact: dict[str, list[str]] = defaultdict(list)  # "LHAYLESROSES"
        self._by_postcode: dict[str, list[str]] = defaultdict(list)
        for c in self._communes.values():
            key = place_key(c.nom)
            self._by_key[key].append(c.code)
            self._by_loose[loose_key(key)].append(c.code)
            self._by_compact[key.replace(" ", "")].append(c.code)
            if c.kind != CITY:  # a postal code serves the arrondissement, not the whole city
                for cp in c.postcodes:
                    self._by_postcode[cp].append(c.code)
        self._former: dict[str, str] = {}
        self._former_by_key: dict[str, set[str]] = defaultdict(set)
        for old, new, name in former:  # (a delegated commune may keep today's code: no code to map)
            if new in self._communes:
                if old != new:
                    self._former[old] = new
                if name and place_key(name) not in self._by_key:
                    self._former_by_key[place_key(name)].add(new)
        self._departements: dict[str, str] = {code: nom for code, nom in departements}
        self._departement_by_key = {place_key(nom): code for code, nom in self._departements.items()}
        self._departement_by_key |= {loose_key(k): c for k, c in self._departement_by_key.items()}
        self._sorted_keys = sorted((key, code) for key, codes in self._by_key.items() for code in codes)
        self._memo: dict[tuple, Resolution] = {}

    # -- places --------------------------------------------------------------------------------------

    def commune(self, code: str | None) -> Place | None:
        """The commune, arrondissement or city of an INSEE code (a former code: today's commune)."""
        if not code:
            return None
        c = self._communes.get(self._former.get(code.upper(), code.upper()))
        if c is None:
            return None
        covered = (c.code, *sorted(c.members))
        return Place(
            c.kind,
            c.code,
            c.nom,
            c.code,
            c.departement,
            c.latitude,
            c.longitude,
            covered,
            c.population,
            c.parent if c.kind == ARRONDISSEMENT else None,
        )

    def postcode(self, code: str) -> Place | None:
        served = self._by_postcode.get(code)
        if not served:
            return None
        communes = [self._communes[s] for s in sorted(served)]
        placed = [c for c in communes if c.latitude is not None and c.longitude is not None]
        return Place(
            POSTCODE,
            code,
            ", ".join(c.nom for c in communes),
            communes[0].code if len(communes) == 1 else None,
            communes[0].departement,
            sum(c.latitude or 0.0 for c in placed) / len(placed) if placed else None,
            sum(c.longitude or 0.0 for c in placed) / len(placed) if placed else None,
            tuple(c.code for c in communes),
            sum(c.population or 0 for c in communes) or None,
        )

    def departement(self, code: str) -> Place | None:
        code = code.upper()
        nom = self._departements.get(code)
        if nom is None:
            return None
        members = tuple(sorted(c.code for c in self._communes.values() if c.departement == code))
        return Place(DEPARTEMENT, code, nom, None, code, None, None, members)

    def communes_of(self, code: str) -> tuple[str, ...]:
        """The INSEE codes a commune filter means: a city's arrondissements with it, a former code's
        commune; a code unknown as it is."""
        place = self.commune(code)
        return place.communes if place else (code,)

    def city_of(self, code: str | None) -> str | None:
        """An arrondissement's city; None for anything else."""
        c = self._communes.get(code or "")
        return c.parent if c is not None and c.kind == ARRONDISSEMENT else None

    def arrondissements(self, code: str) -> list[Place]:
        c = self._communes.get(code)
        return [p for m in sorted(c.members) if (p := self.commune(m)) is not None] if c else []

    # -- resolving -----------------------------------------------------------------------------------

    def resolve(self, text: str, kinds: Sequence[str] = KINDS) -> Resolution:
        """The places `text` can mean, among `kinds` (see the module's rules)."""
        memo_key = (text, tuple(kinds))
        hit = self._memo.get(memo_key)
        if hit is None:
            hit = self._resolve(text or "", tuple(kinds))
            if len(self._memo) < 50_000:
                self._memo[memo_key] = hit
        return hit

    def _resolve(self, text: str, kinds: tuple[str, ...]) -> Resolution:
        stripped = " ".join(text.split())
        if not stripped:
            return Resolution(text)
        by_code = self._by_code(stripped.replace(" ", "").upper(), kinds)
        if by_code is not None:
            return Resolution(text, *by_code)
        found = self._by_name(stripped, kinds)
        if found[0]:
            return Resolution(text, *found)
        qualified = _QUALIFIED.match(stripped)
        if qualified:  # "Saint-Denis (93)", "Valence, Drôme", "Valence 26000", "Lyon 69003"
            name = qualified.group("name")
            qualifier = qualified.group("paren") or qualified.group("comma") or qualified.group("code")
            places, how = self._by_name(name, kinds)
            chosen = self._qualify(places, qualifier.strip())
            if chosen:
                return Resolution(text, tuple(chosen), how)
        return Resolution(text)

    def _by_code(self, compact: str, kinds: tuple[str, ...]) -> tuple[tuple[Place, ...], str] | None:
        if _POSTCODE.fullmatch(compact) and POSTCODE in kinds and (place := self.postcode(compact)):
            return (place,), POSTCODE
        if _INSEE_CODE.fullmatch(compact):
            place = self.commune(compact)
            if place is not None and place.kind in kinds:
                return (place,), "code_insee" if place.code == compact else "ancien_code"
            return (), "code_insee"  # five digits that are no known place: nothing, never a name
        if _DEPARTEMENT_CODE.fullmatch(compact) and DEPARTEMENT in kinds:
            place = self.departement(compact)
            if place is not None:
                return (place,), DEPARTEMENT
        return None

    def _by_name(self, text: str, kinds: tuple[str, ...]) -> tuple[tuple[Place, ...], str]:
        key = place_key(text)
        if not key:
            return (), ""
        how = "nom"
        codes = self._by_key.get(key)
        if not codes and (former := self._former_by_key.get(key)):
            codes, how = sorted(former), "ancien_nom"
        if not codes and (loose := self._by_loose.get(loose_key(key))):
            codes, how = loose, "nom_sans_article"
        if not codes and (compact := self._by_compact.get(key.replace(" ", ""))):
            codes, how = compact, "nom"
        places = [p for p in (self.commune(c) for c in codes or ()) if p is not None and p.kind in kinds]
        if DEPARTEMENT in kinds:
            code = self._departement_by_key.get(key) or self._departement_by_key.get(loose_key(key))
            # A département named as a commune of its own (Paris) is that commune.
            if (
                code
                and not any(p.code_departement == code and place_key(p.nom) == key for p in places)
                and (departement := self.departement(code)) is not None
            ):
                places.append(departement)
                how = how if len(places) > 1 else DEPARTEMENT
        places.sort(key=lambda p: (-(p.population or 0), p.kind == DEPARTEMENT, p.code))
        return tuple(places), how

    def _qualify(self, places: Sequence[Place], qualifier: str) -> list[Place]:
        """The candidates a qualifier chooses: one's INSEE code, a postal code, a département (code or
        name)."""
        compact = qualifier.replace(" ", "").upper()
        if own := [p for p in places if p.code == compact and p.kind != DEPARTEMENT]:
            return own
        if _POSTCODE.fullmatch(compact):
            chosen = []
            for p in places:
                if p.kind == CITY:  # "Lyon 69003": the arrondissement the postal code serves
                    chosen += [
                        a for a in self.arrondissements(p.code) if compact in self._communes[a.code].postcodes
                    ]
                elif p.kind != DEPARTEMENT and compact in self._communes[p.code].postcodes:
                    chosen.append(p)
            return chosen
        departement = compact if compact in self._departements else None
        if departement is None:
            key = place_key(qualifier)
            departement = self._departement_by_key.get(key) or self._departement_by_key.get(loose_key(key))
        if departement is None:
            return []
        return [p for p in places if p.kind != DEPARTEMENT and p.code_departement == departement]

    def split_place(
        self, query: str, kinds: Sequence[str] = (*MUNICIPAL_KINDS, POSTCODE)
    ) -> tuple[str, Resolution]:
        """A place at the end of a query: ("anglais Lyon 3e") → ("anglais", Lyon 3e Arrondissement).
        The longest tail of words that names a place wins (ambiguous names included: the caller asks
        which); without one, the query as it is and an empty resolution. A bare département code is
        not taken ("formation 24 heures")."""
        words = query.split()
        for n in range(min(len(words), MAX_PLACE_WORDS), 0, -1):
            tail = " ".join(words[-n:])
            found = self.resolve(tail, kinds)
            if found.places:
                return " ".join(words[:-n]), found
        return query.strip(), Resolution("")

    # -- suggestions ---------------------------------------------------------------------------------

    def suggest(
        self,
        prefix: str,
        limit: int = 5,
        *,
        kinds: Sequence[str] = MUNICIPAL_KINDS,
        weights: Mapping[str, int] | None = None,
    ) -> list[Place]:
        """Communes (arrondissements, cities) whose name starts with `prefix` (on the key: "st eti"
        finds Saint-Étienne), heaviest first (`weights`: INSEE code → e.g. its organisations; only
        those with a weight when given), then most populated."""
        key = place_key(prefix)
        if not key:
            return []
        keys = self._sorted_keys
        found = []
        for i in range(bisect.bisect_left(keys, (key, "")), len(keys)):
            k, code = keys[i]
            if not k.startswith(key):
                break
            c = self._communes[code]
            if c.kind not in kinds or (weights is not None and not weights.get(code)):
                continue
            found.append(c)
        found.sort(key=lambda c: (-(weights or {}).get(c.code, 0), -(c.population or 0), c.nom))
        return [p for c in found[:limit] if (p := self.commune(c.code)) is not None]


def centre_error(resolution: Resolution) -> str | None:
    """Why a resolution cannot be a search's centre (in French, for the page and the API), or None."""
    typed = resolution.text.strip()[:60]
    if resolution.place is not None:
        if resolution.place.latitude is None:
            return f"position inconnue pour « {resolution.place.label()} »"
        return None
    if resolution.ambiguous:
        choices = " ; ".join(p.choice() for p in resolution.places[:10])
        return f"lieu ambigu « {typed} », précisez lequel : {choices}"
    return f"lieu inconnu : « {typed} » (commune, code postal ou code INSEE attendu)"


# -- names in sentences: the COG's articles ------------------------------------------------------------
# `type_liaison` is INSEE's TNCC: how a name takes an article. 0 no article, "de Paris"; 1 no article
# before a vowel, "d'Indre-et-Loire"; 2 "le Rhône", "du Rhône"; 3 "la Somme", "de la Somme"; 4 "les
# Landes", "des Landes"; 5 "l'Ain", "de l'Ain"; 6 "aux …", "des …"; 7 "las …"; 8 "los …".
_ARTICLE = {0: "", 1: "", 2: "le ", 3: "la ", 4: "les ", 5: "l'", 6: "aux ", 7: "las ", 8: "los "}
_OF = {0: "de ", 1: "d'", 2: "du ", 3: "de la ", 4: "des ", 5: "de l'", 6: "des ", 7: "de las ", 8: "de los "}
_VOWELS = tuple("AEIOUYÂÊÎÔÛÉÈËÏÜH")
_ISLANDS = frozenset({"Mayotte", "Wallis et Futuna"})  # "à Mayotte"


def _liaison(nom: str, type_liaison: int | None) -> int:
    if type_liaison in _ARTICLE:
        return type_liaison
    return 1 if nom[:1].upper() in _VOWELS else 0  # without the COG's word: by the first letter


def with_article(nom: str, type_liaison: int | None) -> str:
    """The name with its article: "le Rhône", "la Somme", "les Landes", "l'Ain", "Paris"."""
    return _ARTICLE[_liaison(nom, type_liaison)] + nom


def of_name(nom: str, type_liaison: int | None) -> str:
    """ "de" and the name: "du Rhône", "de la Somme", "des Landes", "de l'Ain", "d'Île-de-France"."""
    return _OF[_liaison(nom, type_liaison)] + nom


def in_name(nom: str, type_liaison: int | None) -> str:
    """Where, for a région: "en Bretagne", "en Île-de-France", "dans le Grand Est", "dans les
    Hauts-de-France", "à La Réunion"."""
    liaison = _liaison(nom, type_liaison)
    if liaison in (2, 4, 7, 8):
        return "dans " + _ARTICLE[liaison] + nom
    if liaison == 6:
        return _ARTICLE[liaison] + nom
    if nom.split(" ", 1)[0] in ("La", "Le", "Les") or nom.startswith("Saint") or nom in _ISLANDS:
        return "à " + nom
    return "en " + nom
