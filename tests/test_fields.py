"""The declaration record described once (annuaire/fields.py): the table agrees with the record the
cleaner makes and with both stores' schemas, everything that lists the fields is derived from it,
and a field added to the table reaches the store, the exports, the Table Schema and the API."""

from __future__ import annotations

import csv
import json
import re
import sqlite3
import subprocess
import sys
import typing
from dataclasses import fields as dataclass_fields
from pathlib import Path

import pytest

from annuaire import fields
from annuaire.clean.record import Declaration
from annuaire.exports import schema
from annuaire.exports.csv_files import DECLARATION_COLUMNS
from annuaire.pipeline import diff
from annuaire.pipeline.load import declaration_row_getter
from annuaire.store.sqlite import SCHEMA
from conftest import cli_env

SRC = Path(fields.__file__).resolve().parent
SQL_TYPES = {  # a field's type → its column's, in SQLite and in PostgreSQL
    "string": {"TEXT"},
    "date": {"TEXT"},
    "integer": {"INTEGER", "BIGINT"},
    "boolean": {"INTEGER"},
    "number": {"REAL", "DOUBLE PRECISION"},
}


def _declarations_table(sql: str) -> dict[str, str]:
    """The `declarations` table of a schema file: column → its definition (type and constraints)."""
    body = re.search(r"CREATE TABLE declarations \((.*?)\n\);", sql, re.DOTALL)
    assert body, "no declarations table"
    columns = {}
    for line in body.group(1).splitlines():
        line = line.split("--")[0].strip().rstrip(",")
        if line:
            name, definition = line.split(None, 1)
            columns[name] = definition.replace('COLLATE "C"', "").strip()
    return columns


@pytest.mark.parametrize("schema_file", ["schema.sql", "postgres/schema.sql"])
def test_the_table_agrees_with_both_stores_schemas(schema_file):
    table = _declarations_table((SRC / "store" / schema_file).read_text(encoding="utf-8"))
    stored = {f.column_name: f for f in fields.stored()}
    assert set(table) == set(stored), "fields.py and the store's declarations table name other columns"
    for column, definition in table.items():
        f = stored[column]
        sql_type = definition.split(" NOT NULL")[0].split(" PRIMARY KEY")[0].split(" DEFAULT")[0].strip()
        assert sql_type in SQL_TYPES[f.type], (column, f.type, definition)
        if f.constraints.get("required"):  # required where published: never NULL where stored
            assert "NOT NULL" in definition or "PRIMARY KEY" in definition, column


def test_the_sqlite_schema_as_sqlite_reads_it():
    conn = sqlite3.connect(":memory:")
    conn.executescript(SCHEMA)
    columns = [row[1] for row in conn.execute("PRAGMA table_info(declarations)")]
    row = declaration_row_getter(columns)  # every column a field's, every stored field a column
    assert len(columns) == len(fields.stored())
    assert row  # the loader's row for this schema


def test_the_table_describes_the_cleaners_record():
    attributes = {f.name for f in dataclass_fields(Declaration)}
    cleaned = {f.name for f in fields.FIELDS if f.cleaned and f.scope is None}
    # The scopes' flags are one tuple in SCOPES order; `raw` is the record as read, not a field.
    assert attributes == cleaned | {"certifications", "raw"}
    assert {f.scope for f in fields.FIELDS if f.scope} == set(fields.SCOPE_CODES)
    assert len({f.name for f in fields.FIELDS}) == len(fields.FIELDS), "a name twice"
    names = [f.export_name for f in fields.published()]
    assert len(set(names)) == len(names), "a published name twice"
    for f in fields.FIELDS:
        assert f.type in SQL_TYPES, f.name
        assert f.cleaned or f.description is not None or f.stored, f.name  # else it would be nothing
        if f.fallback:
            assert fields.by_name()[f.fallback].stored, f.name


def test_everything_that_lists_the_fields_is_derived_from_the_table():
    published = [f.export_name for f in fields.published()]
    assert DECLARATION_COLUMNS == published == schema.columns("declarations")
    # The diff's groups: every field of a group, in the table's order.
    assert diff.GROUPS["certifications"] == tuple(fields.scope_flag(c) for c in fields.SCOPE_CODES)
    assert set(diff.GROUPS) == {"denomination", "adresse", "certifications", "declaration"}
    assert {"voie", "code_postal", "etranger_pays"} <= set(diff.GROUPS["adresse"])
    # The API: its declaration model, and the scopes everywhere.
    from annuaire.api import models, parameters
    from annuaire.search import params
    from annuaire.web import history, text

    assert list(models.Declaration.model_fields) == [f.export_name for f in fields.api_fields()]
    assert typing.get_args(parameters.Portee) == fields.SCOPE_CODES == params.SCOPES
    flags = [fields.scope_flag(c) for c in fields.SCOPE_CODES]
    assert set(flags) <= set(models.OrganismeResume.model_fields)
    assert set(flags) <= set(schema.columns("organismes"))
    assert set(text.SCOPE_LABELS) == set(text.SCOPE_SHORT) == set(history._ENDINGS) == set(fields.SCOPE_CODES)


