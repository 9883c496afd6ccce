"""Acceptance: `annuaire build` with the real 2022 extract and the two real secondary sources (one read
from an XLSX copy, one over HTTP), a third source unreachable; then again with a source gone, read
from its last good snapshot. Provenance in the API and on the page, match rates and conflicts in the
report."""

from __future__ import annotations

import csv
import json
import socket
import sqlite3

import openpyxl
import pytest
from fastapi.testclient import TestClient

from datagouv_server import DatagouvServer


def closed_port_url(path: str) -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"  # nothing listens there any more


def xlsx_copy(csv_path, target) -> None:
    with csv_path.open(encoding="utf-8", newline="") as fh:
        table = list(csv.reader(fh, delimiter=";"))
    book = openpyxl.Workbook()
    sheet = book.active
    for row in table:
        sheet.append(row)
    for line in sheet.iter_rows():
        for cell in line:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"
    book.save(target)


@pytest.mark.integration
def test_build_with_secondary_sources(
    shared_dir, real_extract_csv, reference_dir, annuaire_bin, annuaire_env, tmp_path
) -> None:
    import subprocess

    real = shared_dir / "data" / "real"
    env = dict(annuaire_env, ANNUAIRE_CACHE_DIR=str(tmp_path / "cache"))
    xlsx = tmp_path / "cfa-reseaux.xlsx"
    xlsx_copy(real / "cfa-referentiel-reseaux-2022.csv", xlsx)
    db = tmp_path / "annuaire.db"

    def run_build(*extra: str) -> subprocess.CompletedProcess:
        args = [str(annuaire_bin), "build", "--source", str(real_extract_csv), "--db", str(db)]
        args += ["--reference", str(reference_dir), "--no-progress"]
        for option in extra:
            args += ["--extra-source", option]
        return subprocess.run(args, env=env, capture_output=True, text=True, encoding="utf-8", timeout=300)

    unreachable = closed_port_url("/liste-certificateur.csv")
    with DatagouvServer() as server:
        datadock_url = server.file(
            "/datadock.csv", (real / "datadock-qualiopi-2021-10.csv").read_bytes(), "text/csv"
        )
        first = run_build(f"datadock={datadock_url}", f"cfa-reseaux={xlsx}", f"certificateur={unreachable}")
    assert first.returncode == 0, first.stderr
    assert "Secondary sources" in first.stdout
    assert "certificateur" in first.stderr and "build goes on without it" in first.stderr
    report = json.loads(db.with_name("annuaire.db.report.json").read_text(encoding="utf-8"))
    section = report["sources_secondaires"]
    sources = section["sources"]
    assert {n: s["status"] for n, s in sources.items()} == {
        "datadock": "frais",
        "cfa-reseaux": "frais",
        "certificateur": "indisponible",
    }
    assert (sources["datadock"]["format"], sources["cfa-reseaux"]["format"]) == ("csv", "xlsx")
    assert sources["datadock"]["rows"] == 4200 and sources["cfa-reseaux"]["rows"] == 2771
    # The 500-row extract shares few establishments with these lists (figures of the real files):
    assert sources["datadock"]["by_method"]["siret"] == 5
    assert sources["cfa-reseaux"]["matched"] == 2
    assert sources["cfa-reseaux"]["unmatched_reasons"]["nda_ancien_format"] == 331
    for s in (sources["datadock"], sources["cfa-reseaux"]):
        assert s["match_rate"] == round(s["matched"] / s["rows"], 4)
        assert isinstance(s["conflicts"], dict)
    assert section["conflicts"] == sum(sum(s["conflicts"].values()) for s in sources.values())
    assert section["unavailable"] == ["certificateur"]
    assert section["organisations_with_secondary_data"] == 5

    with sqlite3.connect(db) as conn:
        cfa_org = conn.execute(
            """SELECT o.identifiant FROM correspondances c JOIN organismes o ON o.id = c.organisme_id
               WHERE c.source = 'cfa-reseaux' LIMIT 1"""
        ).fetchone()[0]
        datadock_org = conn.execute(
            """SELECT o.identifiant FROM correspondances c JOIN organismes o ON o.id = c.organisme_id
               WHERE c.source = 'datadock' LIMIT 1"""
        ).fetchone()[0]

    from annuaire.api import ApiSettings, create_app

    with TestClient(create_app(ApiSettings(db=str(db), rate_limit_per_minute=0))) as client:
        body = client.get(f"/api/v1/organismes/{cfa_org}").json()
        by_source = {s["source"]: s for s in body["provenance"]["sources"]}
        assert {"liste_publique", "cfa-reseaux"} <= set(by_source)
        fields = {c["champ"]: c for c in by_source["cfa-reseaux"]["champs"]}
        assert fields["siret"]["valeur"] == body["siret"]
        assert fields["qualiopi"]["valeur"] in ("oui", "non")
        assert fields["qualiopi"]["date_observation"]  # the network list's import date
        assert by_source["cfa-reseaux"]["libelle"] == "Référentiel des réseaux de CFA"
        page = client.get(f"/organisme/{cfa_org}", follow_redirects=True)
        assert page.status_code == 200
        assert "Sources et provenance" in page.text and "Référentiel des réseaux de CFA" in page.text
        dd = client.get(f"/api/v1/organismes/{datadock_org}").json()
        assert "datadock" in {s["source"] for s in dd["provenance"]["sources"]}

    # The HTTP server is gone: datadock's location fails, its last good snapshot is used.
    second = run_build(f"datadock={datadock_url}", f"cfa-reseaux={xlsx}")
    assert second.returncode == 0, second.stderr
    assert "last good snapshot" in second.stderr
    again = json.loads(db.with_name("annuaire.db.report.json").read_text(encoding="utf-8"))
    assert again["sources_secondaires"]["sources"]["datadock"]["status"] == "dernier_instantane"
    assert again["sources_secondaires"]["sources"]["datadock"]["matched"] == sources["datadock"]["matched"]
    with TestClient(create_app(ApiSettings(db=str(db), rate_limit_per_minute=0))) as client:
        dd = client.get(f"/api/v1/organismes/{datadock_org}").json()
        datadock = next(s for s in dd["provenance"]["sources"] if s["source"] == "datadock")
        assert datadock["statut"] == "dernier_instantane"
        page = client.get(f"/organisme/{datadock_org}", follow_redirects=True)
        assert "dernière copie disponible" in page.text


def test_bad_extra_source_option_is_a_user_error(run_annuaire, real_extract_csv, tmp_path) -> None:
    done = run_annuaire(
        "build", "--source", real_extract_csv, "--db", tmp_path / "a.db", "--extra-source", "nowhere=x.csv"
    )
    assert done.returncode == 2
    assert "nowhere" in done.stderr and "built-in mappings" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "a.db").exists()
