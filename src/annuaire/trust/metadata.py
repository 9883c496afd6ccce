"""A data.gouv.fr dataset description (`/api/1/datasets/{id}/`, udata's shape): the recommended
fields it fills, its freshness (declared frequency against what we observe), its distributions."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

OPEN_FORMATS = frozenset(["csv", "json", "geojson", "parquet", "xml", "ods", "txt", "zip", "csv.gz", "gz"])

# udata's frequencies and their expected interval between updates, in days.
FREQUENCIES: dict[str, tuple[str, float | None]] = {
    "continuous": ("en continu", 1),
    "hourly": ("toutes les heures", 1 / 24),
    "fourTimesADay": ("quatre fois par jour", 0.25),
    "threeTimesADay": ("trois fois par jour", 1 / 3),
    "semidaily": ("deux fois par jour", 0.5),
    "daily": ("quotidienne", 1),
    "fourTimesAWeek": ("quatre fois par semaine", 7 / 4),
    "threeTimesAWeek": ("trois fois par semaine", 7 / 3),
    "semiweekly": ("deux fois par semaine", 3.5),
    "weekly": ("hebdomadaire", 7),
    "biweekly": ("toutes les deux semaines", 14),
    "threeTimesAMonth": ("trois fois par mois", 10),
    "semimonthly": ("deux fois par mois", 15),
    "monthly": ("mensuelle", 30.5),
    "bimonthly": ("tous les deux mois", 61),
    "quarterly": ("trimestrielle", 91.5),
    "threeTimesAYear": ("trois fois par an", 122),
    "semiannual": ("semestrielle", 182.5),
    "annual": ("annuelle", 365),
    "biennial": ("tous les deux ans", 730),
    "triennial": ("tous les trois ans", 1095),
    "quinquennial": ("tous les cinq ans", 1826),
    "irregular": ("irrégulière", None),
    "punctual": ("ponctuelle", None),
    "unknown": ("inconnue", None),
}


def _resources(dataset: dict) -> list[dict]:
    return [r for r in dataset.get("resources") or [] if isinstance(r, dict)]


def text_of(value: Any) -> str:
    """A metadata field as stripped text (empty when missing or not text)."""
    return value.strip() if isinstance(value, str) else ""


# The recommended fields (data.gouv.fr's publishing guide and quality criteria), with a French label.
RECOMMENDED: list[tuple[str, str, Any]] = [
    ("titre", "un titre", lambda d: bool(text_of(d.get("title")))),
    (
        "description",
        "une description d'au moins 100 caractères",
        lambda d: len(text_of(d.get("description"))) >= 100,
    ),
    ("licence", "une licence", lambda d: text_of(d.get("license")) not in ("", "notspecified")),
    (
        "frequence",
        "une fréquence de mise à jour",
        lambda d: text_of(d.get("frequency")) not in ("", "unknown"),
    ),
    ("couverture_temporelle", "une couverture temporelle", lambda d: bool(d.get("temporal_coverage"))),
    (
        "couverture_spatiale",
        "une couverture spatiale",
        lambda d: bool((d.get("spatial") or {}).get("zones") or (d.get("spatial") or {}).get("geom")),
    ),
    ("mots_cles", "des mots-clés", lambda d: bool(d.get("tags"))),
    ("producteur", "un producteur identifié", lambda d: bool((d.get("organization") or {}).get("name"))),
    (
        "ressources_documentees",
        "chaque ressource décrite",
        lambda d: bool(_resources(d)) and all(text_of(r.get("description")) for r in _resources(d)),
    ),
    (
        "schema",
        "un schéma de données déclaré",
        lambda d: any(isinstance(r.get("schema"), dict) and r["schema"].get("name") for r in _resources(d)),
    ),
]


@dataclass
class Completeness:
    filled: list[str]
    missing: list[str]

    @property
    def count(self) -> int:
        return len(self.filled)

    @property
    def total(self) -> int:
        return len(self.filled) + len(self.missing)

    def as_dict(self) -> dict[str, Any]:
        labels = {key: label for key, label, _ in RECOMMENDED}
        return {
            "renseignes": self.count,
            "recommandes": self.total,
            "presents": [{"champ": k, "libelle": labels[k]} for k in self.filled],
            "manquants": [{"champ": k, "libelle": labels[k]} for k in self.missing],
        }


def completeness(dataset: dict | None) -> Completeness:
    if not dataset:
        return Completeness([], [key for key, _, _ in RECOMMENDED])
    filled = [key for key, _, check in RECOMMENDED if check(dataset)]
    return Completeness(filled, [key for key, _, _ in RECOMMENDED if key not in filled])


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def main_resource(dataset: dict | None, resource_id: str | None = None) -> dict:
    resources = _resources(dataset or {})
    chosen = [r for r in resources if resource_id and r.get("id") == resource_id]
    chosen = chosen or [r for r in resources if r.get("type", "main") == "main"] or resources
    return chosen[0] if chosen else {}


def freshness(
    dataset: dict | None,
    resource_id: str | None,
    update_times: Sequence[datetime],
    now: datetime,
) -> dict[str, Any]:
    """Last modification, declared frequency and its expected interval, the interval observed between
    the distinct snapshots we kept (median, days), and whether the data is up to date."""
    dataset = dataset or {}
    resource = main_resource(dataset, resource_id)
    modified = (
        parse_time(resource.get("last_modified"))
        or parse_time(dataset.get("last_update"))
        or parse_time(dataset.get("last_modified"))
    )
    code = text_of(dataset.get("frequency")) or None
    label, expected = FREQUENCIES.get(code or "unknown", (code, None))
    times = sorted(set(update_times))
    gaps = [(b - a).total_seconds() / 86400 for a, b in zip(times, times[1:], strict=False)]
    observed = round(statistics.median(gaps), 2) if gaps else None
    age = round((now - modified).total_seconds() / 86400, 2) if modified else None
    up_to_date = None
    if age is not None and expected is not None:
        up_to_date = age <= expected * 1.5 + 1  # a day's grace: producers publish at various hours
    return {
        "derniere_modification": modified.isoformat() if modified else None,
        "age_jours": age,
        "frequence_declaree": code,
        "frequence_libelle": label,
        "intervalle_attendu_jours": expected,
        "intervalle_observe_jours": observed,
        "mises_a_jour_observees": len(times),
        "a_jour": up_to_date,
    }


def distributions(dataset: dict | None) -> list[dict[str, Any]]:
    return [
        {
            "id": r.get("id"),
            "titre": r.get("title"),
            "format": (r.get("format") or "").lower() or None,
            "url": r.get("latest") or r.get("url"),
            "taille": r.get("filesize") or (r.get("extras") or {}).get("analysis:content-length"),
            "derniere_modification": r.get("last_modified"),
            "disponible": (r.get("extras") or {}).get("check:available"),
        }
        for r in _resources(dataset or {})
    ]


def age_days(moment: datetime | None, now: datetime) -> float | None:
    return None if moment is None else (now - moment) / timedelta(days=1)
