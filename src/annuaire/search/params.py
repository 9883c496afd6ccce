"""What a search asks for, checked before any SQL runs (pure: no I/O)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from ..fields import SCOPE_CODES

SCOPES = SCOPE_CODES  # the Qualiopi scopes (fields.py)
SORTS = ("pertinence", "distance", "nom", "date")
STATUSES = ("actif", "supprime", "tous")
MAX_PAGE_SIZE = 100
MAX_PAGE = 10_000
MAX_TEXT = 200
MAX_PLACE_TEXT = 100  # what `autour` may hold: a place's name, a postal or INSEE code
MAX_RADIUS_KM = 200.0
MAX_ZOOM = 20
MAX_CELLS_ACROSS = 128  # a map request covers at most 128 × 128 cluster cells

DEPARTEMENT = re.compile(r"^(0[1-9]|[1-8][0-9]|9[0-5]|2A|2B|97[1-8]|98[4-9])$")
REGION = re.compile(r"^[0-9]{2}$")
COMMUNE = re.compile(r"^([0-9]{5}|2A[0-9]{3}|2B[0-9]{3})$")
CODE_POSTAL = re.compile(r"^[0-9]{5}$")
SPECIALITE = re.compile(r"^[0-9A-Za-z]{1,10}$")


class QueryError(ValueError):
    """A parameter that cannot be used: which one, and why (shown to the caller)."""

    def __init__(self, param: str, message: str):
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message


def _code(value: str | None, pattern: re.Pattern[str], param: str, expected: str) -> str | None:
    if value is None or value == "":
        return None
    value = value.strip().upper()
    if not pattern.match(value):
        raise QueryError(param, f"{expected} attendu, reçu {value[:40]!r}")
    return value


@dataclass(frozen=True)
class Filters:
    """Conditions on organisations shared by the list, its facets and the map."""

    q: str = ""
    portees: tuple[str, ...] = ()
    certifie: bool | None = None
    departement: str | None = None
    region: str | None = None
    commune: str | None = None
    code_postal: str | None = None
    specialite: str | None = None
    statut: str = "actif"
    lat: float | None = None
    lon: float | None = None
    autour: str | None = None
    rayon_km: float = 10.0
    correction: bool = True  # correct the spelling of words nobody uses (search/spelling.py)

    def checked(self) -> Filters:
        """A copy with codes normalised; QueryError on the first unusable parameter."""
        q = " ".join((self.q or "").replace("\x00", " ").split())
        if len(q) > MAX_TEXT:
            raise QueryError("q", f"au plus {MAX_TEXT} caractères")
        for scope in self.portees:
            if scope not in SCOPES:
                raise QueryError("portee", f"une de {', '.join(SCOPES)} attendue, reçu {scope[:40]!r}")
        if self.statut not in STATUSES:
            raise QueryError("statut", f"une de {', '.join(STATUSES)} attendue")
        if (self.lat is None) != (self.lon is None):
            raise QueryError("lat" if self.lat is None else "lon", "lat et lon vont ensemble")
        if self.lat is not None and not (math.isfinite(self.lat) and -90 <= self.lat <= 90):
            raise QueryError("lat", "latitude entre -90 et 90 attendue")
        if self.lon is not None and not (math.isfinite(self.lon) and -180 <= self.lon <= 180):
            raise QueryError("lon", "longitude entre -180 et 180 attendue")
        if not (math.isfinite(self.rayon_km) and 0 < self.rayon_km <= MAX_RADIUS_KM):
            raise QueryError("rayon", f"rayon en km, plus de 0 et au plus {MAX_RADIUS_KM:g}")
        # A place as typed (name, postal code, INSEE code): the searcher resolves it (gazetteer.py).
        autour = " ".join(self.autour.replace("\x00", " ").split()) if self.autour else None
        if autour and len(autour) > MAX_PLACE_TEXT:
            raise QueryError("autour", f"au plus {MAX_PLACE_TEXT} caractères")
        if autour and self.lat is not None:
            raise QueryError("autour", "autour et lat/lon s'excluent")
        return Filters(
            q=q,
            portees=tuple(dict.fromkeys(self.portees)),
            certifie=self.certifie,
            departement=_code(self.departement, DEPARTEMENT, "departement", "code de département"),
            region=_code(self.region, REGION, "region", "code de région (2 chiffres)"),
            commune=_code(self.commune, COMMUNE, "commune", "code INSEE de commune"),
            code_postal=_code(self.code_postal, CODE_POSTAL, "code_postal", "code postal (5 chiffres)"),
            specialite=_code(self.specialite, SPECIALITE, "specialite", "code NSF"),
            statut=self.statut,
            lat=self.lat,
            lon=self.lon,
            autour=autour,
            rayon_km=self.rayon_km,
            correction=self.correction,
        )

    @property
    def has_centre(self) -> bool:
        return self.lat is not None or bool(self.autour)


@dataclass(frozen=True)
class SearchQuery:
    filters: Filters = field(default_factory=Filters)
    tri: str = "pertinence"
    page: int = 1
    par_page: int = 20
    facettes: bool = False

    def checked(self) -> SearchQuery:
        filters = self.filters.checked()
        if self.tri not in SORTS:
            raise QueryError("tri", f"un de {', '.join(SORTS)} attendu")
        if self.tri == "distance" and not filters.has_centre:
            raise QueryError("tri", "le tri par distance demande un centre (lat/lon ou autour)")
        if not 1 <= self.page <= MAX_PAGE:
            raise QueryError("page", f"page entre 1 et {MAX_PAGE} attendue")
        if not 1 <= self.par_page <= MAX_PAGE_SIZE:
            raise QueryError("par_page", f"entre 1 et {MAX_PAGE_SIZE} résultats par page")
        return SearchQuery(filters, self.tri, self.page, self.par_page, self.facettes)


@dataclass(frozen=True)
class ClusterQuery:
    """Map clusters for a bounding box at a zoom level, for the organisations matching `filters`."""

    ouest: float
    sud: float
    est: float
    nord: float
    zoom: int
    filters: Filters = field(default_factory=Filters)

    def checked(self) -> ClusterQuery:
        from .geo import cells, mercator

        if not 0 <= self.zoom <= MAX_ZOOM:
            raise QueryError("zoom", f"niveau de zoom entre 0 et {MAX_ZOOM} attendu")
        values = (self.ouest, self.sud, self.est, self.nord)
        if not all(math.isfinite(v) for v in values):
            raise QueryError("bbox", "quatre nombres attendus : ouest,sud,est,nord")
        if not (-180 <= self.ouest < self.est <= 180 and -90 <= self.sud < self.nord <= 90):
            raise QueryError(
                "bbox", "ouest < est (entre -180 et 180) et sud < nord (entre -90 et 90) attendus"
            )
        x1, y1 = mercator(self.nord, self.ouest)
        x2, y2 = mercator(self.sud, self.est)
        n = cells(self.zoom)
        if (x2 - x1) * n > MAX_CELLS_ACROSS or (y2 - y1) * n > MAX_CELLS_ACROSS:
            raise QueryError("bbox", "zone trop grande pour ce niveau de zoom")
        return ClusterQuery(self.ouest, self.sud, self.est, self.nord, self.zoom, self.filters.checked())
