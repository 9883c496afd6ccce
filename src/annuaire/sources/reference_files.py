"""Where the reference files come from: a folder the user names, a mirror, or data.gouv.fr (cached)."""

from __future__ import annotations

import gzip
import logging
import os
import re
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
    elif not has_communes(cache):  # a cache filled before the communes were read: they alone
        download_communes(cache)
    return cache


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
    """Fill `folder` with La Poste's base and INSEE's COG files (départements, régions, communes) found
    through the data.gouv.fr API.

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
            chosen = [_cog_resource(cog, prefix) for prefix in (*COG_PREFIXES, COMMUNES_PREFIX)]
            fetch(laposte["url"], folder / LAPOSTE_FILE, client=client)
            for resource, name in chosen:
                fetch(resource["url"], folder / name, client=client)
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
    """Add INSEE's COG communes (`v_commune_YYYY.csv`) to a reference folder that lacks them."""
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
