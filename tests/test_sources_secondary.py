"""Secondary sources: mappings, CSV/XLSX parsing, NDA normalisation, reconciliation rules, last good
snapshots (unit and property-based tests; the CLI acceptance test is in test_sources_build.py)."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections import Counter

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annuaire.clean.names import comparison_name
from annuaire.errors import InputError
from annuaire.pipeline.build import build
from annuaire.sources.extra import SNAPSHOT, UNAVAILABLE, ExtraSource, load_source, parse_extra_source
from annuaire.sources.secondary import (
    builtin_mappings,
    load_mapping,
    map_row,
    normalise_nda,
    parse_mapping,
    parse_source,
    read_table,
    sniff_separator,
)
from annuaire.store import open_store


def test_builtin_mappings_load() -> None:
    assert {"datadock", "cfa-reseaux", "certificateur"} <= set(builtin_mappings())
    for name in builtin_mappings():
        mapping = load_mapping(name)
        assert mapping.name == name and mapping.columns


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[source\nname=", "not valid TOML"),
        ('[source]\nname = "Bad Name"\n[columns]\nsiret = "s"', "name must be"),
        ('[source]\nname = "x"\n[columns]\ncolour = "c"', "'colour' is not a field"),
        ('[source]\nname = "x"\n[columns]\ncertificateur = "c"', "at least one of siret"),
        ('[source]\nname = "x"\n[columns]\nsiret = { column = "a", pattern = "(" }', "bad pattern"),
        ('[source]\nname = "x"\n[columns]\nsiret = "s"\n[values.portees]\nformation = ["F"]', "scope codes"),
        ('[source]\nname = "x"\n[columns]\nsiret = "s"\n[values.qualiopi]\nyes = ["O"]', "true` and `false"),
    ],
)
def test_bad_mappings_are_explained(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as caught:
        parse_mapping(text, "my-list.toml")
    assert str(caught.value).startswith("my-list.toml: mapping:")


def test_unknown_mapping_names_the_built_in_ones() -> None:
    with pytest.raises(InputError, match="built-in mappings: .*datadock"):
        load_mapping("nowhere")
    with pytest.raises(InputError, match="NAME=PATH_OR_URL"):
        parse_extra_source("datadock")


@given(st.from_regex(r"\A[0-9]{11}\Z"))
def test_new_style_ndas_are_kept(nda: str) -> None:
    assert normalise_nda(nda) == (nda, False)
    assert normalise_nda(f" {nda[:4]} {nda[4:]} ") == (nda, False)


@given(st.from_regex(r"\A[0-9]{2}(?:[0-9]{2}|2A|2B|97[1-6])P[0-9]{6}\Z"))
def test_old_style_ndas_are_kept_as_written(nda: str) -> None:
    assert normalise_nda(nda.lower()) == (nda, True)


@given(st.text(max_size=20))
def test_normalise_nda_never_fails(raw: str) -> None:
    nda, old = normalise_nda(raw)
    assert nda is None or (old and "P" in nda) or (nda.isdigit() and len(nda) in (11, 12))


def test_ten_digit_nda_gets_its_zero_back() -> None:
    assert normalise_nda("1175000001") == ("01175000001", False)


cells = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)


@given(
    separator=st.sampled_from([",", ";", "\t", "|"]),
    width=st.integers(min_value=2, max_value=6),
    rows=st.lists(st.lists(cells, min_size=6, max_size=6), min_size=1, max_size=8),
)
@settings(max_examples=80, deadline=None)
def test_separator_and_rows_come_back(separator: str, width: int, rows: list[list[str]]) -> None:
    header = [f"col{i}" for i in range(width)]
    body = [[c.strip() or "x" for c in row[:width]] for row in rows]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=separator, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(body)
    assert sniff_separator(buffer.getvalue()) == separator
    for encoding in ("utf-8", "utf-8-sig"):
        data = buffer.getvalue().encode(encoding)
        kind, got_header, got = read_table(data, "t.csv")
        assert (kind, got_header) == ("csv", header)
        assert [[r[h] for h in header] for r in got] == body


def test_windows_1252_csv_is_read() -> None:
    data = "siret;raison_sociale\r\n44229377500031;Société Générale de Formation\r\n".encode("cp1252")
    _, header, rows = read_table(data, "cp.csv")
    assert header == ["siret", "raison_sociale"]
    assert rows[0]["raison_sociale"] == "Société Générale de Formation"


def _xlsx(header: list[str], rows: list[list]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    for line in sheet.iter_rows(min_row=2):
        for cell in line:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # text that looks like a formula stays text, as a spreadsheet keeps it
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_xlsx_reads_like_its_csv(shared_dir) -> None:
    path = shared_dir / "data" / "real" / "cfa-referentiel-reseaux-2022.csv"
    mapping = load_mapping("cfa-reseaux")
    kind, from_csv = parse_source(path.read_bytes(), mapping, path.name)
    with path.open(encoding="utf-8", newline="") as fh:
        table = list(csv.reader(fh, delimiter=";"))
    kind_x, from_xlsx = parse_source(_xlsx(table[0], table[1:]), mapping, "copy.xlsx")
    assert (kind, kind_x) == ("csv", "xlsx")
    assert from_xlsx == from_csv


def test_xlsx_numbers_and_dates_become_text() -> None:
    import datetime

    data = _xlsx(
        ["siret", "nda", "raison_sociale", "date_certification", "date_expiration", "portees",
         "certificateur", "code_postal"],
        [[44229377500031, 11755555575.0, "ACME", datetime.datetime(2022, 3, 1), "31/12/2024", "VAE; Bilans de"
          " compétences", "AFNOR", 6000]],
    )  # fmt: skip
    _, records = parse_source(data, load_mapping("certificateur"), "c.xlsx")
    (r,) = records
    assert (r.siret, r.nda, r.code_postal) == ("44229377500031", "11755555575", "06000")
    assert (r.date_certification, r.date_expiration) == ("2022-03-01", "2024-12-31")
    assert r.portees == ("bilans_competences", "vae") and r.certificateur == "AFNOR"


def test_missing_column_is_named() -> None:
    with pytest.raises(InputError, match="missing column.*'QUALIOPI'") as caught:
        parse_source(
            b"siret,siren,RAISON_SOCIALE,REFERENCABLE\n1,2,3,4\n", load_mapping("datadock"), "dd.csv"
        )
    assert "dd.csv, line 1" in str(caught.value)


def test_cfa_row_mapping(shared_dir) -> None:
    mapping = load_mapping("cfa-reseaux")
    row = {
        "Siret": "44492238900036",
        "numero_declaration_activite": "7487p000187",
        "Raison sociale": "ADEN",
        "Réseaux": "aden",
        "Qualiopi": "Oui",
        "etat_administratif": "actif",
        "Date d'import": "21/03/2022",
        "Adresse": "100 Avenue 75012 de Paris 14100 Lisieux",
    }
    r = map_row(mapping, 7, row)
    assert (r.nda, r.nda_ancien, r.code_postal, r.qualiopi) == ("7487P000187", True, "14100", True)
    assert (r.portees, r.date_observation, r.certificateur) == (("apprentissage",), "2022-03-21", "aden")
    row["Qualiopi"] = "Non"
    assert map_row(mapping, 7, row).portees == ()
    row["Raison sociale"] = '="INSTITUT ""ISCB"""'.replace('""', '"')
    assert map_row(mapping, 7, row).denomination == 'INSTITUT "ISCB"'


