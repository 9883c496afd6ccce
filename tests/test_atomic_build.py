"""A build that fails midway leaves the previous directory exactly as it was, and no temporary file.

The build runs in-process (annuaire.pipeline.build.build) with the session's real reference; failures
are injected with monkeypatch.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import annuaire.pipeline.build as build_module
import annuaire.pipeline.load as load_module
from annuaire.errors import InputError
from annuaire.store import open_store
from annuaire.store.sqlite import SQLiteBuildWriter


class Boom(RuntimeError):
    pass


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".building-" in p.name or p.name.startswith("."))


@pytest.fixture
def small_csv(tmp_path, sample_csv) -> Path:
    path = tmp_path / "small.csv"
    path.write_bytes(b"\n".join(sample_csv.read_bytes().split(b"\n")[:41]) + b"\n")
    return path


@pytest.fixture
def previous(tmp_path, small_csv, reference) -> tuple[Path, str, str]:
    """A directory built at tmp_path/annuaire.db, with the hashes of the db and of its report."""
    db = tmp_path / "annuaire.db"
    report = build_module.build(str(small_csv), open_store(str(db)), reference)
    assert report["rows"]["records"] == 40
    return db, sha(db), sha(db.with_name(db.name + ".report.json"))


def _patch_load(monkeypatch, replacement) -> None:
    # build.py may hold its own reference to load_directory (from .load import load_directory): patch both.
    monkeypatch.setattr(load_module, "load_directory", replacement)
    if hasattr(build_module, "load_directory"):
        monkeypatch.setattr(build_module, "load_directory", replacement)


def test_failure_while_loading_keeps_previous_db(tmp_path, sample_csv, reference, previous, monkeypatch):
    db, db_sha, report_sha = previous
    real_load = load_module.load_directory
    seen = {}

    def load_then_fail(writer, *args, **kwargs):
        real_load(writer, *args, **kwargs)  # the new directory is fully written aside…
        seen["temp"] = leftovers(tmp_path)
        seen["db_sha_meanwhile"] = sha(db)
        raise Boom("disk on fire")  # …and the build fails before the swap

    _patch_load(monkeypatch, load_then_fail)
    with pytest.raises(Boom):
        build_module.build(str(sample_csv), open_store(str(db)), reference)
    assert seen["temp"], "the new directory was not written aside"
    assert seen["db_sha_meanwhile"] == db_sha  # readers never see a half-built directory
    assert sha(db) == db_sha
    assert sha(db.with_name(db.name + ".report.json")) == report_sha
    assert leftovers(tmp_path) == []


def test_failure_before_any_row_keeps_previous_db(tmp_path, sample_csv, reference, previous, monkeypatch):
    db, db_sha, report_sha = previous

    def fail_at_once(writer, *args, **kwargs):
        raise Boom("no rows written")

    _patch_load(monkeypatch, fail_at_once)
    with pytest.raises(Boom):
        build_module.build(str(sample_csv), open_store(str(db)), reference)
    assert sha(db) == db_sha
    assert leftovers(tmp_path) == []


def test_failure_while_indexing_keeps_previous_db(tmp_path, sample_csv, reference, previous, monkeypatch):
    db, db_sha, report_sha = previous

    def fail(self):
        raise Boom("index build failed")

    monkeypatch.setattr(SQLiteBuildWriter, "finish", fail)
    with pytest.raises(Boom):
        build_module.build(str(sample_csv), open_store(str(db)), reference)
    assert sha(db) == db_sha
    assert sha(db.with_name(db.name + ".report.json")) == report_sha
    assert leftovers(tmp_path) == []


def test_interrupted_build_keeps_previous_db(tmp_path, sample_csv, reference, previous, monkeypatch):
    db, db_sha, _ = previous
    real_load = load_module.load_directory

    def load_then_interrupt(writer, *args, **kwargs):
        real_load(writer, *args, **kwargs)
        raise KeyboardInterrupt

    _patch_load(monkeypatch, load_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        build_module.build(str(sample_csv), open_store(str(db)), reference)
    assert sha(db) == db_sha
    assert leftovers(tmp_path) == []


def test_failed_first_build_leaves_nothing(tmp_path, small_csv, reference, monkeypatch):
    def fail(writer, *args, **kwargs):
        raise Boom("first build fails")

    _patch_load(monkeypatch, fail)
    db = tmp_path / "new.db"
    with pytest.raises(Boom):
        build_module.build(str(small_csv), open_store(str(db)), reference)
    assert not db.exists()
    assert not db.with_name(db.name + ".report.json").exists()
    assert leftovers(tmp_path) == []


def test_bad_source_keeps_previous_db(tmp_path, reference, previous):
    db, db_sha, report_sha = previous
    source = tmp_path / "page.csv"
    source.write_text("<html><body>Maintenance</body></html>\n", encoding="utf-8")
    with pytest.raises(InputError):
        build_module.build(str(source), open_store(str(db)), reference)
    assert sha(db) == db_sha
    assert sha(db.with_name(db.name + ".report.json")) == report_sha
    assert leftovers(tmp_path) == []


def test_successful_rebuild_replaces_db(tmp_path, sample_csv, reference, previous):
    db, db_sha, _ = previous
    report = build_module.build(str(sample_csv), open_store(str(db)), reference)
    assert report["rows"]["records"] == 2006
    assert sha(db) != db_sha
    assert leftovers(tmp_path) == []
