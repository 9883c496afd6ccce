"""Where the reference files come from: a folder the user names, a mirror, or data.gouv.fr (cached)."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import httpx

from .. import config
from ..errors import DownloadError, ReferenceError_
from .reference import DEPARTEMENTS_FILE, LAPOSTE_FILE, REGIONS_FILE

log = logging.getLogger("annuaire.reference")

# data.gouv.fr datasets holding each reference file, and how to recognise the resource.
LAPOSTE_DATASET = "base-officielle-des-codes-postaux"
COG_DATASET = "code-officiel-geographique-cog"
REFERENCE_FILES = (LAPOSTE_FILE, DEPARTEMENTS_FILE, REGIONS_FILE)


def _complete(folder: Path) -> bool:
    if not (folder / LAPOSTE_FILE).is_file():
        return False
    json_cog = (folder / DEPARTEMENTS_FILE).is_file() and (folder / REGIONS_FILE).is_file()
    csv_cog = any(folder.glob("v_departement_*.csv")) and any(folder.glob("v_region_*.csv"))
    return json_cog or csv_cog


def reference_folder(explicit: Path | None) -> Path:
    """The folder to read reference data from.

    1. `--reference DIR` or `ANNUAIRE_REFERENCE_DIR`: used as it is (an error if incomplete);
    2. `ANNUAIRE_MIRROR`: its `reference/` subfolder, if complete;
    3. the cache (`~/.cache/annuaire/reference`), filled from data.gouv.fr on first use.
    """
    folder = explicit or config.reference_dir()
    if folder:
        if not Path(folder).is_dir():
            raise ReferenceError_(f"{folder}: reference folder not found")
        return Path(folder)
    mirror = config.mirror_dir()
    if mirror and _complete(mirror / "reference"):
        return mirror / "reference"
    cache = config.cache_dir() / "reference"
    if not _complete(cache):
        download_reference(cache)
    return cache


def _dataset_resources(client: httpx.Client, dataset: str) -> list[dict]:
    url = f"{config.portal_url()}/api/1/datasets/{dataset}/"
    try:
        response = client.get(url)
        response.raise_for_status()
        return response.json().get("resources", [])
    except (httpx.HTTPError, ValueError) as exc:
        raise DownloadError(f"{url}: cannot list the dataset's resources ({exc})") from None


def _fetch(client: httpx.Client, url: str, target: Path) -> None:
    temp = target.with_suffix(target.suffix + ".part")
    try:
        with client.stream("GET", url) as response:
            response.raise_for_status()
            with temp.open("wb") as fh:
                for chunk in response.iter_bytes(1 << 16):
                    fh.write(chunk)
        temp.replace(target)
    except httpx.HTTPError as exc:
        temp.unlink(missing_ok=True)
        raise DownloadError(f"{url}: download failed ({exc})") from None


def download_reference(folder: Path) -> None:
    """Fill `folder` with La Poste's base and INSEE's COG files found through the data.gouv.fr API."""
    folder.mkdir(parents=True, exist_ok=True)
    log.info("downloading reference data", extra={"portal": config.portal_url(), "folder": str(folder)})
    with httpx.Client(follow_redirects=True, timeout=120) as client:
        laposte = [
            r for r in _dataset_resources(client, LAPOSTE_DATASET) if (r.get("format") or "").lower() == "csv"
        ]
        if not laposte:
            raise DownloadError(f"dataset {LAPOSTE_DATASET}: no CSV resource")
        _fetch(client, laposte[0]["url"], folder / LAPOSTE_FILE)
        cog = _dataset_resources(client, COG_DATASET)
        for prefix in ("v_departement_", "v_region_"):
            found = sorted(
                (
                    r
                    for r in cog
                    if (r.get("title") or "").startswith(prefix) and (r.get("title") or "").endswith(".csv")
                ),
                key=lambda r: r["title"],
            )
            if not found:
                raise DownloadError(f"dataset {COG_DATASET}: no resource named {prefix}*.csv")
            _fetch(client, found[-1]["url"], folder / found[-1]["title"])


def copy_reference(source: Path, folder: Path) -> None:
    """Copy a complete reference folder (used to seed a cache or a mirror)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in REFERENCE_FILES:
        shutil.copy2(source / name, folder / name)
