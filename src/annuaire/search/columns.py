"""The search table held in memory as columns: filters become boolean masks, facets become counts,
orders are permutations computed once. Loaded from any backend's rows, then pure computation.

150,000 organisations take a few megabytes; a facet over all of them costs a `bincount`, where
SQL would visit every row. Text matching, identifier lookups and the records shown stay in the
database (its full-text index and tables); this module only decides which and in what order.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .geo import EARTH_RADIUS_KM, bbox_around, cells, mercator
from .params import SCOPES, ClusterQuery, Filters

# Column order of the rows given to `Columns` (the `recherche` table's, see store/search.sql).
ROW_FIELDS = (
    "id",
    "nom",
    "completude",
    *SCOPES,
    "certifie",
    "code_departement",
    "code_region",
    "code_commune_insee",
    "code_postal",
    "statut",
    "date_derniere_declaration",
    "latitude",
    "longitude",
    "mx",
    "my",
)


class Vocabulary:
    """Distinct values of a text column, coded as small integers (-1 for none)."""

    def __init__(self, values: Sequence[str | None]):
        self.values = sorted({v for v in values if v is not None})
        self.code: dict[str | None, int] = {v: i for i, v in enumerate(self.values)}
        self.code[None] = -1
        self.codes = np.array([self.code[v] for v in values], dtype=np.int32)

    def __getitem__(self, value: str) -> int:
        return self.code.get(value, -2) if value is not None else -2  # -2 matches nothing


@dataclass(frozen=True)
class Ranking:
    """A relevance order for an understood query (understanding.py): `tiers` (one small integer per
    position, lower first), then certified organisations first when asked, then nearer `centre`
    first, then the usual relevance rank."""

    tiers: np.ndarray
    certified_first: bool = False
    centre: tuple[float, float] | None = None


@dataclass(frozen=True)
class Lookups:
    """What the backend resolved before filtering: full-text or identifier matches (organisation
    ids), the search centre (and the place it is, as the gazetteer names it), the communes a postal
    code serves, the communes a commune filter means (a city: its arrondissements too), and what
    the query text means when understood (`understood`: understanding.py's mask and ranking)."""

    matches: np.ndarray | None = None
    centre: tuple[float, float] | None = None
    postal_communes: tuple[str, ...] = ()
    communes: tuple[str, ...] = ()
    place: dict[str, Any] | None = None
    understood: Any = None


def haversine(lat: np.ndarray, lon: np.ndarray, lat0: float, lon0: float) -> np.ndarray:
    p, p0 = np.radians(lat), np.radians(lat0)
    a = np.sin((p - p0) / 2) ** 2 + np.cos(p) * np.cos(p0) * np.sin(np.radians(lon - lon0) / 2) ** 2
    found: np.ndarray = 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(a)))
    return found


