"""Per-client token buckets: the API's rate limit and the website's form limits use them.

`TokenBuckets` keeps them in this process (each worker its own). `SharedBuckets` keeps them where
every worker and every server reads the same ones: the directory's PostgreSQL database (the shared
state, corrections/postgres.py), so that a client over a limit on one server is refused on all.
`buckets()` chooses: shared when the corrections store can keep them.
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger("annuaire.limits")

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


class SharedBuckets:
    """Token buckets kept by a shared store (its `take(bucket, client, rate, capacity)`), under a name
    of their own: the same answers as TokenBuckets, whichever worker or server asks."""

    blocking = True  # a round trip to the database: callers in an event loop use a thread

    def __init__(self, store, name: str, rate: float, capacity: float):
        self.store = store
        self.name = name
        self.rate = rate
        self.capacity = capacity

    def take(self, client: str, now: float | None = None) -> float:
        try:
            return self.store.take(self.name, client, self.rate, self.capacity)
        except Exception as exc:  # the database is unreachable: the request is answered 503 anyway
            log.warning("rate limit %s not checked: %s", self.name, exc)
            return 0.0


def buckets(store, name: str, rate: float, capacity: float) -> TokenBuckets | SharedBuckets:
    """Shared buckets when `store` (the corrections store) keeps rate-limit counters, else this
    process's own."""
    if store is not None and hasattr(store, "take"):
        return SharedBuckets(store, name, rate, capacity)
    return TokenBuckets(rate, capacity)
