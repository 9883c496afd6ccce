"""`annuaire build`: the Liste publique file → a clean, de-duplicated directory, nothing lost.

Every record read ends either as a declaration in the directory or in quarantine with its reason;
the build checks that the two add up before swapping the new directory in.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..clean.places import PlaceBook, place_declarations
from ..clean.record import (
    Declaration,
    RecordCleaner,
    Rejected,
    declaration_fields,
    settle_twice,
)
from ..fields import SCOPE_CODES
from ..memory import gc_paused
from ..sources.download import download, is_url
from ..sources.extra import ExtraSource, check_names, load_sources
from ..sources.reader import ListePubliqueReader, Record
from ..sources.reference import Reference
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


# Records are cleaned in chunks, by this process and forked workers, when the file is large enough
# to repay starting them: the reading (decompression, CSV parsing) stays in this process, and so does
# everything that depends on order (NDAs seen twice): the result is that of cleaning in one process.
CHUNK_RECORDS = 2048
PARALLEL_MIN_BYTES = 2_000_000
_worker_cleaner: RecordCleaner | None = None  # each worker's own, inherited from the parent by fork


def default_jobs() -> int:
    """Processes cleaning records, this one included: the CPUs it may use, at most 4 (its reading
    of the file could not feed more)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 4))


# A record travels to a worker with its fields joined by NUL, a character no field holds (the reader
# refuses NUL bytes): one string to pickle instead of thirty.
_SEPARATOR = "\x00"


def _clean_chunk(chunk: list[tuple]) -> tuple[list[tuple | Rejected], Counter]:
    """In a worker: clean a chunk of records. Declarations go back as tuples of their fields, and
    without their raw fields: the parent has them."""
    cleaner = _worker_cleaner
    assert cleaner is not None  # set before the workers were forked
    counts: Counter[str] = Counter()
    cleaner.counts = counts
    out: list[tuple | Rejected] = []
    for number, line, joined, values, extras, width_ok, overflow, defect in chunk:
        raw = joined.split(_SEPARATOR)
        values = raw if values is None else values
        cleaned = cleaner.clean(number, line, values, raw, extras, width_ok, overflow, defect)
        cleaned.raw = []  # the parent has it
        out.append(declaration_fields(cleaned) if isinstance(cleaned, Declaration) else cleaned)
    return out, counts


def _record_chunks(
    reader: ListePubliqueReader, on_progress: ProgressCallback | None
) -> Iterator[list[Record]]:
    chunk: list[Record] = []
    for record in reader:
        chunk.append(record)
        if len(chunk) == CHUNK_RECORDS:
            yield chunk
            chunk = []
            if on_progress:
                on_progress(reader.progress(), reader.size)
    if chunk:
        yield chunk


def _for_worker(records: list[Record]) -> list[tuple]:
    """What a worker needs to clean the records: the raw fields joined, the values only when they
    are not the raw fields themselves (columns in another order)."""
    join = _SEPARATOR.join
    return [
        (
            r.number,
            r.line,
            join(r.raw),
            None if r.values is r.raw else r.values,
            r.extras,
            r.width_ok,
            r.overflow,
            r.defect,
        )
        for r in records
    ]


def _cleaned_in_parallel(
    reader: ListePubliqueReader,
    cleaner: RecordCleaner,
    counts: Counter,
    jobs: int,
    on_progress: ProgressCallback | None,
) -> Iterator[Declaration | Rejected]:
    """Clean the records with `jobs` processes, yielding the results in record order.

    This process reads the file and hands chunks to `jobs - 1` forked workers; it cleans a chunk
    itself when each worker has two waiting, so that what it does besides (reading, taking the
    workers' results back) sets its share. (Workers only, with this process waiting, would spend a
    core's worth of time sending records and declarations back and forth.)
    """
    global _worker_cleaner
    _worker_cleaner = cleaner
    backlog = 2 * (jobs - 1)
    try:
        with multiprocessing.get_context("fork").Pool(jobs - 1) as pool:
            pending: deque = deque()
            for records in _record_chunks(reader, on_progress):
                if sum(1 for entry in pending if not _ready(entry)) >= backlog:  # the workers are busy
                    pending.append([cleaner.clean_record(record) for record in records])
                else:
                    pending.append((records, pool.apply_async(_clean_chunk, (_for_worker(records),))))
                # Hand on what is ready; wait only when enough is in flight to keep the workers busy.
                while pending and (_ready(pending[0]) or len(pending) > 2 * jobs):
                    yield from _settle(pending.popleft(), counts)
            while pending:
                yield from _settle(pending.popleft(), counts)
    finally:
        _worker_cleaner = None


def _ready(entry: list | tuple) -> bool:
    return isinstance(entry, list) or entry[1].ready()


def _settle(entry: list | tuple, counts: Counter) -> Iterator[Declaration | Rejected]:
    if isinstance(entry, list):  # cleaned here
        yield from entry
        return
    records, result = entry
    cleaned, chunk_counts = result.get()
    counts.update(chunk_counts)
    for record, out in zip(records, cleaned, strict=True):
        if type(out) is tuple:
            out = Declaration(*out)
        out.raw = record.raw
        yield out


def _cleaned_here(
    reader: ListePubliqueReader, cleaner: RecordCleaner, on_progress: ProgressCallback | None
) -> Iterator[Declaration | Rejected]:
    for record in reader:
        yield cleaner.clean_record(record)
        if on_progress and record.number % 4096 == 0:
            on_progress(reader.progress(), reader.size)


def read_and_clean(
    reader: ListePubliqueReader,
    reference: Reference,
    counts: Counter,
    on_progress: ProgressCallback | None = None,
    jobs: int | None = None,
) -> tuple[list[Declaration], list[Rejected]]:
    """Stream the records, clean each one, and settle NDAs seen twice.

    `jobs`: processes cleaning the records, this one included (default: one per CPU, for files
    large enough); 1 cleans in this process only. The result does not depend on it.
    """
    cleaner = RecordCleaner(reference.communes, counts)
    if jobs is None:
        jobs = default_jobs() if reader.size >= PARALLEL_MIN_BYTES else 1
    if jobs > 1 and "fork" in multiprocessing.get_all_start_methods():
        cleaned = _cleaned_in_parallel(reader, cleaner, counts, jobs, on_progress)
    else:
        cleaned = _cleaned_here(reader, cleaner, on_progress)
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
