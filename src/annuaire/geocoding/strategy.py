"""Where each declaration is: the geocoder's answer when it is good, else the commune's centroid.

1. PO boxes, CEDEX distributions and city-only addresses are not places: they are not sent and
   get their commune's centroid, labelled so (never a street precision they do not have).
2. Street addresses are looked up in the cache; only the addresses never seen are sent, first with
   the commune's INSEE code as `citycode` filter (not a CEDEX postal code), then without the filter
   for those the first pass did not find (overseas territories, communes merged since).
3. An answer is kept when its score reaches `min_score`, its type is housenumber, street or
   locality, and it lies in the expected département. Anything else falls back to the centroid.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..clean.address import STREET
from ..clean.postal import departement_of_commune
from .ban import Answer, BanClient, Outcome, Query
from .cache import GeocodeCache
from .query import cache_key, street_query

BAN = "ban"
CENTROID = "centroide_commune"
NOWHERE = "aucun"
PRECISE_TYPES = ("housenumber", "street", "locality")
MIN_SCORE = 0.5


@dataclass(frozen=True, slots=True)
class Address:
    nda: str
    street: str
    postcode: str | None
    city: str
    citycode: str | None
    kind: str  # clean.address kinds: voie, commune_seule, boite_postale, aucune
    centroid: tuple[float, float, str] | None  # the commune's (lat, lon, name), if known


@dataclass(frozen=True, slots=True)
class Location:
    nda: str
    latitude: float | None
    longitude: float | None
    geo_score: float | None
    geo_type: str | None
    geo_label: str | None
    geo_methode: str

    def row(self) -> tuple:
        return (
            self.nda,
            self.latitude,
            self.longitude,
            self.geo_score,
            self.geo_type,
            self.geo_label,
            self.geo_methode,
        )


def _fallback(a: Address) -> Location:
    if a.centroid:
        lat, lon, name = a.centroid
        return Location(a.nda, lat, lon, None, "municipality", name, CENTROID)
    return Location(a.nda, None, None, None, None, None, NOWHERE)


def acceptable(answer: Answer, citycode: str | None, min_score: float) -> str | None:
    """None when the answer is good enough, else why not."""
    if answer.score < min_score:
        return "below_threshold"
    if answer.type not in PRECISE_TYPES:
        return "imprecise_type"
    if (
        citycode
        and answer.citycode
        and departement_of_commune(answer.citycode) != departement_of_commune(citycode)
    ):
        return "other_departement"
    return None


def locate(
    addresses: Sequence[Address],
    client: BanClient | None,
    cache: GeocodeCache | None,
    *,
    min_score: float = MIN_SCORE,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[list[Location], dict]:
    """Locate every address. Returns the locations (one per address, same order) and a report."""
    reasons: Counter = Counter()
    keys: dict[int, str] = {}
    for i, a in enumerate(addresses):
        if a.kind != STREET:
            reasons[f"not_sent.{a.kind}"] += 1
        elif not street_query(a.street):
            reasons["not_sent.no_street_left"] += 1
        else:
            keys[i] = cache_key(a.street, a.postcode, a.citycode)

    known: dict[str, Answer | None] = cache.get_many(keys.values()) if cache is not None else {}
    todo: dict[str, Address] = {}
    for i, key in keys.items():
        if key not in known and key not in todo:
            todo[key] = addresses[i]
    sent_rows = len(todo) if client is not None else 0  # geocoding disabled: nothing is sent
    failures: dict[str, str] = {}
    if todo and client is None:
        failures = dict.fromkeys(todo, "geocoding_disabled")
    elif todo and client is not None:
        first = {k: a for k, a in todo.items() if a.citycode}
        outcomes: dict[str, Outcome] = {}
        progress = _Progress(on_progress, len(todo))
        if first:
            outcomes |= client.geocode(_queries(first), filter_citycode=True, on_progress=progress)
        second = {
            k: a
            for k, a in todo.items()
            if k not in outcomes or (outcomes[k].answer is None and outcomes[k].error is None)
        }
        if second:
            reasons["second_pass"] += len(second)
            progress.total += len(second) - (len(todo) - len(first))
            outcomes |= client.geocode(_queries(second), filter_citycode=False, on_progress=progress)
        found: list[tuple[str, Answer | None]] = []
        for key, outcome in outcomes.items():
            if outcome.error:
                failures[key] = outcome.error
            else:
                found.append((key, outcome.answer))
                known[key] = outcome.answer
        if cache is not None:
            cache.put_many(found)

    locations = []
    for i, a in enumerate(addresses):
        asked = keys.get(i)
        if asked is None:
            locations.append(_fallback(a))
            continue
        if asked in failures:
            reasons[f"fallback.{failures[asked]}"] += 1
            locations.append(_fallback(a))
            continue
        answer = known.get(asked)
        why = "not_found" if answer is None else acceptable(answer, a.citycode, min_score)
        if why or answer is None:
            reasons[f"fallback.{why}"] += 1
            locations.append(_fallback(a))
        else:
            locations.append(
                Location(
                    a.nda,
                    answer.latitude,
                    answer.longitude,
                    round(answer.score, 4),
                    answer.type,
                    answer.label,
                    BAN,
                )
            )
    report = {
        "addresses": len(addresses),
        "street_addresses": len(keys),
        "distinct_addresses_sent": sent_rows,
        "answered_from_cache": len(keys) - sum(1 for k in keys.values() if k in todo),
        "requests": dict(client.stats) if client else {},
        "by_method": dict(Counter(loc.geo_methode for loc in locations)),
        "by_type": dict(Counter(loc.geo_type or "" for loc in locations)),
        "reasons": dict(sorted(reasons.items())),
    }
    return locations, report


class _Progress:
    """Rows sent so far out of the rows to send (the second pass adds to the total)."""

    def __init__(self, callback: Callable[[int, int], None] | None, total: int):
        self.callback = callback
        self.total = total
        self.done = 0

    def __call__(self, rows: int) -> None:
        self.done += rows
        if self.callback:
            self.callback(self.done, self.total)


def _queries(addresses: dict[str, Address]) -> list[Query]:
    """The cache key is the query's id: the answer comes back under it."""
    return [
        Query(
            id=key,
            q=street_query(a.street),
            postcode=a.postcode or "",
            citycode=a.citycode or "",
            city=a.city,
        )
        for key, a in addresses.items()
    ]