class Columns:
    def __init__(self, rows: Sequence[tuple[Any, ...]], specialities: Sequence[tuple[int, str]]):
        """`rows` in ROW_FIELDS order; `specialities` as (organisation id, NSF code) pairs."""
        n = len(rows)
        self.size = n
        cols = list(zip(*rows, strict=True)) if rows else [() for _ in ROW_FIELDS]
        col = dict(zip(ROW_FIELDS, cols, strict=True))
        self.ids = np.array(col["id"], dtype=np.int64)
        self.position = np.full(int(self.ids.max()) + 1 if n else 1, -1, dtype=np.int64)
        self.position[self.ids] = np.arange(n)
        self.names: list[str] = list(col["nom"])
        self.scopes = {s: np.array(col[s], dtype=bool) for s in SCOPES}
        self.certified = np.array(col["certifie"], dtype=bool)
        self.departement = Vocabulary(col["code_departement"])
        self.region = Vocabulary(col["code_region"])
        self.commune = Vocabulary(col["code_commune_insee"])
        self.postal_code = Vocabulary(col["code_postal"])
        self.status = Vocabulary(col["statut"])
        self.lat = np.array([np.nan if v is None else v for v in col["latitude"]], dtype=np.float64)
        self.lon = np.array([np.nan if v is None else v for v in col["longitude"]], dtype=np.float64)
        self.mx = np.array([np.nan if v is None else v for v in col["mx"]], dtype=np.float64)
        self.my = np.array([np.nan if v is None else v for v in col["my"]], dtype=np.float64)

        # Orders, as permutations of positions (positions follow ids, and sorts are stable: ties go by id).
        # Relevance without text: more complete records first, then by name.
        self.by_name = np.array(sorted(range(n), key=self.names.__getitem__), dtype=np.int64)
        self.sorted_names = [self.names[i] for i in self.by_name.tolist()]
        name_rank = np.empty(n, dtype=np.int64)
        name_rank[self.by_name] = np.arange(n)
        completeness = np.array(col["completude"], dtype=np.int64)
        self.rank = np.empty(n, dtype=np.int64)  # relevance rank without text
        self.by_relevance = np.lexsort((name_rank, -completeness))
        self.rank[self.by_relevance] = np.arange(n)
        dates = np.array([d or "" for d in col["date_derniere_declaration"]], dtype="U10")
        undated = dates == ""
        # Most recent first, undated last: sort ascending on (undated, reversed date rank).
        date_rank = np.unique(dates, return_inverse=True)[1]
        self.by_date = np.lexsort((-date_rank, undated))

        # Specialities as a compressed sparse row: positions → NSF code numbers.
        pairs = sorted(
            (int(self.position[oid]), code) for oid, code in specialities if oid < len(self.position)
        )
        self.speciality = Vocabulary([code for _, code in pairs])
        self.speciality_owner = np.array([p for p, _ in pairs], dtype=np.int64)

    # -- filters -----------------------------------------------------------------------------------

    def mask(self, f: Filters, lookups: Lookups) -> np.ndarray:
        """The organisations matching every filter, as a boolean mask over positions."""
        out = np.ones(self.size, dtype=bool)
        for processor in PROCESSORS:
            m = processor(self, f, lookups)
            if m is not None:
                out &= m
        return out

    def distances(self, positions: np.ndarray, centre: tuple[float, float]) -> np.ndarray:
        return haversine(self.lat[positions], self.lon[positions], *centre)

    # -- orders ------------------------------------------------------------------------------------

    def ordered(
        self,
        mask: np.ndarray,
        tri: str,
        text: str | None,
        centre: tuple[float, float] | None,
        ranking: Ranking | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Every matching position in display order, and their distances when there is a centre."""
        if tri == "pertinence" and ranking is not None:
            positions = self._ranked(mask, ranking)
            return positions, (self.distances(positions, centre) if centre is not None else None)
        if tri == "distance" and centre is not None:
            positions = np.flatnonzero(mask)
            d = self.distances(positions, centre)
            order = np.lexsort((self.ids[positions], np.where(np.isnan(d), np.inf, d)))
            return positions[order], d[order]
        if tri == "nom":
            positions = self.by_name[mask[self.by_name]]
        elif tri == "date":
            positions = self.by_date[mask[self.by_date]]
        else:
            positions = self._by_relevance(mask)
            if text:
                positions = self._names_first(positions, text)
        return positions, (self.distances(positions, centre) if centre is not None else None)

    def _by_relevance(self, mask: np.ndarray) -> np.ndarray:
        """Matching positions by relevance rank: few matches are sorted, many are picked from the
        precomputed order (a pass over every organisation, cheaper than sorting a large share)."""
        positions = np.flatnonzero(mask)
        if len(positions) * 16 < self.size:
            return positions[np.argsort(self.rank[positions], kind="stable")]
        found: np.ndarray = self.by_relevance[mask[self.by_relevance]]
        return found

    def _ranked(self, mask: np.ndarray, ranking: Ranking) -> np.ndarray:
        """Matching positions by tier, certified first (when asked), nearer the centre (when known),
        then by relevance rank: a stable total order (the rank ends on the id)."""
        positions = np.flatnonzero(mask)
        keys: list[np.ndarray] = [self.rank[positions]]
        if ranking.centre is not None:
            d = self.distances(positions, ranking.centre)
            keys.append(np.where(np.isnan(d), np.inf, d))
        if ranking.certified_first:
            keys.append(~self.certified[positions])
        keys.append(ranking.tiers[positions])
        return positions[np.lexsort(keys)]

    def has_speciality(self, codes: Sequence[str]) -> np.ndarray:
        """The organisations with any of the NSF codes."""
        m = np.zeros(self.size, dtype=bool)
        wanted = [self.speciality[code] for code in codes]
        m[self.speciality_owner[np.isin(self.speciality.codes, wanted)]] = True
        return m

    def exact_name(self, name: str) -> np.ndarray:
        """Positions whose folded name is `name`."""
        return self._name_range(name, prefix=False)

    def names_starting(self, text: str) -> np.ndarray:
        """Positions whose folded name starts with `text`."""
        return self._name_range(text, prefix=True)

    def _names_first(self, positions: np.ndarray, text: str) -> np.ndarray:
        """Exact names first, then names starting with the text, each tier keeping its order."""
        starting = self._name_range(text, prefix=True)
        if not len(starting):
            return positions
        tier = np.full(self.size, 2, dtype=np.int8)
        tier[starting] = 1
        tier[self._name_range(text, prefix=False)] = 0
        return positions[np.argsort(tier[positions], kind="stable")]

    def _name_range(self, name: str, *, prefix: bool) -> np.ndarray:
        """Positions whose folded name equals `name` (or starts with it)."""
        lo = bisect.bisect_left(self.sorted_names, name)
        hi = (
            bisect.bisect_left(self.sorted_names, name + "\uffff")
            if prefix
            else bisect.bisect_right(self.sorted_names, name)
        )
        return self.by_name[lo:hi]

    # -- facets ------------------------------------------------------------------------------------

    def facets(self, mask: np.ndarray) -> dict[str, Any]:
        total = int(np.count_nonzero(mask))
        dep = np.bincount(self.departement.codes[mask] + 1, minlength=len(self.departement.values) + 1)
        spec = np.bincount(
            self.speciality.codes[mask[self.speciality_owner]], minlength=len(self.speciality.values)
        )
        certified = int(np.count_nonzero(self.certified & mask))
        return {
            "total": total,
            "portees": {s: int(np.count_nonzero(self.scopes[s] & mask)) for s in SCOPES},
            "certifie": {"oui": certified, "non": total - certified},
            "departements": [
                (None if i == 0 else self.departement.values[i - 1], int(c)) for i, c in enumerate(dep) if c
            ],
            "specialites": [(self.speciality.values[i], int(c)) for i, c in enumerate(spec) if c],
        }

    # -- map ---------------------------------------------------------------------------------------

    def clusters(self, mask: np.ndarray, query: ClusterQuery) -> list[tuple[Any, ...]]:
        """(count, mean lat, mean lon, south, north, west, east, position of one member) per grid cell
        of the Web Mercator grid at `query.zoom` (4 × 4 cells per tile) inside the bounding box."""
        n = cells(query.zoom)
        x1, y1 = mercator(query.nord, query.ouest)
        x2, y2 = mercator(query.sud, query.est)
        gx1, gx2, gy1, gy2 = int(x1 * n), int(x2 * n), int(y1 * n), int(y2 * n)
        with np.errstate(invalid="ignore"):
            inside = (
                mask
                & (self.mx >= gx1 / n)
                & (self.mx < (gx2 + 1) / n)
                & (self.my >= gy1 / n)
                & (self.my < (gy2 + 1) / n)
            )
        positions = np.flatnonzero(inside)
        if not len(positions):
            return []
        keys = (self.mx[positions] * n).astype(np.int64) * n + (self.my[positions] * n).astype(np.int64)
        order = np.argsort(keys, kind="stable")
        positions, keys = positions[order], keys[order]
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
        counts = np.diff(np.r_[starts, len(keys)])
        lat, lon = self.lat[positions], self.lon[positions]
        return list(
            zip(
                counts.tolist(),
                (np.add.reduceat(lat, starts) / counts).tolist(),
                (np.add.reduceat(lon, starts) / counts).tolist(),
                np.minimum.reduceat(lat, starts).tolist(),
                np.maximum.reduceat(lat, starts).tolist(),
                np.minimum.reduceat(lon, starts).tolist(),
                np.maximum.reduceat(lon, starts).tolist(),
                positions[starts].tolist(),
                strict=True,
            )
        )


# -- filter processors: (columns, filters, lookups) → mask or None, run in this order --------------

Processor = Callable[[Columns, Filters, Lookups], "np.ndarray | None"]


def text_matches(c: Columns, f: Filters, lookups: Lookups) -> np.ndarray | None:
    if lookups.understood is not None:
        found: np.ndarray = lookups.understood.mask
        return found
    if lookups.matches is None:
        return None
    m = np.zeros(c.size, dtype=bool)
    ids = lookups.matches[lookups.matches < len(c.position)]
    positions = c.position[ids]
    m[positions[positions >= 0]] = True
    return m


def scopes(c: Columns, f: Filters, lookups: Lookups) -> np.ndarray | None:
    """Organisations holding any of the scopes asked for."""
    if not f.portees:
        return None
    found: np.ndarray = np.logical_or.reduce([c.scopes[s] for s in f.portees])
    return found


def certified(c: Columns, f: Filters, lookups: Lookups) -> np.ndarray | None:
    return None if f.certifie is None else c.certified == f.certifie


def departement(c: Columns, f: Filters, lookups: Lookups) -> np.ndarray | None:
    return None if not f.departement else c.departement.codes == c.departement[f.departement]


def region(c: Columns, f: Filters, lookups: Lookups) -> np.ndarray | None:
    return None if not f.region else c.region.codes == c.region[f.region]


def commune(c: Columns, f: Filters, lookups: Lookups) -> np.ndarray | None:
    """In the commune, or in one of the communes it means (Lyon: its nine arrondissements)."""
    if not f.commune:
        return None
    codes = lookups.communes or (f.commune,)
    if len(codes) == 1:
        found: np.ndarray = c.commune.codes == c.commune[codes[0]]
        return found
    return np.isin(c.commune.codes, [c.commune[code] for code in codes])


def postal_code(c: Columns, f: Filters, lookups: Lookups) -> np.ndarray | None:
    """At that postal code, or in a commune it serves (a CEDEX code belongs to no commune)."""
    if not f.code_postal:
        return None
    served = [c.commune[code] for code in lookups.postal_communes]
    in_code = c.postal_code.codes == c.postal_code[f.code_postal]
    found: np.ndarray = in_code | np.isin(c.commune.codes, served)
    return found


def speciality(c: Columns, f: Filters, lookups: Lookups) -> np.ndarray | None:
    if not f.specialite:
        return None
    m = np.zeros(c.size, dtype=bool)
    m[c.speciality_owner[c.speciality.codes == c.speciality[f.specialite]]] = True
    return m


def status(c: Columns, f: Filters, lookups: Lookups) -> np.ndarray | None:
    return None if f.statut == "tous" else c.status.codes == c.status[f.statut]


def radius(c: Columns, f: Filters, lookups: Lookups) -> np.ndarray | None:
    """Within `rayon_km` of the centre: a bounding box first, then the great-circle distance."""
    if lookups.centre is None:
        return None
    lat0, lon0 = lookups.centre
    south, west, north, east = bbox_around(lat0, lon0, f.rayon_km)
    with np.errstate(invalid="ignore"):
        box = (c.lat >= south) & (c.lat <= north) & (c.lon >= west) & (c.lon <= east)
    positions = np.flatnonzero(box)
    m = np.zeros(c.size, dtype=bool)
    m[positions[haversine(c.lat[positions], c.lon[positions], lat0, lon0) <= f.rayon_km]] = True
    return m


PROCESSORS: tuple[Processor, ...] = (
    text_matches,
    scopes,
    certified,
    departement,
    region,
    commune,
    postal_code,
    speciality,
    status,
    radius,
)
