"""Where the reference files come from: a folder the user names, a mirror, or data.gouv.fr and the npm
registry (cached).

The COG's communes come from the npm package `@etalab/decoupage-administratif` (its `communes.json`:
official names, kinds, postal codes, former codes of merged communes, populations), a pinned version
checked against its published integrity; when that download fails, from INSEE's `v_commune_YYYY.csv`
on data.gouv.fr (names and kinds only: no populations, postal codes or former codes of merged
communes), with a warning.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import json
import logging
import os
import re
import tarfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import httpx

from ..errors import DownloadError, ReferenceError_
from ..settings import current as current_settings
from . import snapshots
from .download import failure, fetch, http_client
from .reference import (
    COG_COMMUNES_CSV,
    COMMUNES_FILE,
    CONTOURS_FILE,
    DEPARTEMENTS_FILE,
    LAPOSTE_FILE,
    REGIONS_FILE,
)

log = logging.getLogger("annuaire.reference")

# data.gouv.fr datasets holding each reference file, and how to recognise the resource.
LAPOSTE_DATASET = "base-officielle-des-codes-postaux"  # its CSV resource
COG_DATASET = "code-officiel-geographique-cog"  # v_departement_YYYY.csv, v_region_YYYY.csv, v_commune_…
COG_PREFIXES = ("v_departement_", "v_region_")
# Etalab's administrative outlines: the départements simplified to 1 km, drawn under the website's maps.
CONTOURS_DATASET = "contours-administratifs"
CONTOURS_RESOURCE = "departements-1000m.geojson"
COMMUNES_PREFIX = "v_commune_"  # the COG's communes: official names, arrondissements, delegated communes

# The npm package whose communes.json the loader prefers: its registry tarball, pinned, with the
# integrity the registry publishes for it (`npm view @etalab/decoupage-administratif@6.0.0 dist`).
PACKAGE = "@etalab/decoupage-administratif"
PACKAGE_URL = "https://registry.npmjs.org/@etalab/decoupage-administratif/-/decoupage-administratif-6.0.0.tgz"
PACKAGE_INTEGRITY = (
    "sha512-XavYsFlbcM/prKr8hNHPKER94IHw/dsxNM4nxjWMYk6PLFACpEedvn/7wK8Baozm0dCYhWWcf+7bcWpA5pmCaQ=="
)
PACKAGE_MEMBER = "package/data/communes.json"
# Left in the cache when the package could not be had (INSEE's file taken instead): a cache holding
# only INSEE's communes tries the package again once this is a day old, not on every run.
PACKAGE_FAILED = ".communes-package-failed"
PACKAGE_RETRY_SECONDS = 24 * 3600
_OFF = ("off", "0", "false", "no", "non", "none")


@dataclass(frozen=True)
class CommunesPackage:
    url: str | None  # None: not downloaded (INSEE's v_commune file only)
    integrity: str  # npm's `dist.integrity` (sha512-…, SRI) or `dist.shasum` (SHA-1, hex)


def communes_package() -> CommunesPackage:
    """The package's settings, read in this one place: `ANNUAIRE_COG_PACKAGE_URL` (`off` for INSEE's
    file only) and `ANNUAIRE_COG_PACKAGE_INTEGRITY`."""
    settings = current_settings()
    url = settings.cog_package_url or PACKAGE_URL
    integrity = settings.cog_package_integrity or PACKAGE_INTEGRITY
    return CommunesPackage(None if url.lower() in _OFF else url, integrity)


def _complete(folder: Path) -> bool:
    if not (folder / LAPOSTE_FILE).is_file():
        return False
    json_cog = (folder / DEPARTEMENTS_FILE).is_file() and (folder / REGIONS_FILE).is_file()
    csv_cog = any(folder.glob("v_departement_*.csv")) and any(folder.glob("v_region_*.csv"))
    return json_cog or csv_cog


def has_communes(folder: Path) -> bool:
    """Whether the folder holds the COG's communes (`communes.json` or INSEE's `v_commune_*.csv`)."""
    return (folder / COMMUNES_FILE).is_file() or any(folder.glob(COG_COMMUNES_CSV))


def cache_folder() -> Path:
    """The reference cache: `$ANNUAIRE_CACHE_DIR/reference`, by default `~/.cache/annuaire/reference`."""
    return current_settings().cache_dir / "reference"


def reference_folder(explicit: Path | None) -> Path:
    """The folder to read reference data from.

    1. `--reference DIR` or `ANNUAIRE_REFERENCE_DIR`: used as it is (an error if missing or incomplete);
    2. `ANNUAIRE_MIRROR`: its `reference/` subfolder, if complete;
    3. the cache (`cache_folder()`), filled from data.gouv.fr (`ANNUAIRE_PORTAL_URL`) on first use.
    """
    folder = explicit or current_settings().reference_dir
    if folder:
        if not Path(folder).is_dir():
            raise ReferenceError_(f"{folder}: reference folder not found")
        return Path(folder)
    mirror = current_settings().mirror
    if mirror:
        if _complete(mirror / "reference"):
            return mirror / "reference"
        log.warning("mirror has no complete reference folder", extra={"folder": str(mirror / "reference")})
    cache = cache_folder()
    if not _complete(cache):
        download_reference(cache)
    elif not has_communes(cache) or (not (cache / COMMUNES_FILE).is_file() and _package_due(cache)):
        # a cache filled before the communes were read, or holding INSEE's only: the package's alone
        download_communes(cache)
    return cache


def _package_due(folder: Path) -> bool:
    """Whether to try the package again for a folder holding INSEE's communes only: when it is on and
    no attempt failed in the last day."""
    if communes_package().url is None:
        return False
    try:
        return time.time() - (folder / PACKAGE_FAILED).stat().st_mtime > PACKAGE_RETRY_SECONDS
    except FileNotFoundError:
        return True


def _dataset_resources(client: httpx.Client, dataset: str, described: list[dict] | None = None) -> list[dict]:
    """The dataset's resources; its whole description is appended to `described` when given."""
    url = f"{current_settings().portal_url}/api/1/datasets/{dataset}/"
    try:
        response = client.get(url)
        response.raise_for_status()
        description = response.json()
        resources = description.get("resources")
    except httpx.HTTPError as exc:
        raise failure(url, exc) from None
    except (ValueError, AttributeError):
        resources = None
    if not isinstance(resources, list):
        raise DownloadError(f"{url}: not a data.gouv.fr dataset description (no list of resources)")
    if described is not None:
        described.append(description)
    return [r for r in resources if isinstance(r, dict) and r.get("url")]


