"""The pages on the data itself: `/sources` (where it comes from, profiles and trust scores),
`/qualite` (the quality report of what we publish), `/donnees/` (the open-data files to download)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from ..exports import schema, serving
from ..exports.files import DATA_PACKAGE
from ..store import open_store
from ..trust.quality import cached_quality_report
from ..trust.sources import sources_document
from .pages import Renderer

FILE_WORDS = {
    "declarations": "une ligne par déclaration (NDA)",
    "organismes": "une ligne par établissement (déclarations regroupées par SIRET)",
    "quarantaine": "les enregistrements écartés, avec leur motif",
    "provenance": "ce que dit chaque source (listes des certificateurs et des réseaux, Liste publique) "
    "de chaque organisme, champ par champ, et son accord avec la Liste publique",
}
FORMAT_WORDS = {
    "csv": "CSV (UTF-8, séparateur virgule)",
    "json": "JSON (tableau d'objets)",
    "geojson": "GeoJSON (points WGS 84)",
    "parquet": "Parquet (colonnes typées)",
}


def _size(octets: int) -> str:
    if octets >= 1_000_000:
        return f"{octets / 1_000_000:.1f} Mo".replace(".", ",")
    return f"{max(1, round(octets / 1000))} ko"


def build_data_router(renderer: Renderer) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/sources")
    async def sources(request: Request):
        document = sources_document(request.app.state.db)
        return renderer.page(request, "sources.html", {"document": document})

    @router.get("/qualite")
    async def quality(request: Request):
        db = request.app.state.db
        report = await run_in_threadpool(cached_quality_report, open_store(db), db)
        bars = [(r["libelle"], r["nombre"]) for r in report["geocodage"]["precision"]]
        return renderer.page(request, "qualite.html", {"q": report, "precision_bars": bars})

    @router.get("/donnees/")
    async def downloads(request: Request):
        folder = await run_in_threadpool(serving.prepared_folder, request.app.state.db)
        files = serving.listing(folder) if folder else []
        package: dict[str, Any] = {}
        if folder is not None:
            try:
                package = json.loads((folder / DATA_PACKAGE).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                package = {}
        tables: list[dict[str, Any]] = []
        for table in schema.TABLES:
            items = [f for f in files if f["table"] == table and f["format"] in FORMAT_WORDS]
            if items:
                tables.append({"table": table, "words": FILE_WORDS[table], "files": items})
        listed = {f["fichier"] for t in tables for f in t["files"]}
        extra = [f for f in files if f["fichier"] not in listed]
        context = {
            "preparing": folder is None,
            "tables": tables,
            "metadata_files": extra,
            "package": package,
            "format_words": FORMAT_WORDS,
            "size": _size,
            "fields": schema.TABLES["declarations"][0],
        }
        return renderer.page(request, "donnees.html", context)

    return router
