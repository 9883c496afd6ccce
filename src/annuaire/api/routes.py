"""The /api/v1/ endpoints. Each answers JSON with an ETag; errors are 404, 422 or 429, never 500.

Handlers are `async` although the search is synchronous: a request takes a millisecond or two of
CPU, less than a hop to the thread pool and back costs; workers (processes) give the parallelism."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response

from ..search import ClusterQuery, QueryError, Searcher, SearchQuery
from ..search.statistics import csv_tables
from . import models
from .parameters import Carte, Recherche, openapi_parameters, query_model, searcher
from .responses import csv_response, error_response, json_response

ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": models.Erreur, "description": "Introuvable"},
    422: {"description": "Paramètre invalide"},
    410: {"model": models.Organisme, "description": "Retiré de la Liste publique (données conservées)"},
    429: {"model": models.Erreur, "description": "Trop de requêtes (voir Retry-After)"},
}

router = APIRouter(prefix="/api/v1", responses={422: ERRORS[422], 429: ERRORS[429]})
Search = Annotated[Searcher, Depends(searcher)]
Code = Annotated[str, Path(max_length=20)]


def not_found(what: str) -> Response:
    return error_response(404, f"{what} introuvable")


@router.get(
    "/organismes",
    response_model=models.ResultatRecherche,
    tags=["organismes"],
    openapi_extra=openapi_parameters(Recherche),
)
async def search_organisations(
    request: Request, s: Search, p: Annotated[Recherche, Depends(query_model(Recherche))]
) -> Response:
    """Recherche d'organismes : texte, filtres, rayon autour d'un point ou d'une commune, facettes."""
    query = SearchQuery(
        p.filters(), tri=p.tri, page=p.page, par_page=p.par_page, facettes=p.facettes
    ).checked()
    return json_response(request, s.search(query))


@router.get(
    "/organismes/{id}",
    response_model=models.Organisme,
    responses={404: ERRORS[404], 410: ERRORS[410]},
    tags=["organismes"],
)
async def get_organisation(request: Request, s: Search, id: Annotated[str, Path(max_length=40)]) -> Response:
    """Un organisme par son identifiant, un SIRET, un NDA ou un ancien NDA (espaces permis).

    Un organisme retiré de la Liste publique répond 410, avec ses données et son historique."""
    found = s.organisation(id)
    if not found:
        return not_found("organisme")
    return json_response(request, found, status_code=410 if found["statut"] == "supprime" else 200)


@router.get("/departements", response_model=list[models.DepartementResume], tags=["territoires"])
async def list_departements(request: Request, s: Search) -> Response:
    """Les départements avec leur nombre d'organismes actifs et certifiés."""
    return json_response(request, s.departements())


@router.get(
    "/departements/{code}",
    response_model=models.Departement,
    responses={404: ERRORS[404]},
    tags=["territoires"],
)
async def get_departement(request: Request, s: Search, code: Code) -> Response:
    """Statistiques d'un département : portées, spécialités et communes les plus représentées."""
    found = s.departement(code.upper())
    return json_response(request, found) if found else not_found("département")


@router.get("/regions", response_model=list[models.Region], tags=["territoires"])
async def list_regions(request: Request, s: Search) -> Response:
    """Les régions, leurs départements et leurs nombres d'organismes."""
    return json_response(request, s.regions())


@router.get(
    "/communes/{code}", response_model=models.Commune, responses={404: ERRORS[404]}, tags=["territoires"]
)
async def get_commune(request: Request, s: Search, code: Code) -> Response:
    """Une commune par son code INSEE, avec ses codes postaux et ses nombres d'organismes."""
    found = s.commune(code.upper())
    return json_response(request, found) if found else not_found("commune")


@router.get("/specialites", response_model=list[models.SpecialiteCompte], tags=["référentiels"])
async def list_specialites(request: Request, s: Search) -> Response:
    """Les spécialités de formation (NSF) avec leur nombre d'organismes actifs."""
    return json_response(request, s.specialites())


@router.get(
    "/clusters", response_model=models.Grappes, tags=["carte"], openapi_extra=openapi_parameters(Carte)
)
async def get_clusters(
    request: Request, s: Search, p: Annotated[Carte, Depends(query_model(Carte))]
) -> Response:
    """Regroupements pour une carte : grappes (nombre, centre, emprise) et organismes isolés."""
    try:
        ouest, sud, est, nord = (float(v) for v in p.bbox.split(","))
    except ValueError:
        raise QueryError(
            "bbox", "quatre nombres séparés par des virgules attendus : ouest,sud,est,nord"
        ) from None
    query = ClusterQuery(ouest, sud, est, nord, p.zoom, p.filters()).checked()
    return json_response(request, s.clusters(query))


@router.get("/stats", response_model=models.Statistiques, tags=["référentiels"])
async def get_stats(request: Request, s: Search) -> Response:
    """Chiffres clés de l'annuaire."""
    return json_response(request, s.stats())


CSV_FILE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "Fichier CSV (UTF-8, séparateur virgule, vide pour une valeur inconnue)",
    }
}


@router.get("/statistiques", response_model=models.StatistiquesQualiopi, tags=["statistiques"])
async def get_statistics(request: Request, s: Search) -> Response:
    """Les chiffres de la page Statistiques : par département, la population (Code officiel
    géographique), les organismes actifs et certifiés Qualiopi et leur nombre pour 10 000 habitants,
    avec la classe de la carte ; par portée Qualiopi, les organismes et déclarations certifiés et ce
    qu'a changé la dernière mise à jour (d'après l'historique des déclarations)."""
    return json_response(request, s.statistiques())


@router.get(
    "/statistiques/departements.csv", tags=["statistiques"], response_class=Response, responses=CSV_FILE
)
async def get_statistics_departements_csv(request: Request, s: Search) -> Response:
    """Les chiffres par département, en CSV (colonnes : code_departement, nom, code_region, population,
    nb_organismes, nb_certifies, certifies_pour_10000, classe)."""
    columns, rows = csv_tables(s.statistiques())["departements"]
    return csv_response(request, columns, rows, "statistiques-departements.csv")


@router.get("/statistiques/portees.csv", tags=["statistiques"], response_class=Response, responses=CSV_FILE)
async def get_statistics_portees_csv(request: Request, s: Search) -> Response:
    """Les chiffres par portée Qualiopi et les changements de la dernière mise à jour, en CSV (colonnes :
    portee, libelle, nb_organismes, nb_declarations, declarations_ajoutees, portee_obtenue,
    declarations_retirees, portee_retiree, solde, date_mise_a_jour, date_precedente)."""
    columns, rows = csv_tables(s.statistiques())["portees"]
    return csv_response(request, columns, rows, "statistiques-portees.csv")
