"""`annuaire fetch`: keep dated snapshots of data.gouv.fr resources, downloading only what changed.

For a resource of a dataset:
1. its description is read from the API (`/api/1/datasets/{id}/`: `url`, `last_modified`,
   `checksum`, `filesize`, the crawler's `extras`);
2. the file is asked for at its stable URL (`/api/1/datasets/r/{resource id}`, which redirects to
   the producer's file) with the validators of the last snapshot (`If-None-Match`,
   `If-Modified-Since`): `304 Not Modified` ends there;
3. the download is checked: its length against `Content-Length` and the declared size, its checksum
   against the declared one (SHA-1 from the crawler, or the resource's own); a file that fails is
   refused and the last snapshot stays the latest;
4. a file identical to the last snapshot (same SHA-256) is not kept twice.

Snapshots live in `{folder}/{resource id}/`, each as `{UTC time}-{sha256[:12]}{suffix}` with a
`.json` beside it (where it came from, validators, sizes, checksums); `latest.json` names the latest.
With `ANNUAIRE_MIRROR` set, the newest file of `{mirror}/{resource id}/` (or of the folder named for
the dataset) is taken instead of the network: the same checks, offline.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from ..errors import DownloadError
from ..settings import current as current_settings
from .download import failure, http_client

log = logging.getLogger("annuaire.fetch")

LISTE_PUBLIQUE_DATASET = "582c8978c751df788ec0bb7e"
LISTE_PUBLIQUE_RESOURCE = "ac59a0f5-fa83-4b82-bf12-3c5806d4f19f"
LAPOSTE_DATASET = "base-officielle-des-codes-postaux"
HASHES = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "md5": hashlib.md5, "sha512": hashlib.sha512}


@dataclass
class Snapshot:
    path: str
    resource_id: str
    dataset_id: str
    source_url: str
    fetched_at: str
    sha256: str
    size: int
    etag: str | None = None
    last_modified: str | None = None
    resource_last_modified: str | None = None
    declared_checksum: str | None = None
    declared_size: int | None = None


@dataclass
class FetchResult:
    changed: bool
    snapshot: Snapshot | None
    reason: str  # downloaded, not_modified (304), same_content


def snapshots_folder() -> Path:
    return current_settings().cache_dir / "snapshots"


def latest(resource_id: str, folder: Path | None = None) -> Snapshot | None:
    index = (folder or snapshots_folder()) / resource_id / "latest.json"
    if not index.is_file():
        return None
    snapshot = Snapshot(**json.loads(index.read_text(encoding="utf-8")))
    return snapshot if Path(snapshot.path).is_file() else None


def _resource(client: httpx.Client, dataset_id: str, resource_id: str | None) -> tuple[dict, dict]:
    url = f"{current_settings().portal_url}/api/1/datasets/{dataset_id}/"
    try:
        response = client.get(url)
        response.raise_for_status()
        dataset = response.json()
    except httpx.HTTPError as exc:
        raise failure(url, exc) from None
    except ValueError:
        raise DownloadError(f"{url}: not a data.gouv.fr dataset description (not JSON)") from None
    resources = [r for r in dataset.get("resources") or [] if isinstance(r, dict)]
    if resource_id:
        chosen = [r for r in resources if r.get("id") == resource_id]
    else:
        chosen = [
            r
            for r in resources
            if (r.get("format") or "").lower() == "csv" and r.get("type", "main") == "main"
        ]
    if not chosen:
        raise DownloadError(f"{url}: no resource {resource_id or '(main CSV)'} in the dataset")
    return dataset, chosen[0]


def _declared_checksum(resource: dict) -> tuple[str, str] | None:
    checksum = resource.get("checksum")
    if isinstance(checksum, dict) and checksum.get("type") in HASHES and checksum.get("value"):
        return checksum["type"], checksum["value"].lower()
    crawled = (resource.get("extras") or {}).get("analysis:checksum")
    if (
        isinstance(crawled, str)
        and len(crawled) == 40
        and all(c in "0123456789abcdef" for c in crawled.lower())
    ):
        return "sha1", crawled.lower()
    return None


def _declared_size(resource: dict) -> int | None:
    for value in (resource.get("filesize"), (resource.get("extras") or {}).get("analysis:content-length")):
        if isinstance(value, int) and value > 0:
            return value
    return None


def _check_readable(path: Path, name: str) -> None:
    """A gzip file must decompress to its end (a cut-short download fails here)."""
    with path.open("rb") as fh:
        gzipped = fh.read(2) == b"\x1f\x8b"
    if gzipped:
        try:
            with gzip.open(path, "rb") as fh:
                while fh.read(1 << 20):
                    pass
        except (OSError, EOFError) as exc:
            raise DownloadError(
                f"{name}: damaged gzip file ({exc}): refused, the last snapshot is kept"
            ) from None


def _keep(temp: Path, folder: Path, snapshot: Snapshot, suffix: str) -> Snapshot:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = folder / f"{stamp}-{snapshot.sha256[:12]}{suffix}"
    os.replace(temp, target)
    snapshot.path = str(target)
    meta = json.dumps(asdict(snapshot), ensure_ascii=False, indent=2)
    target.with_name(target.name + ".json").write_text(meta, encoding="utf-8")
    index = folder / "latest.json"
    tmp = index.with_name(".latest.json.tmp")
    tmp.write_text(meta, encoding="utf-8")
    os.replace(tmp, index)
    return snapshot


def attempts_file(dataset_id: str, folder: Path | None = None) -> Path:
    """`{folder}/datasets/{dataset id}.json`: the dataset's description as the portal last gave it and
    the outcome of the last fetch (read by `annuaire profile` for a source's availability)."""
    return (folder or snapshots_folder()) / "datasets" / f"{dataset_id}.json"


def read_attempts(dataset_id: str, folder: Path | None = None) -> dict:
    path = attempts_file(dataset_id, folder)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def record_description(dataset_id: str, dataset: dict, folder: Path | None = None) -> None:
    """Keep a dataset's description as the portal gave it (read by `annuaire profile`), without a fetch
    outcome: what the reference download does for La Poste's base."""
    path = attempts_file(dataset_id, folder)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        record = read_attempts(dataset_id, folder)
        record["dataset"] = dataset
        temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        temp.write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")
        os.replace(temp, path)
    except OSError as exc:
        log.warning("cannot record the dataset description", extra={"file": str(path), "error": str(exc)})


def _record_attempt(
    dataset_id: str, folder: Path, outcome: str, error: str | None, dataset: dict | None
) -> None:
    path = attempts_file(dataset_id, folder)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        record = read_attempts(dataset_id, folder)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        record["last_fetch"] = {"at": now, "outcome": outcome, "error": error}
        if outcome != "failed":
            record["last_success"] = now
        if dataset is not None:
            record["dataset"] = dataset
        temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        temp.write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")
        os.replace(temp, path)
    except OSError as exc:  # the record helps the profile; a fetch never fails for it
        log.warning("cannot record the fetch", extra={"file": str(path), "error": str(exc)})


def fetch_resource(
    dataset_id: str = LISTE_PUBLIQUE_DATASET,
    resource_id: str | None = LISTE_PUBLIQUE_RESOURCE,
    *,
    folder: Path | None = None,
    client: httpx.Client | None = None,
) -> FetchResult:
    """Fetch a resource if it changed since the last snapshot (see the module's description); the
    outcome and the dataset's description are recorded (`attempts_file`)."""
    folder = folder or snapshots_folder()
    described: list[dict] = []
    try:
        result = _fetch_resource(dataset_id, resource_id, folder, client, described)
    except DownloadError as exc:
        _record_attempt(dataset_id, folder, "failed", str(exc), described[0] if described else None)
        raise
    _record_attempt(dataset_id, folder, result.reason, None, described[0] if described else None)
    return result


def _fetch_resource(
    dataset_id: str,
    resource_id: str | None,
    folder: Path,
    client: httpx.Client | None,
    described: list[dict],
) -> FetchResult:
    mirror = current_settings().mirror
    if mirror is not None:
        return _from_mirror(mirror, dataset_id, resource_id, folder)
    own = client is None
    client = client or http_client()
    try:
        dataset, resource = _resource(client, dataset_id, resource_id)
        described.append(dataset)
        rid = resource["id"]
        target = folder / rid
        target.mkdir(parents=True, exist_ok=True)
        previous = latest(rid, folder)
        headers = {}
        if previous and previous.etag:
            headers["If-None-Match"] = previous.etag
        if previous and previous.last_modified:
            headers["If-Modified-Since"] = previous.last_modified
        url = f"{current_settings().portal_url}/api/1/datasets/r/{rid}"
        checksum = _declared_checksum(resource)
        size = _declared_size(resource)
        digests = {"sha256": hashlib.sha256()}
        if checksum:
            digests.setdefault(checksum[0], HASHES[checksum[0]]())
        handle = tempfile.NamedTemporaryFile(prefix=".fetch-", dir=target, delete=False)  # noqa: SIM115
        temp = Path(handle.name)
        try:
            with handle, client.stream("GET", url, headers=headers) as response:
                if response.status_code == 304 and previous:
                    log.info("not modified", extra={"resource": rid})
                    return FetchResult(False, previous, "not_modified")
                if response.status_code != 200:
                    raise DownloadError(
                        f"{url}: download failed: the server answered "
                        f"{response.status_code} {response.reason_phrase}"
                    )
                written = 0
                for chunk in response.iter_bytes(1 << 16):  # decoded if the server used Content-Encoding
                    handle.write(chunk)
                    written += len(chunk)
                    for d in digests.values():
                        d.update(chunk)
                received = response.num_bytes_downloaded  # as sent: what Content-Length describes
                announced = response.headers.get("content-length", "")
                etag, modified = response.headers.get("etag"), response.headers.get("last-modified")
                final_url = str(response.url)
            if announced.isdigit() and received != int(announced):
                raise DownloadError(f"{url}: cut short ({received:,} of {int(announced):,} bytes): refused")
            if size is not None and written != size:
                raise DownloadError(
                    f"{url}: {written:,} bytes where data.gouv.fr declares {size:,}: "
                    "refused, the last snapshot is kept"
                )
            if checksum and digests[checksum[0]].hexdigest() != checksum[1]:
                raise DownloadError(
                    f"{url}: {checksum[0]} {digests[checksum[0]].hexdigest()} differs from the declared "
                    f"{checksum[1]}: refused, the last snapshot is kept"
                )
            _check_readable(temp, url)
            sha = digests["sha256"].hexdigest()
            if previous and previous.sha256 == sha:
                return FetchResult(False, previous, "same_content")
            suffix = ".csv.gz" if temp.read_bytes()[:2] == b"\x1f\x8b" else ".csv"
            snapshot = Snapshot(
                path="",
                resource_id=rid,
                dataset_id=dataset_id,
                source_url=final_url,
                fetched_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                sha256=sha,
                size=written,
                etag=etag,
                last_modified=modified,
                resource_last_modified=resource.get("last_modified"),
                declared_checksum=f"{checksum[0]}:{checksum[1]}" if checksum else None,
                declared_size=size,
            )
            return FetchResult(True, _keep(temp, target, snapshot, suffix), "downloaded")
        except httpx.HTTPError as exc:
            raise DownloadError(f"{failure(url, exc)}; the last snapshot is kept") from None
        finally:
            temp.unlink(missing_ok=True)
    finally:
        if own:
            client.close()


def _from_mirror(mirror: Path, dataset_id: str, resource_id: str | None, folder: Path) -> FetchResult:
    """The newest file of the mirror's folder for the resource (or the dataset), as a snapshot."""
    candidates = [mirror / (resource_id or dataset_id), mirror / dataset_id]
    source_dir = next((c for c in candidates if c.is_dir()), None)
    files = sorted(
        (
            p
            for p in (source_dir.iterdir() if source_dir else [])
            if p.is_file() and not p.name.startswith(".")
        ),
        key=lambda p: p.stat().st_mtime,
    )
    if not files:
        raise DownloadError(f"{mirror}: no file in {' or '.join(str(c) for c in candidates)}")
    newest = files[-1]
    rid = resource_id or dataset_id
    target = folder / rid
    target.mkdir(parents=True, exist_ok=True)
    previous = latest(rid, folder)
    handle = tempfile.NamedTemporaryFile(prefix=".fetch-", dir=target, delete=False)  # noqa: SIM115
    temp = Path(handle.name)
    try:
        with handle, newest.open("rb") as src:
            shutil.copyfileobj(src, handle)
        _check_readable(temp, str(newest))
        digest = hashlib.sha256(temp.read_bytes()).hexdigest()
        if previous and previous.sha256 == digest:
            return FetchResult(False, previous, "same_content")
        snapshot = Snapshot(
            path="",
            resource_id=rid,
            dataset_id=dataset_id,
            source_url=newest.resolve().as_uri(),
            fetched_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            sha256=digest,
            size=temp.stat().st_size,
        )
        suffix = ".csv.gz" if newest.name.endswith(".gz") else ".csv"
        return FetchResult(True, _keep(temp, target, snapshot, suffix), "downloaded")
    finally:
        temp.unlink(missing_ok=True)
