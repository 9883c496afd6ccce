"""The declaration record, described once: its Qualiopi scopes (`SCOPES`) and its fields (`FIELDS`).

Everything that lists a declaration's fields is derived from here: the rows the build and updates
write into the `declarations` table (pipeline/load.py), the columns of `declarations.csv` and its
Table Schema (exports/), the groups an update compares (pipeline/diff.py), the API's declaration
model and the records it answers (api/models.py, search/), and the scope lists of the API, the
search and the pages. `tests/test_fields.py` checks the table against `clean/record.py`'s
`Declaration`, `store/schema.sql` and `store/postgres/schema.sql`.

A new column of the declaration is one entry in `FIELDS` plus its cleaning code (the `Declaration`
attribute and the value `RecordCleaner.clean` gives it); the store's schemas take the column too (a
migration), which the test names if they do not.

This module imports nothing of the project: every layer may read it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple


class Scope(NamedTuple):
    """A Qualiopi certification scope, as the Liste publique flags it."""

    code: str  # in the API (`portee`), the exports (`certification_{code}`) and the `portees` table
    column: str  # the Liste publique's column (sources/liste_publique.py short name)
    label: str  # the `portees` table's label
    short: str  # chips, the change log: "VAE"
    words: str  # within a French sentence: "validation des acquis de l'expérience (VAE)"
    certifies: str  # what its flag certifies (Table Schema): "les actions de formation"
    ending: str  # the agreement of "ajouté"/"retiré" with `short` (f. pl. "es", m. pl. "s", f. "e")


SCOPES = (
    Scope(
        "actions_formation",
        "cert_actions",
        "Actions de formation",
        "Actions de formation",
        "actions de formation",
        "les actions de formation",
        "es",
    ),
    Scope(
        "bilans_competences",
        "cert_bilans",
        "Bilans de compétences",
        "Bilans de compétences",
        "bilans de compétences",
        "les bilans de compétences",
        "s",
    ),
    Scope(
        "vae",
        "cert_vae",
        "Validation des acquis de l'expérience",
        "VAE",
        "validation des acquis de l'expérience (VAE)",
        "les actions de validation des acquis de l'expérience",
        "e",
    ),
    Scope(
        "apprentissage",
        "cert_apprentissage",
        "Actions de formation par apprentissage",
        "Apprentissage",
        "actions de formation par apprentissage",
        "les actions de formation par apprentissage",
        "",
    ),
)
SCOPE_CODES = tuple(s.code for s in SCOPES)
SCOPE_BY_CODE = {s.code: s for s in SCOPES}


def scope_flag(code: str) -> str:
    """The name of a scope's flag in the exports, the API and the `declarations` table."""
    return f"certification_{code}"


# Values and formats the published fields take (the Table Schemas' constraints).
NDA = r"[0-9]{11,12}"
PATTERNS = {
    "nda": f"^{NDA}$",
    "nda_list": f"^{NDA}(, {NDA})*$",
    "siret": r"^[0-9]{14}$",
    "siren": r"^[0-9]{9}$",
    "id_organisme": rf"^([0-9]{{14}}|NDA{NDA})$",
    "code_postal": r"^[0-9]{5}$",
    "code_commune_insee": r"^([0-9]{5}|2[AB][0-9]{3})$",
    "code_departement": r"^([0-9]{2}|2[AB]|9[78][0-9])$",
    "code_region": r"^[0-9]{2,3}$",
    "specialites": r"^[0-9A-Za-z]{1,10}(, [0-9A-Za-z]{1,10})*$",
}
SIRET_STATUTS = ["valide", "zero_restaure", "invalide", "absent"]
ADDRESS_KINDS = ["voie", "commune_seule", "boite_postale", "aucune"]
GEO_TYPES = ["housenumber", "street", "locality", "municipality"]
GEO_METHODS = ["ban", "sirene", "centroide_commune", "aucun"]
PLACE_ORIGINS = ["liste_publique", "sirene", "region_declaree", "aucune"]
STATUTS = ["actif", "supprime"]


