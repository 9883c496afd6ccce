"""CSV exports: UTF-8, `,`-separated, snake_case columns, codes as text, ISO 8601 dates, empty for unknown.

- `declarations.csv`: one row per NDA;
- `organismes.csv`: one row per organisation (declarations merged on the SIRET);
- `quarantaine.csv`: every record that is not in the directory, with its reason and raw content.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..store.base import Store

SCOPE_COLUMNS = [
    "certification_actions_formation",
    "certification_bilans_competences",
    "certification_vae",
    "certification_apprentissage",
]
DECLARATION_COLUMNS = [
    "numero_declaration_activite",
    "id_organisme",
    "numeros_declaration_activite_precedents",
    "siret",
    "siret_brut",
    "siret_statut",
    "siren",
    "siren_incoherent",
    "denomination",
    "adresse",
    "code_postal",
    "ville_declaree",
    "commune",
    "code_commune_insee",
    "code_departement",
    "code_region",
    "code_region_declare",
    "type_adresse",
    *SCOPE_COLUMNS,
    "date_derniere_declaration",
    "debut_exercice",
    "fin_exercice",
    "specialites",
    "nb_stagiaires",
    "nb_stagiaires_confies",
    "effectif_formateurs",
    "latitude",
    "longitude",
    "geo_score",
    "geo_type",
    "geo_methode",
    "statut",
    "enregistrement_source",
]
ORGANISATION_COLUMNS = [
    "id_organisme",
    "siret",
    "siren",
    "denomination",
    "numero_declaration_activite",
    "numeros_declaration_activite",
    "nb_declarations",
    "adresse",
    "code_postal",
    "commune",
    "code_commune_insee",
    "code_departement",
    "code_region",
    "type_adresse",
    *SCOPE_COLUMNS,
    "date_derniere_declaration",
    "latitude",
    "longitude",
    "geo_score",
    "geo_type",
    "geo_methode",
    "regroupement",
    "statut",
]
QUARANTINE_COLUMNS = ["enregistrement", "ligne", "numero_declaration_activite", "motif", "detail", "brut"]
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula is prefixed with an apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _bool(value: Any) -> str:
    return "" if value is None else ("true" if value else "false")


def _number(value: Any) -> Any:
    return "" if value is None else value


def declaration_rows(store: Store) -> Iterator[list]:
    for d in store.declarations():
        yield [
            d["nda"],
            d["id_organisme"],
            (d["ndas_precedents"] or "").replace(" ", ", "),
            d["siret"],
            neutralise(d["siret_brut"]),
            d["siret_statut"],
            d["siren"],
            _bool(d["siren_incoherent"]),
            neutralise(d["denomination"]),
            neutralise(d["voie"]),
            d["code_postal"],
            neutralise(d["ville"]),
            d["commune"] or neutralise(d["ville"]),
            d["code_commune_insee"],
            d["code_departement"],
            d["code_region"],
            d["code_region_declare"],
            d["type_adresse"],
            _bool(d["certification_actions_formation"]),
            _bool(d["certification_bilans_competences"]),
            _bool(d["certification_vae"]),
            _bool(d["certification_apprentissage"]),
            d["date_derniere_declaration"],
            d["debut_exercice"],
            d["fin_exercice"],
            (d["specialites"] or "").replace(" ", ", "),
            _number(d["nb_stagiaires"]),
            _number(d["nb_stagiaires_confies"]),
            _number(d["effectif_formateurs"]),
            _number(d["latitude"]),
            _number(d["longitude"]),
            _number(d["geo_score"]),
            d["geo_type"],
            d["geo_methode"],
            d["statut"],
            d["enregistrement"],
        ]


def organisation_rows(store: Store) -> Iterator[list]:
    for o in store.organisations():
        scopes = set((o["portees"] or "").split(","))
        yield [
            o["identifiant"],
            o["siret"],
            o["siren"],
            neutralise(o["denomination"]),
            o["nda_principal"],
            (o["ndas"] or "").replace(" ", ", "),
            o["nb_declarations"],
            neutralise(o["voie"]),
            o["code_postal"],
            o["commune"] or neutralise(o["ville"]),
            o["code_commune_insee"],
            o["code_departement"],
            o["code_region"],
            o["type_adresse"],
            *(
                _bool(code in scopes)
                for code in ("actions_formation", "bilans_competences", "vae", "apprentissage")
            ),
            o["date_derniere_declaration"],
            _number(o["latitude"]),
            _number(o["longitude"]),
            _number(o["geo_score"]),
            o["geo_type"],
            o["geo_methode"],
            o["regroupement"],
            o["statut"],
        ]


def quarantine_rows(store: Store) -> Iterator[list]:
    for q in store.quarantine():
        yield [
            q["enregistrement"],
            q["ligne"],
            q["numero_declaration_activite"],
            q["motif"],
            q["detail"],
            neutralise(q["brut"]),
        ]


def write_csv(path: Path, columns: list[str], rows: Iterable[list]) -> int:
    """Write atomically: the file appears complete or not at all."""
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    count = 0
    try:
        with temp.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(columns)
            for row in rows:
                writer.writerow(["" if v is None else v for v in row])
                count += 1
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return count


def export_csv(store: Store, out: Path) -> dict[str, int]:
    out.mkdir(parents=True, exist_ok=True)
    return {
        "declarations.csv": write_csv(out / "declarations.csv", DECLARATION_COLUMNS, declaration_rows(store)),
        "organismes.csv": write_csv(out / "organismes.csv", ORGANISATION_COLUMNS, organisation_rows(store)),
        "quarantaine.csv": write_csv(out / "quarantaine.csv", QUARANTINE_COLUMNS, quarantine_rows(store)),
    }
