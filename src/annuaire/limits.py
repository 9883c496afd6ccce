"""Per-client token buckets: the API's rate limit and the website's form limits use them."""

from __future__ import annotations

import time

STALE_AFTER = 600.0  # seconds without requests before a client's bucket is forgotten


class TokenBuckets:
    """One token bucket per client: `capacity` requests at once, refilled at `rate` per second."""

    def __init__(self, rate: float, capacity: float):
        self.rate = rate
        self.capacity = capacity
        self.buckets: dict[str, tuple[float, float]] = {}  # client → (tokens, last update)

    def take(self, client: str, now: float | None = None) -> float:
        """0 when the request may go on, else the seconds until it could."""
        now = time.monotonic() if now is None else now
        if len(self.buckets) > 10_000:
            self.buckets = {k: v for k, v in self.buckets.items() if now - v[1] < STALE_AFTER}
        tokens, last = self.buckets.get(client, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self.buckets[client] = (tokens - 1.0, now)
            return 0.0
        self.buckets[client] = (tokens, now)
        return (1.0 - tokens) / self.rate
