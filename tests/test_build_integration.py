"""The whole chain through the command line: build → export → score, on the shared snapshots.

sample-M.csv is built once per session (fixture `sample_build`); its variants (other column order,
Windows-1252 with CRLF, gzip with BOM) are written in a temporary folder and must score as well.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
import re
import sqlite3
import unicodedata
from collections import defaultdict
from pathlib import Path

import pytest

DECLARATION_COLUMNS = [
    "numero_declaration_activite",
    "id_organisme",
    "siret",
    "siret_brut",
    "siren",
    "denomination",
    "adresse",
    "code_postal",
    "commune",
    "code_commune_insee",
    "code_departement",
    "code_region",
    "certification_actions_formation",
    "certification_bilans_competences",
    "certification_vae",
    "certification_apprentissage",
    "date_derniere_declaration",
    "latitude",
    "longitude",
    "geo_score",
    "geo_type",
    "statut",
]
QUARANTINE_COLUMNS = ["enregistrement", "ligne", "numero_declaration_activite", "motif"]
SAMPLE_RECORDS = 2006
REAL_RECORDS = 500


def read_csv(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter=delimiter))


def source_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and records of a `;` Liste publique file (UTF-8), records as the reader counts them."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    return rows[0], rows[1:]


def assert_scores(run_score, out: Path) -> None:
    scored = run_score(out)
    assert scored.returncode == 0, f"score.py build failed:\n{scored.stdout}\n{scored.stderr}"


# --- sample-M.csv --------------------------------------------------------------------------------------


def test_sample_build_scores(sample_build, run_score):
    assert_scores(run_score, sample_build.out)


def test_sample_build_reports_every_record(sample_build):
    rows = sample_build.report["rows"]
    assert rows["records"] == SAMPLE_RECORDS
    assert rows["declarations"] + rows["quarantined"] == rows["records"]
    assert sum(sample_build.report["quarantine"].values()) == rows["quarantined"]
    assert len(read_csv(sample_build.out / "declarations.csv")) == rows["declarations"]
    assert len(read_csv(sample_build.out / "quarantaine.csv")) == rows["quarantined"]
    assert 0 < rows["organisations"] <= rows["declarations"]


def test_sample_build_report_describes_the_source(sample_build, sample_csv):
    source = sample_build.report["source"]
    assert source["encoding"] in ("utf-8", "utf-8-sig")
    assert source["compressed"] is False
    assert source["bytes"] == sample_csv.stat().st_size
    assert source["missing_optional_columns"] == []
    assert source["extra_columns"] == []


def test_every_record_is_in_exactly_one_export(sample_build):
    declarations = read_csv(sample_build.out / "declarations.csv")
    quarantine = read_csv(sample_build.out / "quarantaine.csv")
    numbers = [int(d["enregistrement_source"]) for d in declarations] + [
        int(q["enregistrement"]) for q in quarantine
    ]
    assert sorted(numbers) == list(range(1, SAMPLE_RECORDS + 1))
    ndas = [d["numero_declaration_activite"] for d in declarations]
    assert len(ndas) == len(set(ndas))


def test_declarations_csv_columns(sample_build):
    with (sample_build.out / "declarations.csv").open(encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh))
    missing = [c for c in DECLARATION_COLUMNS if c not in header]
    assert missing == []
    assert len(header) == len(set(header))


def test_quarantine_csv_columns(sample_build):
    with (sample_build.out / "quarantaine.csv").open(encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh))
    assert [c for c in QUARANTINE_COLUMNS if c not in header] == []
    for row in read_csv(sample_build.out / "quarantaine.csv"):
        assert row["motif"]
        assert int(row["ligne"]) >= int(row["enregistrement"]) + 1


CODE_PATTERNS = {
    "numero_declaration_activite": r"\d{11}|9[78]\d{10}",
    "siret": r"\d{14}",
    "siren": r"\d{9}",
    "code_postal": r"\d{5}",
    "code_commune_insee": r"\d{5}|2[AB]\d{3}",
    "code_departement": r"\d{2}|2[AB]|9[78]\d",
    "code_region": r"\d{2}",
    "date_derniere_declaration": r"\d{4}-\d{2}-\d{2}",
}


def test_codes_keep_their_leading_zeros(sample_build):
    rows = read_csv(sample_build.out / "declarations.csv")
    for column, pattern in CODE_PATTERNS.items():
        bad = [r[column] for r in rows if r[column] and not re.fullmatch(pattern, r[column], re.ASCII)]
        assert bad == [], f"{column}: {bad[:5]}"
    for column in ("numero_declaration_activite", "code_postal", "code_departement", "code_region", "siret"):
        assert any(r[column].startswith("0") for r in rows), f"no {column} with a leading zero"
    for r in rows:
        if r["code_commune_insee"]:
            assert r["code_departement"] and r["code_commune_insee"].startswith(r["code_departement"][:2])
        if r["siret"]:
            assert r["siren"] == r["siret"][:9]
            assert r["id_organisme"] == r["siret"]


def test_flags_are_true_false_or_empty(sample_build):
    for r in read_csv(sample_build.out / "declarations.csv"):
        for column in DECLARATION_COLUMNS:
            if column.startswith("certification_"):
                assert r[column] in ("true", "false", "")
        assert r["statut"] == "actif"


# --- variants of sample-M.csv: other column orders, encodings, line ends, compression ------------------


def _shuffled_columns(text: str) -> bytes:
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    order = list(range(len(rows[0])))
    random.Random(2024).shuffle(order)
    assert order != sorted(order)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    for row in rows:
        writer.writerow([row[i] for i in order] if len(row) == len(order) else row)
    return out.getvalue().encode("utf-8")


def _windows_1252_crlf(text: str) -> bytes:
    """Each record in Windows-1252 where it can be; CRLF line ends."""
    lines = text.replace("\r\n", "\n").split("\n")
    encoded, kept = [], 0
    for line in lines:
        try:
            encoded.append(line.encode("cp1252"))
        except UnicodeEncodeError:
            encoded.append(line.encode("utf-8"))
            kept += 1
    assert kept <= len(lines) // 100, f"{kept} lines not encodable in Windows-1252"
    data = b"\r\n".join(encoded)
    assert b"\xe9" in data  # some é written as Windows-1252
    return data


def _gzip_with_bom(text: str) -> bytes:
    return gzip.compress(b"\xef\xbb\xbf" + text.encode("utf-8"))


VARIANTS = {
    "shuffled_columns": ("sample-shuffled.csv", _shuffled_columns),
    "windows_1252_crlf": ("sample-cp1252.csv", _windows_1252_crlf),
    "gzip_bom": ("sample-bom.csv.gz", _gzip_with_bom),
}


@pytest.mark.integration
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_sample_variant_scores(variant, sample_csv, tmp_path, build_and_export, run_score, sample_build):
    filename, make = VARIANTS[variant]
    text = sample_csv.read_bytes().decode("utf-8")
    source = tmp_path / filename
    source.write_bytes(make(text))
    built = build_and_export(source, tmp_path)
    rows = built.report["rows"]
    assert rows["records"] == rows["declarations"] + rows["quarantined"] == SAMPLE_RECORDS
    assert_scores(run_score, built.out)
    # The same directory as from the original file, whatever the file's form.
    assert rows == sample_build.report["rows"]
    original = {r["numero_declaration_activite"]: r for r in read_csv(sample_build.out / "declarations.csv")}
    for r in read_csv(built.out / "declarations.csv"):
        expected = original[r["numero_declaration_activite"]]
        for column in ("siret", "denomination", "code_postal", "code_commune_insee", "id_organisme"):
            assert r[column] == expected[column], (variant, column, r[column], expected[column])


def test_variant_reports_encoding_and_compression(tmp_path, sample_csv, run_build):
    text = sample_csv.read_bytes().decode("utf-8")
    source = tmp_path / "sample-bom.csv.gz"
    source.write_bytes(_gzip_with_bom(text))
    assert run_build(source, tmp_path / "a.db").returncode == 0
    report = json.loads((tmp_path / "a.db.report.json").read_text(encoding="utf-8"))
    assert report["source"]["compressed"] is True
    assert report["source"]["encoding"] == "utf-8-sig"


# --- the SQLite directory ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_db(sample_build):
    conn = sqlite3.connect(f"file:{sample_build.db}?mode=ro", uri=True)
    yield conn
    conn.close()


def _unaccent(word: str) -> str:
    return unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode("ascii")


def test_full_text_search_ignores_accents(sample_db):
    accented = [
        (i, name)
        for i, name in sample_db.execute("SELECT id, denomination FROM organismes")
        if not name.isascii()
    ]
    assert len(accented) > 10
    checked = 0
    for organisme_id, name in accented[:20]:
        words = [w for w in re.findall(r"\w+", name) if not w.isascii() and len(_unaccent(w)) >= 4]
        if not words:
            continue
        plain = _unaccent(words[0]).lower()
        found = {
            r[0]
            for r in sample_db.execute(
                "SELECT rowid FROM organismes_fts WHERE organismes_fts MATCH ?", (f'"{plain}"',)
            )
        }
        assert organisme_id in found, (name, plain)
        checked += 1
    assert checked >= 5


def test_full_text_search_finds_identifiers(sample_db):
    organisme_id, siret, nda = sample_db.execute(
        "SELECT id, siret, nda_principal FROM organismes WHERE siret IS NOT NULL LIMIT 1"
    ).fetchone()
    for query in (siret, nda):
        found = {
            r[0]
            for r in sample_db.execute(
                "SELECT rowid FROM organismes_fts WHERE organismes_fts MATCH ?", (f'"{query}"',)
            )
        }
        assert organisme_id in found


def test_certifications_follow_the_declared_flags(sample_db):
    columns = {
        "actions_formation": "certification_actions_formation",
        "bilans_competences": "certification_bilans_competences",
        "vae": "certification_vae",
        "apprentissage": "certification_apprentissage",
    }
    expected = set()
    for code, column in columns.items():
        expected |= {
            (o, code, n)
            for o, n in sample_db.execute(f"SELECT organisme_id, nda FROM declarations WHERE {column} = 1")
        }
    actual = set(sample_db.execute("SELECT organisme_id, portee, nda FROM certifications"))
    assert len(actual) > 100
    assert actual == expected
    orphans = sample_db.execute(
        "SELECT count(*) FROM certifications c LEFT JOIN declarations d ON d.nda = c.nda WHERE d.nda IS NULL"
    ).fetchone()[0]
    assert orphans == 0
    assert {r[0] for r in sample_db.execute("SELECT code FROM portees")} == set(columns)


def test_previous_ndas_are_kept(sample_db, sample_csv):
    header, records = source_rows(sample_csv)
    nda_col = header.index("numeroDeclarationActivite")
    previous_col = header.index("numerosDeclarationActivitePrecedent")
    expected = set()
    for nda, record_number in sample_db.execute("SELECT nda, enregistrement FROM declarations"):
        raw = records[record_number - 1]
        assert re.sub(r"\D", "", raw[nda_col]).zfill(11) == nda
        for previous in re.split(r"[,;|\s]+", raw[previous_col]):
            if re.fullmatch(r"\d{11}", previous) and previous != nda:
                expected.add((previous, nda))
    actual = set(sample_db.execute("SELECT nda_precedent, nda FROM ndas_precedents"))
    assert len(expected) > 20
    assert expected <= actual


def test_previous_ndas_are_findable_in_full_text(sample_db):
    previous, nda = sample_db.execute(
        "SELECT nda_precedent, nda FROM ndas_precedents ORDER BY 1 LIMIT 1"
    ).fetchone()
    expected = sample_db.execute("SELECT organisme_id FROM declarations WHERE nda = ?", (nda,)).fetchone()[0]
    found = [
        r[0]
        for r in sample_db.execute(
            "SELECT rowid FROM organismes_fts WHERE organismes_fts MATCH ?", (f"identifiants:{previous}",)
        )
    ]
    assert found == [expected]


def test_one_organisation_per_siret(sample_db):
    duplicates = sample_db.execute(
        "SELECT siret, count(*) FROM organismes WHERE siret IS NOT NULL GROUP BY siret HAVING count(*) > 1"
    ).fetchall()
    assert duplicates == []
    split = sample_db.execute(
        """SELECT d.siret FROM declarations d JOIN organismes o ON o.id = d.organisme_id
           WHERE d.siret IS NOT NULL AND d.siret != o.siret"""
    ).fetchall()
    assert split == []


# --- the real extract (May 2022) -----------------------------------------------------------------------


def _laposte_postcodes(reference_dir: Path) -> dict[str, set[str]]:
    """La Poste's postal codes per commune, under today's code: a commune merged since the base's
    vintage (Pierrefitte-sur-Seine, 93059, in Saint-Denis, 93066, since 2025) lends its codes to the
    commune it joined (the COG's `anciensCodes`)."""
    today = {
        old: c["code"]
        for c in json.loads((reference_dir / "communes.json").read_text(encoding="utf-8"))
        for old in c.get("anciensCodes", ())
    }
    data = (reference_dir / "laposte_hexasmal.csv").read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252")
    postcodes: dict[str, set[str]] = defaultdict(set)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=";")
    header = next(reader)
    insee, cp = header.index("Code_commune_INSEE"), header.index("Code_postal")
    for row in reader:
        if len(row) > max(insee, cp):
            code = row[insee].strip().zfill(5)
            postcodes[today.get(code, code)].add(row[cp].strip().zfill(5))
    return postcodes


