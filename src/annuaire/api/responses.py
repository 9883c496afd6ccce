"""JSON responses with an ETag and Cache-Control; a matching If-None-Match gets 304 Not Modified."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from fastapi import Request, Response

CACHE_CONTROL = "public, max-age=300"


def etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    candidates = (c.strip() for c in header.split(","))
    return any(c.removeprefix("W/") == etag for c in candidates)


def json_response(request: Request, data: Any, *, status_code: int = 200) -> Response:
    body = orjson.dumps(data)
    etag = '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if status_code == 200 and etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, status_code=status_code, media_type="application/json", headers=headers)


def error_response(status_code: int, detail: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps({"detail": detail}),
        status_code=status_code,
        media_type="application/json",
        headers=headers,
    )
