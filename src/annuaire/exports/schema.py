"""Table Schemas (frictionless specs) of the exported files: every column with its type, format,
constraints and a French description; and the data package that publishes them (title, description,
licence, frequency, temporal and spatial coverage).

Codes are strings with a pattern, so that a reader keeps their leading zeros (`01000`, `2A004`).
"""

from __future__ import annotations

from typing import Any

from .. import fields
from ..fields import ADDRESS_KINDS, PATTERNS, STATUTS, Field

GROUPINGS = ["siret", "nom_code_postal", "seul"]
QUARANTINE_REASONS = [
    "ligne_vide",
    "identifiant_seul",
    "nda_absent",
    "nda_invalide",
    "champs_en_trop",
    "doublon_exact",
    "nda_en_double",
    "guillemet_non_ferme",
]


def _f(name: str, type_: str, description: str, *, title: str | None = None, **more: Any) -> dict:
    field: dict[str, Any] = {"name": name, "title": title or name.replace("_", " ").capitalize()}
    field["type"] = type_
    field["description"] = description
    constraints = more.pop("constraints", None)
    field.update(more)
    if type_ == "boolean":
        field["trueValues"], field["falseValues"] = ["true"], ["false"]
    if type_ == "date":
        field["format"] = "default"  # ISO 8601, YYYY-MM-DD
    if constraints:
        field["constraints"] = constraints
    return field


def _code(name: str, pattern: str, description: str, *, required: bool = False, **more: Any) -> dict:
    constraints: dict[str, Any] = {"pattern": PATTERNS[pattern]}
    if required:
        constraints["required"] = True
    return _f(name, "string", description, constraints=constraints, **more)


def _enum(name: str, values: list[str], description: str, *, required: bool = True) -> dict:
    return _f(name, "string", description, constraints={"required": required, "enum": values})


def _count(name: str, description: str) -> dict:
    return _f(name, "integer", description, constraints={"minimum": 0})


def field_schema(f: Field) -> dict:
    """A field of the fields table (fields.py) as a Table Schema field."""
    assert f.export_name is not None and f.description is not None, f"{f.name} is not published"
    return _f(f.export_name, f.type, f.description, title=f.title, constraints=dict(f.constraints))


DECLARATION_FIELDS = [field_schema(f) for f in fields.published()]
_DECLARED = {f["name"]: f for f in DECLARATION_FIELDS}


def _declared(*names: str) -> list[dict]:
    """Fields an organisation shares with its declarations, described as theirs."""
    return [_DECLARED[name] for name in names]


SCOPE_FIELDS = _declared(*(fields.scope_flag(code) for code in fields.SCOPE_CODES))
LOCATION_FIELDS = _declared(*(f.name for f in fields.LOCATION))
ADDRESS_FIELDS = _declared("adresse", "code_postal")
TERRITORY_FIELDS = _declared("code_commune_insee", "code_departement", "code_region")
PLACE_FIELDS = _declared("origine_lieu", "date_origine_lieu")

ORGANISATION_FIELDS = [
    _code(
        "id_organisme",
        "id_organisme",
        "Identifiant de l'organisme : son SIRET, ou « NDA » suivi du NDA quand le SIRET manque.",
        required=True,
    ),
    _code("siret", "siret", "SIRET de l'établissement, s'il est valide."),
    _code("siren", "siren", "SIREN de l'entreprise."),
    _f(
        "denomination",
        "string",
        "Dénomination, d'après la déclaration la plus récente.",
        constraints={"required": True},
    ),
    _code(
        "numero_declaration_activite",
        "nda",
        "NDA de la déclaration la plus récente (celle dont les informations sont affichées).",
        required=True,
    ),
    _code(
        "numeros_declaration_activite",
        "nda_list",
        "Tous les NDA de l'établissement, séparés par « , ».",
        required=True,
    ),
    _f(
        "nb_declarations",
        "integer",
        "Nombre de déclarations regroupées.",
        constraints={"required": True, "minimum": 1},
    ),
    *ADDRESS_FIELDS,
    _f("commune", "string", "Nom officiel de la commune (COG), sinon la ville déclarée."),
    *TERRITORY_FIELDS,
    *PLACE_FIELDS,
    _enum("type_adresse", ADDRESS_KINDS, "Nature de l'adresse : voie, commune_seule, boite_postale, aucune."),
    *(
        {
            **f,
            "description": f["description"].replace("(vide", "pour l'une au moins de ses déclarations (vide"),
        }
        for f in SCOPE_FIELDS
    ),
    _f("date_derniere_declaration", "date", "Date de la déclaration la plus récente (AAAA-MM-JJ)."),
    # An organisation's activity is its most recent declaration's, never a sum over its NDAs: every
    # declaration of a merged establishment reports the same establishment's year.
    _f("debut_exercice", "date", "Début de l'exercice déclaré, d'après la déclaration la plus récente."),
    _f("fin_exercice", "date", "Fin de l'exercice déclaré, d'après la déclaration la plus récente."),
    _count(
        "nb_stagiaires",
        "Nombre de stagiaires de l'exercice, d'après la déclaration la plus récente (jamais une somme "
        "des déclarations regroupées).",
    ),
    _count(
        "nb_stagiaires_confies",
        "Stagiaires confiés par un autre organisme, d'après la déclaration la plus récente.",
    ),
    _count("effectif_formateurs", "Effectif des formateurs, d'après la déclaration la plus récente."),
    *LOCATION_FIELDS,
    _enum(
        "regroupement",
        GROUPINGS,
        "Pourquoi les déclarations sont regroupées : siret (même SIRET), nom_code_postal (même nom et code "
        "postal, sans SIRET valide), seul (une seule déclaration).",
    ),
    _enum("statut", STATUTS, "Statut : actif, ou supprime (plus aucune déclaration dans la Liste publique)."),
]

