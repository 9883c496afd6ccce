"""The trust score of a source, out of 100: five axes, each a share of its weight, each explained in
French words.

- officialness (`officialite`, 25): the producer is a public service (0.6) with a certified account
  (0.4) on data.gouv.fr; without metadata, a producer our registry knows as official gets 0.5;
- availability (`disponibilite`, 25): our last fetch succeeded less than 7 days ago (1), longer ago
  (0.6); it failed after an earlier success (0.3); never fetched: the portal's crawler found the file
  available (0.5);
- metadata completeness (`metadonnees`, 20): N of the 10 recommended fields (metadata.RECOMMENDED);
- licence clarity (`licence`, 15): an open licence with its version (1), without it (0.7), "other
  open" (0.5), another licence (0.2), none (0);
- agent readiness (`agents`, 15): 5 criteria, a fifth each: landing page, documentation, an open
  machine-readable format, a stable download URL, size or checksum declared.

An axis's points are its weight times its share, rounded to a tenth; the total is their sum.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import metadata
from .licences import Licence

WEIGHTS = {"officialite": 25, "disponibilite": 25, "metadonnees": 20, "licence": 15, "agents": 15}
LABELS = {
    "officialite": "Officialité",
    "disponibilite": "Disponibilité",
    "metadonnees": "Complétude des métadonnées",
    "licence": "Clarté de la licence",
    "agents": "Prêt pour les agents (documentation, distributions, page)",
}
RECENT_DAYS = 7


@dataclass
class Axis:
    key: str
    share: float  # 0 to 1
    explanation: str

    @property
    def weight(self) -> int:
        return WEIGHTS[self.key]

    @property
    def points(self) -> float:
        return round(self.weight * self.share, 1)

    def as_dict(self) -> dict[str, Any]:
        return {
            "axe": self.key,
            "libelle": LABELS[self.key],
            "poids": self.weight,
            "points": self.points,
            "part": round(self.share, 4),
            "explication": self.explanation,
        }


@dataclass
class TrustScore:
    axes: list[Axis] = field(default_factory=list)

    @property
    def total(self) -> float:
        return round(sum(a.points for a in self.axes), 1)

    def as_dict(self) -> dict[str, Any]:
        return {"total": self.total, "sur": sum(WEIGHTS.values()), "axes": [a.as_dict() for a in self.axes]}


def officialness(dataset: dict | None, official_producer: str | None) -> Axis:
    organisation = (dataset or {}).get("organization") or {}
    if dataset and organisation.get("name"):
        badges = {b.get("kind") for b in organisation.get("badges") or [] if isinstance(b, dict)}
        share = 0.6 * ("public-service" in badges) + 0.4 * ("certified" in badges)
        said = []
        said.append(
            "service public reconnu par data.gouv.fr"
            if "public-service" in badges
            else "pas de badge « service public »"
        )
        said.append("compte certifié" if "certified" in badges else "compte non certifié")
        return Axis("officialite", share, f"Publié par {organisation['name']} : {', '.join(said)}.")
    if official_producer:
        return Axis(
            "officialite",
            0.5,
            f"Producteur officiel connu ({official_producer}), non vérifié : les métadonnées data.gouv.fr "
            "n'ont pas été récupérées.",
        )
    return Axis("officialite", 0.0, "Producteur inconnu : aucune métadonnée ne l'identifie.")


def availability(fetch: dict | None, resource: dict, now: datetime) -> Axis:
    last = (fetch or {}).get("last_fetch") or {}
    success = metadata.parse_time((fetch or {}).get("last_success"))
    at = metadata.parse_time(last.get("at"))
    if last.get("outcome") and last["outcome"] != "failed" and at:
        days = metadata.age_days(at, now) or 0
        if days <= RECENT_DAYS:
            return Axis("disponibilite", 1.0, f"Dernière récupération réussie il y a {_days(days)}.")
        return Axis(
            "disponibilite",
            0.6,
            f"Dernière récupération réussie, mais il y a {_days(days)} (plus de 7 jours).",
        )
    if last.get("outcome") == "failed":
        if success:
            return Axis(
                "disponibilite",
                0.3,
                f"La dernière récupération a échoué ({last.get('error') or 'erreur'}) ; "
                f"la précédente avait réussi il y a {_days(metadata.age_days(success, now) or 0)}.",
            )
        return Axis(
            "disponibilite",
            0.0,
            f"La récupération a échoué ({last.get('error') or 'erreur'}), jamais réussie.",
        )
    crawled = (resource.get("extras") or {}).get("check:available")
    if crawled is True:
        return Axis(
            "disponibilite",
            0.5,
            "Jamais récupéré par annuaire fetch ; le robot de data.gouv.fr a trouvé le fichier disponible.",
        )
    if crawled is False:
        return Axis("disponibilite", 0.0, "Le robot de data.gouv.fr signale le fichier indisponible.")
    return Axis("disponibilite", 0.0, "Disponibilité inconnue : jamais récupéré par annuaire fetch.")


def _days(days: float) -> str:
    if days < 1:
        hours = round(days * 24)
        return f"{hours} heure{'s' if hours > 1 else ''}"
    whole = round(days)
    return f"{whole} jour{'s' if whole > 1 else ''}"


def metadata_axis(found: metadata.Completeness) -> Axis:
    if found.count == 0:
        return Axis(
            "metadonnees", 0.0, "Aucune métadonnée disponible (description data.gouv.fr non récupérée)."
        )
    labels = {key: label for key, label, _ in metadata.RECOMMENDED}
    missing = ", ".join(labels[k] for k in found.missing)
    text = f"{found.count} des {found.total} champs recommandés sont renseignés."
    if missing:
        text += f" Manquent : {missing}."
    return Axis("metadonnees", found.count / found.total, text)


def licence_axis(licence: Licence, declared: str | None, known: bool = True) -> Axis:
    if not known:
        return Axis(
            "licence", 0.0, "Licence inconnue : les métadonnées data.gouv.fr n'ont pas été récupérées."
        )
    said = f"« {declared} »" if declared else "aucune"
    if licence.id == "inconnue":
        return Axis("licence", 0.0, f"Licence déclarée : {said} ; la réutilisation n'est pas encadrée.")
    if licence.open and licence.versioned:
        return Axis(
            "licence", 1.0, f"Licence déclarée : {said}, soit {licence.label} ({licence.id}) : claire."
        )
    if licence.open and licence.id != "autre-ouverte":
        return Axis(
            "licence", 0.7, f"Licence déclarée : {said}, soit {licence.label} : ouverte, version à préciser."
        )
    if licence.open:
        return Axis("licence", 0.5, f"Licence déclarée : {said} : ouverte, mais laquelle n'est pas dit.")
    return Axis("licence", 0.2, f"Licence déclarée : {said} : non reconnue comme licence ouverte.")


AGENT_CRITERIA = [
    ("page", "une page de présentation"),
    ("documentation", "une documentation (description d'au moins 100 caractères)"),
    ("format_ouvert", "une distribution dans un format ouvert lisible par machine"),
    ("url_stable", "une URL de téléchargement stable"),
    ("controle", "la taille ou la somme de contrôle annoncée"),
]


def agents_axis(dataset: dict | None, resource: dict) -> Axis:
    if not dataset:
        return Axis("agents", 0.0, "Non vérifiable : les métadonnées data.gouv.fr n'ont pas été récupérées.")
    met = {
        "page": bool(dataset.get("page")),
        "documentation": len(metadata.text_of(dataset.get("description"))) >= 100,
        "format_ouvert": (resource.get("format") or "").lower() in metadata.OPEN_FORMATS,
        "url_stable": bool(resource.get("latest")),
        "controle": bool(
            resource.get("filesize")
            or resource.get("checksum")
            or (resource.get("extras") or {}).get("analysis:checksum")
            or (resource.get("extras") or {}).get("analysis:content-length")
        ),
    }
    has = [label for key, label in AGENT_CRITERIA if met[key]]
    lacks = [label for key, label in AGENT_CRITERIA if not met[key]]
    text = f"{len(has)} critère{'s' if len(has) > 1 else ''} sur {len(AGENT_CRITERIA)}"
    if has:
        text += " : " + ", ".join(has)
    text += "."
    if lacks:
        text += " Manque : " + ", ".join(lacks) + "."
    return Axis("agents", len(has) / len(AGENT_CRITERIA), text)


def trust_score(
    dataset: dict | None,
    resource_id: str | None,
    licence: Licence,
    fetch: dict | None,
    official_producer: str | None,
    now: datetime,
) -> TrustScore:
    resource = metadata.main_resource(dataset, resource_id)
    return TrustScore(
        [
            officialness(dataset, official_producer),
            availability(fetch, resource, now),
            metadata_axis(metadata.completeness(dataset)),
            licence_axis(licence, (dataset or {}).get("license"), known=bool(dataset)),
            agents_axis(dataset, resource),
        ]
    )
