"""`annuaire build`: the Liste publique file → a clean, de-duplicated directory, nothing lost.

Every record read ends either as a declaration in the directory or in quarantine with its reason;
the build checks that the two add up before swapping the new directory in.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..clean.places import PlaceBook, place_declarations
from ..clean.record import (
    Declaration,
    RecordCleaner,
    Rejected,
    settle_twice,
)
from ..fields import SCOPE_CODES
from ..memory import gc_paused
from ..sources.download import download, is_url
from ..sources.extra import ExtraSource, check_names, load_sources
from ..sources.reader import ListePubliqueReader
from ..sources.reference import Reference
from .cleaning import clean_records, jobs_for
from .dedup import group_declarations
from .geocode import GeocodeSettings, addresses_from, declaration_addresses, geocode
from .load import load_directory
from .reconcile import reconcile
from .sirene import answer_row, answers_for

if TYPE_CHECKING:
    from ..store.base import Store

log = logging.getLogger("annuaire.build")

ProgressCallback = Callable[[int, int], None]  # (bytes done, bytes total)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_and_clean(
    reader: ListePubliqueReader,
    reference: Reference,
    counts: Counter,
    on_progress: ProgressCallback | None = None,
    jobs: int | None = None,
) -> tuple[list[Declaration], list[Rejected]]:
    """Stream the records, clean each one, and settle NDAs seen twice.

    `jobs`: processes cleaning the records, this one included (default: cleaning.jobs_for, from
    ANNUAIRE_CLEANING_JOBS or the CPUs and the file's size); 1 cleans in this process only. The
    result does not depend on it.
    """
    cleaner = RecordCleaner(reference.communes, counts)

    def chunk_read() -> None:
        if on_progress:
            on_progress(reader.progress(), reader.size)

    jobs = jobs_for(reader.size) if jobs is None else jobs
    cleaned = clean_records(reader, cleaner, counts, jobs, chunk_read)
    declarations: list[Declaration] = []
    rejected: list[Rejected] = []
    position: dict[str, int] = {}
    for out in cleaned:
        if isinstance(out, Rejected):
            rejected.append(out)
            continue
        seen = position.get(out.nda)
        if seen is None:
            position[out.nda] = len(declarations)
            declarations.append(out)
            continue
        declarations[seen], quarantined = settle_twice(declarations[seen], out)
        rejected.append(quarantined)
    if on_progress:
        on_progress(reader.size, reader.size)
    return declarations, rejected


def line_accounts(reader: ListePubliqueReader, kept: Iterable, rejected: Sequence[Rejected]) -> dict:
    """Where each physical line of the file went: the header, a declaration, quarantine. Checks that
    they add up, and lists the lines of quotes left open (repaired, or quarantined)."""
    lines_of = reader.lines_of
    in_quarantine = sum(lines_of(r.enregistrement) for r in rejected)
    in_declarations = sum(lines_of(number) for number in kept)
    accounted = reader.header_lines + in_declarations + in_quarantine
    if accounted != reader.lines:  # pragma: no cover - an invariant
        raise AssertionError(f"{reader.lines} lines read, {accounted} accounted for")
    return {
        "physical": reader.lines,
        "header": reader.header_lines,
        "in_declarations": in_declarations,
        "in_quarantine": in_quarantine,
        "records_on_several_lines": len(reader.spans),
        "unclosed_quotes": {
            "repaired_lines": reader.unclosed_quotes["repaired"],
            "quarantined_lines": reader.unclosed_quotes["quarantined"],
        },
    }


def build(
    source: str,
    store: Store,
    reference: Reference,
    *,
    on_progress: ProgressCallback | None = None,
    geocoding: GeocodeSettings | None = None,
    on_geocode_progress: Callable[[int, int], None] | None = None,
    extra_sources: Sequence[ExtraSource] = (),
    sirene_stock: Path | None = None,
) -> dict:
    """Build the directory in `store` from `source` (a path or a URL). Returns the build report.

    `extra_sources` (certifier and network lists) are reconciled with the directory
    (pipeline/reconcile.py); one that fails is replaced by its last good snapshot, or left out.

    SIRENE's answers (INSEE's establishment stock file `sirene_stock`, streamed, else what the SIRENE
    cache holds) place the declarations whose own address gives no commune (clean/places.py).

    With `geocoding` (enabled), street addresses are located through the BAN geocoder; otherwise,
    and for what it cannot locate, declarations get their commune's centroid.

    The database is written aside and swapped in only when complete: if anything fails, the
    previous directory stays as it was.
    """
    started = time.perf_counter()
    with gc_paused():
        return _build(
            source,
            store,
            reference,
            on_progress,
            started,
            geocoding,
            on_geocode_progress,
            extra_sources,
            sirene_stock,
        )


def _build(
    source: str,
    store: Store,
    reference: Reference,
    on_progress: ProgressCallback | None,
    started: float,
    geocoding: GeocodeSettings | None,
    on_geocode_progress: Callable[[int, int], None] | None,
    extra_sources: Sequence[ExtraSource] = (),
    sirene_stock: Path | None = None,
) -> dict:
    check_names(extra_sources)  # before the long part: a mistake in the options fails at once
    if sirene_stock is not None:
        from ..sources.sirene_stock import check_stock

        check_stock(sirene_stock)  # a file that is not a stock fails before the long part too
    local = download(source) if is_url(source) else Path(source)
    try:
        reader = ListePubliqueReader(local, display_name=source)
        counts: Counter = Counter()
        declarations, rejected = read_and_clean(reader, reference, counts, on_progress)
        timings = {"read_and_clean": time.perf_counter() - started}
        records = len(declarations) + len(rejected)
        mark = time.perf_counter()
        answers, sirene_report = answers_for({d.siret for d in declarations if d.siret}, sirene_stock)
        placement = place_declarations(
            declarations,
            {siret: answer[:2] for siret, answer in answers.items()},
            PlaceBook.from_resolver(reference.communes),
        )
        timings["sirene"] = time.perf_counter() - mark
        groups = group_declarations(declarations)
        timings["deduplicate"] = time.perf_counter() - started - sum(timings.values())
        report: dict[str, Any] = {
            "source": {
                "location": source,
                "bytes": reader.size,
                "sha256": _sha256(local),
                "compressed": reader.compressed,
                "encoding": reader.encoding,
                "records_read_as_windows_1252": reader.records_windows_1252,
                "missing_optional_columns": reader.missing_optional,
                "extra_columns": [name for _, name in reader.extra_columns],
            },
            "reference": str(reference.source_dir),
        }
    finally:
        if local != Path(source):
            local.unlink(missing_ok=True)
    counts.update(reader.repairs)
    quarantine = Counter(r.motif for r in rejected)
    for prefix, attribute in (
        ("commune", "methode_commune"),
        ("address", "type_adresse"),
        ("place", "origine_lieu"),
    ):
        for value, n in Counter(getattr(d, attribute) for d in declarations).items():
            counts[f"{prefix}.{value}"] = n
    scopes = {code: counts.pop(f"scope.{code}", 0) for code in SCOPE_CODES}
    merged_groups = [g for g in groups if len(g.members) > 1]
    report |= {
        "rows": {
            "records": records,
            "declarations": len(declarations),
            "quarantined": len(rejected),
            "organisations": len(groups),
        },
        "lines": line_accounts(reader, (d.enregistrement for d in declarations), rejected),
        "quarantine": dict(sorted(quarantine.items())),
        "scopes": scopes,
        "repairs": dict(sorted(counts.items())),
        "deduplication": {
            "organisations_with_several_declarations": len(merged_groups),
            "declarations_merged": sum(len(g.members) - 1 for g in merged_groups),
            "by_rule": dict(Counter(g.how for g in merged_groups)),
        },
        "sirene": {
            "stock": str(sirene_stock) if sirene_stock else None,
            **sirene_report,
            **placement.report(),
        },
    }
    if records != reader.records_read:  # every record is a declaration or in quarantine, once
        raise AssertionError(
            f"{reader.records_read} records read, {records} accounted for"
        )  # pragma: no cover
    # Declarations placed by SIRENE are where SIRENE says (or at their commune's centroid): the
    # geocoder locates the others' own addresses.
    locations: list[tuple] = list(placement.locations.values())
    if geocoding is not None and geocoding.enabled:
        mark = time.perf_counter()
        found, report["geocoding"] = geocode(
            addresses_from(
                declaration_addresses(d for d in declarations if d.nda not in placement.locations),
                reference.communes,
            ),
            geocoding,
            on_geocode_progress,
        )
        locations += [loc.row() for loc in found]
        timings["geocode"] = time.perf_counter() - mark
    locations.sort()
    mark = time.perf_counter()
    with store.build() as writer:
        organisme_of = load_directory(writer, declarations, groups, rejected, reference, locations)
        timings["load"] = time.perf_counter() - mark
        if extra_sources:
            mark = time.perf_counter()
            secondary = load_sources(list(extra_sources))  # a source that fails falls back, never raises
            report["sources_secondaires"] = reconcile(writer, declarations, organisme_of, secondary)
            timings["secondary_sources"] = time.perf_counter() - mark
        # What SIRENE said (the stock given, or `annuaire sirene`'s cache) stays known: closed ones stay
        # flagged, and the addresses that placed declarations are kept beside them.
        report["sirene_answers_from_cache"] = writer.write(
            "sirene", (answer_row(*answers[siret]) for siret in sorted(answers))
        )
        mark = time.perf_counter()
        writer.write_meta({"build_report": report, "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    timings["index_and_swap"] = time.perf_counter() - mark
    report["timings_seconds"] = {k: round(v, 2) for k, v in timings.items()}
    report["duration_seconds"] = round(time.perf_counter() - started, 2)
    report_file = store.report_path(".report.json")
    report_file.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    log.info(
        "build finished",
        extra={
            "records": records,
            "declarations": len(declarations),
            "quarantined": len(rejected),
            "organisations": len(groups),
        },
    )
    return report
