"""The public website: server-rendered French pages (Jinja2) over the search layer, enhanced by small
vanilla scripts; Leaflet for maps (served from the project's node_modules, installed by npm).

`slugs` builds and parses clean URLs, `text` the words shown (descriptions, dates, numbers),
`jsonld` the structured data, `charts` inline SVG, `sitemap` the sitemap files, `pages` the
rendering, `routes` the pages themselves, `corrections` the correction form, `admin` the moderation
area, `security` their CSRF tokens, sessions and rate limits, `guides` the editorial guides,
`statistics` the statistics page with its map (`choropleth`);
`mount_website` adds all of it to the FastAPI app."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles

from ..guides import GuideLibrary, default_folder
from .admin import build_admin_router
from .corrections import build_corrections_router
from .data_pages import build_data_router
from .errors import PageError, error_page
from .guides import build_guides_router
from .legal import build_legal_router
from .pages import Renderer
from .routes import build_router
from .settings import WebSettings
from .statistics import build_statistics_router
from .unavailable import install as install_unavailable

__all__ = ["WebSettings", "mount_website"]
STATIC = Path(__file__).with_name("static")
log = logging.getLogger(__name__)


def mount_website(app: FastAPI, settings: WebSettings) -> None:
    renderer = Renderer(settings)
    guides = GuideLibrary(settings.guides_dir or default_folder())
    renderer.env.globals["guides_for"] = guides.for_departement  # listed on département pages
    app.include_router(build_router(renderer, more_paths=guides.site_paths))
    app.include_router(build_corrections_router(renderer))  # the correction form (needs app.state.guard)
    app.include_router(build_admin_router(renderer))  # /admin/: moderation
    app.include_router(build_guides_router(renderer, guides))
    app.include_router(build_data_router(renderer))  # /sources, /qualite, /donnees/
    app.include_router(build_legal_router(renderer))  # mentions légales, accessibilité, données personnelles
    app.include_router(build_statistics_router(renderer))  # /statistiques: the map and figures
    app.mount("/static/site", StaticFiles(directory=STATIC), name="static")
    if settings.node_modules is not None:
        app.mount(
            "/static/leaflet",
            StaticFiles(directory=settings.node_modules / "leaflet" / "dist"),
            name="leaflet",
        )
    else:
        log.warning("node_modules/leaflet not found (run `npm ci`): pages are served without maps")

    app.state.renderer = renderer  # error_page() renders with it

    install_unavailable(app)  # 503 while the directory cannot be read

    @app.exception_handler(PageError)
    async def page_error(request: Request, exc: PageError):
        return error_page(request, exc.status_code, exc.message, links=exc.links, headers=exc.headers)
