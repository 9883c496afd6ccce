"""What makes the build fast must not change what it builds: cleaning in worker processes gives the
same declarations, quarantine and counts as cleaning in one; the cached reference indexes resolve
as the freshly built ones, and a change to the files or a damaged cache is never served."""

from __future__ import annotations

import csv
import shutil
from collections import Counter
from pathlib import Path

import pytest

import annuaire.pipeline.build as build_module
import annuaire.pipeline.cleaning as cleaning_module
from annuaire.clean.record import EXACT_DUPLICATE, NDA_DUPLICATE, RecordCleaner
from annuaire.sources import reference as reference_module
from annuaire.sources.reader import ListePubliqueReader
from annuaire.sources.reference import load_reference


def _clean(path: Path, reference, jobs: int):
    counts: Counter = Counter()
    declarations, rejected = build_module.read_and_clean(
        ListePubliqueReader(path), reference, counts, jobs=jobs
    )
    return declarations, rejected, counts


@pytest.fixture
def sample_with_duplicates(tmp_path, sample_csv) -> Path:
    """The sample with some records repeated, exactly or with another date: the NDAs seen twice are
    settled in the parent, in record order, whichever worker cleaned them."""
    lines = sample_csv.read_bytes().split(b"\n")
    header, records = lines[0], [line for line in lines[1:] if line]
    repeated = records[:10] + [line.replace(b"/20", b"/19", 1) for line in records[10:20]]
    path = tmp_path / "with-duplicates.csv"
    path.write_bytes(b"\n".join([header, *records, *repeated]) + b"\n")
    return path


def test_parallel_cleaning_gives_the_same_result(sample_with_duplicates, reference, monkeypatch):
    monkeypatch.setattr(cleaning_module, "CHUNK_RECORDS", 37)  # many chunks, several in flight
    alone = _clean(sample_with_duplicates, reference, jobs=1)
    here = []
    clean_here = RecordCleaner.clean_record  # this process's; the workers clean through `clean`

    def counted(cleaner, record):
        here.append(record.number)
        return clean_here(cleaner, record)

    monkeypatch.setattr(RecordCleaner, "clean_record", counted)
    parallel = _clean(sample_with_duplicates, reference, jobs=2)
    # Both cleaned some: the worker, and this process while the worker had chunks waiting.
    assert 0 < len(here) < len(alone[0]) + len(alone[1])
    assert parallel[0] == alone[0]  # declarations, their raw fields included
    assert parallel[1] == alone[1]  # quarantine, in the same order
    assert parallel[2] == alone[2]  # repairs counted once each
    assert {r.motif for r in alone[1]} >= {"doublon_exact"}


def test_parallel_cleaning_with_columns_in_another_order(tmp_path, sample_csv, reference, monkeypatch):
    """Records whose values are not their raw fields (columns moved, an unknown column added)."""
    with sample_csv.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    order = list(reversed(range(len(rows[0]))))
    path = tmp_path / "reordered.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, delimiter=";")
        out.writerow(["colonneInconnue"] + [rows[0][i] for i in order])
        for n, row in enumerate(rows[1:]):
            out.writerow([f"x{n % 3}" if n % 2 else ""] + [row[i] if i < len(row) else "" for i in order])
    monkeypatch.setattr(cleaning_module, "CHUNK_RECORDS", 101)
    alone = _clean(path, reference, jobs=1)
    assert _clean(path, reference, jobs=3) == alone
    assert any(d.extras for d in alone[0])


def test_small_files_are_cleaned_in_process(sample_csv, reference, monkeypatch):
    def no_pool(*args, **kwargs):  # pragma: no cover - called only if the rule is broken
        raise AssertionError("a worker pool for a small file")

    monkeypatch.setattr(cleaning_module.multiprocessing, "get_context", no_pool)
    declarations, _, _ = _clean(sample_csv, reference, jobs=None)
    assert declarations


@pytest.fixture
def reference_copy(tmp_path, reference_dir, monkeypatch) -> Path:
    monkeypatch.setenv("ANNUAIRE_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "reference"
    shutil.copytree(reference_dir, folder)
    return folder


@pytest.mark.integration
def test_cached_reference_resolves_as_the_files(reference_copy, reference):
    first = load_reference(reference_copy)
    cached_files = list((reference_copy.parent / "cache" / "reference-index").glob("*.marshal"))
    assert len(cached_files) == 1
    second = load_reference(reference_copy)  # from the cache
    for loaded in (first, second):
        assert loaded.communes.to_state() == reference.communes.to_state()
        assert loaded.departements == reference.departements and loaded.regions == reference.regions
    assert second.source_dir == reference_copy
    for postcode, city in [("75008", "PARIS"), ("57500", "ST AVOLD"), ("13001", "Marseille"), (None, "")]:
        assert second.communes.resolve(postcode, city) == reference.communes.resolve(postcode, city)


@pytest.mark.integration
def test_changed_reference_files_are_read_again(reference_copy, monkeypatch):
    load_reference(reference_copy)
    laposte = reference_copy / reference_module.LAPOSTE_FILE
    lines = laposte.read_bytes().splitlines(keepends=True)
    laposte.write_bytes(b"".join(lines[:200]))  # a smaller base: fewer communes with its positions
    smaller = load_reference(reference_copy)
    # (The COG's communes are all there, positioned only where La Poste's base says where they are.)
    assert sum(1 for c in smaller.communes.communes.values() if c.latitude is not None) < 200


@pytest.mark.integration
def test_damaged_cache_is_ignored(reference_copy, reference):
    load_reference(reference_copy)
    (cached,) = (reference_copy.parent / "cache" / "reference-index").glob("*.marshal")
    cached.write_bytes(b"not marshal data")
    again = load_reference(reference_copy)
    assert again.communes.to_state() == reference.communes.to_state()


def test_update_reading_in_parallel_gives_the_same_result(
    sample_with_duplicates, sample_csv, reference, monkeypatch
):
    """The update cleans only the records it does not know, in worker processes while it reads; what
    depends on order (an NDA read twice, known or not) is settled as one process reading in order."""
    from annuaire.pipeline.update import read_changes
    from annuaire.sources.reader import record_fingerprint

    # The directory knows every other record of the sample, some of them repeated in the file.
    records = list(ListePubliqueReader(sample_csv))
    known = {record_fingerprint(r.raw): r.values[0] for r in records[::2]}
    active = {r.values[0]: "2020-01-01" for r in records[::3]}
    monkeypatch.setattr(cleaning_module, "CHUNK_RECORDS", 23)
    readings = [
        read_changes(ListePubliqueReader(sample_with_duplicates), reference, known, active, jobs=jobs)
        for jobs in (1, 2)
    ]
    alone, parallel = readings
    assert alone.unchanged and alone.cleaned and alone.rejected
    assert parallel.unchanged == alone.unchanged
    assert parallel.cleaned == alone.cleaned  # the declarations, their raw fields included
    assert parallel.rejected == alone.rejected  # the same quarantine, in the same order
    assert (parallel.records, parallel.counts, parallel.lines) == (alone.records, alone.counts, alone.lines)
    assert {r.motif for r in alone.rejected} >= {EXACT_DUPLICATE, NDA_DUPLICATE}