@dataclass(frozen=True, slots=True)
class Field:
    """One field of the declaration record."""

    name: str  # the record's name for it: `Declaration`'s attribute, the store's row key
    type: str  # string, integer, number, boolean or date (Table Schema types; SQL INTEGER for booleans)
    description: str | None = None  # French, for the Table Schema and /donnees/; None: not published
    published: str | None = None  # its name in declarations.csv, schema.json and the API (default: name)
    column: str | None = None  # its column in the `declarations` table (default: name when `stored`)
    stored: bool = True  # a column of the `declarations` table
    cleaned: bool = True  # an attribute of `Declaration` (clean/record.py); else the store computes it
    many: bool = False  # a list: joined by ", " in the CSV, a list in the API
    api: bool = True  # in the API's declarations (when published)
    group: str | None = None  # the update's diff group (pipeline/diff.py): a change there is a modification
    # How an update compares it within its group: "exact"; "folded" (case, accents, punctuation
    # ignored); "completed" (unknown → known is a completion, not a change).
    compare: str = "exact"
    correction: bool = False  # compared exactly to tell an upstream correction from no change at all
    scope: str | None = None  # a Qualiopi scope's flag: the scope's code
    fallback: str | None = None  # when empty, published as this other field (commune: the city declared)
    default: Any = None  # published when empty (a directory built before the column has none)
    title: str | None = None  # the Table Schema's title (default: from the published name)
    constraints: Mapping[str, Any] = field(default_factory=dict)  # Table Schema constraints

    @property
    def key(self) -> str:
        """Where the value is in a store's row (`Store.declarations()`, the `declarations` table)."""
        return self.column_name or self.name

    @property
    def column_name(self) -> str | None:
        return (self.column or self.name) if self.stored else None

    @property
    def export_name(self) -> str | None:
        return (self.published or self.name) if self.description is not None else None


def _code(pattern: str, *, required: bool = False) -> dict[str, Any]:
    return {"pattern": PATTERNS[pattern], **({"required": True} if required else {})}


def _enum(values: list[str], *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "enum": values}


COUNT = {"minimum": 0}


def _computed(name: str, type_: str, description: str, **more: Any) -> Field:
    """A published field the store computes when read, not the cleaner, and the API leaves out."""
    return Field(name, type_, description, stored=False, cleaned=False, api=False, **more)


# The fields of the location the geocoding stage gives (`localisations`), published with the record.
LOCATION = (
    _computed(
        "latitude",
        "number",
        "Latitude WGS 84 (degrés décimaux) de l'adresse, ou du centre de la commune (voir geo_methode).",
        constraints={"minimum": -90, "maximum": 90},
    ),
    _computed(
        "longitude",
        "number",
        "Longitude WGS 84 (degrés décimaux) de l'adresse, ou du centre de la commune (voir geo_methode).",
        constraints={"minimum": -180, "maximum": 180},
    ),
    _computed(
        "geo_score",
        "number",
        "Score du géocodeur BAN (0 à 1) ; vide pour un centre de commune.",
        constraints={"minimum": 0, "maximum": 1},
    ),
    _computed(
        "geo_type",
        "string",
        "Précision de la position : housenumber (numéro), street (voie), locality (lieu-dit), "
        "municipality (commune).",
        constraints={"enum": GEO_TYPES},
    ),
    _computed(
        "geo_methode",
        "string",
        "Origine de la position : ban (géocodage de l'adresse), sirene (position de l'établissement dans "
        "le répertoire SIRENE), centroide_commune (centre de la commune), aucun (pas de position).",
        constraints=_enum(GEO_METHODS),
    ),
)

