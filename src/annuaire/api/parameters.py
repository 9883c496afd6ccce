"""Query parameters shared by the search and the map, as FastAPI dependencies (documented in OpenAPI)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query, Request

from ..search import Searcher
from ..search.params import MAX_PAGE, MAX_PAGE_SIZE, MAX_RADIUS_KM, MAX_TEXT, Filters

# Patterns as documented in OpenAPI (lower-case 2a/2b accepted); params.py checks the same codes.
DEPARTEMENT = r"^(0[1-9]|[1-8][0-9]|9[0-5]|2[AaBb]|97[1-8]|98[4-9])$"
REGION = r"^[0-9]{2}$"
COMMUNE = r"^([0-9]{5}|2[AaBb][0-9]{3})$"
CODE_POSTAL = r"^[0-9]{5}$"
SPECIALITE = r"^[0-9A-Za-z]{1,10}$"

Portee = Literal["actions_formation", "bilans_competences", "vae", "apprentissage"]


async def searcher(request: Request) -> Searcher:
    return request.app.state.searcher


async def filters(
    q: Annotated[
        str,
        Query(
            max_length=MAX_TEXT,
            description="Texte : nom, commune, ou un identifiant (NDA, SIRET, SIREN, espaces permis). "
            "Insensible à la casse et aux accents ; le dernier mot est un préfixe.",
        ),
    ] = "",
    portee: Annotated[
        list[Portee],
        Query(description="Portée(s) Qualiopi : organismes certifiés pour l'une au moins."),
    ] = [],  # noqa: B006 - FastAPI copies defaults
    certifie: Annotated[
        bool | None, Query(description="Certifié Qualiopi (au moins une portée) ou non.")
    ] = None,
    departement: Annotated[
        str | None, Query(pattern=DEPARTEMENT, description="Code de département : 01, 2A, 974…")
    ] = None,
    region: Annotated[str | None, Query(pattern=REGION, description="Code de région (COG) : 11, 84…")] = None,
    commune: Annotated[str | None, Query(pattern=COMMUNE, description="Code INSEE de la commune.")] = None,
    code_postal: Annotated[str | None, Query(pattern=CODE_POSTAL, description="Code postal.")] = None,
    specialite: Annotated[
        str | None, Query(pattern=SPECIALITE, description="Code NSF de spécialité.")
    ] = None,
    statut: Annotated[
        Literal["actif", "supprime", "tous"], Query(description="actif (défaut), supprime, ou tous.")
    ] = "actif",
    lat: Annotated[float | None, Query(ge=-90, le=90, description="Latitude du centre (avec lon).")] = None,
    lon: Annotated[
        float | None, Query(ge=-180, le=180, description="Longitude du centre (avec lat).")
    ] = None,
    autour: Annotated[
        str | None,
        Query(
            pattern=COMMUNE,
            description="Centre : code postal, ou à défaut code INSEE de commune (exclut lat/lon).",
        ),
    ] = None,
    rayon: Annotated[
        float, Query(gt=0, le=MAX_RADIUS_KM, description="Rayon autour du centre, en km.")
    ] = 10.0,
) -> Filters:
    return Filters(
        q=q,
        portees=tuple(portee),
        certifie=certifie,
        departement=departement,
        region=region,
        commune=commune,
        code_postal=code_postal,
        specialite=specialite,
        statut=statut,
        lat=lat,
        lon=lon,
        autour=autour,
        rayon_km=rayon,
    )


Tri = Literal["pertinence", "distance", "nom", "date"]
Page = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Numéro de page, à partir de 1.")]
ParPage = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Résultats par page (100 au plus).")]