# -- reconciliation on the real extract ---------------------------------------------------------------------


SCOPE_COLUMNS = {
    "actions_formation": "certifications.actionsDeFormation",
    "bilans_competences": "certifications.bilansDeCompetences",
    "vae": "certifications.VAE",
    "apprentissage": "certifications.actionsDeFormationParApprentissage",
}


@pytest.fixture()
def certifier_list(real_extract_csv, tmp_path):
    """A certifier's list made from the real extract's rows, one per matching rule and failure."""
    with real_extract_csv.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter=";"))
    postcode = "adressePhysiqueOrganismeFormation.codePostal"
    names = Counter((comparison_name(r["denomination"]), r[postcode]) for r in rows)
    with_siret = [r for r in rows if r["siretEtablissementDeclarant"] and r[postcode]]
    certified = next(
        r for r in with_siret
        if r[SCOPE_COLUMNS["actions_formation"]] == "true" and r[SCOPE_COLUMNS["vae"]] != "true"
        and "," in r["numerosDeclarationActivitePrecedent"]
    )  # fmt: skip
    uncertified = [r for r in with_siret if not any(r[c] == "true" for c in SCOPE_COLUMNS.values())
                   and names[(comparison_name(r["denomination"]), r[postcode])] == 1]  # fmt: skip
    previous = next(
        p for p in certified["numerosDeclarationActivitePrecedent"].split(",")
        if p != certified["numeroDeclarationActivite"]
    )  # fmt: skip
    header = ["certificateur", "siret", "nda", "raison_sociale", "code_postal", "portees",
              "date_certification", "date_expiration"]  # fmt: skip
    lines = [
        # 1. by SIRET; VAE is not in the Liste publique: a conflict on scopes
        ["AFNOR", certified["siretEtablissementDeclarant"], "", certified["denomination"], "", "Actions de "
         "formation, VAE", "01/02/2022", "31/01/2025"],
        # 2. by NDA (previous NDA); scopes agree
        ["AFNOR", "", previous, "", "", "Actions de formation", "", ""],
        # 3. by NDA; the Liste publique lists no scope: a conflict
        ["Bureau Veritas", "", uncertified[0]["numeroDeclarationActivite"], "X", "", "Actions de formation",
         "", ""],
        # 4. by name and postal code (the name spelt otherwise)
        ["Bureau Veritas", "", "", uncertified[1]["denomination"].lower() + " sarl", uncertified[1][postcode],
         "", "", ""],
        # 5. an old-style NDA: kept, unmatched
        ["ICPF", "", "7487P000187", "INCONNU", "87000", "VAE", "", ""],
        # 6. a valid SIRET unknown to the Liste publique
        ["ICPF", "73282932000074", "", "", "", "", "", ""],
        # 7. an invalid SIRET
        ["ICPF", "123", "", "", "", "", "", ""],
    ]  # fmt: skip
    path = tmp_path / "certifier.csv"
    with path.open("w", encoding="cp1252", newline="") as fh:  # a spreadsheet's export
        csv.writer(fh, delimiter=";").writerows([header, *lines])
    return path, certified, uncertified


