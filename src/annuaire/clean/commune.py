"""Resolve a (postal code, city name) pair to a commune INSEE code with La Poste's base.

The published city names are typed by hand: `ST AVOLD`, `Saint-Avold`, `PARIS 08`, `Paris CEDEX 07`,
`MARSEILLE`, `STE ANNE`. Names are compared on a folded key (case, accents, hyphens, apostrophes,
ST/STE, CEDEX and its number, arrondissement numbers).

With the COG's communes (sources/reference.py), communes carry their official names ("Saint-Étienne",
"L'Haÿ-les-Roses", "Lyon 3e Arrondissement"), Paris, Lyon and Marseille are cities (kind `ville`) whose
arrondissements name them as `parent`, and a code La Poste still lists for a commune merged since
resolves to today's commune (`former`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .names import fold
from .postal import departement_of_commune, departement_of_postcode

_CEDEX = re.compile(r"\bCEDEX\b(?:\s*\d+)?")
_ABBREVIATIONS = {"ST": "SAINT", "STE": "SAINTE", "STS": "SAINTS", "STES": "SAINTES"}
_ARTICLES = frozenset({"LE", "LA", "LES", "L"})
# Paris, Lyon and Marseille: the commune and its arrondissements.
CITIES_WITH_ARRONDISSEMENTS = {"PARIS": "75056", "LYON": "69123", "MARSEILLE": "13055"}
_CITY_NAMES = {"75056": "Paris", "69123": "Lyon", "13055": "Marseille"}
_NOTHING: dict[str, frozenset[str]] = {}


def city_key(name: str) -> str:
    """Folded name for matching: `Saint-Étienne-du-Rouvray Cedex 2` → `SAINT ETIENNE DU ROUVRAY`."""
    text = _CEDEX.sub(" ", fold(name))
    return " ".join(_ABBREVIATIONS.get(w, w) for w in text.split())


def loose_key(key: str) -> str:
    """A looser key: articles dropped and words joined (`LA BAULE ESCOUBLAC` ~ `BAULE ESCOUBLAC`)."""
    return "".join(w for w in key.split() if w not in _ARTICLES)


# Kinds of places a commune code designates.
COMMUNE = "commune"
ARRONDISSEMENT = "arrondissement"  # an arrondissement municipal of Paris, Lyon or Marseille
CITY = "ville"  # Paris, Lyon or Marseille: a commune made of arrondissements
# A COG commune, as sources/reference.py reads it: (code, official name, kind — commune,
# arrondissement, deleguee, associee —, parent — an arrondissement's city, a delegated or associated
# commune's commune —, département, région, postal codes, former codes, population).
CogCommune = tuple[
    str, str, str, str | None, str | None, str | None, tuple[str, ...], tuple[str, ...], int | None
]


@dataclass(frozen=True, slots=True)
class Commune:
    insee: str
    name: str  # the COG's official name; La Poste's spelling when the COG is not at hand
    postcodes: tuple[str, ...]
    latitude: float | None
    longitude: float | None
    kind: str = COMMUNE  # commune, arrondissement or ville
    parent: str | None = None  # an arrondissement's city
    population: int | None = None

    @property
    def departement(self) -> str:
        return departement_of_commune(self.insee)


def _arrondissement_city(insee: str) -> str | None:
    """The city of an arrondissement code (75101-75120, 69381-69389, 13201-13216), told by the code."""
    if insee[:3] == "751" and "01" <= insee[3:] <= "20":
        return "75056"
    if insee[:4] == "6938" and insee[4] != "0":
        return "69123"
    if insee[:3] == "132" and "01" <= insee[3:] <= "16":
        return "13055"
    return None


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
        cog: Sequence[CogCommune] = (),
    ):
        """rows: (insee, commune name, postal code, ligne 5, libellé d'acheminement, lat, lon) of La
        Poste's base; `cog`: the COG's communes (official names, kinds, former codes), if at hand."""
        self.departement_region = departement_region
        self.communes: dict[str, Commune] = {}
        current = {c[0]: c for c in cog if c[2] in (COMMUNE, ARRONDISSEMENT)}
        # Former codes → today's commune: a merged commune's `anciensCodes`, a delegated or associated
        # commune's parent (a code that is today's commune itself stays as it is).
        self.former: dict[str, str] = {}
        for c in current.values():
            for old in c[7]:
                if old not in current:
                    self.former.setdefault(old, c[0])
        for c in cog:
            if c[2] not in (COMMUNE, ARRONDISSEMENT) and c[3] in current and c[0] not in current:
                self.former.setdefault(c[0], c[3])
        # Their names: a delegated commune's own, else La Poste's (read below). A delegated commune
        # that kept today's code ("Bellegarde-sur-Valserine", 01033, in Valserhône) has a name only.
        self.former_names: dict[str, str] = {
            c[0]: c[1]
            for c in cog
            if c[2] not in (COMMUNE, ARRONDISSEMENT) and (c[0] in self.former or c[0] == c[3])
        }
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
            if insee in self.former:  # La Poste's base lags behind the COG
                self.former_names.setdefault(insee, name)
                insee = self.former[insee]
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
        # Official names answer too ("L'Haÿ-les-Roses", "Lyon 3e Arrondissement").
        for code, c in current.items():
            key = city_key(c[1])
            self._by_name[key].add(code)
            self._by_loose[loose_key(key)].add(code)
            for cp in postcodes.get(code, ()):
                self._by_cp_name[cp][key].add(code)
        self._add_communes(postcodes, coords, names, current)
        self._cp_communes = {
            cp: sorted({i for ids in d.values() for i in ids}) for cp, d in self._by_cp_name.items()
        }
        # Plain dicts from here on: lookups never create entries, and the state can be cached.
        for attribute in ("_by_cp_name", "_by_cp_loose", "_by_cp_other"):
            setattr(self, attribute, {cp: dict(keys) for cp, keys in getattr(self, attribute).items()})
        self._by_name = dict(self._by_name)
        self._by_loose = dict(self._by_loose)
        self._memo: dict[tuple[str | None, str, str | None], Resolution] = {}

    def _add_communes(
        self,
        postcodes: dict[str, list[str]],
        coords: dict[str, tuple[float | None, float | None]],
        names: dict[str, str],
        current: dict[str, CogCommune],
    ) -> None:
        """Communes under their official names, with their kind; the COG's communes La Poste lacks
        (Paris, Lyon and Marseille as cities; communes created since its vintage) too."""
        cities: dict[str, list[str]] = defaultdict(list)
        for insee in postcodes:
            parent = current[insee][3] if insee in current else _arrondissement_city(insee)
            if parent and (insee not in current or current[insee][2] == ARRONDISSEMENT):
                cities[parent].append(insee)
        for code, c in current.items():
            if c[2] == ARRONDISSEMENT and c[3] and code not in cities[c[3]]:
                cities[c[3]].append(code)
        for insee in sorted(set(postcodes) | set(current)):
            cog = current.get(insee)
            lat, lon = coords.get(insee, (None, None))
            cps = tuple(postcodes.get(insee, ())) or (tuple(cog[6]) if cog else ())
            if insee in cities:
                kind, parent = CITY, None
            elif cog:
                kind, parent = cog[2], cog[3] if cog[2] == ARRONDISSEMENT else None
            else:
                parent = _arrondissement_city(insee)
                kind = ARRONDISSEMENT if parent else COMMUNE
            name = cog[1] if cog else names.get(insee) or insee
            self.communes[insee] = Commune(insee, name, cps, lat, lon, kind, parent, cog[8] if cog else None)
        for city, members in cities.items():  # a city: its arrondissements' postal codes and centre
            found = [self.communes[m] for m in sorted(members)]
            placed = [m for m in found if m.latitude is not None and m.longitude is not None]
            cog = current.get(city)
            known = self.communes.get(city)
            self.communes[city] = Commune(
                city,
                cog[1] if cog else (known.name if known else _CITY_NAMES[city]),
                tuple(dict.fromkeys(cp for m in found for cp in m.postcodes)),
                sum(m.latitude or 0.0 for m in placed) / len(placed) if placed else None,
                sum(m.longitude or 0.0 for m in placed) / len(placed) if placed else None,
                CITY,
                None,
                cog[8] if cog else None,
            )

    # The indexes, as built-in types only (dicts, tuples, frozensets, strings, floats): what
    # `marshal` can store, so that a build reads them back in a tenth of the time it takes to index
    # La Poste's base (sources/reference.py caches them).
    _INDEXES = ("_by_cp_name", "_by_cp_loose", "_by_cp_other", "_by_name", "_by_loose", "_cp_main")

    def to_state(self) -> dict[str, Any]:
        def frozen(table: dict[str, Any]) -> dict[str, Any]:
            return {k: frozen(v) if isinstance(v, dict) else frozenset(v) for k, v in table.items()}

        state: dict[str, Any] = {
            name: frozen(getattr(self, name)) for name in self._INDEXES if name != "_cp_main"
        }
        state["_cp_main"] = self._cp_main
        state["_cp_communes"] = {cp: tuple(ids) for cp, ids in self._cp_communes.items()}
        state["communes"] = tuple(
            (c.insee, c.name, c.postcodes, c.latitude, c.longitude, c.kind, c.parent, c.population)
            for c in self.communes.values()
        )
        state["departement_region"] = self.departement_region
        state["former"] = self.former
        state["former_names"] = self.former_names
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> CommuneResolver:
        self = cls.__new__(cls)
        for name in cls._INDEXES:
            setattr(self, name, state[name])
        self._cp_communes = state["_cp_communes"]
        self.communes = {row[0]: Commune(*row) for row in state["communes"]}
        self.departement_region = state["departement_region"]
        self.former = state["former"]
        self.former_names = state["former_names"]
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
        found = sorted(i for i in ids if departement_of_commune(i) == departement)
        return found[0] if len(found) == 1 else None
