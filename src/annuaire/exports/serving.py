"""The export files the website and the API offer for download.

`ANNUAIRE_EXPORT_DIR` names a folder that `annuaire export --out` fills (served as it is). Without it,
the files are generated on first demand into `{db}.exports/` beside the database (see `sidecar`), and
again after a build or an update changed the database (a stamp file records which database they
describe). Two workers asking at once generate them once (a lock file)."""

from __future__ import annotations

import fcntl
import json
import logging
import threading
from pathlib import Path
from typing import Any

from ..settings import current as current_settings
from ..sidecar import sidecar_path
from ..sidecar import stamp as database_stamp
from . import schema
from .files import DATA_PACKAGE, TABLE_FORMATS

STAMP = ".stamp"
DOWNLOADS = [f"{table}.{fmt}" for table, formats in TABLE_FORMATS.items() for fmt in formats]
METADATA_FILES = [*schema.SCHEMA_FILES.values(), DATA_PACKAGE]
MEDIA_TYPES = {**schema.MEDIA_TYPES, "json": "application/json"}
_lock = threading.Lock()
_jobs: dict[str, threading.Thread] = {}
_jobs_lock = threading.Lock()
WAIT_SECONDS = 10.0  # a request waits this long for the files; a large directory takes a minute or more
log = logging.getLogger("annuaire.exports")


def configured_folder() -> Path | None:
    return current_settings().export_dir


def export_folder(db: str | Path, *, generate: bool = True) -> Path:
    """The folder holding the exports of `db`, generated first if needed (and `generate`)."""
    configured = configured_folder()
    if configured is not None:
        return configured
    folder = sidecar_path(db, ".exports")
    if not generate:
        return folder
    stamp = database_stamp(db)
    stamp_file = folder / STAMP
    if stamp_file.is_file() and stamp_file.read_text() == stamp:
        return folder
    with _lock:
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (stamp_file.is_file() and stamp_file.read_text() == stamp):
                from ..store import open_store
                from .files import export_all

                export_all(open_store(str(db)), folder)
                stamp_file.write_text(stamp)
    return folder


def _current(folder: Path, db: str | Path) -> bool:
    stamp_file = folder / STAMP
    return stamp_file.is_file() and stamp_file.read_text() == database_stamp(db)


def _generate(db: str | Path) -> None:
    try:
        export_folder(db)
    except Exception:  # the next request tries again; the log says why
        log.exception("generating the export files failed", extra={"db": str(db)})


def prepared_folder(db: str | Path, wait: float | None = None) -> Path | None:
    """The export folder when its files describe the current database; otherwise their generation is
    started in the background (once), waited for `wait` seconds, and None returned if not done yet."""
    configured = configured_folder()
    if configured is not None:
        return configured
    folder = sidecar_path(db, ".exports")
    if _current(folder, db):
        return folder
    with _jobs_lock:
        job = _jobs.get(str(folder))
        if job is None or not job.is_alive():
            job = threading.Thread(target=_generate, args=(db,), name="exports", daemon=True)
            job.start()
            _jobs[str(folder)] = job
    job.join(WAIT_SECONDS if wait is None else wait)
    return folder if _current(folder, db) else None


def listing(folder: Path) -> list[dict[str, Any]]:
    """Every downloadable file present, with its table, format, size and rows (from datapackage.json)."""
    try:
        package = json.loads((folder / DATA_PACKAGE).read_text(encoding="utf-8"))
        rows = {r["path"]: r.get("x_rows") for r in package.get("resources", [])}
    except (OSError, ValueError):
        rows = {}
    out = []
    for name in DOWNLOADS + METADATA_FILES:
        path = folder / name
        if not path.is_file():
            continue
        table = name.split(".")[0]
        fmt = name.rsplit(".", 1)[1]
        out.append(
            {
                "fichier": name,
                "table": table if table in schema.TABLES else None,
                "format": "schema" if name in schema.SCHEMA_FILES.values() else fmt,
                "octets": path.stat().st_size,
                "lignes": rows.get(name),
                "url": f"/api/v1/exports/{name}",
            }
        )
    return out
