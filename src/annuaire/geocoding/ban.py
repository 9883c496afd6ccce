"""A client for the BAN geocoder's CSV batch endpoint (Addok + addok-csv): `POST {url}/search/csv/`.

The request is a multipart form: the CSV in the file field `data`, repeated `columns` fields naming
the columns joined into the query, and filters naming the column that holds their value
(`citycode=citycode`). The answer is the same CSV with `latitude, longitude, result_label,
result_score, result_type, result_id, …` appended.

Polite by construction: batches, a few batches in flight, a request rate limit, timeouts, and
retries with exponential backoff on 429 and 5xx that honour `Retry-After`. It never raises for a
failed batch: its rows come back with the reason, so the caller can fall back.
"""

from __future__ import annotations

import csv
import io
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

log = logging.getLogger("annuaire.geocoding")

DEFAULT_URL = "https://api-adresse.data.gouv.fr"
REQUIRED_COLUMNS = ("id", "latitude", "longitude", "result_score", "result_type")


@dataclass(frozen=True, slots=True)
class Query:
    id: str
    q: str
    postcode: str = ""
    citycode: str = ""
    city: str = ""


@dataclass(frozen=True, slots=True)
class Answer:
    latitude: float
    longitude: float
    score: float
    type: str
    label: str
    citycode: str


@dataclass(frozen=True, slots=True)
class Outcome:
    answer: Answer | None  # None: no result (error is None) or the request failed (error says why)
    error: str | None = None


class RateLimiter:
    """At most `rate` request starts per second, across threads."""

    def __init__(self, rate: float):
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.next = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        with self.lock:
            now = time.monotonic()
            start = max(now, self.next)
            self.next = start + self.interval
        if start > now:
            time.sleep(start - now)


def _retry_after(response: httpx.Response, default: float) -> float:
    value = response.headers.get("retry-after", "")
    try:
        return min(max(float(value), 0.0), 120.0)
    except ValueError:
        return default


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def parse_answer(text: str, sent: Sequence[Query]) -> dict[str, Outcome]:
    """Read the geocoded CSV. Rows missing from a cut-short answer come back as `truncated_csv`."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        return {q.id: Outcome(None, "missing_columns") for q in sent}
    out: dict[str, Outcome] = {}
    expected = {q.id for q in sent}
    for row in reader:
        key = row.get("id")
        if key not in expected:
            continue
        if None in row.values() or None in row:  # a short last line: the CSV was cut
            out[key] = Outcome(None, "truncated_csv")
            continue
        lat, lon, score = _float(row["latitude"]), _float(row["longitude"]), _float(row["result_score"])
        if lat is None or lon is None:
            out[key] = Outcome(None)
            continue
        out[key] = Outcome(
            Answer(
                lat,
                lon,
                score or 0.0,
                row.get("result_type") or "",
                row.get("result_label") or "",
                row.get("result_citycode") or "",
            )
        )
    for key in expected - out.keys():
        out[key] = Outcome(None, "truncated_csv")
    return out


class BanClient:
    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        batch_size: int = 5000,
        concurrency: int = 2,
        rate: float = 40.0,
        timeout: float = 120.0,
        retries: int = 4,
        backoff: float = 1.0,
        transport: httpx.BaseTransport | None = None,
    ):
        if batch_size < 1 or concurrency < 1:
            raise ValueError("batch_size and concurrency must be at least 1")
        self.url = url.rstrip("/") + "/search/csv/"
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.retries = retries
        self.backoff = backoff
        self.limiter = RateLimiter(rate)
        self.client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
            headers={"User-Agent": "annuaire (geocoding batch)"},
        )
        self.stats: Counter = Counter()
        self._lock = threading.Lock()
        # Set when a batch could not reach the service at all, retries included: the batches after it
        # are not sent (an unreachable geocoder would otherwise cost minutes of retries).
        self.unreachable: str | None = None

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> BanClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.stats[key] += n

    def geocode(
        self,
        queries: Sequence[Query],
        *,
        filter_citycode: bool = True,
        on_progress: Callable[[int], None] | None = None,
    ) -> dict[str, Outcome]:
        """Geocode every query; the answer maps each query id to its outcome."""
        batches = [queries[i : i + self.batch_size] for i in range(0, len(queries), self.batch_size)]
        results: dict[str, Outcome] = {}
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            for batch, outcome in zip(
                batches, pool.map(lambda b: self._batch(b, filter_citycode), batches), strict=True
            ):
                results.update(outcome)
                if on_progress:
                    on_progress(len(batch))
        return results

    def _payload(self, batch: Sequence[Query], filter_citycode: bool) -> tuple[bytes, dict]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["id", "q", "postcode", "citycode", "city"])
        for q in batch:
            writer.writerow([q.id, q.q, q.postcode, q.citycode, q.city])
        form: dict[str, str | list[str]] = {"columns": ["q", "postcode"], "delimiter": ","}
        if filter_citycode:
            form["citycode"] = "citycode"
        else:
            form["columns"] = ["q", "postcode", "city"]
        return buffer.getvalue().encode("utf-8"), form

    def _batch(self, batch: Sequence[Query], filter_citycode: bool) -> dict[str, Outcome]:
        if self.unreachable:
            self._count(f"failed_batches.{self.unreachable}")
            return {q.id: Outcome(None, self.unreachable) for q in batch}
        data, form = self._payload(batch, filter_citycode)
        reason = "error"
        for attempt in range(self.retries + 1):
            delay = self.backoff * (2**attempt)
            self.limiter.wait()
            self._count("requests")
            self._count("rows_sent", len(batch))
            try:
                response = self.client.post(
                    self.url, data=form, files={"data": ("batch.csv", data, "text/csv")}
                )
            except httpx.TimeoutException:
                reason = "timeout"
            except httpx.TransportError as exc:
                reason = "connection_error"
                log.debug("geocoder unreachable", extra={"error": str(exc)})
            else:
                if response.status_code == 200:
                    try:
                        text = response.text
                    except (httpx.HTTPError, UnicodeDecodeError):
                        reason = "unreadable_answer"
                    else:
                        return parse_answer(text, batch)
                elif response.status_code == 429 or response.status_code >= 500:
                    reason = f"http_{response.status_code}"
                    delay = _retry_after(response, delay)
                else:  # 4xx: asking again will not help
                    reason = f"http_{response.status_code}"
                    break
            if attempt < self.retries:
                self._count("retries")
                log.info(
                    "geocoder batch retried", extra={"reason": reason, "attempt": attempt + 1, "wait": delay}
                )
                time.sleep(delay)
        self._count(f"failed_batches.{reason}")
        log.warning("geocoder batch failed", extra={"reason": reason, "rows": len(batch)})
        if reason == "connection_error":
            self.unreachable = reason
        return {q.id: Outcome(None, reason) for q in batch}
