"""Per-client token buckets: the API's rate limit and the website's form limits use them.

`TokenBuckets` keeps them in this process (each worker its own). `RedisBuckets` and `SharedBuckets`
keep them where every worker and every server reads the same ones, so that a client over a limit on
one is refused on all: a Redis server (`ANNUAIRE_REDIS_URL`), or the directory's PostgreSQL database
(the shared state, corrections/postgres.py). `buckets()` chooses: Redis when it is set, else the
shared store when it keeps them, else this process's own.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from typing import Any

from .settings import current as current_settings

log = logging.getLogger("annuaire.limits")


class TokenBuckets:
    """One token bucket per client: `capacity` requests at once, refilled at `rate` per second."""

    def __init__(self, rate: float, capacity: float):
        self.rate = rate
        self.capacity = capacity
        self.buckets: dict[str, tuple[float, float]] = {}  # client → (tokens, last update)

    def take(self, client: str, now: float | None = None) -> float:
        """0 when the request may go on, else the seconds until it could."""
        now = time.monotonic() if now is None else now
        if len(self.buckets) > 10_000:  # forget the buckets full again: the same as none
            self.buckets = {
                k: v for k, v in self.buckets.items() if v[0] + (now - v[1]) * self.rate < self.capacity
            }
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


# One token of a bucket kept in Redis, in one step whoever asks at once (a script runs alone), on
# Redis's clock (the same for every server). KEYS[1]: the bucket; ARGV: rate (tokens per second),
# capacity, seconds after which an idle bucket is full again (then forgotten: the same as none).
# Returns the seconds to wait (0: the request may go on), as text: Redis would round a Lua number
# to an integer.
TAKE_SCRIPT = """
local rate, capacity = tonumber(ARGV[1]), tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local held = redis.call('HMGET', KEYS[1], 'jetons', 'maj')
local tokens, last = tonumber(held[1]) or capacity, tonumber(held[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - last) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'jetons', tostring(tokens), 'maj', tostring(now))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return tostring(wait)
"""
REDIS_PREFIX = "annuaire:limites:"
WARNING_EVERY = 60.0  # seconds between two warnings that Redis cannot be reached


@functools.cache
def _redis_client(url: str, timeout: float) -> Any:
    """One client (and its connection pool) per Redis URL in this process, for all its buckets."""
    import redis

    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)


class RedisBuckets:
    """Token buckets kept in Redis under `annuaire:limites:{name}:{client}`: the same answers as
    TokenBuckets, whichever worker or server asks. While Redis cannot be reached the limit still holds,
    counted by this process (as TokenBuckets), and a warning says so once a minute."""

    blocking = True  # a round trip to Redis: callers in an event loop use a thread

    def __init__(self, url: str, name: str, rate: float, capacity: float, *, timeout: float = 0.5):
        import redis

        self.name = name
        self.rate = rate
        self.capacity = capacity
        self.full_after = max(1, math.ceil(capacity / rate))  # seconds for an empty bucket to fill
        self.errors: tuple[type[Exception], ...] = (redis.RedisError, OSError)
        self.script = _redis_client(url, timeout).register_script(TAKE_SCRIPT)
        self.local = TokenBuckets(rate, capacity)
        self.warned = float("-inf")

    def take(self, client: str, now: float | None = None) -> float:
        try:
            answer = self.script(
                keys=[f"{REDIS_PREFIX}{self.name}:{client}"],
                args=[self.rate, self.capacity, self.full_after],
            )
            return float(answer)
        except self.errors as exc:
            if time.monotonic() - self.warned >= WARNING_EVERY:
                self.warned = time.monotonic()
                log.warning("rate limit %s counted by this process: Redis unreachable (%s)", self.name, exc)
            return self.local.take(client, now)


Buckets = TokenBuckets | SharedBuckets | RedisBuckets


def buckets(store, name: str, rate: float, capacity: float) -> Buckets:
    """Buckets every worker and server shares when it can: in Redis when ANNUAIRE_REDIS_URL is set,
    else in `store` (the corrections store) when it keeps rate-limit counters; else this process's own."""
    url = current_settings().redis_url
    if url:
        return RedisBuckets(url, name, rate, capacity)
    if store is not None and hasattr(store, "take"):
        return SharedBuckets(store, name, rate, capacity)
    return TokenBuckets(rate, capacity)
