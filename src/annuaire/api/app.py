"""The application: settings, middleware (CORS, rate limit), error handlers, routes."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware

from ..corrections import CorrectionSettings
from ..corrections.overlay import CorrectedSearcher
from ..search import DirectoryUnavailable, QueryError, open_searcher, unavailable_errors
from ..settings import Settings
from ..settings import read as read_settings
from ..settings import use as use_settings
from ..store import open_store
from ..web import WebSettings, mount_website
from ..web.errors import error_page
from ..web.security import Guard
from .data_routes import router as data_router
from .errors import french_errors, http_detail, parameter_descriptions
from .middleware import (
    AllowedHostsMiddleware,
    HeadAsGetMiddleware,
    SecurityHeadersMiddleware,
    allowed_hosts,
    content_security_policy,
)
from .parameters import Carte, Recherche
from .proxies import ProxyHeadersMiddleware
from .ratelimit import RateLimitMiddleware
from .responses import error_response
from .routes import router

log = logging.getLogger("annuaire.api")


@dataclass(frozen=True)
class ApiSettings:
    db: str
    rate_limit_per_minute: int = 600  # per client IP and worker; 0 turns the limit off
    cors_origins: tuple[str, ...] = ("*",)
    web: WebSettings = field(default_factory=WebSettings.from_settings)
    corrections: CorrectionSettings | None = None  # None: beside the directory, from the settings
    trusted_proxies: tuple[str, ...] = ()  # peers whose X-Forwarded-For names the client (api/proxies.py)

    @classmethod
    def from_settings(cls, s: Settings) -> ApiSettings:
        if not s.db:
            raise RuntimeError("ANNUAIRE_DB is not set: the path of the directory database to serve")
        return cls(
            db=s.db,
            rate_limit_per_minute=s.rate_limit,
            cors_origins=s.cors_origins,
            web=WebSettings.from_settings(s),
            corrections=CorrectionSettings.for_directory(s.db, s),
            trusted_proxies=s.trusted_proxies,
        )


def create_app(settings: ApiSettings) -> FastAPI:
    # Approved corrections are applied over what the directory says (pages, API, search results).
    correction_settings = settings.corrections or CorrectionSettings.for_directory(settings.db)
    corrections = open_store(settings.db).open_corrections(correction_settings.path)
    searcher = CorrectedSearcher(open_searcher(settings.db), corrections)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        unavailable: tuple[type[Exception], ...] = (DirectoryUnavailable, *unavailable_errors())
        try:
            searcher.warm_up()  # load the search columns before the first request, not during it
        except unavailable as exc:  # answered 503 until it is back
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

    described = parameter_descriptions(Recherche, Carte)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        detail = french_errors(exc.errors(), described)
        if not request.url.path.startswith("/api/"):  # a page: the site's error page, in French
            return error_page(
                request, 422, "Paramètre invalide : " + "; ".join(d["msg"] for d in detail) + "."
            )
        return error_response(422, detail)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        headers = dict(exc.headers) if exc.headers else None
        if not request.url.path.startswith("/api/"):
            return error_page(request, exc.status_code, headers=headers)
        return error_response(exc.status_code, http_detail(exc.status_code, exc.detail), headers)

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception):
        # Starlette's server-error middleware answers this, then logs the exception with its traceback.
        if request.url.path.startswith("/api/"):
            return error_response(500, http_detail(500, None))
        return error_page(request, 500)

    mount_website(app, settings.web)  # the public pages, at / (the API stays under /api/)
    # The interactive docs: Swagger UI from npm's swagger-ui-dist, served by the app itself (no CDN),
    # started by a static script (no inline script); without the package, a page saying so.
    swagger = settings.web.node_modules / "swagger-ui-dist" if settings.web.node_modules else None
    has_swagger = bool(swagger and (swagger / "swagger-ui-bundle.js").is_file())
    if has_swagger:
        app.mount("/static/swagger-ui", StaticFiles(directory=swagger), name="swagger-ui")

    @app.get("/api/docs", include_in_schema=False)
    async def docs(request: Request):
        return app.state.renderer.page(request, "api_docs.html", {"swagger": has_swagger})

    # Text answers (pages, JSON, XML sitemaps, CSV and GeoJSON exports, scripts) are gzipped for
    # clients that accept it; files already compressed (Parquet) are not. Level 6: most of level 9's
    # gain for much less CPU on the large exports.
    app.add_middleware(
        GZipMiddleware,
        minimum_size=1000,
        compresslevel=6,
        exclude_content_types=(*DEFAULT_EXCLUDED_CONTENT_TYPES, "application/vnd.apache.parquet"),
    )
    # Added last = outermost: CORS headers also go on 429 answers.
    if settings.rate_limit_per_minute > 0:
        app.add_middleware(RateLimitMiddleware, per_minute=settings.rate_limit_per_minute, shared=corrections)
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
    """Factory for `uvicorn --factory` and `annuaire serve` workers: the settings read once, from the
    environment `annuaire serve` gave them."""
    settings = read_settings()
    use_settings(settings)
    return create_app(ApiSettings.from_settings(settings))