# The record's fields; the published ones in the order of declarations.csv.
FIELDS: list[Field] = [
    Field(
        "nda",
        "string",
        "Numéro de déclaration d'activité (NDA) : 11 chiffres, 12 outre-mer. Identifiant de la ligne.",
        published="numero_declaration_activite",
        title="Numéro de déclaration d'activité",
        constraints=_code("nda", required=True),
    ),
    _computed(
        "id_organisme",
        "string",
        "Identifiant de l'organisme (établissement) regroupant la déclaration : son SIRET, ou « NDA » "
        "suivi du NDA quand le SIRET manque.",
        constraints=_code("id_organisme", required=True),
    ),
    Field(
        "ndas_precedents",
        "string",
        "Anciens numéros de déclaration d'activité, séparés par « , ».",
        published="numeros_declaration_activite_precedents",
        stored=False,  # the `ndas_precedents` table
        many=True,
        correction=True,
        constraints=_code("nda_list"),
    ),
    Field(
        "siret",
        "string",
        "SIRET de l'établissement déclarant, s'il est valide (clé de Luhn), sinon vide.",
        correction=True,
        constraints=_code("siret"),
    ),
    Field(
        "siret_brut",
        "string",
        "SIRET tel que publié dans la Liste publique (avant contrôle).",
        correction=True,
    ),
    Field(
        "siret_statut",
        "string",
        "Contrôle du SIRET : valide, zero_restaure (zéro initial perdu restitué), invalide, absent.",
        constraints=_enum(SIRET_STATUTS),
    ),
    Field(
        "siren",
        "string",
        "SIREN de l'entreprise (9 chiffres), déduit du SIRET valide ou publié.",
        correction=True,
        constraints=_code("siren"),
    ),
    Field(
        "siren_incoherent",
        "boolean",
        "Vrai quand le SIREN publié ne correspond pas au SIRET.",
        api=False,
    ),
    Field(
        "denomination",
        "string",
        "Dénomination de l'organisme telle que déclarée (encodage réparé).",
        group="denomination",
        compare="folded",
        correction=True,
        constraints={"required": True},
    ),
    Field(
        "voie",
        "string",
        "Voie de l'adresse physique (numéro, type et nom de voie), telle que déclarée.",
        published="adresse",
        group="adresse",
        compare="folded",
        correction=True,
    ),
    Field(
        "code_postal",
        "string",
        "Code postal sur 5 chiffres (zéro initial conservé).",
        group="adresse",
        correction=True,
        constraints=_code("code_postal"),
    ),
    Field("ville", "string", "Ville telle que déclarée.", published="ville_declaree", correction=True),
    Field(
        "commune",
        "string",
        "Nom officiel de la commune (Code officiel géographique : accents, traits d'union), sinon la ville "
        "déclarée.",
        fallback="ville",
    ),
    Field(
        "code_commune_insee",
        "string",
        "Code officiel géographique (INSEE) de la commune, trouvé avec la base officielle des codes postaux, "
        "ou, quand l'adresse déclarée n'en donne pas, celui de l'établissement dans le répertoire SIRENE "
        "(voir origine_lieu).",
        correction=True,
        constraints=_code("code_commune_insee"),
    ),
    Field(
        "code_departement",
        "string",
        "Code du département (01…95, 2A, 2B, 971…976).",
        api=False,
        constraints=_code("code_departement"),
    ),
    Field(
        "code_region",
        "string",
        "Code de la région (COG), déduit de la commune ; sans commune, la région déclarée (voir "
        "origine_lieu).",
        api=False,
        constraints=_code("code_region"),
    ),
    Field(
        "code_region_declare",
        "string",
        "Code de région tel que déclaré dans la Liste publique.",
        api=False,
    ),
    Field(
        "origine_lieu",
        "string",
        "D'où viennent la commune, le département et la région : liste_publique (l'adresse déclarée), "
        "sirene (l'adresse de l'établissement dans le répertoire SIRENE, l'adresse déclarée n'en donnant "
        "pas), region_declaree (seule la région déclarée est connue), aucune.",
        default="liste_publique",
        constraints=_enum(PLACE_ORIGINS),
    ),
    Field(
        "date_origine_lieu",
        "date",
        "Pour origine_lieu = sirene : date de la réponse du répertoire SIRENE (celle du fichier stock).",
    ),
    Field(
        "type_adresse",
        "string",
        "Nature de l'adresse : voie, commune_seule (ville sans voie), boite_postale (BP, CS, TSA, CEDEX), "
        "aucune (ni voie ni ville).",
        constraints=_enum(ADDRESS_KINDS),
    ),
    *(
        Field(
            scope_flag(s.code),
            "boolean",
            f"Certifié Qualiopi pour {s.certifies} (vide : non renseigné).",
            group="certifications",
            scope=s.code,
        )
        for s in SCOPES
    ),
    Field(
        "date_derniere_declaration",
        "date",
        "Date de la dernière déclaration (AAAA-MM-JJ).",
        group="declaration",
        compare="completed",
        correction=True,
    ),
    Field(
        "debut_exercice",
        "date",
        "Début de l'exercice déclaré dans le bilan pédagogique et financier.",
        group="declaration",
        compare="completed",
        correction=True,
    ),
    Field(
        "fin_exercice",
        "date",
        "Fin de l'exercice déclaré dans le bilan pédagogique et financier.",
        group="declaration",
        compare="completed",
        correction=True,
    ),
    Field(
        "specialites",
        "string",
        "Codes NSF des spécialités de formation déclarées (trois au plus), séparés par « , ».",
        stored=False,  # the `declaration_specialites` table
        many=True,
        group="declaration",
        compare="completed",
        correction=True,
        constraints=_code("specialites"),
    ),
    Field(
        "nb_stagiaires",
        "integer",
        "Nombre de stagiaires déclaré pour l'exercice.",
        group="declaration",
        compare="completed",
        correction=True,
        constraints=COUNT,
    ),
    Field(
        "nb_stagiaires_confies",
        "integer",
        "Nombre de stagiaires confiés par un autre organisme de formation.",
        group="declaration",
        compare="completed",
        correction=True,
        constraints=COUNT,
    ),
    Field(
        "effectif_formateurs",
        "integer",
        "Effectif des formateurs déclaré.",
        group="declaration",
        compare="completed",
        correction=True,
        constraints=COUNT,
    ),
    *LOCATION,
    Field(
        "statut",
        "string",
        "Statut : actif, ou supprime (retiré de la Liste publique, conservé pour l'historique).",
        constraints=_enum(STATUTS),
    ),
    Field(
        "enregistrement",
        "integer",
        "Numéro de l'enregistrement dans le fichier source (1 pour le premier après l'en-tête).",
        published="enregistrement_source",
        api=False,
        constraints={"required": True, "minimum": 1},
    ),
    # Not published.
    Field("organisme_id", "integer"),  # the organisation it belongs to, set when declarations are grouped
    Field("ligne", "integer"),  # the physical line where its record starts
    Field("nom_comparaison", "string", stored=False),  # the de-duplication's name (`empreintes`)
    Field("siren_brut", "string"),
    Field("methode_commune", "string"),  # how its commune was found (clean/commune.py)
    *(
        Field(f"etranger_{part}", "string", group="adresse", compare="folded")  # a foreign body represented
        for part in ("denomination", "voie", "code_postal", "ville", "pays")
    ),
    Field("extras", "string", column="colonnes_supplementaires"),  # unknown source columns, as JSON
]


