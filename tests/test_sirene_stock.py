"""SIRENE's stock files (`annuaire sirene --stock`): INSEE's StockEtablissement and StockUniteLegale
written here in their documented shape (header of INSEE's variable names, comma-separated, UTF-8,
zipped as INSEE ships them), streamed, only the directory's establishments kept."""

from __future__ import annotations

import csv
import gzip
import io
import random
import shutil
import sqlite3
import zipfile

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from annuaire.errors import InputError
from annuaire.sources.sirene_stock import legal_name, open_stock, read_establishments, read_units

ESTABLISHMENT_COLUMNS = (
    "siren,nic,siret,statutDiffusionEtablissement,dateCreationEtablissement,trancheEffectifsEtablissement,"
    "anneeEffectifsEtablissement,activitePrincipaleRegistreMetiersEtablissement,"
    "dateDernierTraitementEtablissement,etablissementSiege,nombrePeriodesEtablissement,"
    "complementAdresseEtablissement,numeroVoieEtablissement,indiceRepetitionEtablissement,"
    "dernierNumeroVoieEtablissement,indiceRepetitionDernierNumeroVoieEtablissement,typeVoieEtablissement,"
    "libelleVoieEtablissement,codePostalEtablissement,libelleCommuneEtablissement,"
    "libelleCommuneEtrangerEtablissement,distributionSpecialeEtablissement,codeCommuneEtablissement,"
    "codeCedexEtablissement,libelleCedexEtablissement,codePaysEtrangerEtablissement,"
    "libellePaysEtrangerEtablissement,identifiantAdresseEtablissement,coordonneeLambertAbscisseEtablissement,"
    "coordonneeLambertOrdonneeEtablissement,complementAdresse2Etablissement,numeroVoie2Etablissement,"
    "indiceRepetition2Etablissement,typeVoie2Etablissement,libelleVoie2Etablissement,codePostal2Etablissement,"
    "libelleCommune2Etablissement,libelleCommuneEtranger2Etablissement,distributionSpeciale2Etablissement,"
    "codeCommune2Etablissement,codeCedex2Etablissement,libelleCedex2Etablissement,"
    "codePaysEtranger2Etablissement,libellePaysEtranger2Etablissement,dateDebut,etatAdministratifEtablissement,"
    "enseigne1Etablissement,enseigne2Etablissement,enseigne3Etablissement,denominationUsuelleEtablissement,"
    "activitePrincipaleEtablissement,nomenclatureActivitePrincipaleEtablissement,caractereEmployeurEtablissement"
)
ESTABLISHMENT_HEADER = ESTABLISHMENT_COLUMNS.split(",")
UNIT_COLUMNS = (
    "siren,statutDiffusionUniteLegale,unitePurgeeUniteLegale,dateCreationUniteLegale,sigleUniteLegale,"
    "sexeUniteLegale,prenom1UniteLegale,prenom2UniteLegale,prenom3UniteLegale,prenom4UniteLegale,"
    "prenomUsuelUniteLegale,pseudonymeUniteLegale,identifiantAssociationUniteLegale,trancheEffectifsUniteLegale,"
    "anneeEffectifsUniteLegale,dateDernierTraitementUniteLegale,nombrePeriodesUniteLegale,"
    "categorieEntrepriseUniteLegale,anneeCategorieEntrepriseUniteLegale,dateDebut,etatAdministratifUniteLegale,"
    "nomUniteLegale,nomUsageUniteLegale,denominationUniteLegale,denominationUsuelle1UniteLegale,"
    "denominationUsuelle2UniteLegale,denominationUsuelle3UniteLegale,categorieJuridiqueUniteLegale,"
    "activitePrincipaleUniteLegale,nomenclatureActivitePrincipaleUniteLegale,nicSiegeUniteLegale,"
    "economieSocialeSolidaireUniteLegale,societeMissionUniteLegale,caractereEmployeurUniteLegale"
)
UNIT_HEADER = UNIT_COLUMNS.split(",")


