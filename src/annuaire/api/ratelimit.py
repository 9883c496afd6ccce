"""A per-client-IP rate limit (token bucket) as plain ASGI middleware, answering 429 with Retry-After.

Each worker process keeps its own buckets: with N workers a client gets at most N times the rate.
Put a shared limiter (the reverse proxy's) in front when that matters.
"""

from __future__ import annotations

import math

import orjson

from ..limits import TokenBuckets


class RateLimitMiddleware:
    def __init__(self, app, *, per_minute: int, burst: int | None = None, prefix: str = "/api/v1/"):
        self.app = app
        self.rate = per_minute / 60.0
        self.prefix = prefix
        self.limiter = TokenBuckets(self.rate, float(burst if burst is not None else per_minute))

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or self.rate <= 0 or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
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
