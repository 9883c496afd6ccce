"""SIRENE's positions in WGS 84 (latitude, longitude), from the projected coordinates INSEE publishes.

INSEE gives each establishment's position (`coordonneeLambertAbscisseEtablissement`,
`coordonneeLambertOrdonneeEtablissement`) in metres, in the legal system of the territory: Lambert-93
(EPSG 2154) in metropolitan France, UTM zones overseas — EPSG 5490 (RGAF09 / UTM 20N) in the
Antilles (Guadeloupe, Martinique, Saint-Barthélemy, Saint-Martin), 2972 (RGFG95 / UTM 22N) in Guyane,
2975 (RGR92 / UTM 40S) in La Réunion, 4471 (RGM04 / UTM 38S) in Mayotte, 4467 (RGSPM06 / UTM 21N) in
Saint-Pierre-et-Miquelon. The system is told by the commune's département. pyproj (PROJ) converts them,
many at a time.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from functools import cache

from ..clean.postal import departement_of_commune

LAMBERT_93 = 2154
OVERSEAS = {
    "971": 5490,
    "972": 5490,
    "977": 5490,
    "978": 5490,
    "973": 2972,
    "974": 2975,
    "976": 4471,
    "975": 4467,
}
# Where each system's positions may fall (south, north, west, east), generously: a position outside
# is a typing or projection error, not a place.
BOUNDS = {
    LAMBERT_93: (41.0, 51.6, -5.8, 10.0),
    5490: (14.0, 18.6, -63.6, -60.5),
    2972: (1.8, 6.0, -55.0, -51.2),
    2975: (-21.7, -20.6, 54.9, 56.1),
    4471: (-13.2, -12.4, 44.8, 45.5),
    4467: (46.5, 47.4, -56.6, -55.9),
}


def crs_of(code_commune: str) -> int | None:
    """The EPSG code INSEE uses for a commune's positions; None outside France's territories."""
    departement = departement_of_commune(code_commune or "")
    if departement in OVERSEAS:
        return OVERSEAS[departement]
    if len(departement) == 2 and departement[:2] not in ("97", "98"):
        return LAMBERT_93
    return None


@cache
def _transformer(epsg: int):
    from pyproj import Transformer  # imported when needed: PROJ's database takes a moment to open

    return Transformer.from_crs(f"EPSG:{epsg}", "EPSG:4326", always_xy=True)


def _number(text: str | None) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        try:
            value = float(text.strip().replace(",", "."))
        except ValueError:
            return None
    return value if math.isfinite(value) else None


def to_wgs84(points: Sequence[tuple[str | None, str | None, str | None]]) -> list[tuple[float, float] | None]:
    """(x, y, commune code) as INSEE writes them → (latitude, longitude) rounded to 7 decimals
    (about a centimetre), or None: no position, `[ND]`, an unknown territory, or a point outside it."""
    out: list[tuple[float, float] | None] = [None] * len(points)
    by_crs: dict[int, list[tuple[int, float, float]]] = defaultdict(list)
    for i, (x, y, commune) in enumerate(points):
        fx, fy = _number(x), _number(y)
        epsg = crs_of(commune) if commune else None
        if fx is not None and fy is not None and epsg is not None and (fx, fy) != (0.0, 0.0):
            by_crs[epsg].append((i, fx, fy))
    for epsg, chosen in by_crs.items():
        lons, lats = _transformer(epsg).transform([p[1] for p in chosen], [p[2] for p in chosen])
        south, north, west, east = BOUNDS[epsg]
        for (i, _, _), lat, lon in zip(chosen, lats, lons, strict=True):
            if math.isfinite(lat) and math.isfinite(lon) and south <= lat <= north and west <= lon <= east:
                out[i] = (round(lat, 7), round(lon, 7))
    return out