def test_real_extract_every_row_accounted_for(real_build):
    rows = real_build.report["rows"]
    assert rows["records"] == REAL_RECORDS
    assert rows["declarations"] + rows["quarantined"] == REAL_RECORDS
    declarations = read_csv(real_build.out / "declarations.csv")
    quarantine = read_csv(real_build.out / "quarantaine.csv")
    numbers = [int(d["enregistrement_source"]) for d in declarations] + [
        int(q["enregistrement"]) for q in quarantine
    ]
    assert sorted(numbers) == list(range(1, REAL_RECORDS + 1))


def test_real_extract_communes_fit_the_postal_codes(real_build, real_extract_csv, reference_dir):
    header, records = source_rows(real_extract_csv)
    nda_col = header.index("numeroDeclarationActivite")
    cp_col = header.index("adressePhysiqueOrganismeFormation.codePostal")
    city_col = header.index("adressePhysiqueOrganismeFormation.ville")
    resolved = {
        d["numero_declaration_activite"]: d["code_commune_insee"]
        for d in read_csv(real_build.out / "declarations.csv")
    }
    postcodes = _laposte_postcodes(reference_dir)
    total, good, misses = 0, 0, []
    for raw in records:
        postcode, city = raw[cp_col].strip(), raw[city_col].strip()
        if not postcode or not city:
            continue
        total += 1
        insee = resolved.get(raw[nda_col].strip().zfill(11), "")
        if insee and postcode.zfill(5) in postcodes.get(insee, set()):
            good += 1
        else:
            misses.append((raw[nda_col], postcode, city, insee))
    assert total > 200
    assert good / total >= 0.98, f"{good}/{total}; misses: {misses[:10]}"


