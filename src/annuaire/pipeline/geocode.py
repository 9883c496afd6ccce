"""The geocoding stage: locate every declaration, through the BAN geocoder when allowed."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..clean.commune import CommuneResolver
from ..geocoding.ban import DEFAULT_URL, BanClient
from ..geocoding.cache import GeocodeCache
from ..geocoding.strategy import MIN_SCORE, Address, Location, locate
from ..settings import Settings
from ..settings import current as current_settings

log = logging.getLogger("annuaire.geocode")


@dataclass(frozen=True)
class GeocodeSettings:
    enabled: bool = True
    url: str = DEFAULT_URL
    cache_path: Path | None = None  # None: no cache
    batch_size: int = 5000
    concurrency: int = 2
    rate: float = 40.0
    timeout: float = 120.0
    retries: int = 4
    min_score: float = MIN_SCORE

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides: Any) -> GeocodeSettings:
        """From the settings (settings.py: the geocoder, on or off, the cache), then the options given
        (None: not given)."""
        s = settings or current_settings()
        values: dict[str, Any] = {
            "enabled": s.geocode,
            "url": s.geocoder_url or DEFAULT_URL,
            "cache_path": s.cache_dir / "geocode.sqlite",
        }
        values |= {k: v for k, v in overrides.items() if v is not None}
        return cls(**values)


def declaration_addresses(declarations: Iterable) -> list[dict]:
    """The address fields of cleaned declarations, as `addresses_from` takes them."""
    return [
        {
            "nda": d.nda,
            "voie": d.voie,
            "code_postal": d.code_postal,
            "ville": d.ville,
            "code_commune_insee": d.code_commune_insee,
            "type_adresse": d.type_adresse,
        }
        for d in declarations
    ]


def addresses_from(rows: Iterable[dict], communes: CommuneResolver) -> list[Address]:
    """Rows with nda, voie, code_postal, ville, code_commune_insee, type_adresse."""
    out = []
    for r in rows:
        commune = communes.communes.get(r["code_commune_insee"]) if r["code_commune_insee"] else None
        centroid = (
            (commune.latitude, commune.longitude, commune.name)
            if commune and commune.latitude is not None and commune.longitude is not None
            else None
        )
        out.append(
            Address(
                r["nda"],
                r["voie"] or "",
                r["code_postal"],
                r["ville"] or "",
                r["code_commune_insee"],
                r["type_adresse"],
                centroid,
            )
        )
    return out


def geocode(
    addresses: Sequence[Address],
    settings: GeocodeSettings,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[list[Location], dict]:
    with ExitStack() as stack:
        client = cache = None
        if settings.enabled:
            client = stack.enter_context(
                BanClient(
                    settings.url,
                    batch_size=settings.batch_size,
                    concurrency=settings.concurrency,
                    rate=settings.rate,
                    timeout=settings.timeout,
                    retries=settings.retries,
                )
            )
            if settings.cache_path:
                cache = stack.enter_context(GeocodeCache(settings.cache_path))
        locations, report = locate(
            addresses, client, cache, min_score=settings.min_score, on_progress=on_progress
        )
    report["geocoder"] = settings.url if settings.enabled else None
    log.info("geocoding finished", extra={"sent": report["distinct_addresses_sent"], **report["by_method"]})
    return locations, report