def establishment(
    siret: str, state: str = "A", since: str = "2008-01-01", naf: str = "85.59A", **more
) -> dict:
    row = dict.fromkeys(ESTABLISHMENT_HEADER, "")
    row |= {
        "siren": siret[:9],
        "nic": siret[9:],
        "siret": siret,
        "statutDiffusionEtablissement": "O",
        "dateCreationEtablissement": "2008-01-01",
        "dateDernierTraitementEtablissement": "2025-10-14T03:12:45",
        "etablissementSiege": "true",
        "nombrePeriodesEtablissement": "2",
        "libelleVoieEtablissement": "DE LA REPUBLIQUE",
        "codePostalEtablissement": "75011",
        "dateDebut": since,
        "etatAdministratifEtablissement": state,
        "activitePrincipaleEtablissement": naf,
        "nomenclatureActivitePrincipaleEtablissement": "NAFRev2",
        "caractereEmployeurEtablissement": "O",
    }
    return row | more


def unit(siren: str, state: str = "A", **more) -> dict:
    row = dict.fromkeys(UNIT_HEADER, "")
    row |= {
        "siren": siren,
        "statutDiffusionUniteLegale": "O",
        "dateCreationUniteLegale": "2008-01-01",
        "etatAdministratifUniteLegale": state,
        "categorieJuridiqueUniteLegale": "5710",
        "activitePrincipaleUniteLegale": "85.59A",
        "nicSiegeUniteLegale": "00017",
    }
    return row | more


def stock_csv(header: list[str], rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, header, lineterminator="\n")  # INSEE quotes only what needs it
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def zipped(name: str, data: bytes, when=(2025, 11, 1, 2, 0, 0)) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo(name, date_time=when), data, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def other_sirets(n: int, avoid: set[str], seed: int = 7) -> list[str]:
    """Valid SIRETs (Luhn) that are not the directory's."""
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < n:
        body = f"{rng.randrange(10**12, 10**13):013d}"
        for last in "0123456789":
            digits = [int(c) for c in body + last]
            total = sum(d if i % 2 else (d * 2 - 9 if d * 2 > 9 else d * 2) for i, d in enumerate(digits))
            if total % 10 == 0 and body + last not in avoid:
                out.append(body + last)
                break
    return out


@pytest.fixture()
def directory_copy(sample_build, tmp_path):
    copy = tmp_path / "annuaire.db"
    shutil.copyfile(sample_build.db, copy)
    return copy