def by_name() -> dict[str, Field]:
    return {f.name: f for f in FIELDS}


def published() -> list[Field]:
    """The fields of declarations.csv, in its order."""
    return [f for f in FIELDS if f.description is not None]


def stored() -> list[Field]:
    return [f for f in FIELDS if f.stored]


def api_fields() -> list[Field]:
    return [f for f in published() if f.api]


def groups() -> dict[str, tuple[str, ...]]:
    """The update's diff groups: group → the names of its fields, in the table's order."""
    out: dict[str, list[str]] = {}
    for f in FIELDS:
        if f.group is not None:
            out.setdefault(f.group, []).append(f.name)
    return {group: tuple(names) for group, names in out.items()}


# -- reading a stored declaration as published -----------------------------------------------------


def _flag(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _joined(value: Any) -> str | None:
    return (value or "").replace(" ", ", ") or None


def _expression(f: Field, *, api: bool) -> str:
    """A Python expression reading a field's published value from a store's row `r` (a dict keyed by
    `Field.key`; a directory built before a column lacks it: None, or the field's default)."""
    value = f"r.get({f.key!r})"
    if f.type == "boolean":
        return f"_flag({value})"
    if f.many:  # the store joins a list with spaces; the API has the list itself
        return value if api else f"_joined({value})"
    if f.fallback is not None:
        return f"({value} or r.get({by_name()[f.fallback].key!r}))"
    if f.default is not None:
        return f"({value} or {f.default!r})"
    return value


def _compiled(source: str) -> Callable[[Mapping[str, Any]], Any]:
    # One expression for a whole row, as `dataclasses` generates `__init__`: an export reads 150,000
    # rows, and a list of small functions per field would take twice as long.
    reader: Callable[[Mapping[str, Any]], Any] = eval(source, {"_flag": _flag, "_joined": _joined})
    return reader  # (the table's own names, quoted by repr)


def csv_reader(fields: list[Field] | None = None) -> Callable[[Mapping[str, Any]], list[Any]]:
    """Reads a row of `Store.declarations()` as declarations.csv's typed values, in its column order."""
    chosen = fields if fields is not None else published()
    return _compiled(f"lambda r: [{', '.join(_expression(f, api=False) for f in chosen)}]")


def api_reader(fields: list[Field] | None = None) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """Reads a stored declaration (its `declarations` row, with `ndas_precedents` and `specialites` as
    lists) as the API gives it: published names, flags as booleans."""
    chosen = fields if fields is not None else api_fields()
    items = ", ".join(f"{f.export_name!r}: {_expression(f, api=True)}" for f in chosen)
    return _compiled(f"lambda r: {{{items}}}")
