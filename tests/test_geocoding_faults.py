"""The geocoder down, slow, rate-limiting, failing or answering garbage: the build finishes, the rows
affected fall back to their commune's centroid, and the report says how many and why."""

from __future__ import annotations

import csv
import io
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from annuaire.geocoding.ban import BanClient, Query
from annuaire.geocoding.cache import GeocodeCache
from annuaire.geocoding.strategy import Address, locate

HEADER = [
    "id",
    "q",
    "latitude",
    "longitude",
    "result_label",
    "result_score",
    "result_type",
    "result_citycode",
]
PARIS_02 = (48.86, 2.34, "PARIS 02")


class Misbehaving(BaseHTTPRequestHandler):
    """Answers `POST /search/csv/` as told by the server's `mode`."""

    def log_message(self, *args):
        pass

    def do_POST(self):
        server = self.server
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        with server.lock:
            server.requests.append(time.monotonic())
            n = len(server.requests)
        mode = server.mode
        if mode == "429_then_ok" and n == 1:
            return self._reply(429, b"slow down", {"Retry-After": "1"})
        if mode == "500":
            return self._reply(500, b"boom")
        if mode == "slow":
            time.sleep(3)
        rows = _rows(body)
        out = io.StringIO()
        if mode == "missing_columns":
            writer = csv.writer(out)
            writer.writerow(["id", "q"])
            writer.writerows([[r["id"], r["q"]] for r in rows])
        else:
            writer = csv.writer(out)
            writer.writerow(HEADER)
            for r in rows:
                writer.writerow(
                    [r["id"], r["q"], "48.85", "2.35", "Somewhere", "0.93", "housenumber", r["citycode"]]
                )
        data = out.getvalue().encode()
        if mode == "truncated":
            data = data[: len(data) // 2]
        self._reply(200, data, {"Content-Type": "text/csv"})

    def _reply(self, status, data, headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _rows(body: bytes) -> list[dict]:
    """The CSV part of a multipart body (enough for our own client's requests)."""
    start = body.index(b"id,q,postcode,citycode,city")
    end = body.index(b"\r\n--", start)
    return list(csv.DictReader(io.StringIO(body[start:end].decode())))


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Misbehaving)
    httpd.mode = "ok"
    httpd.requests = []
    httpd.lock = threading.Lock()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _url(httpd) -> str:
    return f"http://127.0.0.1:{httpd.server_address[1]}"


ADDRESSES = [
    Address(
        f"1175000000{i}",
        f"{i + 1} RUE DE LA PAIX",
        "75002",
        "PARIS",
        "75102",
        "voie",
        (48.86, 2.34, "PARIS 02"),
    )
    for i in range(7)
] + [
    Address(
        "11750000100", "BP 12", "75002", "PARIS CEDEX", "75102", "boite_postale", (48.86, 2.34, "PARIS 02")
    ),
    Address("11750000101", "", "75002", "PARIS", "75102", "commune_seule", (48.86, 2.34, "PARIS 02")),
]


def test_answers_are_used_and_boxes_never_sent(server):
    with BanClient(_url(server), batch_size=3, retries=0) as client:
        locations, report = locate(ADDRESSES, client, None)
    assert [loc.geo_methode for loc in locations] == ["ban"] * 7 + ["centroide_commune"] * 2
    assert [loc.geo_type for loc in locations[7:]] == ["municipality", "municipality"]
    assert report["distinct_addresses_sent"] == 7
    assert len(server.requests) == 3  # batches of 3


def test_429_is_retried_after_the_time_it_asks(server):
    server.mode = "429_then_ok"
    with BanClient(_url(server), batch_size=100, retries=3, backoff=0.1) as client:
        locations, _ = locate(ADDRESSES, client, None)
    assert all(loc.geo_methode == "ban" for loc in locations[:7])
    assert server.requests[1] - server.requests[0] >= 0.95  # Retry-After: 1


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("500", "http_500"),
        ("missing_columns", "missing_columns"),
        ("truncated", "truncated_csv"),
        ("slow", "timeout"),
    ],
)
def test_failures_fall_back_to_centroids_with_their_reason(server, mode, reason):
    server.mode = mode
    with BanClient(_url(server), batch_size=100, retries=1, backoff=0.05, timeout=1) as client:
        locations, report = locate(ADDRESSES, client, None)
    assert len(locations) == len(ADDRESSES)
    assert all(loc.latitude is not None for loc in locations)
    failed = [loc for loc in locations[:7] if loc.geo_methode == "centroide_commune"]
    assert failed, "some rows must have fallen back"
    assert report["reasons"][f"fallback.{reason}"] == len(failed)
    if mode == "500":
        assert len(server.requests) == 2  # one retry, then give up


def test_geocoder_down():
    with BanClient(
        "http://127.0.0.1:9", batch_size=2, concurrency=1, retries=1, backoff=0.01, timeout=1
    ) as client:
        locations, report = locate(ADDRESSES, client, None)
        assert client.stats["requests"] == 2  # the first batch and its retry; the others are not sent
    assert {loc.geo_methode for loc in locations} == {"centroide_commune"}
    assert report["reasons"]["fallback.connection_error"] == 7


def test_rate_limit_spaces_requests(server):
    with BanClient(_url(server), batch_size=1, concurrency=4, rate=10, retries=0) as client:
        client.geocode([Query(str(i), "1 rue x", citycode="75102") for i in range(6)])
    assert len(server.requests) == 6
    assert (server.requests[-1] - server.requests[0]) >= 5 * 0.1 * 0.9


def test_cache_answers_a_second_run_and_failures_are_not_cached(server, tmp_path):
    cache_path = tmp_path / "geo.sqlite"
    server.mode = "500"
    with BanClient(_url(server), retries=0) as client, GeocodeCache(cache_path) as cache:
        locate(ADDRESSES, client, cache)
        assert len(cache) == 0
    server.mode = "ok"
    with BanClient(_url(server), retries=0) as client, GeocodeCache(cache_path) as cache:
        _, first = locate(ADDRESSES, client, cache)
        assert first["distinct_addresses_sent"] == 7
    sent_before = len(server.requests)
    with BanClient(_url(server), retries=0) as client, GeocodeCache(cache_path) as cache:
        locations, second = locate(ADDRESSES, client, cache)
    assert second["distinct_addresses_sent"] == 0
    assert len(server.requests) == sent_before
    assert [loc.geo_methode for loc in locations[:7]] == ["ban"] * 7