@pytest.mark.parametrize(
    ("city", "insee"), [("PARIS 08", "75108"), ("MARSEILLE 11", "13211"), ("STE ANNE", "97226")]
)
def test_real_extract_hand_typed_cities(real_build, real_extract_csv, city, insee):
    header, records = source_rows(real_extract_csv)
    nda_col = header.index("numeroDeclarationActivite")
    city_col = header.index("adressePhysiqueOrganismeFormation.ville")
    ndas = {raw[nda_col].strip() for raw in records if raw[city_col].strip() == city}
    assert ndas, f"no row with city {city!r} in the extract"
    declarations = {
        d["numero_declaration_activite"]: d for d in read_csv(real_build.out / "declarations.csv")
    }
    for nda in ndas:
        assert declarations[nda]["code_commune_insee"] == insee, (nda, declarations[nda])
        assert declarations[nda]["commune"]


def test_real_extract_previous_nda_equal_to_nda_is_not_listed(real_build):
    conn = sqlite3.connect(f"file:{real_build.db}?mode=ro", uri=True)
    try:
        assert (
            conn.execute("SELECT count(*) FROM ndas_precedents WHERE nda_precedent = nda").fetchone()[0] == 0
        )
        blank_flags = conn.execute(
            "SELECT count(*) FROM declarations WHERE certification_actions_formation IS NULL"
        ).fetchone()[0]
    finally:
        conn.close()
    assert blank_flags > 0  # blank certification columns stay unknown, not false


