"""/api/v1/sources, /api/v1/qualite and /api/v1/exports: where the data comes from, how good it is,
and the open-data files to download."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from ..exports import serving
from ..store import open_store
from ..trust.quality import cached_quality_report
from ..trust.sources import sources_document
from .responses import error_response, json_response

router = APIRouter(prefix="/api/v1")


class FichierExport(BaseModel):
    fichier: str = Field(description="Nom du fichier, par exemple organismes.csv")
    table: str | None = Field(
        description="declarations, organismes, quarantaine ou provenance ; vide pour les métadonnées"
    )
    format: str = Field(
        description="csv, json, geojson, parquet, schema (Table Schema) ou json (datapackage)"
    )
    octets: int
    lignes: int | None = Field(description="Nombre de lignes (fichiers de données)")
    url: str = Field(description="Chemin de téléchargement")


class ListeExports(BaseModel):
    fichiers: list[FichierExport]


class AxeConfiance(BaseModel):
    axe: str
    libelle: str
    poids: int
    points: float
    part: float
    explication: str = Field(description="Pourquoi ces points, en français")


class ScoreConfiance(BaseModel):
    total: float = Field(description="Somme des points des axes, sur 100")
    sur: int
    axes: list[AxeConfiance]


class SourceResume(BaseModel, extra="allow"):
    cle: str = Field(description="liste-publique, laposte")
    titre: str
    role: str
    score: ScoreConfiance


class ListeSources(BaseModel):
    genere_le: str | None
    sources: list[SourceResume]
    message: str | None = None


def database(request: Request) -> str:
    return request.app.state.db


@router.get("/sources", tags=["sources et qualité"], response_model=ListeSources)
async def list_sources(request: Request) -> Response:
    """Les jeux de données sources : profil (colonnes, formats détectés, volume), fraîcheur, licence,
    complétude des métadonnées, disponibilité et score de confiance (sur 100) expliqué axe par axe."""
    return json_response(request, sources_document(database(request)))


@router.get(
    "/sources/{cle}", tags=["sources et qualité"], responses={404: {"description": "Source inconnue"}}
)
async def get_source(request: Request, cle: Annotated[str, Path(max_length=40)]) -> Response:
    """Une source (`liste-publique`, `laposte`)."""
    for source in sources_document(database(request))["sources"]:
        if source["cle"] == cle:
            return json_response(request, source)
    return error_response(404, "source introuvable")


@router.get("/qualite", tags=["sources et qualité"])
async def get_quality(request: Request) -> Response:
    """Rapport de qualité des données publiées : réparations, quarantaine par motif, précision du
    géocodage, doublons fusionnés, complétude de chaque colonne."""
    db = database(request)
    report = await run_in_threadpool(cached_quality_report, open_store(db), db)
    return json_response(request, report)


PREPARING: dict[int | str, dict[str, Any]] = {
    503: {"description": "Fichiers en préparation (après une construction ou une mise à jour)"}
}


def preparing() -> Response:
    return error_response(
        503, "fichiers d'export en préparation : réessayez dans une minute", headers={"Retry-After": "60"}
    )


@router.get("/exports", tags=["données ouvertes"], response_model=ListeExports, responses=PREPARING)
async def list_exports(request: Request) -> Response:
    """Les fichiers téléchargeables (CSV, JSON, GeoJSON, Parquet, schémas Table Schema, datapackage.json)."""
    folder = await run_in_threadpool(serving.prepared_folder, database(request))
    if folder is None:
        return preparing()
    return json_response(request, {"fichiers": serving.listing(folder)})


@router.get(
    "/exports/{fichier}",
    tags=["données ouvertes"],
    responses={404: {"description": "Fichier inconnu"}, **PREPARING},
)
async def download_export(request: Request, fichier: Annotated[str, Path(max_length=60)]) -> Response:
    """Un fichier d'export, par son nom (par exemple `organismes.csv`, `schema.json`)."""
    if fichier not in serving.DOWNLOADS and fichier not in serving.METADATA_FILES:
        return error_response(404, "fichier d'export inconnu")
    folder = await run_in_threadpool(serving.prepared_folder, database(request))
    if folder is None:
        return preparing()
    path = folder / fichier
    if not path.is_file():
        return error_response(404, "fichier d'export absent du dossier d'export")
    fmt = fichier.rsplit(".", 1)[1]
    media = serving.MEDIA_TYPES.get(fmt, "application/octet-stream")
    if fmt == "csv":
        media += "; charset=utf-8"
    return FileResponse(
        path,
        media_type=media,
        filename=fichier,
        headers={"Cache-Control": "public, max-age=300"},
    )
