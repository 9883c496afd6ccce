"""The quality report of our own published data: what the build repaired and quarantined (from its
report, kept in the database's `meta` table), the geocoding precision of the active declarations,
the declarations merged into organisations, and the completeness of every exported column.

Computing it reads every declaration and organisation once (about half a minute for 150,000): it is
kept per database file (size, modification time) in memory and in `{db}.quality.json`, so a new build
or update is seen at once and the work is done once."""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..exports import schema
from ..exports.csv_files import declaration_rows, organisation_rows
from ..sidecar import canonical, sidecar_path
from ..sidecar import stamp as database_stamp
from ..store.base import Store

REPAIR_LABELS = {
    "mojibake_repaired": "texte mal encodé réparé (Ã© → é)",
    "whitespace_normalised": "espaces superflus retirés",
    "siret_leading_zero_restored": "SIRET : zéro initial perdu restitué",
    "siret_invalid_withheld": "SIRET invalide écarté (gardé brut)",
    "siret_missing": "SIRET absent",
    "siren_disagrees_with_siret": "SIREN en désaccord avec le SIRET",
    "nda_leading_zero_restored": "NDA : zéro initial perdu restitué",
    "postcode_leading_zero_restored": "code postal : zéro initial perdu restitué",
    "region_leading_zero_restored": "code région : zéro initial perdu restitué",
    "date_impossible_emptied": "date impossible vidée",
    "count_unreadable": "effectif illisible vidé",
    "record_field_count_differs_from_header": "nombre de champs différent de l'en-tête",
    "guillemet_non_ferme": "guillemet jamais fermé lu comme un caractère",
}
QUARANTINE_LABELS = {
    "ligne_vide": "ligne vide",
    "identifiant_seul": "identifiant sans nom ni adresse",
    "nda_absent": "NDA absent",
    "nda_invalide": "NDA invalide",
    "champs_en_trop": "champs en trop",
    "doublon_exact": "doublon exact",
    "nda_en_double": "NDA déclaré deux fois (la déclaration la plus récente est gardée)",
    "guillemet_non_ferme": "ligne illisible : guillemet jamais fermé",
}
PRECISION_LABELS = {
    "housenumber": "au numéro",
    "street": "à la voie",
    "locality": "au lieu-dit",
    "municipality": "à la commune",
    None: "sans position",
}
ADDRESS_LABELS = {
    "voie": "adresse avec voie",
    "commune_seule": "commune seule (sans voie)",
    "boite_postale": "boîte postale, CS, TSA ou CEDEX",
}
METHOD_LABELS = {
    "ban": "géocodage BAN de l'adresse",
    "sirene": "position de l'établissement dans le répertoire SIRENE",
    "centroide_commune": "centre de la commune",
    "aucun": "aucune position",
}
COMMUNE_LABELS = {
    "code_postal_et_nom": "code postal et nom concordants",
    "code_postal_incoherent": "nom et code postal en désaccord (le code postal l'emporte)",
    "code_postal_seul": "code postal seul",
    "nom_seul": "nom seul",
}


def _completeness(columns: list[str], filled: Counter, total: int) -> list[dict[str, Any]]:
    return [
        {
            "colonne": name,
            "renseignees": filled[name],
            "part": round(filled[name] / total, 4) if total else 0.0,
        }
        for name in columns
    ]


