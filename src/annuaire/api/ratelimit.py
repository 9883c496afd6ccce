"""A per-client-IP rate limit (token bucket) as plain ASGI middleware, answering 429 with Retry-After.

Each worker process keeps its own buckets: with N workers a client gets at most N times the rate.
Put a shared limiter (the reverse proxy's) in front when that matters.
"""

from __future__ import annotations

import math
import time

import orjson

STALE_AFTER = 600.0  # seconds without requests before a client's bucket is forgotten


class RateLimitMiddleware:
    def __init__(self, app, *, per_minute: int, burst: int | None = None, prefix: str = "/api/v1/"):
        self.app = app
        self.rate = per_minute / 60.0
        self.capacity = float(burst if burst is not None else per_minute)
        self.prefix = prefix
        self.buckets: dict[str, tuple[float, float]] = {}  # client → (tokens, last update)

    def _take(self, client: str, now: float) -> float:
        """0 when the request may go on, else the seconds until it could."""
        tokens, last = self.buckets.get(client, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self.buckets[client] = (tokens - 1.0, now)
            return 0.0
        self.buckets[client] = (tokens, now)
        return (1.0 - tokens) / self.rate

    def _forget_stale(self, now: float) -> None:
        if len(self.buckets) > 10_000:
            self.buckets = {k: v for k, v in self.buckets.items() if now - v[1] < STALE_AFTER}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or self.rate <= 0 or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        now = time.monotonic()
        self._forget_stale(now)
        wait = self._take(client, now)
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