# --- odd digits ----------------------------------------------------------------------------------------


def _two_rows_same_siret(sample_csv: Path, **changes: str) -> str:
    header, records = source_rows(sample_csv)
    first = list(records[0])
    second = list(records[0])
    second[header.index("informationsDeclarees.dateDerniereDeclaration")] = "01/01/2015"
    for column, value in changes.items():
        second[header.index(column)] = value
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\n").writerows([header, first, second])
    return out.getvalue()


def test_nda_in_superscript_digits_is_quarantined_not_a_crash(
    tmp_path, sample_csv, run_build, mini_reference_dir
):
    """`²` passes str.isdigit() but not int(): such an NDA must be refused, not crash the build."""
    source = tmp_path / "odd-nda.csv"
    source.write_text(
        _two_rows_same_siret(sample_csv, numeroDeclarationActivite="²²²²²²²²²²²"), encoding="utf-8"
    )
    result = run_build(source, tmp_path / "a.db", mini_reference_dir)
    assert "Traceback" not in result.stderr
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "a.db.report.json").read_text(encoding="utf-8"))
    assert report["rows"]["declarations"] == 1
    assert report["quarantine"] == {"nda_invalide": 1}


def test_postcode_in_superscript_digits_is_not_a_crash(tmp_path, sample_csv, run_build, mini_reference_dir):
    """`20²²²` passes str.isdigit(); the Corsica rule then calls int() on it."""
    source = tmp_path / "odd-postcode.csv"
    source.write_text(
        _two_rows_same_siret(
            sample_csv,
            numeroDeclarationActivite="11755555575",
            **{"adressePhysiqueOrganismeFormation.codePostal": "20²²²"},
        ),
        encoding="utf-8",
    )
    result = run_build(source, tmp_path / "a.db", mini_reference_dir)
    assert "Traceback" not in result.stderr
    assert result.returncode == 0, result.stderr