def _counted(items: dict[str, int], labels: dict) -> list[dict[str, Any]]:
    return [
        {"code": code, "libelle": labels.get(code, code.replace("_", " ")), "nombre": n}
        for code, n in sorted(items.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def quality_report(store: Store) -> dict[str, Any]:
    meta = store.meta()
    report = meta.get("build_report") or {}
    if isinstance(report, str):  # pragma: no cover - meta values are JSON
        report = {}
    columns = schema.columns("declarations")
    status, geo_type, geo_method = (columns.index(c) for c in ("statut", "geo_type", "geo_methode"))
    filled: Counter = Counter()
    precision: Counter = Counter()
    methods: Counter = Counter()
    active = removed = 0
    for row in declaration_rows(store):
        if row[status] != "actif":
            removed += 1
            continue
        active += 1
        precision[row[geo_type]] += 1
        methods[row[geo_method]] += 1
        for name, value in zip(columns, row, strict=True):
            if value is not None and value != "":
                filled[name] += 1
    org_columns = schema.columns("organismes")
    org_status, org_count = org_columns.index("statut"), org_columns.index("nb_declarations")
    org_filled: Counter = Counter()
    organisations = merged_orgs = merged_declarations = 0
    for row in organisation_rows(store):
        if row[org_status] != "actif":
            continue
        organisations += 1
        if (row[org_count] or 1) > 1:
            merged_orgs += 1
            merged_declarations += row[org_count] - 1
        for name, value in zip(org_columns, row, strict=True):
            if value is not None and value != "":
                org_filled[name] += 1
    repairs = report.get("repairs") or {}
    plain = {k: v for k, v in repairs.items() if "." not in k}
    communes = {k.split(".", 1)[1]: v for k, v in repairs.items() if k.startswith("commune.")}
    kinds = {k.split(".", 1)[1]: v for k, v in repairs.items() if k.startswith("address.")}
    mojibake = {k.split(".", 1)[1]: v for k, v in repairs.items() if k.startswith("mojibake_repaired.")}
    dedup = report.get("deduplication") or {}
    return {
        "genere_le": datetime.now(UTC).isoformat(timespec="seconds"),
        "construit_le": meta.get("built_at"),
        "mis_a_jour_le": meta.get("updated_at"),
        "source": (report.get("source") or {}).get("location"),
        "lignes": report.get("rows") or {},
        "declarations_actives": active,
        "declarations_supprimees": removed,
        "organismes_actifs": organisations,
        "reparations": _counted(plain, REPAIR_LABELS),
        "reparations_encodage_par_colonne": _counted(mojibake, {}),
        "communes_retrouvees": _counted(communes, COMMUNE_LABELS),
        "types_adresse": _counted(kinds, ADDRESS_LABELS),
        "quarantaine": _counted(report.get("quarantine") or {}, QUARANTINE_LABELS),
        "quarantaine_total": sum((report.get("quarantine") or {}).values()),
        "geocodage": {
            "precision": [
                {
                    "code": code,
                    "libelle": PRECISION_LABELS.get(code, code),
                    "nombre": n,
                    "part": round(n / active, 4) if active else 0.0,
                }
                for code, n in sorted(precision.items(), key=lambda kv: -kv[1])
            ],
            "methode": _counted(dict(methods), METHOD_LABELS),
        },
        "doublons": {
            "organismes_regroupant_plusieurs_declarations": merged_orgs,
            "declarations_fusionnees": merged_declarations,
            "par_regle_a_la_construction": dedup.get("by_rule") or {},
        },
        "completude_declarations": _completeness(columns, filled, active),
        "completude_organismes": _completeness(org_columns, org_filled, organisations),
    }


QUALITY_SUFFIX = ".quality.json"
_cache: dict[str, tuple[str, dict]] = {}
_lock = threading.Lock()


def quality_path(db: str | Path) -> Path:
    return sidecar_path(db, QUALITY_SUFFIX)


def _read_stored(path: Path, stamp: str) -> dict | None:
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return stored.get("rapport") if stored.get("base") == stamp else None


def cached_quality_report(store: Store, path: str | Path) -> dict[str, Any]:
    """The report for the database file at `path`, computed again only when the file changed.

    It is kept in memory and in `{db}.quality.json` (with the size and modification time of the
    database it describes), so that other workers and restarts find it; `annuaire profile` writes it
    too. Reading a 150,000-declaration directory takes tens of seconds: done once per database."""
    stamp = database_stamp(path, store)
    key = canonical(path)
    hit = _cache.get(key)
    if hit and hit[0] == stamp:
        return hit[1]
    target = quality_path(path)
    with _lock:
        report = _read_stored(target, stamp)
        if report is None:
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                lock = open(target.with_name(target.name + ".lock"), "w")  # noqa: SIM115 - closed below
            except OSError:
                lock = None  # a read-only folder: computed here, kept in memory only
            try:
                if lock is not None:
                    fcntl.flock(lock, fcntl.LOCK_EX)
                    report = _read_stored(target, stamp)  # another worker may have just written it
                if report is None:
                    report = quality_report(store)
                    _write(target, {"base": stamp, "rapport": report})
            finally:
                if lock is not None:
                    lock.close()
        _cache[key] = (stamp, report)
        return report


def _write(target: Path, data: dict) -> None:
    temp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        temp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        os.replace(temp, target)
    except OSError:
        temp.unlink(missing_ok=True)
