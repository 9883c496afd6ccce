"""The outlines of the départements drawn under the website's maps, so that France is recognisable
when no tile loads (no internet, a tile server down).

They come from the reference folder (`departements-contours.geojson`: Etalab's *contours
administratifs*, fetched with the other reference files, or the same kind of file given with
`--reference`): the folder named by `ANNUAIRE_REFERENCE_DIR`, else the one the directory was built
with (its build report says), else the reference cache. The server serves them simplified
(Ramer–Douglas–Peucker at about 1 km, coordinates to 4 decimals, properties `code` and `nom`
only), computed once per file and kept in memory: a few hundred kilobytes, fewer once gzipped."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ..sources.reference import CONTOURS_FILE
from ..store import open_store

log = logging.getLogger(__name__)
TOLERANCE = 0.01  # degrees: about 1 km, as Etalab's 1000 m files
DECIMALS = 4

T = TypeVar("T")
# What was made of an outlines file, per function: the file's version and the result.
_made: dict[Callable[[Any], Any], tuple[tuple[str, int, int], Any]] = {}
_found: dict[tuple, Path | None] = {}  # (directory, its version, folder set) → the outlines file


def contours_file(explicit: Path | None, build_report: dict | None) -> Path | None:
    """The outlines file to serve: in the configured reference folder, the build's, or the cache's."""
    from ..sources.reference_files import cache_folder

    built = (build_report or {}).get("reference")
    folders = [explicit, Path(built) if isinstance(built, str) and built else None, cache_folder()]
    for folder in folders:
        if folder and (folder / CONTOURS_FILE).is_file():
            return folder / CONTOURS_FILE
    return None


def directory_contours(db: str, version: str, explicit: Path | None) -> Path | None:
    """The outlines file of a directory (`contours_file`, with the folder its build report names),
    looked up once per version of the directory."""
    key = (db, version, explicit)
    if key not in _found:
        report = open_store(db).meta().get("build_report")
        _found.clear()
        _found[key] = contours_file(explicit, report if isinstance(report, dict) else None)
    return _found[key]


def simplify_line(points: np.ndarray, tolerance: float) -> np.ndarray:
    """Ramer–Douglas–Peucker on one ring or line (iterative): the points farther than `tolerance`
    from the chord of their stretch are kept."""
    if len(points) < 3:
        return points
    keep = np.zeros(len(points), dtype=bool)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        if last - first < 2:
            continue
        start, end = points[first], points[last]
        inner = points[first + 1 : last]
        chord = end - start
        length = float(np.hypot(*chord))
        if length == 0.0:
            distances = np.hypot(*(inner - start).T)
        else:
            distances = (
                np.abs(chord[0] * (inner[:, 1] - start[1]) - chord[1] * (inner[:, 0] - start[0])) / length
            )
        index = int(np.argmax(distances))
        if distances[index] > tolerance:
            middle = first + 1 + index
            keep[middle] = True
            stack += [(first, middle), (middle, last)]
    return points[keep]


def _ring(coordinates: list, tolerance: float) -> list | None:
    points = np.asarray(coordinates, dtype=float)[:, :2]
    simplified = simplify_line(points, tolerance)
    if len(simplified) < 4:  # an islet smaller than the tolerance: left out
        return None
    return np.round(simplified, DECIMALS).tolist()


def _polygon(rings: list, tolerance: float) -> list | None:
    outer = _ring(rings[0], tolerance)
    if outer is None:
        return None
    holes = [r for r in (_ring(hole, tolerance) for hole in rings[1:]) if r is not None]
    return [outer, *holes]


def simplify_geojson(data: dict[str, Any], tolerance: float = TOLERANCE) -> dict[str, Any]:
    """A FeatureCollection of (Multi)Polygons, simplified, with `code` and `nom` properties only
    (Etalab's files also name them so; other files' `code_insee`/`NOM` are read too)."""
    features = []
    for feature in data.get("features") or []:
        geometry = feature.get("geometry") or {}
        props = feature.get("properties") or {}
        polygons = (
            [geometry.get("coordinates")]
            if geometry.get("type") == "Polygon"
            else geometry.get("coordinates") or []
            if geometry.get("type") == "MultiPolygon"
            else []
        )
        kept = [p for p in (_polygon(rings, tolerance) for rings in polygons if rings) if p is not None]
        if not kept:
            continue
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "code": str(props.get("code") or props.get("code_insee") or props.get("CODE_DEPT") or ""),
                    "nom": str(props.get("nom") or props.get("NOM") or props.get("NOM_DEPT") or ""),
                },
                "geometry": {"type": "MultiPolygon", "coordinates": kept},
            }
        )
    return {"type": "FeatureCollection", "features": features}


def from_outlines(path: Path, make: Callable[[Any], T]) -> T | None:
    """`make` applied to an outlines file's JSON, once per version of the file (its path, time and
    size) and per `make`; None when the file cannot be read or made into anything (a warning says
    why, once per version)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    known = _made.get(make)
    if known is None or known[0] != key:
        try:
            value: T | None = make(json.loads(path.read_bytes()))
        except (OSError, ValueError, TypeError, IndexError, KeyError) as exc:
            log.warning("département outlines unreadable", extra={"file": str(path), "error": str(exc)})
            value = None
        _made[make] = known = (key, value)
    return known[1]


def _simplified(data: Any) -> tuple[bytes, str]:
    body = json.dumps(simplify_geojson(data), separators=(",", ":"), ensure_ascii=False).encode()
    return body, '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def simplified_contours(path: Path) -> tuple[bytes, str] | None:
    """The simplified outlines as JSON bytes and their ETag, computed once per file version; None
    when the file cannot be read."""
    return from_outlines(path, _simplified)