def test_reconciliation_rules_and_conflicts(
    certifier_list, real_extract_csv, reference, tmp_path, monkeypatch
):
    monkeypatch.setenv("ANNUAIRE_CACHE_DIR", str(tmp_path / "cache"))
    path, certified, uncertified = certifier_list
    db = tmp_path / "a.db"
    source = ExtraSource(load_mapping("certificateur"), str(path))
    report = build(str(real_extract_csv), open_store(str(db)), reference, extra_sources=[source])
    section = report["sources_secondaires"]["sources"]["certificateur"]
    assert section["status"] == "frais" and section["format"] == "csv"
    assert section["by_method"] == {"siret": 1, "nda": 2, "nom_code_postal": 1, "aucune": 3}
    assert section["match_rate"] == round(4 / 7, 4)
    assert section["unmatched_reasons"] == {
        "identifiant_inconnu": 1,
        "identifiant_invalide": 1,
        "nda_ancien_format": 1,
    }
    assert section["conflicts"] == {"portees": 2}
    assert report["sources_secondaires"]["conflicts"] == 2
    assert report["sources_secondaires"]["organisations_with_secondary_data"] == 3
    with sqlite3.connect(db) as conn:
        siret = certified["siretEtablissementDeclarant"]
        (oid,) = conn.execute("SELECT id FROM organismes WHERE siret = ?", (siret,)).fetchone()
        said = conn.execute(
            "SELECT source, champ, valeur, conflit FROM provenance WHERE organisme_id = ? ORDER BY rowid",
            (oid,),
        ).fetchall()
        # the Liste publique stays as it was: its scopes are not changed by the certifier
        scopes = {
            r[0] for r in conn.execute("SELECT portee FROM certifications WHERE organisme_id = ?", (oid,))
        }
        by_name = conn.execute(
            "SELECT o.siret FROM correspondances c JOIN organismes o ON o.id = c.organisme_id "
            "WHERE c.methode = 'nom_code_postal'"
        ).fetchone()[0]
    assert "vae" not in scopes
    assert ("certificateur", "portees", "actions_formation,vae", 1) in said
    assert ("certificateur", "date_expiration", "2025-01-31", 0) in said
    assert ("certificateur", "portees", "actions_formation", 0) in said  # row 2, by the previous NDA
    assert ("liste_publique", "qualiopi", "oui", 0) in said
    assert by_name == uncertified[1]["siretEtablissementDeclarant"]

    from fastapi.testclient import TestClient

    from annuaire.api import ApiSettings, create_app

    with TestClient(create_app(ApiSettings(db=str(db), rate_limit_per_minute=0))) as client:
        body = client.get(f"/api/v1/organismes/{siret}").json()
        assert body["provenance"]["conflits"] == 1
        certifier = next(s for s in body["provenance"]["sources"] if s["source"] == "certificateur")
        disputed = [c for c in certifier["champs"] if c["conflit"]]
        assert [(c["champ"], c["valeur"]) for c in disputed] == [("portees", "actions_formation,vae")]
        page = client.get(f"/organisme/{siret}", follow_redirects=True).text
        assert "1 information en désaccord avec la Liste publique" in page
        assert "Actions de formation, VAE" in page and "31 janvier 2025" in page