QUARANTINE_FIELDS = [
    _f(
        "enregistrement",
        "integer",
        "Numéro de l'enregistrement dans le fichier source (1 pour le premier après l'en-tête).",
        constraints={"required": True, "minimum": 1},
    ),
    _f(
        "ligne",
        "integer",
        "Ligne physique du fichier source où commence l'enregistrement (l'en-tête est la ligne 1).",
        constraints={"required": True, "minimum": 2},
    ),
    _f("numero_declaration_activite", "string", "NDA tel que lu, s'il y en a un."),
    _enum("motif", QUARANTINE_REASONS, "Pourquoi l'enregistrement n'est pas dans l'annuaire."),
    _f("detail", "string", "Précision sur le motif."),
    _f("brut", "string", "L'enregistrement tel que lu, en tableau JSON de ses champs."),
]

PROVENANCE_CHAMPS = [
    "denomination",
    "siret",
    "nda",
    "certificateur",
    "qualiopi",
    "portees",
    "date_certification",
    "date_expiration",
    "referencable",
    "etat_administratif",
    "code_commune_insee",
    "adresse",
    "code_region",
]
PROVENANCE_FIELDS = [
    _code(
        "id_organisme",
        "id_organisme",
        "Identifiant de l'organisme (comme dans organismes.csv) dont la source parle.",
        required=True,
        title="Identifiant de l'organisme",
    ),
    _code("siret", "siret", "SIRET de l'organisme selon la Liste publique (vide s'il n'en a pas de valide)."),
    _f(
        "champ",
        "string",
        "Le champ renseigné par la source : denomination, siret, nda, certificateur, qualiopi (oui/non), "
        "portees (codes de portée Qualiopi séparés par des virgules), date_certification, date_expiration, "
        "referencable, etat_administratif ; pour le lieu : code_commune_insee et adresse (source sirene : "
        "l'établissement dans le répertoire SIRENE), code_region (la région déclarée, quand elle seule "
        "est connue).",
        constraints={"required": True, "enum": PROVENANCE_CHAMPS},
    ),
    _f(
        "source",
        "string",
        "Qui le dit : liste_publique (la Liste publique, qui fait foi), sirene (le répertoire SIRENE) ou "
        "le nom d'une source secondaire (liste d'un certificateur ou d'un réseau, par exemple datadock).",
        constraints={"required": True, "pattern": "^[a-z0-9][a-z0-9_-]{0,39}$"},
    ),
    _f("valeur", "string", "Ce que dit la source, tel qu'elle le dit.", constraints={"required": True}),
    _f(
        "date_observation",
        "date",
        "Quand la source le disait : la date donnée par la liste, sinon le jour où elle a été lue ; pour "
        "la Liste publique, la date de la dernière déclaration de l'organisme.",
    ),
    _f(
        "concorde_liste_publique",
        "boolean",
        "Accord avec la Liste publique : false quand la source la contredit (drapeau Qualiopi, portée "
        "non listée, autre SIRET, autre commune que celle de l'adresse déclarée : elle n'est alors pas "
        "appliquée), true quand elle s'accorde ; vide pour les champs que la règle ne compare pas (noms, "
        "certificateurs, dates, états, l'adresse SIRENE d'une déclaration qui n'en donne pas) et pour les "
        "valeurs de la Liste publique.",
    ),
    _f(
        "ligne_source",
        "integer",
        "Numéro de la ligne de données dans la source secondaire (1 pour la première après l'en-tête) ; "
        "vide pour la Liste publique.",
        constraints={"minimum": 1},
    ),
]

