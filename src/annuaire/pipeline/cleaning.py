"""Cleaning records in chunks, by this process and forked workers, for the build and the update.

The reading (decompression, CSV parsing) stays in the calling process, and so does everything that
depends on order (NDAs seen twice): the result is that of cleaning in one process, in record order.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator

from ..clean.record import Declaration, RecordCleaner, Rejected, declaration_fields
from ..settings import current as current_settings
from ..sources.reader import Record

# Workers are started only when a file is large enough to repay them (PARALLEL_MIN_BYTES).
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


def _record_chunks(records: Iterable[Record], on_chunk: Callable[[], None] | None) -> Iterator[list[Record]]:
    chunk: list[Record] = []
    for record in records:
        chunk.append(record)
        if len(chunk) == CHUNK_RECORDS:
            yield chunk
            chunk = []
            if on_chunk:
                on_chunk()
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


def jobs_for(size: int) -> int:
    """Processes to clean a file of `size` bytes with: ANNUAIRE_CLEANING_JOBS when set, else one per
    CPU (default_jobs) when the file is large enough to repay starting workers, else this one alone."""
    chosen = current_settings().cleaning_jobs
    if chosen is not None:
        return chosen
    return default_jobs() if size >= PARALLEL_MIN_BYTES else 1


def clean_records(
    records: Iterable[Record],
    cleaner: RecordCleaner,
    counts: Counter,
    jobs: int,
    on_chunk: Callable[[], None] | None = None,
) -> Iterator[Declaration | Rejected]:
    """The records cleaned, yielded in their order, by `jobs` processes when this system can fork,
    else by this one (`on_chunk`: called each time a chunk of records has been read).

    With workers, this process reads the records and hands chunks to `jobs - 1` forked workers; it
    cleans a chunk itself when each worker has two waiting, so that what it does besides (reading,
    taking the workers' results back) sets its share. (Workers only, with this process waiting, would
    spend a core's worth of time sending records and declarations back and forth.)
    """
    if jobs <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        for n, record in enumerate(records, start=1):
            yield cleaner.clean_record(record)
            if on_chunk and n % CHUNK_RECORDS == 0:
                on_chunk()
        return
    global _worker_cleaner
    _worker_cleaner = cleaner
    backlog = 2 * (jobs - 1)
    try:
        with multiprocessing.get_context("fork").Pool(jobs - 1) as pool:
            pending: deque = deque()
            for chunk in _record_chunks(records, on_chunk):
                if sum(1 for entry in pending if not _ready(entry)) >= backlog:  # the workers are busy
                    pending.append([cleaner.clean_record(record) for record in chunk])
                else:
                    pending.append((chunk, pool.apply_async(_clean_chunk, (_for_worker(chunk),))))
                # Hand on what is ready; wait only when enough is in flight to keep the workers busy.
                while pending and (_ready(pending[0]) or len(pending) > 2 * jobs):
                    yield from _settle(pending.popleft(), counts)
            while pending:
                yield from _settle(pending.popleft(), counts)
    finally:
        _worker_cleaner = None