def test_a_schema_without_a_fields_column_is_refused_before_any_row():
    columns = [f.column_name for f in fields.stored()]
    with pytest.raises(RuntimeError, match=r"fields \['ville'\] have no column"):
        declaration_row_getter([c for c in columns if c != "ville"])
    with pytest.raises(RuntimeError, match=r"columns \['nouvelle'\] are no field's"):
        declaration_row_getter([*columns, "nouvelle"])


# A field added to the table, in a process of its own (everything derived from the table is derived
# when its module is imported): its value is the commune's INSEE code, which the cleaner computes
# already, so that the test needs no cleaning code; the store's schema takes its column, as a
# migration would give it.
DUMMY = r"""
import json, sys
from pathlib import Path
from annuaire import fields
fields.FIELDS.append(
    fields.Field(
        "code_commune_insee",
        "string",
        "Code INSEE de la commune, encore (un champ d'essai).",
        published="code_insee_essai",
        column="code_insee_essai",
        group="adresse",
        constraints={"pattern": fields.PATTERNS["code_commune_insee"]},
    )
)
from annuaire.store import sqlite as store
store.SCHEMA = store.SCHEMA.replace(
    "    date_origine_lieu          TEXT\n);",
    "    date_origine_lieu          TEXT,\n    code_insee_essai           TEXT\n);",
)
from fastapi.testclient import TestClient
from annuaire.api import ApiSettings, create_app
from annuaire.exports.files import export_all
from annuaire.pipeline import diff
from annuaire.pipeline.build import build
from annuaire.sources.reference import load_reference
from annuaire.store import open_store

source, reference, folder = map(Path, sys.argv[1:4])
db = folder / "annuaire.db"
build(str(source), open_store(str(db)), load_reference(reference))
export_all(open_store(str(db)), folder / "out", ["csv", "json"])
with TestClient(create_app(ApiSettings(db=str(db), rate_limit_per_minute=0))) as client:
    openapi = client.get("/api/openapi.json").json()
    found = client.get("/api/v1/organismes", params={"par_page": 100}).json()["resultats"]
    records = [client.get(f"/api/v1/organismes/{r['id_organisme']}").json() for r in found]
print(json.dumps({
    "declaration_model": openapi["components"]["schemas"]["Declaration"]["properties"],
    "declarations": [d for r in records for d in r["declarations"]],
    "groups": diff.GROUPS,
}))
"""


@pytest.mark.integration
def test_a_field_added_to_the_table_reaches_the_store_the_exports_the_schema_and_the_api(
    sample_csv, reference_dir, tmp_path
):
    source = tmp_path / "sample-head.csv"
    with sample_csv.open(encoding="utf-8") as fh:
        source.write_text("".join(fh.readline() for _ in range(301)), encoding="utf-8")
    env = cli_env() | {"ANNUAIRE_CACHE_DIR": str(tmp_path / "cache"), "ANNUAIRE_GEOCODE": "0"}
    run = subprocess.run(
        [sys.executable, "-c", DUMMY, str(source), str(reference_dir), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout.splitlines()[-1])
    # The store: its column filled by the loader.
    conn = sqlite3.connect(tmp_path / "annuaire.db")
    pairs = conn.execute("SELECT code_commune_insee, code_insee_essai FROM declarations").fetchall()
    assert len(pairs) > 250 and all(a == b for a, b in pairs) and any(a for a, _ in pairs)
    # The exports: declarations.csv and .json, and the Table Schema that describes them.
    with (tmp_path / "out" / "declarations.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert all(r["code_insee_essai"] == r["code_commune_insee"] for r in rows)
    first = json.loads((tmp_path / "out" / "declarations.json").read_text(encoding="utf-8"))[0]
    assert first["code_insee_essai"] == (rows[0]["code_commune_insee"] or None)
    described = json.loads((tmp_path / "out" / "schema.json").read_text(encoding="utf-8"))
    assert described["fields"][-1] == {
        "name": "code_insee_essai",
        "title": "Code insee essai",
        "type": "string",
        "description": "Code INSEE de la commune, encore (un champ d'essai).",
        "constraints": {"pattern": fields.PATTERNS["code_commune_insee"]},
    }
    # The API: its model (OpenAPI) and its answers; the update's diff groups.
    assert seen["declaration_model"]["code_insee_essai"] == {
        "anyOf": [{"type": "string"}, {"type": "null"}],
        "title": "Code Insee Essai",
    }
    assert seen["declarations"] and all(
        d["code_insee_essai"] == d["code_commune_insee"] for d in seen["declarations"]
    )
    assert seen["groups"]["adresse"][-1] == "code_commune_insee"
