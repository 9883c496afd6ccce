"""The rows of the exported tables, read from the store, as typed values in the schema's column order
(`schema.py`), and how a value becomes a CSV cell (UTF-8, `,`-separated, codes as text, ISO 8601 dates,
empty for unknown, formulas neutralised). `files.py` writes them in every format.

- `declarations`: one row per NDA;
- `organismes`: one row per organisation (declarations merged on the SIRET);
- `quarantaine`: every record that is not in the directory, with its reason and raw content;
- `provenance`: what each source (secondary lists, and the Liste publique beside them) said of each
  organisation, field by field, and whether it agrees with the Liste publique.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..fields import SCOPE_CODES, csv_reader
from ..store.base import Store
from . import schema

DECLARATION_COLUMNS = schema.columns("declarations")
_DECLARATION_ROW = csv_reader()
ORGANISATION_COLUMNS = schema.columns("organismes")
QUARANTINE_COLUMNS = schema.columns("quarantaine")
PROVENANCE_COLUMNS = schema.columns("provenance")
# The fields the conflict rule compares with the Liste publique (pipeline/reconcile.py); the others
# (names, certifiers, dates, states) are shown, not compared.
COMPARED_FIELDS = {"qualiopi", "portees", "siret", "code_commune_insee"}
LISTE_PUBLIQUE = "liste_publique"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula is prefixed with an apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


def csv_cell(value: Any) -> Any:
    """A typed value as a CSV cell: empty for unknown, `true`/`false`, formulas neutralised."""
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    return neutralise(value)


def declaration_rows(store: Store) -> Iterator[list]:
    """Rows of typed values (str, int, float, bool, None) in DECLARATION_COLUMNS order (fields.py)."""
    return map(_DECLARATION_ROW, store.declarations())


def organisation_rows(store: Store) -> Iterator[list]:
    """Rows of typed values in ORGANISATION_COLUMNS order."""
    for o in store.organisations():
        scopes = set((o["portees"] or "").split(","))
        yield [
            o["identifiant"],
            o["siret"],
            o["siren"],
            o["denomination"],
            o["nda_principal"],
            (o["ndas"] or "").replace(" ", ", ") or None,
            o["nb_declarations"],
            o["voie"],
            o["code_postal"],
            o["commune"] or o["ville"],
            o["code_commune_insee"],
            o["code_departement"],
            o["code_region"],
            o.get("origine_lieu") or "liste_publique",
            o.get("date_origine_lieu"),
            o["type_adresse"],
            *(_bool(code in scopes) for code in SCOPE_CODES),
            o["date_derniere_declaration"],
            o["debut_exercice"],
            o["fin_exercice"],
            o["nb_stagiaires"],
            o["nb_stagiaires_confies"],
            o["effectif_formateurs"],
            o["latitude"],
            o["longitude"],
            o["geo_score"],
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
            q["brut"],
        ]


def provenance_rows(store: Store) -> Iterator[list]:
    """Rows in PROVENANCE_COLUMNS order; `concorde_liste_publique` is true or false for the fields the
    conflict rule compares, unknown (None) for the others and for the Liste publique's own values."""
    for p in store.provenance():
        compared = p["source"] != LISTE_PUBLIQUE and p["champ"] in COMPARED_FIELDS
        yield [
            p["id_organisme"],
            p["siret"],
            p["champ"],
            p["source"],
            p["valeur"],
            p["date_observation"],
            (not p["conflit"]) if compared and p["conflit"] is not None else None,
            p["ligne"],
        ]
