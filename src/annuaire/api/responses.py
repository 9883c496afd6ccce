"""JSON (and CSV) responses with an ETag and Cache-Control; a matching If-None-Match gets 304 Not
Modified."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from fastapi import Request, Response

from ..exports.csv_files import csv_cell

CACHE_CONTROL = "public, max-age=300"


def etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    candidates = (c.strip() for c in header.split(","))
    return any(c.removeprefix("W/") == etag for c in candidates)


def _answer(
    request: Request, body: bytes, media_type: str, status_code: int = 200, headers: dict | None = None
) -> Response:
    etag = '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL, **(headers or {})}
    if status_code == 200 and etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, status_code=status_code, media_type=media_type, headers=headers)


def json_response(request: Request, data: Any, *, status_code: int = 200) -> Response:
    return _answer(request, orjson.dumps(data), "application/json", status_code)


def csv_response(
    request: Request, columns: Sequence[str], rows: Iterable[Sequence[Any]], filename: str
) -> Response:
    """A CSV file as the exports write them (UTF-8, `,`, empty for unknown, formulas neutralised)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([csv_cell(v) for v in row] for row in rows)
    disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return _answer(request, out.getvalue().encode(), "text/csv; charset=utf-8", headers=disposition)


def error_response(status_code: int, detail: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps({"detail": detail}),
        status_code=status_code,
        media_type="application/json",
        headers=headers,
    )
