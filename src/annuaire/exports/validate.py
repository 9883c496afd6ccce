"""`annuaire validate FILE --schema schema.json`: a CSV checked against a Table Schema (frictionless),
each error said in French with its line, column, value and rule, in the spirit of Validata."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError

TYPE_WORDS = {
    "string": "du texte",
    "integer": "un nombre entier",
    "number": "un nombre (point décimal)",
    "boolean": "un booléen",
    "date": "une date AAAA-MM-JJ",
    "datetime": "une date et heure ISO 8601",
    "time": "une heure",
    "year": "une année",
    "geopoint": "un point géographique",
    "object": "un objet JSON",
    "array": "un tableau JSON",
}
HEADER_ERRORS = {
    "missing-label": "colonne attendue par le schéma absente de l'en-tête",
    "extra-label": "colonne de l'en-tête inconnue du schéma",
    "incorrect-label": "nom de colonne différent de celui du schéma à cette position",
    "duplicate-label": "nom de colonne en double",
    "blank-label": "nom de colonne vide",
    "blank-header": "en-tête vide",
}
ROW_ERRORS = {
    "blank-row": "ligne vide",
    "missing-cell": "cellule manquante (la ligne a moins de champs que l'en-tête)",
    "extra-cell": "cellule en trop (la ligne a plus de champs que l'en-tête)",
    "primary-key": "clé primaire manquante ou déjà vue sur une autre ligne",
    "unique-error": "valeur déjà vue sur une autre ligne (contrainte d'unicité)",
    "duplicate-row": "ligne identique à une ligne précédente",
    "foreign-key": "référence introuvable (clé étrangère)",
}


@dataclass
class Problem:
    ligne: int | None
    colonne: str | None
    valeur: str | None
    regle: str
    message: str

    def text(self) -> str:
        where = []
        if self.ligne is not None:
            where.append(f"ligne {self.ligne}")
        if self.colonne:
            where.append(f"colonne « {self.colonne} »")
        head = ", ".join(where) or "fichier"
        head = head[0].upper() + head[1:]  # not str.capitalize(): column names keep their case
        value = f" : valeur « {self.valeur} »" if self.valeur is not None else ""
        return f"{head}{value} — {self.message} [règle : {self.regle}]"


@dataclass
class Result:
    file: str
    schema: str
    valid: bool
    rows: int
    problems: list[Problem]
    truncated: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "fichier": self.file,
            "schema": self.schema,
            "valide": self.valid,
            "lignes": self.rows,
            "erreurs": [asdict(p) for p in self.problems],
            "erreurs_tronquees": self.truncated,
        }


def _constraint_message(name: str, value: Any) -> str:
    if name == "required":
        return "valeur obligatoire manquante"
    if name == "pattern":
        return f"ne respecte pas le motif {value}"
    if name == "enum":
        return "n'est pas une des valeurs permises : " + ", ".join(map(str, value))
    if name == "minimum":
        return f"inférieure au minimum {value}"
    if name == "maximum":
        return f"supérieure au maximum {value}"
    if name == "minLength":
        return f"plus courte que {value} caractères"
    if name == "maxLength":
        return f"plus longue que {value} caractères"
    if name == "unique":
        return "valeur déjà vue sur une autre ligne"
    return f"ne respecte pas la contrainte {name} = {value}"


def _load_schema(path: Path):
    from frictionless import FrictionlessException, Schema

    if not path.is_file():
        raise InputError(str(path), "schéma introuvable")
    try:
        descriptor = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(str(path), f"le schéma n'est pas un JSON lisible ({exc})") from None
    if isinstance(descriptor, dict):
        descriptor.setdefault("fieldsMatch", "equal")
    try:
        return Schema.from_descriptor(descriptor)
    except FrictionlessException as exc:
        raise InputError(str(path), f"schéma invalide (Table Schema) : {exc.error.message}") from None


def _problem(error, fields: dict[str, dict]) -> Problem:
    kind = error.type
    row = getattr(error, "row_number", None)
    column = getattr(error, "field_name", None) or getattr(error, "label", None) or None
    cell = getattr(error, "cell", None)
    value = None if cell is None or cell == "" else str(cell)
    note = getattr(error, "note", "") or ""
    if kind == "constraint-error":
        found = re.search(r'constraint "(\w+)"', note)
        name = found.group(1) if found else "contrainte"
        constraint = (fields.get(column or "") or {}).get("constraints", {}).get(name)
        return Problem(row, column, value, name, _constraint_message(name, constraint))
    if kind == "type-error":
        field = fields.get(column or "") or {}
        expected = TYPE_WORDS.get(field.get("type", ""), field.get("type", "?"))
        fmt = field.get("format")
        if fmt and fmt != "default":
            expected += f" au format {fmt}"
        return Problem(row, column, value, f"type {field.get('type')}", f"n'est pas {expected}")
    label = getattr(error, "label", None)
    field_name = getattr(error, "field_name", None)
    if kind == "incorrect-label":
        return Problem(
            1, label, None, kind, f"l'en-tête porte « {label} » là où le schéma attend « {field_name} »"
        )
    if kind == "missing-label":
        return Problem(1, field_name, None, kind, HEADER_ERRORS[kind])
    if kind in HEADER_ERRORS:
        return Problem(1, label or column, None, kind, HEADER_ERRORS[kind])
    if kind in ROW_ERRORS:
        return Problem(
            row, column, value if kind in ("extra-cell", "unique-error") else None, kind, ROW_ERRORS[kind]
        )
    if kind == "encoding-error":
        return Problem(row, None, None, kind, "le fichier n'est pas lisible dans l'encodage annoncé (UTF-8)")
    if kind in ("source-error", "format-error", "scheme-error", "resource-error"):
        return Problem(
            row, None, None, kind, f"fichier vide ou illisible comme CSV ({note or error.message})"
        )
    return Problem(row, column, value, kind, error.message)


def validate_file(file: Path, schema_path: Path, *, max_errors: int = 1000) -> Result:
    """Validate `file` (CSV, separator detected) against the Table Schema at `schema_path`.

    Unless the schema says otherwise (`fieldsMatch`), columns are matched to the schema's fields by
    name, as Validata does: their order does not matter, a missing or an unknown column is an error."""
    from frictionless import FrictionlessException, Resource, system

    if not file.is_file():
        raise InputError(str(file), "fichier introuvable")
    schema = _load_schema(schema_path)
    fields = {f.name: f.to_descriptor() for f in schema.fields}
    try:
        with system.use_context(trusted=True):
            report = Resource(path=str(file.resolve()), schema=schema).validate(limit_errors=max_errors)
    except FrictionlessException as exc:
        raise InputError(str(file), f"illisible : {exc.error.message}") from None
    task = report.tasks[0] if report.tasks else None
    errors = task.errors if task else report.errors
    problems = [_problem(e, fields) for e in errors]
    rows = (task.stats.get("rows") if task else 0) or 0
    truncated = bool(task and task.warnings and any("limit" in w for w in task.warnings))
    return Result(str(file), str(schema_path), report.valid, rows, problems, truncated)
