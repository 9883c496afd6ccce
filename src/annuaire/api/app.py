"""The application: settings, middleware (CORS, rate limit), error handlers, routes."""

from __future__ import annotations

import logging
import os
import sqlite3
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from ..corrections import CorrectionSettings, CorrectionStore
from ..corrections.overlay import CorrectedSearcher
from ..search import DirectoryUnavailable, QueryError, open_searcher
from ..web import WebSettings, mount_website
from ..web.security import Guard
from .data_routes import router as data_router
from .middleware import (
    AllowedHostsMiddleware,
    HeadAsGetMiddleware,
    SecurityHeadersMiddleware,
    allowed_hosts,
    content_security_policy,
)
from .proxies import ProxyHeadersMiddleware, trusted_proxies_from_environment
from .ratelimit import RateLimitMiddleware
from .responses import error_response
from .routes import router

log = logging.getLogger("annuaire.api")
# Swagger UI from npm (node_modules/swagger-ui-dist), started by a script file of the site's: no inline
# script, which the Content-Security-Policy forbids.
DOCS_PAGE = """<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} – documentation de l'API</title>
<link rel="stylesheet" href="/static/swagger-ui/swagger-ui.css">
<link rel="icon" href="/static/site/favicon.svg" type="image/svg+xml">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/static/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/static/site/api-docs.js"></script>
</body>
</html>
"""
NO_DOCS_PAGE = """<!doctype html>
<html lang="fr">
<head><meta charset="utf-8"><title>{title} – documentation de l'API</title></head>
<body>
<h1>Documentation de l'API</h1>
<p>La description OpenAPI de l'API est à <a href="/api/openapi.json">/api/openapi.json</a>.</p>
</body>
</html>
"""


@dataclass(frozen=True)
class ApiSettings:
    db: str
    rate_limit_per_minute: int = 600  # per client IP and worker; 0 turns the limit off
    cors_origins: tuple[str, ...] = ("*",)
    web: WebSettings = field(default_factory=WebSettings.from_environment)
    corrections: CorrectionSettings | None = None  # None: beside the directory, from the environment
    trusted_proxies: tuple[str, ...] = ()  # peers whose X-Forwarded-For names the client (api/proxies.py)

    @classmethod
    def from_environment(cls) -> ApiSettings:
        db = os.environ.get("ANNUAIRE_DB")
        if not db:
            raise RuntimeError("ANNUAIRE_DB is not set: the path of the directory database to serve")
        return cls(
            db=db,
            rate_limit_per_minute=int(os.environ.get("ANNUAIRE_RATE_LIMIT", "600")),
            cors_origins=tuple(o for o in os.environ.get("ANNUAIRE_CORS_ORIGINS", "*").split(",") if o),
            trusted_proxies=trusted_proxies_from_environment(),
        )


def _validation_detail(errors) -> list[dict]:
    return [
        {
            "loc": list(e.get("loc", ())),
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "value_error")),
        }
        for e in errors
    ]


def create_app(settings: ApiSettings) -> FastAPI:
    # Approved corrections are applied over what the directory says (pages, API, search results).
    correction_settings = settings.corrections or CorrectionSettings.for_directory(settings.db)
    corrections = CorrectionStore(correction_settings.path)
    searcher = CorrectedSearcher(open_searcher(settings.db), corrections)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        try:
            searcher.warm_up()  # load the search columns before the first request, not during it
        except (DirectoryUnavailable, sqlite3.Error, OSError) as exc:  # answered 503 until it is back
            log.error("directory unavailable at start: %s", exc)
        yield
        searcher.close()
        corrections.close()

    app = FastAPI(
        title="Annuaire des organismes de formation",
        description=(
            "Organismes de formation déclarés (Liste publique des organismes de formation, data.gouv.fr) "
            "et leurs certifications Qualiopi. Noms de champs identiques aux exports CSV."
        ),
        version="1",
        openapi_url="/api/openapi.json",
        docs_url=None,  # served below, with Swagger UI's files from node_modules when there
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.searcher = searcher
    app.state.guard = Guard(correction_settings, corrections)
    app.state.db = settings.db
    app.include_router(router)
    app.include_router(data_router)  # sources, quality report, export downloads

    @app.exception_handler(QueryError)
    async def query_error(request: Request, exc: QueryError):
        return error_response(422, [{"loc": ["query", exc.param], "msg": exc.message, "type": "value_error"}])

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        return error_response(422, _validation_detail(exc.errors()))

    mount_website(app, settings.web)  # the public pages, at / (the API stays under /api/)
    swagger = settings.web.node_modules / "swagger-ui-dist" if settings.web.node_modules else None
    has_swagger = bool(swagger and (swagger / "swagger-ui-bundle.js").is_file())
    if has_swagger:
        app.mount("/static/swagger-ui", StaticFiles(directory=swagger), name="swagger-ui")
    docs_page = DOCS_PAGE if has_swagger else NO_DOCS_PAGE

    @app.get("/api/docs", include_in_schema=False)
    def docs():
        return HTMLResponse(docs_page.replace("{title}", app.title))

    # Added last = outermost: CORS headers also go on 429 answers.
    if settings.rate_limit_per_minute > 0:
        app.add_middleware(RateLimitMiddleware, per_minute=settings.rate_limit_per_minute)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "HEAD", "OPTIONS"],
        allow_headers=["If-None-Match"],
        expose_headers=["ETag", "Retry-After"],
        max_age=86400,
    )
    web = settings.web
    app.add_middleware(AllowedHostsMiddleware, hosts=allowed_hosts(web.allowed_hosts, web.site_url))
    app.add_middleware(HeadAsGetMiddleware)
    app.add_middleware(
        SecurityHeadersMiddleware,
        csp=content_security_policy(web.tile_url),
        hsts=correction_settings.secure_cookies,
    )
    if settings.trusted_proxies:  # outermost: every layer inside sees the real client's address
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))
    return app


def app_from_environment() -> FastAPI:
    """Factory for `uvicorn --factory` and `annuaire serve` workers (settings from the environment)."""
    return create_app(ApiSettings.from_environment())
