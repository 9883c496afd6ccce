"""/statistiques: a page to look at rather than read. A map of France (choropleth.py: inline SVG,
no script, no tiles) of the Qualiopi-certified organisations per 10,000 inhabitants in each
département, its legend and the table of every figure; per Qualiopi scope, the counts and what the
last update changed. The figures are the searcher's `statistiques()` (search/statistics.py), the
same as `/api/v1/statistiques` and its CSV files."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from . import choropleth
from .contours import directory_contours
from .pages import Renderer
from .text import SCOPE_SHORT, decimal


def per_inhabitants(row: dict[str, Any] | None) -> str:
    """What a département's tooltip says of it."""
    if row is None or row["certifies_pour_10000"] is None:
        return "population inconnue"
    value = row["certifies_pour_10000"]
    words = "organismes certifiés" if value >= 2 else "organisme certifié"  # French: plural from 2 on
    return f"{decimal(value)} {words} Qualiopi pour 10 000 habitants ({row['nb_certifies']} au total)"


def map_markup(drawn: choropleth.Drawing, figures: dict[str, Any]):
    rows = {r["code"]: r for r in figures["departements"]}
    count = len(figures["classes"])

    def label(code: str, name: str) -> str:
        row = rows.get(code)
        return f"{row['nom'] if row else name} ({code}) : {per_inhabitants(row)}"

    return choropleth.choropleth(
        drawn,
        {code: r["classe"] for code, r in rows.items()},
        count,
        "Carte de France des organismes certifiés Qualiopi pour 10 000 habitants, par département",
        f"Chaque département est coloré selon sa classe ({count} classes, de la plus claire à la plus "
        "foncée) ; les valeurs de chaque département sont dans le tableau qui suit la carte.",
        label,
    )


def build_statistics_router(renderer: Renderer) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/statistiques")
    async def statistics_page(request: Request):
        s = request.app.state.searcher
        figures = await run_in_threadpool(s.statistiques)
        path = await run_in_threadpool(
            directory_contours, request.app.state.db, s.version(), renderer.settings.reference_dir
        )
        drawn = await run_in_threadpool(choropleth.drawing, path) if path else None
        known = any(r["certifies_pour_10000"] is not None for r in figures["departements"])
        count = len(figures["classes"])
        legend = [{**c, "teinte": choropleth.tint(c["classe"], count)} for c in figures["classes"]]
        unknown = [r for r in figures["departements"] if r["classe"] is None]
        return renderer.page(
            request,
            "statistiques.html",
            {
                "f": figures,
                "carte": map_markup(drawn, figures) if drawn and known else None,
                "contours": drawn is not None,
                "populations": known,
                "legende": legend,
                "inconnus": unknown,
                "hachures": choropleth.hatching(),
                "swatch": choropleth.swatch,
                "teinte": lambda classe: choropleth.tint(classe, count),
                "scope_bars": [(SCOPE_SHORT[p["portee"]], p["nb_organismes"]) for p in figures["portees"]],
                "scope_short": SCOPE_SHORT,
            },
        )

    return router
