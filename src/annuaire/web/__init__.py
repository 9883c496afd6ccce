"""The public website: server-rendered French pages (Jinja2) over the search layer, enhanced by small
vanilla scripts; Leaflet for maps (served from the project's node_modules, installed by npm).

`slugs` builds and parses clean URLs, `text` the words shown (descriptions, dates, numbers),
`jsonld` the structured data, `charts` inline SVG, `sitemap` the sitemap files, `pages` the
rendering, `routes` the pages themselves, `corrections` the correction form, `admin` the moderation
area, `security` their CSRF tokens, sessions and rate limits, `guides` the editorial guides;
`mount_website` adds all of it to the FastAPI app."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..guides import GuideLibrary, default_folder
from .admin import build_admin_router
from .corrections import build_corrections_router
from .data_pages import build_data_router
from .guides import build_guides_router
from .pages import Renderer
from .routes import NotFound, build_router
from .settings import WebSettings
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
    app.mount("/static/site", StaticFiles(directory=STATIC), name="static")
    if settings.node_modules is not None:
        app.mount(
            "/static/leaflet",
            StaticFiles(directory=settings.node_modules / "leaflet" / "dist"),
            name="leaflet",
        )
    else:
        log.warning("node_modules/leaflet not found (run `npm ci`): pages are served without maps")

    def not_found_page(request: Request):
        return renderer.page(request, "404.html", {"canonical_path": request.url.path}, status_code=404)

    install_unavailable(app, renderer)  # 503 while the directory cannot be read

    @app.exception_handler(NotFound)
    async def page_not_found(request: Request, exc: NotFound):
        return not_found_page(request)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 404 and not request.url.path.startswith("/api/"):
            return not_found_page(request)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
