"""Resolve a (postal code, city name) pair to a commune INSEE code with La Poste's base.

The published city names are typed by hand: `ST AVOLD`, `Saint-Avold`, `PARIS 08`, `Paris CEDEX 07`,
`MARSEILLE`, `STE ANNE`. Names are compared on a folded key (case, accents, hyphens, apostrophes,
ST/STE, CEDEX and its number, arrondissement numbers).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from .names import fold
from .postal import departement_of_commune, departement_of_postcode

_CEDEX = re.compile(r"\bCEDEX\b(?:\s*\d+)?")
_ABBREVIATIONS = {"ST": "SAINT", "STE": "SAINTE", "STS": "SAINTS", "STES": "SAINTES"}
_ARTICLES = frozenset({"LE", "LA", "LES", "L"})
# Paris, Lyon and Marseille: the commune and its arrondissements.
CITIES_WITH_ARRONDISSEMENTS = {"PARIS": "75056", "LYON": "69123", "MARSEILLE": "13055"}
_NOTHING: dict = {}


def city_key(name: str) -> str:
    """Folded name for matching: `Saint-Étienne-du-Rouvray Cedex 2` → `SAINT ETIENNE DU ROUVRAY`."""
    text = _CEDEX.sub(" ", fold(name))
    return " ".join(_ABBREVIATIONS.get(w, w) for w in text.split())


def loose_key(key: str) -> str:
    """A looser key: articles dropped and words joined (`LA BAULE ESCOUBLAC` ~ `BAULE ESCOUBLAC`)."""
    return "".join(w for w in key.split() if w not in _ARTICLES)


@dataclass(frozen=True, slots=True)
class Commune:
    insee: str
    name: str  # La Poste's spelling (upper case, no accents)
    postcodes: tuple[str, ...]
    latitude: float | None
    longitude: float | None

    @property
    def departement(self) -> str:
        return departement_of_commune(self.insee)


@dataclass(frozen=True, slots=True)
class Resolution:
    insee: str | None
    departement: str | None
    method: str  # how it was found: see CommuneResolver.resolve


class CommuneResolver:
    """Matches postal code + city name against La Poste's postal-code base.

    Built once from the base's rows; `resolve` is pure and memoised (most pairs repeat).
    """

    def __init__(
        self,
        rows: list[tuple[str, str, str, str, str, float | None, float | None]],
        departement_region: dict[str, str],
    ):
        """rows: (insee, commune name, postal code, ligne 5, libellé d'acheminement, lat, lon)."""
        self.departement_region = departement_region
        self.communes: dict[str, Commune] = {}
        postcodes: dict[str, list[str]] = defaultdict(list)
        coords: dict[str, tuple[float | None, float | None]] = {}
        names: dict[str, str] = {}
        # per postal code: key → set of INSEE codes, for names, lieux-dits (ligne 5) and libellés
        self._by_cp_name: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        self._by_cp_loose: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        self._by_cp_other: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        self._by_name: dict[str, set[str]] = defaultdict(set)
        self._by_loose: dict[str, set[str]] = defaultdict(set)
        self._cp_main: dict[str, str] = {}
        for insee, name, cp, ligne5, libelle, lat, lon in rows:
            if cp not in postcodes[insee]:
                postcodes[insee].append(cp)
            names.setdefault(insee, name)
            if insee not in coords or coords[insee][0] is None:
                coords[insee] = (lat, lon)
            key = city_key(name)
            self._by_cp_name[cp][key].add(insee)
            self._by_cp_loose[cp][loose_key(key)].add(insee)
            self._by_name[key].add(insee)
            self._by_loose[loose_key(key)].add(insee)
            for other in (ligne5, libelle):
                if other:
                    okey = city_key(other)
                    self._by_cp_other[cp][okey].add(insee)
                    self._by_cp_other[cp][loose_key(okey)].add(insee)
            if libelle and city_key(libelle) == key and cp not in self._cp_main:
                self._cp_main[cp] = insee
            # Arrondissements answer to the city's name too ("PARIS" with 75008 → 75108).
            base = key.rsplit(" ", 1)[0]
            if base in CITIES_WITH_ARRONDISSEMENTS and key != base:
                self._by_cp_name[cp][base].add(insee)
        for insee, cps in postcodes.items():
            lat, lon = coords[insee]
            self.communes[insee] = Commune(insee, names[insee], tuple(cps), lat, lon)
        self._cp_communes = {
            cp: sorted({i for ids in d.values() for i in ids}) for cp, d in self._by_cp_name.items()
        }
        # Plain dicts from here on: lookups never create entries, and the state can be cached.
        for attribute in ("_by_cp_name", "_by_cp_loose", "_by_cp_other"):
            setattr(self, attribute, {cp: dict(keys) for cp, keys in getattr(self, attribute).items()})
        self._by_name = dict(self._by_name)
        self._by_loose = dict(self._by_loose)
        self._memo: dict[tuple[str | None, str, str | None], Resolution] = {}

    # The indexes, as built-in types only (dicts, tuples, frozensets, strings, floats): what
    # `marshal` can store, so that a build reads them back in a tenth of the time it takes to index
    # La Poste's base (sources/reference.py caches them).
    _INDEXES = ("_by_cp_name", "_by_cp_loose", "_by_cp_other", "_by_name", "_by_loose", "_cp_main")

    def to_state(self) -> dict:
        def frozen(table: dict) -> dict:
            return {k: frozen(v) if isinstance(v, dict) else frozenset(v) for k, v in table.items()}

        state = {name: frozen(getattr(self, name)) for name in self._INDEXES if name != "_cp_main"}
        state["_cp_main"] = self._cp_main
        state["_cp_communes"] = {cp: tuple(ids) for cp, ids in self._cp_communes.items()}
        state["communes"] = tuple(
            (c.insee, c.name, c.postcodes, c.latitude, c.longitude) for c in self.communes.values()
        )
        state["departement_region"] = self.departement_region
        return state

    @classmethod
    def from_state(cls, state: dict) -> CommuneResolver:
        self = cls.__new__(cls)
        for name in cls._INDEXES:
            setattr(self, name, state[name])
        self._cp_communes = state["_cp_communes"]
        self.communes = {row[0]: Commune(*row) for row in state["communes"]}
        self.departement_region = state["departement_region"]
        self._memo = {}
        return self

    def region_of(self, departement: str | None) -> str | None:
        return self.departement_region.get(departement) if departement else None

    def postcodes_of(self, insee: str) -> tuple[str, ...]:
        commune = self.communes.get(insee)
        return commune.postcodes if commune else ()

    def resolve(self, postcode: str | None, city: str, region_hint: str | None = None) -> Resolution:
        """Find the commune. `method` says how:

        - `code_postal_et_nom`: the name matches a commune of that postal code (the usual case);
        - `code_postal_seul`: the postal code serves a single commune (the name is missing or off);
        - `nom_dans_departement`: the postal code is unknown (CEDEX) or does not fit the name, and the
          name is one commune of the postal code's département;
        - `code_postal_incoherent`: the name fits no commune of that postal code nor of its
          département; the postal code wins and its main commune is taken;
        - `nom_seul`: no postal code, the name designates one commune (within the declared région);
        - `departement_seul`: only the département could be told from the postal code;
        - `non_resolu`: nothing usable.
        """
        memo_key = (postcode, city, region_hint)
        hit = self._memo.get(memo_key)
        if hit is None:
            hit = self._resolve(postcode, city, region_hint)
            if len(self._memo) < 1_000_000:
                self._memo[memo_key] = hit
        return hit

    def _found(self, insee: str, method: str) -> Resolution:
        return Resolution(insee, departement_of_commune(insee), method)

    def _resolve(self, postcode: str | None, city: str, region_hint: str | None) -> Resolution:
        key = city_key(city) if city else ""
        if postcode and postcode in self._by_cp_name:
            if key:
                for table, k in (
                    (self._by_cp_name, key),
                    (self._by_cp_loose, loose_key(key)),
                    (self._by_cp_other, key),
                    (self._by_cp_other, loose_key(key)),
                ):
                    ids = table.get(postcode, _NOTHING).get(k)
                    if ids:
                        return self._found(min(ids), "code_postal_et_nom")
            communes = self._cp_communes[postcode]
            if len(communes) == 1:
                return self._found(communes[0], "code_postal_seul")
            if key:
                near = self._by_name_in_departement(key, departement_of_postcode(postcode))
                if near:
                    return self._found(near, "nom_dans_departement")
            main = self._cp_main.get(postcode) or communes[0]
            return self._found(main, "code_postal_incoherent" if key else "code_postal_seul")
        departement = departement_of_postcode(postcode) if postcode else None
        if key:
            if departement:
                near = self._by_name_in_departement(key, departement)
                if near:
                    return self._found(near, "nom_dans_departement")
            else:
                ids = self._by_name.get(key) or self._by_loose.get(loose_key(key)) or set()
                if region_hint and len(ids) > 1:
                    ids = {i for i in ids if self.region_of(departement_of_commune(i)) == region_hint}
                if len(ids) == 1:
                    return self._found(next(iter(ids)), "nom_seul")
        if departement and departement in self.departement_region:
            return Resolution(None, departement, "departement_seul")
        return Resolution(None, None, "non_resolu")

    def _by_name_in_departement(self, key: str, departement: str | None) -> str | None:
        if not departement:
            return None
        ids = self._by_name.get(key) or self._by_loose.get(loose_key(key)) or set()
        ids = sorted(i for i in ids if departement_of_commune(i) == departement)
        return ids[0] if len(ids) == 1 else None