def test_failing_source_falls_back_to_its_last_good_snapshot(tmp_path, shared_dir) -> None:
    real = shared_dir / "data" / "real" / "datadock-qualiopi-2021-10.csv"
    mapping = load_mapping("datadock")
    snapshots = tmp_path / "snapshots"
    never = load_source(
        ExtraSource(mapping, "http://127.0.0.1:9/datadock.csv"), snapshots=snapshots, timeout=2
    )
    assert (never.status, never.records) == (UNAVAILABLE, [])
    assert "127.0.0.1:9" in never.error
    good = load_source(ExtraSource(mapping, str(real)), snapshots=snapshots)
    assert good.status == "frais" and len(good.records) == 4200
    meta = json.loads((snapshots / "datadock" / "last-good.json").read_text())
    assert meta["sha256"] == good.sha256
    for broken in ("http://127.0.0.1:9/datadock.csv", str(tmp_path / "missing.csv")):
        fallback = load_source(ExtraSource(mapping, broken), snapshots=snapshots, timeout=2)
        assert fallback.status == SNAPSHOT and fallback.records == good.records
    # a file that fails to parse is not a good snapshot: the last good one stays
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    assert load_source(ExtraSource(mapping, str(bad)), snapshots=snapshots).status == SNAPSHOT
    assert json.loads((snapshots / "datadock" / "last-good.json").read_text())["sha256"] == good.sha256


@given(st.binary(max_size=400) | st.text(max_size=300).map(lambda t: ("siret;nda\n" + t).encode()))
@settings(max_examples=150, deadline=None)
def test_any_bytes_parse_or_fail_with_an_input_error(data: bytes) -> None:
    mapping = parse_mapping('[source]\nname = "x"\n[columns]\nsiret = "siret"\nnda = "nda"', "x.toml")
    try:
        _, records = parse_source(data, mapping, "x.csv")
    except InputError as exc:
        assert str(exc).startswith("x.csv")
    else:
        assert all(r.source == "x" and r.line >= 1 for r in records)


def test_sources_config_file(tmp_path) -> None:
    from annuaire.sources.extra import parse_sources_config

    (tmp_path / "mine.toml").write_text('[source]\nname = "mine"\n[columns]\nsiret = "SIRET"\n')
    config = tmp_path / "sources.toml"
    config.write_text(
        '[[source]]\nmapping = "datadock"\nlocation = "lists/datadock.csv"\n'
        '[[source]]\nmapping = "mine.toml"\nlocation = "https://example.org/mine.xlsx"\n'
    )
    first, second = parse_sources_config(config)
    assert (first.name, first.location) == ("datadock", str(tmp_path / "lists" / "datadock.csv"))
    assert (second.name, second.location) == ("mine", "https://example.org/mine.xlsx")
    config.write_text('[[source]]\nmapping = "datadock"\n')
    with pytest.raises(InputError, match="number 1: `mapping` and `location` are required"):
        parse_sources_config(config)
    with pytest.raises(InputError, match="cannot read"):
        parse_sources_config(tmp_path / "absent.toml")
