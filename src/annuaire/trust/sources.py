"""The sources the directory is built from, profiled and scored together (`annuaire profile`).

For each source: its file (given, or the latest snapshot `annuaire fetch` kept, or for La Poste's base
the reference folder), its data.gouv.fr description (given with `--metadata`, or the one `annuaire
fetch` recorded), the outcome of the last fetch, and the snapshots kept (their dates give the
observed update interval). The result is written as JSON beside the database
(`annuaire.db.sources.json`), where the website and the API read it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..sidecar import sidecar_path
from ..sources import snapshots
from . import metadata
from .licences import normalise
from .profile import profile_file
from .score import trust_score

PROFILES_SUFFIX = ".sources.json"


@dataclass(frozen=True)
class Source:
    key: str
    title: str
    dataset_id: str
    resource_id: str | None
    producer: str  # the producer we know to be official, used when no metadata says it
    page: str
    role: str  # what the directory takes from it, in French


LISTE_PUBLIQUE = Source(
    "liste-publique",
    "Liste publique des organismes de formation (L.6351-7-1 du Code du travail)",
    snapshots.LISTE_PUBLIQUE_DATASET,
    snapshots.LISTE_PUBLIQUE_RESOURCE,
    "Ministère du Travail (DGEFP)",
    "https://www.data.gouv.fr/fr/datasets/582c8978c751df788ec0bb7e/",
    "Les organismes déclarés, leurs numéros de déclaration, SIRET, adresses, certifications Qualiopi "
    "et spécialités : le contenu de l'annuaire.",
)
LAPOSTE = Source(
    "laposte",
    "Base officielle des codes postaux",
    snapshots.LAPOSTE_DATASET,
    None,
    "La Poste",
    "https://www.data.gouv.fr/fr/datasets/base-officielle-des-codes-postaux/",
    "Les communes, leurs codes INSEE et postaux et leurs coordonnées : retrouver la commune d'une "
    "adresse et situer un organisme au centre de sa commune.",
)
SOURCES = [LISTE_PUBLIQUE, LAPOSTE]


def profiles_path(db: str | Path) -> Path:
    return sidecar_path(db, PROFILES_SUFFIX)


def _snapshot_times(resource_id: str | None, folder: Path) -> list[datetime]:
    """When each distinct snapshot kept was published (its resource's last modification), else fetched."""
    if not resource_id:
        return []
    times = []
    for meta in (folder / resource_id).glob("*.json"):
        if meta.name == "latest.json":
            continue
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        moment = metadata.parse_time(data.get("resource_last_modified")) or metadata.parse_time(
            data.get("fetched_at")
        )
        if moment:
            times.append(moment)
    return times


def _resource_id(source: Source, dataset: dict | None) -> str | None:
    if source.resource_id:
        return source.resource_id
    for resource in (dataset or {}).get("resources") or []:
        if (resource.get("format") or "").lower() == "csv" and resource.get("type", "main") == "main":
            return resource.get("id")
    return None


def profile_source(
    source: Source,
    file: Path | None,
    dataset: dict | None,
    fetch: dict | None,
    *,
    snapshots_dir: Path | None = None,
    now: datetime | None = None,
    max_rows: int | None = 20_000,
) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    folder = snapshots_dir or snapshots.snapshots_folder()
    resource_id = _resource_id(source, dataset)
    resource = metadata.main_resource(dataset, resource_id)
    declared_licence = (dataset or {}).get("license")
    licence = normalise(declared_licence)
    found = metadata.completeness(dataset)
    profile = profile_file(file, max_rows=max_rows) if file else None
    score = trust_score(dataset, resource_id, licence, fetch, source.producer, now)
    organisation = (dataset or {}).get("organization") or {}
    return {
        "cle": source.key,
        "titre": (dataset or {}).get("title") or source.title,
        "role": source.role,
        "jeu_de_donnees": {
            "id": source.dataset_id,
            "ressource": resource_id,
            "page": (dataset or {}).get("page") or source.page,
            "metadonnees_recuperees": bool(dataset),
        },
        "producteur": {
            "nom": organisation.get("name") or source.producer,
            "badges": [b.get("kind") for b in organisation.get("badges") or [] if isinstance(b, dict)],
            "verifie": bool(organisation.get("name")),
        },
        "licence": {
            "declaree": declared_licence,
            "id": licence.id,
            "libelle": licence.label,
            "spdx": licence.spdx,
            "ouverte": licence.open,
            "version_precisee": licence.versioned,
            "url": licence.url,
        },
        "metadonnees": found.as_dict(),
        "fraicheur": metadata.freshness(dataset, resource_id, _snapshot_times(resource_id, folder), now),
        "disponibilite": {
            "derniere_recuperation": (fetch or {}).get("last_fetch"),
            "derniere_reussite": (fetch or {}).get("last_success"),
            "robot_data_gouv": (resource.get("extras") or {}).get("check:available"),
            "robot_data_gouv_date": (resource.get("extras") or {}).get("check:date"),
        },
        "distributions": metadata.distributions(dataset),
        "volume": {
            "lignes": profile.rows if profile else None,
            "colonnes": len(profile.columns) if profile else None,
            "octets": profile.bytes if profile else None,
        },
        "fichier": profile.as_dict() if profile else None,
        "qualite_data_gouv": ((dataset or {}).get("quality") or {}).get("score"),
        "score": score.as_dict(),
    }


def find_metadata(source: Source, given: list[dict]) -> dict | None:
    for dataset in given:
        if source.dataset_id in (dataset.get("id"), dataset.get("slug")):
            return dataset
    return None


def profile_all(
    files: dict[str, Path | None],
    given_metadata: list[dict],
    *,
    snapshots_dir: Path | None = None,
    now: datetime | None = None,
    max_rows: int | None = 20_000,
) -> dict[str, Any]:
    """Every known source: `files` maps a source key to the file to profile (None: no file found)."""
    now = now or datetime.now(UTC)
    folder = snapshots_dir or snapshots.snapshots_folder()
    out = []
    for source in SOURCES:
        record = snapshots.read_attempts(source.dataset_id, folder)
        dataset = find_metadata(source, given_metadata) or record.get("dataset")
        if not record.get("last_fetch"):  # fetched before attempts were recorded: the snapshot says when
            rid = _resource_id(source, dataset)
            kept = snapshots.latest(rid, folder) if rid else None
            if kept:
                record = {
                    **record,
                    "last_fetch": {"at": kept.fetched_at, "outcome": "downloaded", "error": None},
                    "last_success": kept.fetched_at,
                }
        out.append(
            profile_source(
                source,
                files.get(source.key),
                dataset,
                record or None,
                snapshots_dir=folder,
                now=now,
                max_rows=max_rows,
            )
        )
    return {"genere_le": now.isoformat(timespec="seconds"), "sources": out}


def write_profiles(db: str | Path, profiles: dict[str, Any]) -> Path:
    path = profiles_path(db)
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temp.write_text(json.dumps(profiles, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(temp, path)
    return path


def read_profiles(db: str | Path) -> dict[str, Any] | None:
    try:
        return json.loads(profiles_path(db).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


NOT_PROFILED = "profils non calculés : lancez `annuaire profile --db` sur cette base"


def sources_document(db: str | Path) -> dict[str, Any]:
    """What the website and the API show: the profiles, or an empty list saying how to compute them."""
    return read_profiles(db) or {"genere_le": None, "sources": [], "message": NOT_PROFILED}


def default_files(
    source_file: Path | None,
    laposte_file: Path | None,
    reference_dir: Path | None,
    build_report: dict | None,
    snapshots_dir: Path | None,
) -> dict[str, Path | None]:
    """The files to profile when not given: the latest snapshots, else the build's own source and
    reference folder, else the reference cache."""
    from ..sources.reference import LAPOSTE_FILE
    from ..sources.reference_files import cache_folder

    folder = snapshots_dir or snapshots.snapshots_folder()
    files: dict[str, Path | None] = {"liste-publique": source_file, "laposte": laposte_file}
    if files["liste-publique"] is None:
        latest = snapshots.latest(LISTE_PUBLIQUE.resource_id or "", folder)
        built = Path((build_report or {}).get("source", {}).get("location") or "")
        files["liste-publique"] = Path(latest.path) if latest else (built if built.is_file() else None)
    if files["laposte"] is None:
        record = snapshots.read_attempts(LAPOSTE.dataset_id, folder)
        rid = _resource_id(LAPOSTE, record.get("dataset"))
        latest = snapshots.latest(rid, folder) if rid else None
        candidates = [
            Path(latest.path) if latest else None,
            reference_dir / LAPOSTE_FILE if reference_dir else None,
            Path((build_report or {}).get("reference") or "") / LAPOSTE_FILE,
            cache_folder() / LAPOSTE_FILE,
        ]
        files["laposte"] = next((c for c in candidates if c and c.is_file()), None)
    return files
