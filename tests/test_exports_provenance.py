"""`provenance.csv` in `annuaire export`: what each source said of each organisation, with its Table
Schema and its place in datapackage.json, validated by frictionless; built here with a certifier's list
made from the real extract (tests/test_sources_secondary.py's), so it holds agreements and conflicts."""

from __future__ import annotations

import csv
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from annuaire.exports import schema
from annuaire.pipeline.build import build
from annuaire.sources.extra import ExtraSource
from annuaire.sources.secondary import load_mapping
from annuaire.store import open_store
from test_sources_secondary import certifier_list  # noqa: F401 (a fixture)

FRICTIONLESS = Path(sys.executable).with_name("frictionless")


def frictionless(*args: str, cwd: Path) -> dict:
    done = subprocess.run(
        [str(FRICTIONLESS), *args, "--json"], cwd=cwd, capture_output=True, text=True, timeout=300,
        encoding="utf-8",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    return json.loads(done.stdout)


def test_provenance_is_exported_and_valid(
    certifier_list,  # noqa: F811
    real_extract_csv,
    reference,
    run_annuaire,
    tmp_path,
    monkeypatch,
) -> None:
    monkeypatch.setenv("ANNUAIRE_CACHE_DIR", str(tmp_path / "cache"))
    path, certified, _ = certifier_list
    db = tmp_path / "a.db"
    source = ExtraSource(load_mapping("certificateur"), str(path))
    build(str(real_extract_csv), open_store(str(db)), reference, extra_sources=[source])
    out = tmp_path / "export"
    done = run_annuaire("export", "--db", db, "--out", out, "--formats", "csv")
    assert done.returncode == 0, done.stderr

    with (out / "provenance.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == schema.columns("provenance") == [
        "id_organisme", "siret", "champ", "source", "valeur", "date_observation", "concorde_liste_publique",
        "ligne_source",
    ]  # fmt: skip
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT count(*), sum(conflit) FROM provenance").fetchone()
        declared = conn.execute(
            """SELECT count(*) FROM organismes o JOIN declarations d ON d.nda = o.nda_principal
               WHERE d.origine_lieu = 'region_declaree'"""
        ).fetchone()[0]
    # Besides what the sources said: where places come from (here, the région declared alone).
    places = [r for r in rows if r["champ"] in ("code_commune_insee", "adresse", "code_region")]
    assert len(places) == declared > 100  # the real extract: half its rows have no address
    assert {(r["champ"], r["source"]) for r in places} == {("code_region", "liste_publique")}
    assert len(rows) - len(places) == stored[0] and stored[1] == 2
    assert sum(r["concorde_liste_publique"] == "false" for r in rows) == stored[1]
    siret = certified["siretEtablissementDeclarant"]
    mine = [r for r in rows if r["siret"] == siret]
    said = {(r["source"], r["champ"], r["valeur"], r["concorde_liste_publique"]) for r in mine}
    assert ("certificateur", "portees", "actions_formation,vae", "false") in said  # VAE: not listed
    assert ("certificateur", "siret", siret, "true") in said
    assert ("certificateur", "date_expiration", "2025-01-31", "") in said  # shown, not compared
    assert ("liste_publique", "qualiopi", "oui", "") in said
    assert {r["id_organisme"] for r in mine} == {siret}
    assert all(r["ligne_source"] == "" for r in mine if r["source"] == "liste_publique")
    assert all(r["ligne_source"].isdigit() for r in mine if r["source"] == "certificateur")
    assert all(r["date_observation"] for r in rows)

    report = frictionless("validate", "provenance.csv", "--schema", "provenance.schema.json", cwd=out)
    assert report["valid"] is True and report["tasks"][0]["stats"]["rows"] == len(rows)
    package = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))
    (resource,) = [r for r in package["resources"] if r["path"] == "provenance.csv"]
    assert resource["schema"] == "provenance.schema.json" and resource["x_rows"] == len(rows)
    assert "provenance" in package["description"]
    assert frictionless("validate", "datapackage.json", cwd=out)["valid"] is True
    descriptor = json.loads((out / "provenance.schema.json").read_text(encoding="utf-8"))
    assert "primaryKey" not in descriptor and descriptor["title"].startswith("Provenance")
