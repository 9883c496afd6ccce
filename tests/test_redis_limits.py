"""Rate limits kept in Redis (ANNUAIRE_REDIS_URL): every worker and server counts against the same
bucket, on Redis's clock; with Redis out of reach the limit still holds, counted by each process."""

from __future__ import annotations

import logging
import subprocess
import time

import httpx
import pytest

from annuaire.errors import InputError
from annuaire.limits import RedisBuckets, TokenBuckets, buckets
from annuaire.settings import read as read_settings
from postgres_server import free_port


def test_workers_take_from_the_same_bucket(redis_server):
    # Two workers (two clients, two connections); a burst of 4, refilled one token every 1,000 s.
    name = f"test-{time.monotonic_ns()}"
    a, b = (RedisBuckets(redis_server.url, name, 0.001, 4) for _ in range(2))
    assert [a.take("203.0.113.1"), b.take("203.0.113.1"), a.take("203.0.113.1"), b.take("203.0.113.1")] == [
        0.0
    ] * 4
    waits = [a.take("203.0.113.1"), b.take("203.0.113.1")]
    assert all(990 < wait <= 1000 for wait in waits), waits  # the burst is spent, whoever asks
    assert a.take("203.0.113.2") == 0.0  # another client has its own bucket
    assert (
        RedisBuckets(redis_server.url, f"{name}-other", 0.001, 4).take("203.0.113.1") == 0.0
    )  # another limit too


def test_a_bucket_refills_at_its_rate(redis_server):
    bucket = RedisBuckets(redis_server.url, f"refill-{time.monotonic_ns()}", 20.0, 1)  # one token per 50 ms
    assert bucket.take("198.51.100.1") == 0.0
    assert 0 < bucket.take("198.51.100.1") <= 0.05
    time.sleep(0.06)
    assert bucket.take("198.51.100.1") == 0.0


def test_the_setting_chooses_redis_first(redis_server, monkeypatch):
    monkeypatch.setenv("ANNUAIRE_REDIS_URL", redis_server.url)

    class SharedStore:  # a PostgreSQL directory's shared state keeps buckets too: Redis is chosen
        def take(self, *args):  # pragma: no cover - not called
            raise AssertionError

    assert isinstance(buckets(SharedStore(), "api", 1.0, 5), RedisBuckets)
    monkeypatch.delenv("ANNUAIRE_REDIS_URL")
    assert isinstance(buckets(None, "api", 1.0, 5), TokenBuckets)


def test_a_redis_url_is_checked():
    with pytest.raises(InputError, match="ANNUAIRE_REDIS_URL.*a Redis URL"):
        read_settings({"ANNUAIRE_REDIS_URL": "http://127.0.0.1:6379"})
    assert (
        read_settings({"ANNUAIRE_REDIS_URL": "redis://127.0.0.1:6379/2"}).redis_url
        == "redis://127.0.0.1:6379/2"
    )


def test_redis_out_of_reach_still_limits_in_this_process(caplog):
    bucket = RedisBuckets(f"redis://127.0.0.1:{free_port()}/0", "api", 0.001, 2, timeout=0.2)
    with caplog.at_level(logging.WARNING, logger="annuaire.limits"):
        waits = [bucket.take("192.0.2.1") for _ in range(3)]
    assert waits[:2] == [0.0, 0.0] and waits[2] > 900  # the burst, then refused: counted here
    warnings = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
    assert len(warnings) == 1  # said once, not for every request


@pytest.mark.integration
def test_two_workers_of_a_sqlite_directory_share_the_api_limit(
    redis_server, sample_build, annuaire_bin, annuaire_env
):
    """Without Redis, each of a SQLite directory's workers counts its own requests (a client gets
    up to twice the limit from two); with it, the limit holds across them."""
    rate, port = 12, free_port()
    env = annuaire_env | {"ANNUAIRE_REDIS_URL": redis_server.url, "ANNUAIRE_TRUSTED_PROXIES": "127.0.0.1"}
    proc = subprocess.Popen(
        [str(annuaire_bin), "serve", "--db", str(sample_build.db), "--port", str(port), "--workers", "2",
         "--rate-limit", str(rate)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if (
                    httpx.get(f"{base}/api/v1/stats", headers={"X-Forwarded-For": "192.0.2.99"}).status_code
                    == 200
                ):
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "annuaire serve did not start"
            time.sleep(0.3)
        client = {"X-Forwarded-For": "192.0.2.7"}
        # New connections each time: the two workers share them out between them.
        statuses = [
            httpx.get(f"{base}/api/v1/stats", headers=client, timeout=20).status_code for _ in range(3 * rate)
        ]
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    # The burst, and at most one token more refilled (one every 5 s) while the requests ran.
    assert rate <= statuses.count(200) <= rate + 1, statuses
    assert statuses.count(429) == len(statuses) - statuses.count(200)


def test_an_idle_bucket_is_forgotten_once_full_again(redis_server):
    """Kept in Redis until an empty bucket would have refilled (the login limit's 15 minutes, not
    less): forgetting it sooner would hand a client its whole burst back early."""
    import redis

    name = f"logins-{time.monotonic_ns()}"
    bucket = RedisBuckets(redis_server.url, name, 10 / 900, 10)  # 10 logins per quarter of an hour
    assert bucket.take("192.0.2.5") == 0.0
    assert 899 <= redis.Redis.from_url(redis_server.url).ttl(f"annuaire:limites:{name}:192.0.2.5") <= 900


def test_this_process_forgets_only_buckets_full_again():
    buckets_here = TokenBuckets(rate=1.0, capacity=2)
    for n in range(10_001):  # more clients than are kept without looking
        buckets_here.take(f"198.51.100.{n}", now=0.0)
    buckets_here.take("spent", now=0.0)
    buckets_here.take("spent", now=0.0)
    assert buckets_here.take("late", now=1.0) == 0.0  # a look: full buckets (a second later) go
    assert set(buckets_here.buckets) == {"spent", "late"}
    assert buckets_here.take("spent", now=1.0) == 0.0  # one token back in a second, not two
    assert buckets_here.take("spent", now=1.0) > 0
