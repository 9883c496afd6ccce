"""Declarations placed where they really are: the Liste publique's address, else the establishment's
in SIRENE (`--sirene-stock` on build and update, `annuaire sirene --stock`), else the declared région.

On the 2,006-row sample whose addresses are emptied on half the rows (../shared/data/of/sample-sans-
adresse-*), scored by score.py locate; the three ways in give the same places; bad stock files stop
with exit code 2 and leave the directory as it was. INSEE's stock shapes are written here too."""

from __future__ import annotations

import csv
import gzip
import io
import json
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from annuaire.geocoding.projection import to_wgs84
from annuaire.sources.sirene_stock import read_establishments

PLACE_COLUMNS = (
    "code_commune_insee",
    "commune",
    "code_departement",
    "code_region",
    "origine_lieu",
    "latitude",
    "longitude",
    "geo_type",
    "geo_methode",
)


@pytest.fixture(scope="session")
def sans_adresse(shared_dir: Path) -> dict[str, Path]:
    folder = shared_dir / "data" / "of"
    files = {
        "source": folder / "sample-sans-adresse-M.csv",
        "stock": folder / "sample-sans-adresse-sirene-etablissements.csv.gz",
        "truth": folder / "sample-sans-adresse-truth.csv.gz",
    }
    for name, path in files.items():
        if not path.exists():
            pytest.fail(f"{path}: the sample without addresses ({name}) is missing", pytrace=False)
    return files


