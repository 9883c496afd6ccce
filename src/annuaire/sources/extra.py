"""Secondary sources given to the build: fetched, parsed, and kept as their last good snapshot.

`--extra-source NAME=LOCATION` (repeatable): NAME is a mapping shipped with the package (`datadock`,
`cfa-reseaux`, `certificateur`) or the path of a mapping file (`my-list.toml=…`); LOCATION a file path
or an http(s) URL. A source that cannot be fetched or read does not stop the build: a warning is
logged and its last good snapshot (`{cache}/sources/{name}/`) is used instead, or nothing if it
never was read; the report says which.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import AnnuaireError, InputError
from ..settings import current as current_settings
from .download import download, is_url
from .secondary import Mapping, SecondaryRecord, load_mapping, parse_source

log = logging.getLogger("annuaire.sources")

FRESH = "frais"  # read from its location in this build
SNAPSHOT = "dernier_instantane"  # its location failed: the last good snapshot was used
UNAVAILABLE = "indisponible"  # its location failed and no snapshot exists: the build goes on without it


@dataclass(frozen=True)
class ExtraSource:
    mapping: Mapping
    location: str

    @property
    def name(self) -> str:
        return self.mapping.name


def parse_extra_source(option: str) -> ExtraSource:
    """`NAME=LOCATION` or `MAPPING.toml=LOCATION`, as given to `--extra-source`."""
    key, sep, location = option.partition("=")
    if not sep or not key.strip() or not location.strip():
        raise InputError(option, "expected NAME=PATH_OR_URL (NAME: a built-in mapping or a mapping file)")
    return ExtraSource(load_mapping(key.strip()), location.strip())


def parse_sources_config(path: Path | str) -> list[ExtraSource]:
    """Sources listed in a TOML file (`--sources-config`), each a `[[source]]` table with `mapping`
    (a built-in mapping's name or a mapping file) and `location` (a path or a URL); relative paths
    are read from the file's folder."""
    import tomllib

    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(str(path), f"cannot read the sources file ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(str(path), f"not valid TOML ({exc})") from None
    entries = data.get("source")
    if not isinstance(entries, list) or not entries:
        raise InputError(str(path), "expected [[source]] tables with `mapping` and `location`")
    out = []
    for number, entry in enumerate(entries, start=1):
        mapping, location = entry.get("mapping"), entry.get("location")
        if not isinstance(mapping, str) or not isinstance(location, str) or not mapping or not location:
            raise InputError(str(path), f"[[source]] number {number}: `mapping` and `location` are required")
        if mapping.endswith(".toml") and not Path(mapping).is_absolute():
            mapping = str(path.parent / mapping)
        if not is_url(location) and not Path(location).is_absolute():
            location = str(path.parent / location)
        out.append(ExtraSource(load_mapping(mapping), location))
    return out


@dataclass
class LoadedSource:
    name: str
    label: str
    location: str
    status: str
    records: list[SecondaryRecord] = field(default_factory=list)
    format: str | None = None
    observed_at: str | None = None  # ISO date the file was read (its snapshot's, when one was used)
    sha256: str | None = None
    error: str | None = None


def snapshot_folder(name: str, root: Path | None = None) -> Path:
    return (root or current_settings().cache_dir / "sources") / name


def _save_snapshot(folder: Path, data: bytes, meta: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for target, payload in (("last-good.bin", data), ("last-good.json", json.dumps(meta).encode())):
        fd, temp = tempfile.mkstemp(prefix=f".{target}.", dir=folder)
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        os.replace(temp, folder / target)


def _read_bytes(location: str, timeout: float) -> bytes:
    if is_url(location):
        path = download(location, timeout=timeout)
        try:
            return path.read_bytes()
        finally:
            path.unlink(missing_ok=True)
    try:
        return Path(location).read_bytes()
    except OSError as exc:
        raise InputError(location, f"cannot read the file ({exc.strerror or exc})") from None


def load_source(source: ExtraSource, *, snapshots: Path | None = None, timeout: float = 30.0) -> LoadedSource:
    """Fetch and parse one source; on any failure fall back to its last good snapshot."""
    folder = snapshot_folder(source.name, snapshots)
    out = LoadedSource(source.name, source.mapping.label, source.location, FRESH)
    try:
        data = _read_bytes(source.location, timeout)
        out.format, out.records = parse_source(data, source.mapping, source.location)
        out.sha256 = hashlib.sha256(data).hexdigest()
        out.observed_at = time.strftime("%Y-%m-%d")
        meta = {"location": source.location, "observed_at": out.observed_at, "sha256": out.sha256}
        try:
            _save_snapshot(folder, data, meta | {"format": out.format})
        except OSError as exc:  # the build does not depend on the cache
            log.warning(
                "cannot keep a snapshot of a source", extra={"source": source.name, "error": str(exc)}
            )
        return out
    except (AnnuaireError, OSError, ValueError) as exc:  # whatever the file, the build goes on
        out.error = str(exc)
    try:
        meta = json.loads((folder / "last-good.json").read_text(encoding="utf-8"))
        data = (folder / "last-good.bin").read_bytes()
        out.format, out.records = parse_source(data, source.mapping, str(folder / "last-good.bin"))
    except (OSError, ValueError, AnnuaireError):
        out.status = UNAVAILABLE
        out.records = []
        log.warning(
            "secondary source unavailable, no snapshot: the build goes on without it",
            extra={"source": source.name, "error": out.error},
        )
        return out
    out.status = SNAPSHOT
    out.observed_at = meta.get("observed_at")
    out.sha256 = meta.get("sha256")
    log.warning(
        "secondary source unavailable: using its last good snapshot",
        extra={"source": source.name, "error": out.error, "snapshot_of": out.observed_at},
    )
    return out


def check_names(sources: Sequence[ExtraSource]) -> None:
    names = [s.name for s in sources]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputError("--extra-source", f"source(s) given twice: {', '.join(duplicates)}")


def load_sources(sources: Sequence[ExtraSource], *, snapshots: Path | None = None) -> list[LoadedSource]:
    check_names(sources)
    return [load_source(s, snapshots=snapshots) for s in sources]
