"""`annuaire sirene`: check the directory's establishments against SIRENE and record what it says.

The answers come from the cache (`sources/sirene.py`) when fresh, else from the API; the directory's
`sirene` table is then rewritten from the cache in one transaction (readers see the old answers or
the new), so a closed establishment is flagged in the API and on its page.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path

from .. import config
from ..errors import DirectoryMissing
from ..sources.sirene import SireneCache, SireneClient, check
from ..store import open_store

STOCK_API = "stock"  # the `api` of answers read from INSEE's stock files


def check_directory(
    db: str,
    client: SireneClient,
    cache: SireneCache,
    *,
    max_age_days: int = 30,
    limit: int | None = None,
    on_answer: Callable[[int, int], None] | None = None,
) -> dict:
    store = open_store(db)
    if not store.exists():
        raise DirectoryMissing(db)
    sirets = store.establishment_sirets()
    report = check(sirets, client, cache, max_age_days=max_age_days, limit=limit, on_answer=on_answer)
    rows = [_row(e, when, api) for e, when, api in cache.answers(sirets)]
    store.replace_sirene(rows)
    report["recorded"] = len(rows)
    report["closed"] = sum(1 for r in rows if r[1] == "F")
    report["unknown_to_sirene"] = sum(1 for r in rows if r[1] is None)
    report["checked_on"] = date.today().isoformat()
    return report


def import_stock(
    db: str,
    stock: Path,
    cache: SireneCache,
    *,
    units: Path | None = None,
    limit: int | None = None,
    on_file: Callable[[str], None] | None = None,
) -> dict:
    """`annuaire sirene --stock`: SIRENE's answers for the directory's establishments read from INSEE's
    stock files (streamed), kept in the cache as the APIs' are (dated the stock's day, `api` `stock`),
    then the directory's `sirene` table rewritten from the cache in one transaction."""
    from ..sources.sirene_stock import stock_answers

    store = open_store(db)
    if not store.exists():
        raise DirectoryMissing(db)
    every = store.establishment_sirets()
    sirets = every[:limit] if limit is not None else every
    started = time.monotonic()
    answers, report = stock_answers(stock, sirets, units, on_file=on_file)
    report["seconds"] = round(time.monotonic() - started, 2)
    cache.put_many(answers, STOCK_API, date.fromisoformat(report["stock_date"]))
    rows = [_row(e, when, api) for e, when, api in cache.answers(every)]
    store.replace_sirene(rows)
    report = {"establishments": len(sirets), **report}
    report["recorded"] = len(rows)
    report["closed"] = sum(1 for r in rows if r[1] == "F")
    report["unknown_to_sirene"] = sum(1 for r in rows if r[1] is None)
    return report


def default_cache_path() -> Path:
    return config.cache_dir() / "sirene.sqlite"


def cached_rows(sirets: Iterable[str], cache_path: Path | None = None) -> list[tuple]:
    """`sirene` rows for the SIRETs the cache has answers for (a new build keeps what SIRENE said
    without asking again); none when there is no cache."""
    path = cache_path or default_cache_path()
    if not path.is_file():
        return []
    cache = SireneCache(path)
    try:
        return [_row(e, when, api) for e, when, api in cache.answers(sirets)]
    finally:
        cache.close()


def _row(e, when: str, api: str) -> tuple:
    return (
        e.siret,
        e.etat_administratif,
        e.date_fermeture,
        e.denomination,
        e.activite_principale,
        e.etat_unite_legale,
        when,
        api,
    )
