"""Rendering: the Jinja2 environment, its filters, and HTML responses with cache headers."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from .. import gazetteer
from . import slugs, text
from .charts import bar_chart
from .history import event_sentence

TEMPLATES = Path(__file__).with_name("templates")
CACHE_CONTROL = "public, max-age=300"


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "xml"]),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(
        nice_name=text.nice_name,
        french_date=text.french_date,
        number=text.number,
        decimal=text.decimal,
        signed=text.signed,
        org_path=slugs.organisation_path,
        # A département or a région (a dict with `nom` and `type_liaison`) in a sentence.
        de=lambda t: gazetteer.of_name(t["nom"], t.get("type_liaison")),
        le=lambda t: gazetteer.with_article(t["nom"], t.get("type_liaison")),
        en=lambda t: gazetteer.in_name(t["nom"], t.get("type_liaison")),
    )
    env.globals.update(
        SCOPE_LABELS=text.SCOPE_LABELS,
        SCOPE_SHORT=text.SCOPE_SHORT,
        FIELD_LABELS=text.FIELD_LABELS,
        provenance_value=text.provenance_value,
        scopes_of=text.scopes_of,
        event_sentence=event_sentence,
        score_text=lambda points: f"{points:g}".replace(".", ","),  # 83.5 → "83,5", 25.0 → "25"
        departement_path=slugs.departement_path,
        commune_path=slugs.commune_path,
        region_path=slugs.region_path,
        bar_chart=bar_chart,
        plural=text.plural,
        region_bars=lambda items: [(f"{d['nom']} ({d['code']})", d["nb_organismes"]) for d in items],
        speciality_bars=lambda items: [(i["libelle"] or i["code"], i["nombre"]) for i in items],
    )
    return env


class Renderer:
    def __init__(self, settings):
        self.settings = settings
        self.env = environment()

    def base_url(self, request: Request) -> str:
        return self.settings.site_url or str(request.base_url).rstrip("/")

    def page(
        self, request: Request, template: str, context: dict[str, Any], *, status_code: int = 200
    ) -> HTMLResponse:
        base = self.base_url(request)
        html = self.env.get_template(template).render(
            request=request,
            base_url=base,
            canonical=base + context.pop("canonical_path", request.url.path),
            tile_url=self.settings.tile_url,
            tile_attribution=self.settings.tile_attribution,
            map_assets=self.settings.node_modules is not None,
            today=date.today(),
            **context,
        )
        return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": CACHE_CONTROL})
