"""Great-circle distances, bounding boxes and the Web Mercator grid used for map clusters."""

from __future__ import annotations

import math

EARTH_RADIUS_KM = 6371.0088
CELLS_PER_TILE = 4  # a 256-pixel tile holds 4 × 4 cluster cells of 64 pixels


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def bbox_around(lat: float, lon: float, km: float) -> tuple[float, float, float, float]:
    """(south, west, north, east) holding every point within `km` of (lat, lon), with a margin."""
    dlat = math.degrees(km / EARTH_RADIUS_KM) * 1.001 + 1e-4
    coslat = math.cos(math.radians(min(89.0, abs(lat) + dlat)))
    dlon = min(180.0, dlat / max(coslat, 1e-6))
    return lat - dlat, lon - dlon, lat + dlat, lon + dlon


def mercator(lat: float, lon: float) -> tuple[float, float]:
    """Web Mercator (x, y) in [0, 1): x eastwards from 180°W, y southwards from 85.05°N."""
    phi = math.radians(max(-85.05112878, min(85.05112878, lat)))
    return (lon + 180.0) / 360.0, (1.0 - math.log(math.tan(phi) + 1.0 / math.cos(phi)) / math.pi) / 2.0


def cells(zoom: int) -> int:
    """Number of cluster cells across the world at a zoom level."""
    return CELLS_PER_TILE << zoom