@pytest.mark.integration
def test_stock_files_flag_closed_establishments(directory_copy, tmp_path, run_annuaire) -> None:
    from annuaire.api import ApiSettings, create_app

    with sqlite3.connect(directory_copy) as conn:
        query = (
            "SELECT siret FROM organismes WHERE siret IS NOT NULL AND statut = 'actif' ORDER BY identifiant"
        )
        ours = [r[0] for r in conn.execute(query)]
    assert len(ours) > 300
    listed, closed, person = ours[:200], ours[:200:10], ours[5]
    outsiders = other_sirets(3000, set(ours))
    rows = [establishment(s) for s in outsiders[:1500]]
    for siret in listed:
        if siret in closed:
            rows.append(establishment(siret, "F", "2023-06-30", "85.59B"))
        else:  # an enseigne with a comma, a quote and a line break: the record spans two lines
            rows.append(establishment(siret, enseigne1Etablissement='CENTRE "LE PHARE",\nANNEXE'))
    rows += [establishment(s, "F", "2020-01-01") for s in outsiders[1500:]]
    stock = tmp_path / "StockEtablissement_utf8.zip"
    stock.write_bytes(zipped("StockEtablissement_utf8.csv", stock_csv(ESTABLISHMENT_HEADER, rows)))
    units = [unit(s[:9], denominationUniteLegale=f"SOCIETE {s[:9]}") for s in listed if s != person]
    units.append(
        unit(person[:9], prenom1UniteLegale="MARIE", prenomUsuelUniteLegale="MARIE", nomUniteLegale="CURIE")
    )
    units += [unit(s[:9], "C", denominationUniteLegale="AILLEURS") for s in outsiders]
    units_file = tmp_path / "StockUniteLegale_utf8.csv.gz"
    units_file.write_bytes(gzip.compress(stock_csv(UNIT_HEADER, units)))
    cache = tmp_path / "sirene.sqlite"
    done = run_annuaire(
        "sirene", "--db", directory_copy, "--stock", stock, "--stock-unites", units_file, "--cache", cache,
        "--no-progress",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "found in stock" in done.stdout and "3,200" in done.stdout  # rows read

    with sqlite3.connect(directory_copy) as conn:
        table = {r[0]: r[1:] for r in conn.execute("SELECT siret, etat_administratif, denomination, api, "
                                                   "date_verification FROM sirene")}  # fmt: skip
    assert set(table) == set(ours)  # the directory's establishments only; the others ignored
    assert {s for s, r in table.items() if r[0] == "F"} == set(closed)
    assert {s for s, r in table.items() if r[0] is None} == set(ours) - set(listed)  # unknown to SIRENE
    assert table[person][1] == "MARIE CURIE" and table[listed[1]][1] == f"SOCIETE {listed[1][:9]}"
    assert {r[2] for r in table.values()} == {"stock"} and {r[3] for r in table.values()} == {"2025-11-01"}
    with sqlite3.connect(cache) as conn:
        assert not set(outsiders) & {r[0] for r in conn.execute("SELECT siret FROM reponses")}

    with TestClient(create_app(ApiSettings(db=str(directory_copy), rate_limit_per_minute=0))) as client:
        body = client.get(f"/api/v1/organismes/{closed[1]}").json()["sirene"]
        assert (body["ferme"], body["date_fermeture"], body["activite_principale"]) == (
            True,
            "2023-06-30",
            "85.59B",
        )
        assert body["denomination"] == f"SOCIETE {closed[1][:9]}" and body["etat_unite_legale"] == "A"
        assert body["api"] == "stock"
        opened = client.get(f"/api/v1/organismes/{listed[1]}").json()["sirene"]
        assert (opened["ferme"], opened["activite_principale"]) == (False, "85.59A")
        page = client.get(f"/organisme/{closed[1]}", follow_redirects=True).text
        assert "établissement fermé" in page and "30 juin 2023" in page and "85.59B" in page
        other = client.get(f"/organisme/{person}", follow_redirects=True).text
        assert "établissement fermé" not in other and "MARIE CURIE" in other


def test_stock_command_user_errors(run_annuaire, directory_copy, tmp_path) -> None:
    only_units = run_annuaire("sirene", "--db", directory_copy, "--stock-unites", tmp_path / "u.csv")
    assert only_units.returncode == 2 and "needs --stock" in only_units.stderr
    missing = run_annuaire(
        "sirene", "--db", directory_copy, "--stock", tmp_path / "absent.zip", "--no-progress"
    )
    assert missing.returncode == 2 and "absent.zip" in missing.stderr
    wrong = tmp_path / "liste.csv"
    wrong.write_text("siret;denomination\n44229377500031;ACME\n", encoding="utf-8")
    bad = run_annuaire("sirene", "--db", directory_copy, "--stock", wrong, "--no-progress")
    assert bad.returncode == 2 and "missing column(s)" in bad.stderr and "liste.csv" in bad.stderr
    empty_zip = tmp_path / "StockEtablissement_utf8.zip"
    empty_zip.write_bytes(zipped("LISEZMOI.txt", b"rien"))
    no_csv = run_annuaire("sirene", "--db", directory_copy, "--stock", empty_zip, "--no-progress")
    assert no_csv.returncode == 2 and "no .csv file" in no_csv.stderr
    for done in (only_units, missing, bad, no_csv):
        assert "Traceback" not in done.stderr


def test_legal_name_of_a_company_or_a_person() -> None:
    assert legal_name(unit("1", denominationUniteLegale="ACME FORMATION")) == "ACME FORMATION"
    assert legal_name(unit("1", prenom1UniteLegale="JEAN", prenomUsuelUniteLegale="", nomUniteLegale="DUPONT",
                           nomUsageUniteLegale="MARTIN")) == "JEAN MARTIN"  # fmt: skip
    assert legal_name(unit("1", denominationUniteLegale="[ND]", nomUniteLegale="[ND]")) is None


def test_units_read_only_the_wanted_sirens(tmp_path) -> None:
    data = stock_csv(UNIT_HEADER, [unit("123456789", denominationUniteLegale="A"), unit("987654321", "C")])
    found, read = read_units(io.BytesIO(data), "u.csv", {"987654321"})
    assert found == {"987654321": (None, "C")} and read == 2


cells = st.text(alphabet=st.sampled_from('ab ,"\n;éÉ-'), max_size=15)  # (a bare CR is not quoted by csv)


@given(
    present=st.lists(st.integers(min_value=0, max_value=49), max_size=30, unique=True),
    wanted=st.sets(st.integers(min_value=0, max_value=49), max_size=20),
    texts=st.lists(cells, min_size=50, max_size=50),
    states=st.lists(st.sampled_from("AF"), min_size=50, max_size=50),
)
@settings(max_examples=100, deadline=None)
def test_read_establishments_keeps_exactly_the_wanted_ones(present, wanted, texts, states) -> None:
    sirets = other_sirets(50, set(), seed=3)
    rows = [
        establishment(sirets[i], states[i], "2021-02-03", enseigne1Etablissement=texts[i],
                      denominationUsuelleEtablissement=texts[-1 - i])
        for i in present
    ]  # fmt: skip
    found, read = read_establishments(
        io.BytesIO(stock_csv(ESTABLISHMENT_HEADER, rows)), "s.csv", [sirets[i] for i in wanted]
    )
    said = {s: (e.etat_administratif, e.date_fermeture, e.activite_principale) for s, e in found.items()}
    assert said == {
        sirets[i]: (states[i], "2021-02-03" if states[i] == "F" else None, "85.59A")
        for i in present
        if i in wanted
    }
    assert read >= len(rows)


def test_stock_inside_zip_gzip_or_plain(tmp_path) -> None:
    data = stock_csv(ESTABLISHMENT_HEADER, [establishment("44229377500031", "F", "2024-05-31")])
    for name, payload in (
        ("s.zip", zipped("StockEtablissement_utf8.csv", data)),
        ("s.csv.gz", gzip.compress(data)),
        ("s.csv", data),
    ):
        (tmp_path / name).write_bytes(payload)
        with open_stock(tmp_path / name) as (stream, _):
            found, _ = read_establishments(stream, name, ["44229377500031"])
        (a,) = found.values()
        assert (a.siret, a.etat_administratif, a.date_fermeture, a.activite_principale) == (
            "44229377500031", "F", "2024-05-31", "85.59A"
        )  # fmt: skip
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(b"PK\x03\x04" + b"\x00" * 50)
    with pytest.raises(InputError, match="damaged.zip: a damaged zip"), open_stock(damaged):
        pass


def test_stock_files_on_postgresql(postgres, run_build, sample_csv, run_annuaire, tmp_path) -> None:
    """`annuaire sirene --db postgresql://… --stock`: the answers land in the directory as on SQLite."""
    import psycopg

    from annuaire.search import open_searcher

    url = postgres.create_database("annuaire_sirene_stock")
    built = run_build(sample_csv, url)
    assert built.returncode == 0, built.stderr
    with psycopg.connect(url) as conn:
        ours = [r[0] for r in conn.execute(
            "SELECT siret FROM annuaire.organismes WHERE siret IS NOT NULL AND statut = 'actif' "
            "ORDER BY identifiant COLLATE \"C\" LIMIT 30"
        )]  # fmt: skip
    rows = [establishment(s, "F" if n % 3 == 0 else "A", "2022-09-30") for n, s in enumerate(ours)]
    stock = tmp_path / "StockEtablissement_utf8.zip"
    stock.write_bytes(zipped("StockEtablissement_utf8.csv", stock_csv(ESTABLISHMENT_HEADER, rows)))
    done = run_annuaire(
        "sirene", "--db", url, "--stock", stock, "--cache", tmp_path / "sirene.sqlite", "--no-progress"
    )
    assert done.returncode == 0, done.stderr
    with psycopg.connect(url) as conn:
        closed = {
            r[0] for r in conn.execute("SELECT siret FROM annuaire.sirene WHERE etat_administratif = 'F'")
        }
    assert closed == set(ours[::3])
    searcher = open_searcher(url)
    try:
        detail = searcher.organisation(ours[0])["sirene"]
        assert (detail["ferme"], detail["date_fermeture"], detail["api"]) == (True, "2022-09-30", "stock")
    finally:
        searcher.close()