def read_csv(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def by_nda(folder: Path) -> dict[str, dict]:
    return {d["numero_declaration_activite"]: d for d in read_csv(folder / "declarations.csv")}


def export(run_annuaire, db: Path, out: Path) -> Path:
    done = run_annuaire("export", "--db", db, "--out", out, "--formats", "csv")
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def placed(sans_adresse, run_annuaire, reference_dir, tmp_path_factory) -> Path:
    """The sample without addresses, built with its SIRENE stock (no geocoder), exported."""
    folder = tmp_path_factory.mktemp("placed")
    db = folder / "annuaire.db"
    built = run_annuaire(
        "build", "--source", sans_adresse["source"], "--db", db, "--reference", reference_dir,
        "--sirene-stock", sans_adresse["stock"], "--no-progress",
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    export(run_annuaire, db, folder / "out")
    return folder


def test_the_snapshot_without_addresses_is_placed_as_a_perfect_directory_would(
    placed, sans_adresse, score_script
):
    scored = subprocess.run(
        [sys.executable, str(score_script), "locate", "--truth", str(sans_adresse["truth"]),
         "--declarations", str(placed / "out" / "declarations.csv")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert scored.returncode == 0, scored.stdout + scored.stderr
    figures = json.loads(scored.stdout.strip().splitlines()[-1])
    assert figures["invented_commune_max"] == 0 and figures["commune_from_sirene"] >= 0.99


def test_each_declaration_says_where_its_place_comes_from(placed, sans_adresse):
    report = json.loads((placed / "annuaire.db.report.json").read_text(encoding="utf-8"))
    stock_date = report["sirene"]["stock_date"]
    declarations = by_nda(placed / "out")
    seen = {"sirene": 0, "region_declaree": 0, "liste_publique": 0}
    for t in read_csv(sans_adresse["truth"]):
        d = declarations.get(t["nda"])
        if d is None:
            continue
        if t["address_blanked"] == "1" and t["expected_commune"]:  # placed by SIRENE
            assert (d["origine_lieu"], d["date_origine_lieu"]) == ("sirene", stock_date), t
            if t["expected_precision"] == "street":
                assert (d["geo_methode"], d["geo_type"]) in {("sirene", "housenumber"), ("sirene", "street")}
            else:  # masked ([ND]) or without a position: the commune's centre, never a street's precision
                assert (d["geo_methode"], d["geo_type"]) == ("centroide_commune", "municipality"), t
        elif t["address_blanked"] == "1":  # unknown to SIRENE, or no valid SIRET: the région declared only
            assert (d["origine_lieu"], d["code_commune_insee"], d["code_region"]) == (
                "region_declaree", "", t["region"]
            ), t  # fmt: skip
            assert d["latitude"] == "" and d["geo_methode"] == "aucun"
        else:
            assert d["origine_lieu"] == "liste_publique" and d["date_origine_lieu"] == "", t
        seen[d["origine_lieu"]] += 1
    assert min(seen.values()) > 20, seen
    assert report["repairs"]["place.sirene"] == seen["sirene"] == report["sirene"]["placed_by_sirene"]
    assert report["sirene"]["closed_establishments_placed"] > 0


def test_the_liste_publiques_commune_wins_and_a_disagreeing_sirene_goes_to_provenance(placed, sans_adresse):
    stock = {e["siret"]: e for e in read_csv(sans_adresse["stock"])}
    declarations = by_nda(placed / "out")
    disagreeing = [
        t for t in read_csv(sans_adresse["truth"])
        if t["address_blanked"] == "0" and t["siret"] in stock and t["nda"] in declarations
        and stock[t["siret"]]["codeCommuneEtablissement"] not in ("", t["true_commune"])
    ]  # fmt: skip
    assert disagreeing, "the sample holds SIRENE addresses newer than the declarations"
    provenance = read_csv(placed / "out" / "provenance.csv")
    said = {
        (p["siret"], p["champ"], p["source"], p["valeur"], p["concorde_liste_publique"]) for p in provenance
    }
    for t in disagreeing:
        d = declarations[t["nda"]]
        assert (d["code_commune_insee"], d["origine_lieu"]) == (t["true_commune"], "liste_publique")
        siren_commune = stock[t["siret"]]["codeCommuneEtablissement"]
        assert (t["siret"], "code_commune_insee", "sirene", siren_commune, "false") in said, t
        assert (t["siret"], "code_commune_insee", "liste_publique", t["true_commune"], "") in said, t


def test_a_closed_establishment_is_placed_and_its_page_says_where_from(placed):
    from fastapi.testclient import TestClient

    from annuaire.api import ApiSettings, create_app

    with sqlite3.connect(placed / "annuaire.db") as conn:
        siret, date = conn.execute(
            """SELECT o.siret, s.date_verification FROM organismes o
               JOIN declarations d ON d.nda = o.nda_principal JOIN sirene s ON s.siret = o.siret
               WHERE d.origine_lieu = 'sirene' AND s.etat_administratif = 'F' AND s.adresse IS NOT NULL
               ORDER BY o.siret LIMIT 1"""
        ).fetchone()
    with TestClient(
        create_app(ApiSettings(db=str(placed / "annuaire.db"), rate_limit_per_minute=0))
    ) as client:
        body = client.get(f"/api/v1/organismes/{siret}").json()
        assert body["lieu"]["origine"] == "sirene" and body["lieu"]["date"] == date
        assert body["lieu"]["adresse"] == body["sirene"]["adresse"] and body["sirene"]["ferme"] is True
        assert body["code_commune_insee"] == body["sirene"]["code_commune"]
        page = client.get(f"/organisme/{siret}", follow_redirects=True).text
        assert "Adresse issue du répertoire SIRENE (INSEE), au" in page and "fermé" in page
        assert body["sirene"]["adresse"] in page
        sources = {s["source"]: s for s in body["provenance"]["sources"]}
        assert {c["champ"] for c in sources["sirene"]["champs"]} == {"code_commune_insee", "adresse"}


@pytest.mark.integration
def test_update_and_the_sirene_command_place_as_the_build_does(
    placed, sans_adresse, run_annuaire, reference_dir, tmp_path, file_sha256
):
    """Built without the stock, then given it by `annuaire update` or by `annuaire sirene --stock`:
    the same places as a build with it. Given it again, the update changes nothing."""
    db = tmp_path / "plain.db"
    built = run_annuaire(
        "build", "--source", sans_adresse["source"], "--db", db, "--reference", reference_dir, "--no-progress"
    )
    assert built.returncode == 0, built.stderr
    before = by_nda(export(run_annuaire, db, tmp_path / "before"))
    assert {d["origine_lieu"] for d in before.values()} == {"liste_publique", "region_declaree"}
    command = shutil.copyfile(db, tmp_path / "command.db")
    updated = run_annuaire(
        "update", "--db", db, "--source", sans_adresse["source"], "--reference", reference_dir,
        "--sirene-stock", sans_adresse["stock"],
    )  # fmt: skip
    assert updated.returncode == 0, updated.stderr
    report = json.loads((tmp_path / "plain.db.update.json").read_text(encoding="utf-8"))
    assert report["changed"] and report["counts"]["modified"] == 0 and report["counts"]["added"] == 0
    assert report["sirene"]["directory"]["placed_by_sirene"] > 0
    checked = run_annuaire(
        "sirene",
        "--db",
        command,
        "--stock",
        sans_adresse["stock"],
        "--cache",
        tmp_path / "c.sqlite",
        "--no-progress",
    )
    assert checked.returncode == 0, checked.stderr
    expected = by_nda(placed / "out")
    for name, folder in (
        ("update", export(run_annuaire, db, tmp_path / "u")),
        ("sirene", export(run_annuaire, command, tmp_path / "s")),
    ):
        got = by_nda(folder)
        differing = [
            n
            for n, d in expected.items()
            if any(d[c] != got[n][c] for c in (*PLACE_COLUMNS, "date_origine_lieu"))
        ]
        assert differing == [], (name, differing[:5])
    sha = file_sha256(db)
    again = run_annuaire(
        "update", "--db", db, "--source", sans_adresse["source"], "--reference", reference_dir,
        "--sirene-stock", sans_adresse["stock"],
    )  # fmt: skip
    assert again.returncode == 0 and "Nothing changed" in again.stdout and file_sha256(db) == sha


# -- bad stock files: exit 2, the directory as it was ---------------------------------------------------


def stock_bytes(sans_adresse) -> bytes:
    return gzip.decompress(sans_adresse["stock"].read_bytes())


@pytest.fixture(scope="module")
def previous(sans_adresse, run_annuaire, reference_dir, tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("previous") / "annuaire.db"
    built = run_annuaire(
        "build", "--source", sans_adresse["source"], "--db", db, "--reference", reference_dir, "--no-progress"
    )
    assert built.returncode == 0, built.stderr
    return db


def bad_stocks(sans_adresse, folder: Path) -> dict[str, tuple[Path, list[str]]]:
    """Stock files that cannot be used, and what the message must name."""
    data = stock_bytes(sans_adresse)
    text = data.decode("utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    dropped = ("codeCommuneEtablissement", "coordonneeLambertAbscisseEtablissement")
    keep = [i for i, name in enumerate(rows[0]) if name not in dropped]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([[r[i] for i in keep] for r in rows])
    missing = folder / "sans-colonnes.csv"
    missing.write_text(out.getvalue(), encoding="utf-8")
    whole = gzip.compress(data)
    truncated_gz = folder / "coupe.csv.gz"
    truncated_gz.write_bytes(whole[: len(whole) // 2])
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("StockEtablissement_utf8.csv", data)
    truncated_zip = folder / "coupe.zip"
    truncated_zip.write_bytes(archive.getvalue()[: len(archive.getvalue()) // 2])
    return {
        "missing_columns": (missing, ["missing column(s)", *dropped]),
        "truncated_gzip": (truncated_gz, ["coupe.csv.gz", "cut short"]),
        "truncated_zip": (truncated_zip, ["coupe.zip", "damaged zip"]),
    }


@pytest.mark.integration
@pytest.mark.parametrize("command", ["build", "update", "sirene"])
def test_bad_stock_files_exit_2_and_leave_the_directory_untouched(
    command, previous, sans_adresse, run_annuaire, reference_dir, tmp_path, file_sha256
):
    for case, (path, words) in bad_stocks(sans_adresse, tmp_path).items():
        db = tmp_path / f"{case}.db"
        shutil.copyfile(previous, db)
        sha = file_sha256(db)
        args = {
            "build": [
                "build",
                "--source",
                sans_adresse["source"],
                "--db",
                db,
                "--reference",
                reference_dir,
                "--no-progress",
                "--sirene-stock",
                path,
            ],
            "update": [
                "update",
                "--db",
                db,
                "--source",
                sans_adresse["source"],
                "--reference",
                reference_dir,
                "--sirene-stock",
                path,
            ],
            "sirene": [
                "sirene",
                "--db",
                db,
                "--stock",
                path,
                "--cache",
                tmp_path / "c.sqlite",
                "--no-progress",
            ],
        }[command]
        done = run_annuaire(*args)
        assert done.returncode == 2, (command, case, done.stderr)
        message = " ".join(done.stderr.split())
        for word in words:
            assert word in message, (command, case, message)
        assert "Traceback" not in done.stderr
        assert file_sha256(db) == sha, (command, case)
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(f".{db.name}")], (command, case)


# -- INSEE's shapes ------------------------------------------------------------------------------------

HEADER = [
    "siren", "nic", "siret", "statutDiffusionEtablissement", "complementAdresseEtablissement",
    "numeroVoieEtablissement", "indiceRepetitionEtablissement", "typeVoieEtablissement",
    "libelleVoieEtablissement", "codePostalEtablissement", "libelleCommuneEtablissement",
    "codeCommuneEtablissement", "coordonneeLambertAbscisseEtablissement",
    "coordonneeLambertOrdonneeEtablissement", "dateDebut", "etatAdministratifEtablissement",
    "activitePrincipaleEtablissement",
]  # fmt: skip
ROWS = [
    ["443061841", "00047", "44306184100047", "O", "", "12", "B", "AV", "DE L'ÉGLISE", "69003", "LYON 3E",
     "69383", "845000.0", "6519000.0", "2019-03-01", "A", "85.59A"],
    ["552100554", "00013", "55210055400013", "P", "[ND]", "[ND]", "[ND]", "[ND]", "[ND]", "[ND]", "RENNES",
     "35238", "[ND]", "[ND]", "2020-01-01", "A", "85.59B"],
    ["732829320", "00074", "73282932000074", "O", "BATIMENT A, 2E ETAGE", "3", "", "RUE", "DU PORT", "97400",
     "SAINT-DENIS", "97411", "338000.0", "7690000.0", "2023-06-30", "F", "85.59A"],
]  # fmt: skip
WANTED = ["44306184100047", "55210055400013", "73282932000074", "99999999999999"]


def write_stock(
    header: list[str],
    rows: list[list[str]],
    delimiter: str = ",",
    encoding: str = "utf-8",
    quoting=csv.QUOTE_MINIMAL,
) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, quoting=quoting, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def answers(data: bytes) -> dict:
    found, _ = read_establishments(io.BytesIO(data), "stock.csv", WANTED)
    return {
        s: (
            e.etat_administratif,
            e.date_fermeture,
            e.adresse,
            e.code_postal,
            e.code_commune,
            e.latitude,
            e.longitude,
            e.diffusion,
        )
        for s, e in found.items()
    }


def test_stock_rows_give_the_address_and_the_position():
    found = answers(write_stock(HEADER, ROWS))
    lyon, rennes, reunion = (found[s] for s in WANTED[:3])
    assert lyon[:5] == ("A", None, "12 BIS AVENUE DE L'ÉGLISE", "69003", "69383")
    assert 45.7 < lyon[5] < 45.8 and 4.8 < lyon[6] < 4.9  # Lambert-93 → Lyon
    assert rennes == ("A", None, None, None, "35238", None, None, "P")  # [ND]: the commune only
    assert reunion[:5] == ("F", "2023-06-30", "3 RUE DU PORT", "97400", "97411")
    assert -21.0 < reunion[5] < -20.8 and 55.4 < reunion[6] < 55.5  # UTM 40S → Saint-Denis de La Réunion
    assert set(found) == set(WANTED[:3])  # an unknown SIRET is not in the stock


def test_stock_columns_in_any_order_separator_encoding_and_quoting():
    expected = answers(write_stock(HEADER, ROWS))
    order = list(reversed(range(len(HEADER))))
    shuffled = write_stock([HEADER[i] for i in order], [[r[i] for i in order] for r in ROWS])
    assert answers(shuffled) == expected
    assert answers(write_stock(HEADER, ROWS, delimiter=";")) == expected
    assert answers(write_stock(HEADER, ROWS, encoding="cp1252")) == expected
    assert answers(write_stock(HEADER, ROWS, quoting=csv.QUOTE_ALL)) == expected
    assert answers(b"\xef\xbb\xbf" + write_stock(HEADER, ROWS)) == expected  # a BOM


@pytest.mark.parametrize(
    ("commune", "epsg", "lat", "lon"),
    [
        ("97120", 5490, 16.241, -61.533),  # Pointe-à-Pitre: RGAF09 / UTM 20N
        ("97209", 5490, 14.607, -61.073),  # Fort-de-France
        ("97302", 2972, 4.933, -52.330),  # Cayenne: RGFG95 / UTM 22N
        ("97411", 2975, -20.882, 55.451),  # Saint-Denis: RGR92 / UTM 40S
        ("97611", 4471, -12.781, 45.228),  # Mamoudzou: RGM04 / UTM 38S
        ("97502", 4467, 46.780, -56.177),  # Saint-Pierre: RGSPM06 / UTM 21N
        ("33063", 2154, 44.837, -0.579),  # Bordeaux: Lambert-93
        ("2A004", 2154, 41.919, 8.738),  # Ajaccio
    ],
)
def test_each_territory_is_read_in_the_system_insee_writes_it_in(commune, epsg, lat, lon):
    """A position written in the system INSEE uses for the commune's territory (EPSG codes as INSEE
    documents them) comes back where it was: the system was told right from the commune."""
    from pyproj import Transformer

    x, y = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True).transform(lon, lat)
    ((back_lat, back_lon),) = to_wgs84([(f"{x:.1f}", f"{y:.1f}", commune)])
    assert abs(back_lat - lat) < 1e-5 and abs(back_lon - lon) < 1e-5


def test_lambert_93_and_what_is_no_position():
    ((lat, lon),) = to_wgs84([("700000", "6600000", "69123")])  # Lambert-93's origin: 46.5° N, 3° E
    assert abs(lat - 46.5) < 1e-7 and abs(lon - 3.0) < 1e-7
    assert (
        to_wgs84(
            [
                ("[ND]", "[ND]", "35238"),
                ("", "", "35238"),
                ("700000", "6600000", None),
                ("0", "0", "75056"),
                ("5000000", "1000", "75056"),
                ("700000", "6600000", "98735"),
            ]
        )
        == [None] * 6
    )


def test_postgresql_directories_are_placed_the_same(
    placed, sans_adresse, postgres, run_annuaire, reference_dir, tmp_path
):
    """`annuaire sirene --stock` on a PostgreSQL directory places its declarations as a SQLite build
    with the stock does; its provenance says the same."""
    url = postgres.create_database("annuaire_places")
    built = run_annuaire(
        "build",
        "--source",
        sans_adresse["source"],
        "--db",
        url,
        "--reference",
        reference_dir,
        "--no-progress",
    )
    assert built.returncode == 0, built.stderr
    checked = run_annuaire(
        "sirene",
        "--db",
        url,
        "--stock",
        sans_adresse["stock"],
        "--cache",
        tmp_path / "c.sqlite",
        "--no-progress",
    )
    assert checked.returncode == 0, checked.stderr
    got = by_nda(export(run_annuaire, url, tmp_path / "pg"))
    expected = by_nda(placed / "out")
    differing = [
        n
        for n, d in expected.items()
        if any(d[c] != got[n][c] for c in (*PLACE_COLUMNS, "date_origine_lieu"))
    ]
    assert differing == []
    ours = sorted(read_csv(tmp_path / "pg" / "provenance.csv"), key=lambda r: tuple(r.values()))
    theirs = sorted(read_csv(placed / "out" / "provenance.csv"), key=lambda r: tuple(r.values()))
    assert ours == theirs