TABLES = {
    "declarations": (DECLARATION_FIELDS, ["numero_declaration_activite"]),
    "organismes": (ORGANISATION_FIELDS, ["id_organisme"]),
    "quarantaine": (QUARANTINE_FIELDS, ["enregistrement"]),
    "provenance": (PROVENANCE_FIELDS, None),  # several rows per organisation, field and source
}
# Where each table's schema is written: `schema.json` is the main file's (declarations), as on
# schema.data.gouv.fr; the others are named after their file.
SCHEMA_FILES = {
    "declarations": "schema.json",
    "organismes": "organismes.schema.json",
    "quarantaine": "quarantaine.schema.json",
    "provenance": "provenance.schema.json",
}


def columns(table: str) -> list[str]:
    return [f["name"] for f in TABLES[table][0]]


def table_schema(table: str) -> dict[str, Any]:
    fields, key = TABLES[table]
    out = {
        "$schema": "https://frictionlessdata.io/schemas/table-schema.json",
        "name": table,
        "title": {
            "declarations": "Déclarations des organismes de formation",
            "organismes": "Organismes de formation (établissements)",
            "quarantaine": "Enregistrements écartés de l'annuaire",
            "provenance": "Provenance des informations, source par source",
        }[table],
        "fields": fields,
        "primaryKey": key,
        "missingValues": [""],
    }
    if key is None:
        del out["primaryKey"]
    return out


LICENCE = {
    "name": "etalab-2.0",
    "path": "https://www.etalab.gouv.fr/licence-ouverte-open-licence/",
    "title": "Licence Ouverte / Open Licence version 2.0",
}


def data_package(files: dict[str, dict[str, Any]], coverage: dict[str, Any], built_at: str | None) -> dict:
    """The publishing metadata (Data Package), with one resource per file written.

    `files`: file name → {"table", "format", "rows", "bytes"}; `coverage`: temporal and spatial
    coverage computed from the data."""
    resources = []
    for name, info in files.items():
        resource: dict[str, Any] = {
            "name": name.replace(".", "-"),
            "path": name,
            "format": info["format"],
            "mediatype": MEDIA_TYPES[info["format"]],
            "encoding": "utf-8",
            "bytes": info["bytes"],
            "title": table_schema(info["table"])["title"] + f" ({info['format'].upper()})",
            "x_rows": info["rows"],
        }
        if info["format"] != "csv":
            # Described by the CSV's schema; a validator reads them as files (Parquet needs pandas).
            resource["type"] = "json" if info["format"] in ("json", "geojson") else "file"
        else:
            resource["type"] = "table"
            resource["profile"] = "tabular-data-resource"
            resource["dialect"] = {"delimiter": ",", "header": True}
            resource["schema"] = SCHEMA_FILES[info["table"]]
        resources.append(resource)
    return {
        "profile": "data-package",
        "name": "annuaire-organismes-de-formation",
        "title": "Annuaire des organismes de formation et de leurs certifications Qualiopi",
        "description": (
            "Les organismes de formation déclarés (Liste publique des organismes de formation, "
            "article L.6351-7-1 du Code du travail) nettoyés et vérifiés : SIRET contrôlés, encodage réparé, "
            "communes, départements et régions retrouvés (base officielle des codes postaux, COG), "
            "adresses géolocalisées (BAN), déclarations d'un même établissement regroupées par SIRET. "
            "Une ligne par déclaration (declarations), une ligne par établissement (organismes), les "
            "enregistrements écartés avec leur motif (quarantaine), et ce que disent des organismes les "
            "sources secondaires (listes des certificateurs et des réseaux) à côté de la Liste publique, "
            "qui fait foi (provenance)."
        ),
        "licenses": [LICENCE],
        "sources": [
            {
                "title": "Liste publique des organismes de formation (L.6351-7-1 du Code du travail)",
                "path": "https://www.data.gouv.fr/fr/datasets/582c8978c751df788ec0bb7e/",
            },
            {
                "title": "Base officielle des codes postaux (La Poste)",
                "path": "https://www.data.gouv.fr/fr/datasets/base-officielle-des-codes-postaux/",
            },
        ],
        "keywords": ["formation", "formation-professionnelle", "organismes-de-formation", "qualiopi"],
        "frequency": "daily",
        "x_frequency_label": "quotidienne (à chaque mise à jour de la Liste publique)",
        "created": built_at,
        "temporal": coverage.get("temporal"),
        "spatial": coverage.get("spatial"),
        "resources": resources,
    }


MEDIA_TYPES = {
    "csv": "text/csv",
    "json": "application/json",
    "geojson": "application/geo+json",
    "parquet": "application/vnd.apache.parquet",
}
