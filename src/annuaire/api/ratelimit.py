"""A per-client-IP rate limit (token bucket) as plain ASGI middleware, answering 429 with Retry-After.

With a directory in PostgreSQL, or a Redis (`ANNUAIRE_REDIS_URL`), the buckets are shared by every
worker and server (limits.py); otherwise each worker process keeps its own: with N workers a client
gets at most N times the rate.
"""

from __future__ import annotations

import math

import orjson
from starlette.concurrency import run_in_threadpool

from ..limits import buckets


class RateLimitMiddleware:
    def __init__(
        self, app, *, per_minute: int, burst: int | None = None, prefix: str = "/api/v1/", shared=None
    ):
        self.app = app
        self.rate = per_minute / 60.0
        self.prefix = prefix
        capacity = float(burst if burst is not None else per_minute)
        self.limiter = buckets(shared, "api", self.rate, capacity)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or self.rate <= 0 or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        if getattr(self.limiter, "blocking", False):
            wait = await run_in_threadpool(self.limiter.take, client)
        else:
            wait = self.limiter.take(client)
        if not wait:
            await self.app(scope, receive, send)
            return
        body = orjson.dumps({"detail": "Trop de requêtes : réessayez dans quelques secondes."})
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"retry-after", str(math.ceil(wait)).encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
