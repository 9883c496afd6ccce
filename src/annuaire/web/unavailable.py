"""When the directory cannot be read (its file deleted between two builds, unreadable, damaged; its
PostgreSQL server unreachable): `503 Service Unavailable` with `Retry-After`, a short French page
(or a JSON message under /api/), and a log line; nothing to restart: the next request that finds the
database again is answered as usual."""

from __future__ import annotations

import logging
import sqlite3
import time

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from ..search import DirectoryUnavailable
from .errors import error_page

log = logging.getLogger("annuaire.web")
RETRY_AFTER = 30  # seconds: about what a build or an update takes to swap a file in
LOG_EVERY = 60.0  # seconds between two log lines of a worker while the directory stays unavailable
MESSAGE = "L'annuaire est momentanément indisponible : réessayez dans quelques instants."


def _unavailable_errors() -> tuple[type[Exception], ...]:
    """Errors that may mean the database is gone: decided by `Searcher.available()`."""
    return (sqlite3.DatabaseError, OSError)


def _server_errors() -> tuple[type[Exception], ...]:
    """A PostgreSQL server that cannot be reached, or a pool without a free connection."""
    try:
        import psycopg
        import psycopg_pool
    except ImportError:  # pragma: no cover - the PostgreSQL driver is a dependency
        return ()
    return (psycopg.OperationalError, psycopg_pool.PoolTimeout)


def install(app: FastAPI) -> None:
    last_logged = [0.0]

    def answer(request: Request, reason: BaseException) -> Response:
        now = time.monotonic()
        if now - last_logged[0] >= LOG_EVERY:
            last_logged[0] = now
            log.error("directory unavailable, answering 503: %s", reason)
        headers = {"Retry-After": str(RETRY_AFTER), "Cache-Control": "no-store"}
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": MESSAGE}, status_code=503, headers=headers)
        return error_page(request, 503, MESSAGE, headers=headers)

    @app.exception_handler(DirectoryUnavailable)
    async def directory_unavailable(request: Request, exc: DirectoryUnavailable):
        return answer(request, exc)

    async def maybe_unavailable(request: Request, exc: Exception):
        if request.app.state.searcher.available():
            raise exc  # the database is there: a bug, answered 500 with its traceback in the log
        return answer(request, exc)

    for error in _unavailable_errors():
        app.add_exception_handler(error, maybe_unavailable)

    async def server_unavailable(request: Request, exc: Exception):
        return answer(request, exc)

    for error in _server_errors():
        app.add_exception_handler(error, server_unavailable)