def _laposte_resource(resources: list[dict]) -> dict:
    csv = [r for r in resources if (r.get("format") or "").lower() == "csv"]
    if not csv:
        raise DownloadError(f"data.gouv.fr dataset {LAPOSTE_DATASET}: no CSV resource")
    main = [r for r in csv if r.get("type", "main") == "main"]
    return (main or csv)[0]


def _cog_resource(resources: list[dict], prefix: str) -> tuple[dict, str]:
    """The most recent resource titled `<prefix>YYYY.csv`, with the file name to save it under."""
    pattern = re.compile(re.escape(prefix) + r"(\d{4})\.csv")
    found = [(m[1], r) for r in resources if (m := pattern.fullmatch((r.get("title") or "").strip()))]
    if not found:
        raise DownloadError(f"data.gouv.fr dataset {COG_DATASET}: no resource titled {prefix}YYYY.csv")
    year, resource = max(found, key=lambda pair: pair[0])
    return resource, f"{prefix}{year}.csv"


def download_reference(folder: Path) -> None:
    """Fill `folder` with La Poste's base and INSEE's COG files (départements, régions) found through
    the data.gouv.fr API, the COG's communes from the npm package (else INSEE's `v_commune_YYYY.csv`),
    and the départements' outlines.

    Each file is renamed into place only when complete, so an interrupted download is resumed from
    scratch on the next run rather than read half-written.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReferenceError_(
            f"{folder}: cannot create the reference cache ({exc.strerror}); set ANNUAIRE_CACHE_DIR "
            "or give a folder with --reference"
        ) from None
    log.info(
        "downloading reference data", extra={"portal": current_settings().portal_url, "folder": str(folder)}
    )
    try:
        with http_client() as client:
            described: list[dict] = []
            laposte = _laposte_resource(_dataset_resources(client, LAPOSTE_DATASET, described))
            cog = _dataset_resources(client, COG_DATASET)
            chosen = [_cog_resource(cog, prefix) for prefix in COG_PREFIXES]
            insee_communes = _cog_resource(cog, COMMUNES_PREFIX)  # in case the package cannot be had
            fetch(laposte["url"], folder / LAPOSTE_FILE, client=client)
            for resource, name in chosen:
                fetch(resource["url"], folder / name, client=client)
            if not download_package(folder, client):
                fetch(insee_communes[0]["url"], folder / insee_communes[1], client=client)
            download_contours(folder, client)
        # La Poste's description as the portal gave it, for `annuaire profile` (licence, metadata…).
        snapshots.record_description(snapshots.LAPOSTE_DATASET, described[0])
    except DownloadError as exc:
        raise DownloadError(
            f"cannot download the reference data (or give a folder with --reference): {exc}"
        ) from None
    log.info("reference data cached", extra={"folder": str(folder)})


def _contours_resource(resources: list[dict]) -> dict:
    """The GeoJSON of the départements at 1 km, plain rather than gzipped, the newest vintage first."""

    def name(r: dict) -> str:
        return next(
            (
                v
                for v in (str(r.get(k) or "").rstrip("/") for k in ("url", "title"))
                if CONTOURS_RESOURCE in v
            ),
            "",
        )

    found = [r for r in resources if name(r).endswith((CONTOURS_RESOURCE, CONTOURS_RESOURCE + ".gz"))]
    if not found:
        raise DownloadError(f"data.gouv.fr dataset {CONTOURS_DATASET}: no resource {CONTOURS_RESOURCE}")
    return max(found, key=lambda r: (not name(r).endswith(".gz"), str(r.get("last_modified") or ""), name(r)))


def download_contours(folder: Path, client: httpx.Client | None = None) -> bool:
    """Etalab's outlines of the départements into `folder` (CONTOURS_FILE). Only the maps use them, so
    a failure is a warning (the maps then go without outlines), never an error."""
    try:
        if client is None:
            with http_client() as own:
                return download_contours(folder, own)
        resource = _contours_resource(_dataset_resources(client, CONTOURS_DATASET))
        target = folder / CONTOURS_FILE
        fetch(resource["url"], target, client=client)
        if target.read_bytes()[:2] == b"\x1f\x8b":  # the gzipped resource: unpacked in place
            unpacked = target.with_name(f".{target.name}.unpacked")
            try:
                unpacked.write_bytes(gzip.decompress(target.read_bytes()))
            except (OSError, EOFError) as exc:
                target.unlink(missing_ok=True)
                raise DownloadError(f"{resource['url']}: damaged gzip file ({exc})") from None
            os.replace(unpacked, target)
    except DownloadError as exc:
        log.warning("département outlines not downloaded: maps without them", extra={"error": str(exc)})
        return False
    return True


def download_communes(folder: Path) -> None:
    """Add the COG's communes to a reference folder that lacks them, or holds INSEE's only: the
    package's `communes.json`, else INSEE's `v_commune_YYYY.csv` (kept when already there)."""
    if download_package(folder) or has_communes(folder):
        return
    log.info(
        "downloading the COG's communes",
        extra={"portal": current_settings().portal_url, "folder": str(folder)},
    )
    try:
        with http_client() as client:
            resource, name = _cog_resource(_dataset_resources(client, COG_DATASET), COMMUNES_PREFIX)
            fetch(resource["url"], folder / name, client=client)
    except DownloadError as exc:
        raise DownloadError(
            f"cannot download the COG's communes (or give a folder with --reference): {exc}"
        ) from None


def download_package(folder: Path, client: httpx.Client | None = None) -> bool:
    """The COG's communes (`communes.json`) from the npm package's tarball into `folder`, checked
    against the package's integrity before anything is read from it. A failure is a warning (INSEE's
    file is then taken instead), never an error; False then, or when the package is turned off."""
    package = communes_package()
    if package.url is None:
        log.info("the COG's communes package is off: INSEE's communes only (ANNUAIRE_COG_PACKAGE_URL)")
        return False
    expected = _expected_digests(package.integrity)  # a wrong setting stops before any download
    log.info("downloading the COG's communes", extra={"package": PACKAGE, "url": package.url})
    tarball = folder / f".{PACKAGE_MEMBER.rsplit('/', 1)[-1]}.tgz"
    try:
        if client is None:
            with http_client() as own:
                fetch(package.url, tarball, client=own)
        else:
            fetch(package.url, tarball, client=client)
        _check_integrity(package, expected, tarball)
        _extract_communes(package.url, tarball, folder / COMMUNES_FILE)
    except DownloadError as exc:
        log.warning(
            "the COG's communes package not downloaded: INSEE's communes instead, without populations "
            "(the statistics page has no map), postal codes or former codes of merged communes",
            extra={"url": package.url, "error": str(exc)},
        )
        (folder / PACKAGE_FAILED).touch()
        return False
    finally:
        tarball.unlink(missing_ok=True)
    (folder / PACKAGE_FAILED).unlink(missing_ok=True)
    return True


def _expected_digests(integrity: str) -> list[tuple[str, bytes]]:
    """(hashlib name, digest) pairs of an npm integrity: SRI (`sha512-<base64>`, several allowed,
    space-separated) or a SHA-1 shasum in hex."""
    if re.fullmatch(r"[0-9a-fA-F]{40}", integrity):
        return [("sha1", bytes.fromhex(integrity))]
    found = []
    for token in integrity.split():
        algorithm, _, value = token.partition("-")
        if algorithm in ("sha512", "sha384", "sha256", "sha1"):
            try:
                digest = base64.b64decode(value.split("?", 1)[0], validate=True)
            except (binascii.Error, ValueError):
                continue
            if len(digest) == hashlib.new(algorithm).digest_size:
                found.append((algorithm, digest))
    if not found:
        raise ReferenceError_(
            f"ANNUAIRE_COG_PACKAGE_INTEGRITY: {integrity!r} is not an npm integrity "
            "(sha512-<base64>, as `npm view PACKAGE@VERSION dist.integrity` prints it, or a SHA-1 shasum)"
        )
    return found


def _check_integrity(package: CommunesPackage, expected: list[tuple[str, bytes]], tarball: Path) -> None:
    digests = {algorithm: hashlib.new(algorithm) for algorithm, _ in expected}
    with tarball.open("rb") as fh:
        while chunk := fh.read(1 << 16):
            for digest in digests.values():
                digest.update(chunk)
    if not any(digests[algorithm].digest() == value for algorithm, value in expected):
        algorithm = expected[0][0]
        got = f"{algorithm}-{base64.b64encode(digests[algorithm].digest()).decode()}"
        raise DownloadError(
            f"{package.url}: not the expected file (integrity {got}, expected {package.integrity}; "
            "ANNUAIRE_COG_PACKAGE_INTEGRITY names the one to expect)"
        )


def _extract_communes(url: str, tarball: Path, target: Path) -> None:
    """The package's `communes.json` alone, written aside and renamed into place once it reads as a
    list of communes."""
    part = target.with_name(f".{target.name}.part")
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            member = archive.getmember(PACKAGE_MEMBER)
            source = archive.extractfile(member) if member.isfile() else None
            if source is None:
                raise KeyError(PACKAGE_MEMBER)
            with source, part.open("wb") as out:
                while chunk := source.read(1 << 16):
                    out.write(chunk)
        entries = json.loads(part.read_bytes())
        if not (
            isinstance(entries, list)
            and entries
            and all(isinstance(e, dict) and "code" in e and "nom" in e for e in entries)
        ):
            raise ValueError("not a list of communes with their code and name")
        os.replace(part, target)
    except KeyError:
        raise DownloadError(f"{url}: no {PACKAGE_MEMBER} in the package") from None
    except (tarfile.TarError, EOFError, zlib.error, OSError, ValueError) as exc:
        raise DownloadError(f"{url}: damaged package ({exc})") from None
    finally:
        part.unlink(missing_ok=True)
