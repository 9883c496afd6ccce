"""Open-data exports (CSV, JSON, GeoJSON, Parquet, Table Schemas, datapackage.json) and `annuaire validate`.

The CSV files of the sample build are validated by the frictionless command line against the
schemas written beside them: that is the acceptance check the data.gouv.fr guides ask for."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annuaire.exports import schema
from annuaire.exports.csv_files import csv_cell, neutralise
from annuaire.exports.validate import validate_file

FRICTIONLESS = Path(sys.executable).with_name("frictionless")


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def frictionless(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(FRICTIONLESS), *args], cwd=cwd, capture_output=True, text=True, timeout=300, encoding="utf-8"
    )


@pytest.mark.parametrize(
    ("csv_name", "schema_name"),
    [
        ("declarations.csv", "schema.json"),
        ("organismes.csv", "organismes.schema.json"),
        ("quarantaine.csv", "quarantaine.schema.json"),
    ],
)
def test_frictionless_validates_every_csv_export(sample_build, csv_name, schema_name):
    out = sample_build.out
    done = frictionless("validate", csv_name, "--schema", schema_name, "--json", cwd=out)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["valid"] is True
    (task,) = report["tasks"]
    assert task["stats"]["rows"] == len(read_csv(out / csv_name)) > 0
    assert task["stats"]["fields"] == len(schema.columns(csv_name.split(".")[0]))


def test_frictionless_validates_the_data_package(sample_build):
    done = frictionless("validate", "datapackage.json", "--json", cwd=sample_build.out)
    assert done.returncode == 0, done.stdout[-3000:]
    report = json.loads(done.stdout)
    assert report["valid"] is True
    assert len(report["tasks"]) == 10


def test_schema_describes_every_column_in_french(sample_build):
    for table, name in schema.SCHEMA_FILES.items():
        descriptor = json.loads((sample_build.out / name).read_text(encoding="utf-8"))
        with (sample_build.out / f"{table}.csv").open(encoding="utf-8") as fh:
            header = next(csv.reader(fh))
        assert [f["name"] for f in descriptor["fields"]] == header
        for field in descriptor["fields"]:
            assert field["type"] in ("string", "integer", "number", "boolean", "date")
            assert len(field["description"]) > 15 and field["description"][0].isupper()
    declarations = json.loads((sample_build.out / "schema.json").read_text(encoding="utf-8"))
    by_name = {f["name"]: f for f in declarations["fields"]}
    for code in ("siret", "siren", "code_postal", "code_commune_insee", "code_departement", "code_region"):
        assert by_name[code]["type"] == "string"
        assert by_name[code]["constraints"]["pattern"].startswith("^")
    assert by_name["numero_declaration_activite"]["constraints"] == {
        "pattern": "^[0-9]{11,12}$",
        "required": True,
    }
    assert by_name["date_derniere_declaration"]["type"] == "date"
    assert declarations["primaryKey"] == ["numero_declaration_activite"]


def test_pivot_codes_keep_their_leading_zeros_in_every_format(sample_build):
    out = sample_build.out
    rows = read_csv(out / "declarations.csv")
    zeros = {r["numero_declaration_activite"]: r for r in rows if r["code_postal"].startswith("0")}
    assert len(zeros) > 20
    assert any(r["siret"].startswith("0") for r in rows)
    as_json = {
        r["numero_declaration_activite"]: r for r in json.loads((out / "declarations.json").read_bytes())
    }
    table = pq.read_table(out / "declarations.parquet")
    assert str(table.schema.field("code_postal").type) == "string"
    assert str(table.schema.field("date_derniere_declaration").type) == "date32[day]"
    assert str(table.schema.field("certification_vae").type) == "bool"
    parquet = {r["numero_declaration_activite"]: r for r in table.to_pylist()}
    assert len(as_json) == len(parquet) == len(rows)
    for nda, row in zeros.items():
        for other in (as_json[nda], parquet[nda]):
            assert other["code_postal"] == row["code_postal"]
            assert other["code_commune_insee"] == (row["code_commune_insee"] or None)
            assert other["siret"] == (row["siret"] or None)
    first = rows[0]
    assert as_json[first["numero_declaration_activite"]]["certification_actions_formation"] == (
        first["certification_actions_formation"] == "true"
    )
    assert (
        str(parquet[first["numero_declaration_activite"]]["date_derniere_declaration"])
        == (first["date_derniere_declaration"])
    )


def test_geojson_points_are_longitude_then_latitude(sample_build):
    out = sample_build.out
    collection = json.loads((out / "organismes.geojson").read_bytes())
    assert collection["type"] == "FeatureCollection"
    rows = {r["id_organisme"]: r for r in read_csv(out / "organismes.csv")}
    assert len(collection["features"]) == len(rows)
    located = 0
    for feature in collection["features"]:
        row = rows[feature["properties"]["id_organisme"]]
        if feature["geometry"] is None:
            assert row["latitude"] == ""
            continue
        located += 1
        lon, lat = feature["geometry"]["coordinates"]
        assert (lat, lon) == (float(row["latitude"]), float(row["longitude"]))
        assert -180 <= lon <= 180 and -90 <= lat <= 90
    assert located > len(rows) * 0.9


def test_data_package_has_publishing_metadata(sample_build):
    out = sample_build.out
    package = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))
    for key in ("title", "description", "licenses", "frequency", "temporal", "spatial"):
        assert package[key], key
    assert package["licenses"][0]["name"] == "etalab-2.0"
    dates = sorted(
        r["date_derniere_declaration"]
        for r in read_csv(out / "declarations.csv")
        if r["date_derniere_declaration"]
    )
    assert (package["temporal"]["start"], package["temporal"]["end"]) == (dates[0], dates[-1])
    west, south, east, north = package["spatial"]["bbox"]
    assert west < 0 < east and south < 0 < north  # overseas départements included
    names = {r["path"] for r in package["resources"]}
    assert names == {
        f"{t}.{f}" for t in ("declarations", "organismes") for f in ("csv", "json", "geojson", "parquet")
    } | {"quarantaine.csv", "provenance.csv"}
    for resource in package["resources"]:
        assert resource["bytes"] == (out / resource["path"]).stat().st_size


# --- neutralised cells ---------------------------------------------------------------------------------


@pytest.mark.parametrize("start", ["=", "+", "-", "@"])
def test_formula_cells_are_neutralised(start):
    assert neutralise(f"{start}SUM(A1:A2)") == f"'{start}SUM(A1:A2)"
    assert csv_cell(f"{start}1") == f"'{start}1"
    assert csv_cell(-1.5) == -1.5  # numbers are numbers, not formulas
    assert csv_cell(None) == "" and csv_cell(True) == "true" and csv_cell(False) == "false"


@given(st.text(max_size=30))
def test_neutralised_cells_never_start_a_formula(text):
    cell = csv_cell(text)
    assert not cell.startswith(("=", "+", "-", "@"))
    assert cell.lstrip("'") == text.lstrip("'") or cell == "'" + text


def test_formulas_in_the_source_are_neutralised_in_csv_but_kept_in_json(
    sample_csv, tmp_path, run_build, run_annuaire, mini_reference_dir
):
    with sample_csv.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    header, records = rows[0], rows[1:40]
    name, street = header.index("denomination"), header.index("adressePhysiqueOrganismeFormation.voie")
    nda = header.index("numeroDeclarationActivite")
    records[0][name] = '=HYPERLINK("http://x.example","clic")'
    records[1][name] = "@SUM(1+1)"
    records[2][street] = "+33 RUE DU PORT"
    records[3][street] = "-2 AVENUE DES FLEURS"
    source = tmp_path / "formulas.csv"
    with source.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, delimiter=";").writerows([header, *records])
    db = tmp_path / "annuaire.db"
    assert run_build(source, db, mini_reference_dir).returncode == 0
    done = run_annuaire("export", "--db", db, "--out", tmp_path / "out", "--formats", "csv,json")
    assert done.returncode == 0, done.stderr
    exported = {r["numero_declaration_activite"]: r for r in read_csv(tmp_path / "out" / "declarations.csv")}
    as_json = {
        r["numero_declaration_activite"]: r
        for r in json.loads((tmp_path / "out" / "declarations.json").read_bytes())
    }
    assert not (tmp_path / "out" / "declarations.parquet").exists()
    checks = [(0, "denomination"), (1, "denomination"), (2, "adresse"), (3, "adresse")]
    for i, column in checks:
        key = records[i][nda].strip()
        assert exported[key][column].startswith("'"), exported[key][column]
        assert exported[key][column][1] in "=+-@"
        assert as_json[key][column] == exported[key][column][1:]
    assert (
        frictionless(
            "validate", "declarations.csv", "--schema", "schema.json", cwd=tmp_path / "out"
        ).returncode
        == 0
    )


def test_export_refuses_an_unknown_format(sample_build, run_annuaire, tmp_path):
    done = run_annuaire("export", "--db", sample_build.db, "--out", tmp_path, "--formats", "csv,xlsx")
    assert done.returncode == 2
    assert "xlsx" in done.stderr and "parquet" in done.stderr


# --- annuaire validate ---------------------------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_validate_accepts_the_export(sample_build, run_annuaire):
    out = sample_build.out
    done = run_annuaire("validate", out / "organismes.csv", "--schema", out / "organismes.schema.json")
    assert done.returncode == 0, done.stdout
    assert "valide" in done.stdout and "1\u202f916 lignes" in done.stdout


def test_validate_reports_broken_rows_in_french(sample_build, run_annuaire, tmp_path):
    out = sample_build.out
    lines = (out / "declarations.csv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    rows = list(csv.reader(lines[1:6]))
    rows[0][header.index("code_postal")] = "1000"  # a lost leading zero
    rows[1][header.index("siret")] = "1234"
    rows[2][header.index("date_derniere_declaration")] = "31/12/2020"
    rows[3][header.index("certification_vae")] = "oui"
    rows[4][header.index("statut")] = "perdu"
    broken = tmp_path / "broken.csv"
    with broken.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows([header, *rows])
    done = run_annuaire("validate", broken, "--schema", out / "schema.json")
    assert done.returncode == 2, done.stdout + done.stderr
    text = done.stdout
    assert "Ligne 2, colonne « code_postal » : valeur « 1000 » — ne respecte pas le motif ^[0-9]{5}$" in text
    assert "[règle : pattern]" in text
    assert "Ligne 3, colonne « siret » : valeur « 1234 »" in text
    assert (
        "Ligne 4, colonne « date_derniere_declaration » : valeur « 31/12/2020 » — n'est pas une date" in text
    )
    assert "Ligne 5, colonne « certification_vae » : valeur « oui » — n'est pas un booléen" in text
    assert (
        "Ligne 6, colonne « statut » : valeur « perdu » — n'est pas une des valeurs permises : actif" in text
    )
    assert "invalide, 5 erreur(s)" in text
    assert "Traceback" not in done.stderr

    as_json = run_annuaire("validate", broken, "--schema", out / "schema.json", "--json")
    assert as_json.returncode == 2
    report = json.loads(as_json.stdout)
    assert report["valide"] is False and report["lignes"] == 5
    assert {(e["ligne"], e["colonne"], e["regle"]) for e in report["erreurs"]} == {
        (2, "code_postal", "pattern"),
        (3, "siret", "pattern"),
        (4, "date_derniere_declaration", "type date"),
        (5, "certification_vae", "type boolean"),
        (6, "statut", "enum"),
    }


@pytest.mark.integration
def test_validate_reports_header_and_shape_problems(sample_build, run_annuaire, tmp_path):
    schema_file = sample_build.out / "quarantaine.schema.json"
    missing = write(tmp_path / "missing.csv", "enregistrement,ligne,motif,detail,brut\n1,2,ligne_vide,,[]\n")
    done = run_annuaire("validate", missing, "--schema", schema_file)
    assert done.returncode == 2
    assert done.stdout.splitlines()[0] == (
        "Ligne 1, colonne « numero_declaration_activite » — colonne attendue par le schéma absente de "
        "l'en-tête [règle : missing-label]"
    )
    assert "invalide, 1 erreur(s)" in done.stdout  # columns are matched by name: the others are fine
    reordered = write(
        tmp_path / "reordered.csv",
        "ligne,enregistrement,numero_declaration_activite,motif,detail,brut\n2,1,,ligne_vide,,[]\n",
    )
    assert run_annuaire("validate", reordered, "--schema", schema_file).returncode == 0
    extra = write(
        tmp_path / "extra.csv",
        "enregistrement,ligne,numero_declaration_activite,motif,detail,brut,commentaire\n1,2,,ligne_vide,,[],x\n",
    )
    done = run_annuaire("validate", extra, "--schema", schema_file)
    assert done.returncode == 2 and "colonne « commentaire » — colonne de l'en-tête inconnue" in done.stdout
    empty = write(tmp_path / "empty.csv", "")
    done = run_annuaire("validate", empty, "--schema", schema_file)
    assert done.returncode == 2 and "fichier vide ou illisible" in done.stdout
    short = write(
        tmp_path / "short.csv",
        "enregistrement,ligne,numero_declaration_activite,motif,detail,brut\n1,2,,ligne_vide\n,3,,inconnu,,[]\n",
    )
    done = run_annuaire("validate", short, "--schema", schema_file, "--json")
    assert done.returncode == 2
    rules = {(e["ligne"], e["regle"]) for e in json.loads(done.stdout)["erreurs"]}
    assert (2, "missing-cell") in rules
    assert (3, "required") in rules and (3, "enum") in rules


def test_validate_refuses_a_missing_or_broken_schema(run_annuaire, tmp_path):
    data = write(tmp_path / "a.csv", "x\n1\n")
    done = run_annuaire("validate", data, "--schema", tmp_path / "nope.json")
    assert done.returncode == 2 and "schéma introuvable" in done.stderr
    done = run_annuaire("validate", data, "--schema", write(tmp_path / "bad.json", "{not json"))
    assert done.returncode == 2 and "JSON" in done.stderr
    done = run_annuaire(
        "validate", tmp_path / "absent.csv", "--schema", write(tmp_path / "s.json", '{"fields": []}')
    )
    assert done.returncode == 2 and "introuvable" in done.stderr


SIRET_SCHEMA = {
    "fields": [{"name": "siretEtablissement", "type": "string", "constraints": {"pattern": "^[0-9]{14}$"}}]
}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.one_of(
            st.from_regex(r"[0-9]{14}", fullmatch=True),
            st.text(alphabet="0123456789abc ", min_size=1, max_size=16).filter(
                lambda s: s.strip() == s and not (len(s) == 14 and s.isdigit())
            ),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_validate_finds_exactly_the_bad_sirets(tmp_path_factory, values):
    folder = tmp_path_factory.mktemp("siret")
    schema_path = write(folder / "s.json", json.dumps(SIRET_SCHEMA))
    data = write(folder / "d.csv", "siretEtablissement\n" + "".join(f"{v}\n" for v in values))
    result = validate_file(data, schema_path)
    bad = [i + 2 for i, v in enumerate(values) if not (len(v) == 14 and v.isdigit())]
    assert [p.ligne for p in result.problems] == bad
    assert all(p.regle == "pattern" and p.colonne == "siretEtablissement" for p in result.problems)
    for problem, line in zip(result.problems, bad, strict=True):
        assert problem.text().startswith(f"Ligne {line}, colonne « siretEtablissement » : valeur « ")
    assert result.valid is (not bad)
