"""`annuaire sirene`: check the directory's establishments against SIRENE and record what it says.

The answers come from the cache (`sources/sirene.py`) when fresh, else from the API or INSEE's stock
file; the directory's `sirene` table is then rewritten from the cache and the declarations whose own
address gives no commune are placed at SIRENE's address (clean/places.py), in one transaction
(readers see the old answers and places or the new), so a closed establishment is flagged in the API
and on its page, and an organisation without an address appears where SIRENE says it is.

`answers_for` gives a build or an update the same answers: a stock file given is read into the cache
first, so that the next build without it still knows what it said.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import DirectoryMissing
from ..settings import current as current_settings
from ..sources.sirene import Etablissement, SireneCache, SireneClient, check

if TYPE_CHECKING:
    from ..store.base import Store

log = logging.getLogger("annuaire.sirene")
STOCK_API = "stock"  # the `api` of answers read from INSEE's stock files


Answers = dict[str, tuple[Etablissement, str, str]]  # SIRET → (answer, its date, api)


def check_directory(
    store: Store,
    client: SireneClient,
    cache: SireneCache,
    *,
    max_age_days: int = 30,
    limit: int | None = None,
    on_answer: Callable[[int, int], None] | None = None,
) -> dict:
    if not store.exists():
        raise DirectoryMissing(store.location)
    sirets = store.establishment_sirets()
    report = check(sirets, client, cache, max_age_days=max_age_days, limit=limit, on_answer=on_answer)
    report |= _record(store, cache, sirets)
    report["checked_on"] = date.today().isoformat()
    return report


def _record(store: Store, cache: SireneCache, sirets: list[str]) -> dict:
    """Rewrite the directory's `sirene` table from the cache and place what SIRENE places, in one
    transaction."""
    answers = {e.siret: (e, when, api) for e, when, api in cache.answers(sirets)}
    rows = [answer_row(e, when, api) for e, when, api in answers.values()]
    placed = store.replace_sirene(rows, answers)
    return {
        "recorded": len(rows),
        "closed": sum(1 for r in rows if r[1] == "F"),
        "unknown_to_sirene": sum(1 for r in rows if r[1] is None),
        "places": placed,
    }


def import_stock(
    store: Store,
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

    if not store.exists():
        raise DirectoryMissing(store.location)
    every = store.establishment_sirets()
    sirets = every[:limit] if limit is not None else every
    started = time.monotonic()
    answers, report = stock_answers(stock, sirets, units, on_file=on_file)
    report["seconds"] = round(time.monotonic() - started, 2)
    cache.put_many(answers, STOCK_API, date.fromisoformat(report["stock_date"]))
    return {"establishments": len(sirets), **report, **_record(store, cache, every)}


def answers_for(
    sirets: Iterable[str], stock: Path | None = None, cache_path: Path | None = None
) -> tuple[Answers, dict]:
    """SIRENE's answers for a build or an update: the stock file's when one is given, else what the
    cache holds (`annuaire sirene`'s answers, from an API or a stock). A stock that cannot be read
    raises InputError before anything is written. The stock's answers are kept in the directory
    (its `sirene` table), not in the cache: writing 150,000 answers there would cost the build more
    than reading the stock again."""
    from ..sources.sirene_stock import stock_answers

    wanted = sorted(set(sirets))
    report: dict = {}
    path = cache_path or default_cache_path()
    if stock is not None:
        started = time.monotonic()
        found, report = stock_answers(stock, wanted)
        report["seconds"] = round(time.monotonic() - started, 2)
        when = report["stock_date"]
        answers = {e.siret: (e, when, STOCK_API) for e in found}
    else:
        answers = {}
        if path.is_file():
            cache = SireneCache(path)
            try:
                answers = {e.siret: (e, when, api) for e, when, api in cache.answers(wanted)}
            finally:
                cache.close()
        report = {"from_cache": len(answers)}
    return answers, report


def default_cache_path() -> Path:
    return current_settings().cache_dir / "sirene.sqlite"


def answer_row(e: Etablissement, when: str, api: str) -> tuple:
    """An answer as a row of the `sirene` table."""
    return (
        e.siret,
        e.etat_administratif,
        e.date_fermeture,
        e.denomination,
        e.activite_principale,
        e.etat_unite_legale,
        when,
        api,
        e.adresse,
        e.code_postal,
        e.code_commune,
        e.latitude,
        e.longitude,
        e.diffusion,
    )


def row_answer(row) -> tuple[Etablissement, str, str]:
    """A row of the `sirene` table as an answer, its date and its api."""
    values = tuple(row)
    return (Etablissement(*values[:6], *values[8:14]), values[6], values[7])
