"""Source profiles, French formats, licences, metadata, the trust score's arithmetic, the quality report,
and the pages and endpoints that show them."""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import luhn

from annuaire.trust import formats, metadata
from annuaire.trust.licences import normalise
from annuaire.trust.profile import profile_file
from annuaire.trust.score import WEIGHTS, trust_score
from annuaire.trust.sources import LISTE_PUBLIQUE, profile_source

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def dataset_json(shared_dir: Path) -> dict:
    path = shared_dir / "data" / "datagouv" / "dataset-liste-publique-of.json"
    if not path.exists():
        pytest.fail(f"{path}: data.gouv.fr dataset description missing", pytrace=False)
    return json.loads(path.read_text(encoding="utf-8"))


# --- licences ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected", "versioned"),
    [
        ("Licence Ouverte", "lo-2.0", False),
        ("Licence Ouverte / Open Licence version 2.0", "lo-2.0", True),
        ("Licence Ouverte v2.0", "lo-2.0", True),
        ("licence ouverte 2", "lo-2.0", True),
        ("lov2", "lo-2.0", True),
        ("etalab-2.0", "lo-2.0", True),
        ("Open Licence 2.0", "lo-2.0", True),
        ("Licence Ouverte / Open Licence version 1.0", "lo-1.0", True),
        ("fr-lo", "lo-1.0", True),
        ("lov1", "lo-1.0", True),
        ("odc-odbl", "odbl-1.0", True),
        ("Open Database License (ODbL)", "odbl-1.0", True),
        ("cc-by", "cc-by", False),
        ("CC-BY 4.0", "cc-by-4.0", True),
        ("cc-by-sa", "cc-by-sa", False),
        ("cc-zero", "cc0-1.0", True),
        ("other-at", "autre-ouverte", False),
        ("other-open", "autre-ouverte", False),
        ("Licence propriétaire maison", "autre", False),
        ("notspecified", "inconnue", False),
        ("", "inconnue", False),
        (None, "inconnue", False),
    ],
)
def test_licence_names_are_normalised(name, expected, versioned):
    licence = normalise(name)
    assert licence.id == expected
    assert licence.versioned is versioned
    assert licence.open is (expected not in ("autre", "inconnue"))


def test_the_licence_ouverte_2_has_its_spdx_name_and_url():
    licence = normalise("lov2")
    assert licence.spdx == "etalab-2.0"
    assert licence.url == "https://www.etalab.gouv.fr/licence-ouverte-open-licence/"


@given(st.text(max_size=60))
def test_any_licence_name_gets_a_known_identifier(name):
    known = {"lo-2.0", "lo-1.0", "odbl-1.0", "cc-by", "cc-by-4.0", "cc-by-sa", "cc-by-sa-4.0", "cc0-1.0"}
    assert normalise(name).id in known | {"autre-ouverte", "autre", "inconnue"}


# --- formats -------------------------------------------------------------------------------------------


def _with_check_digit(body: str) -> str:
    return body + luhn.calc_check_digit(body)


@given(st.from_regex(r"[0-9]{8}", fullmatch=True), st.from_regex(r"[0-9]{4}", fullmatch=True))
def test_siren_and_siret_with_their_check_digits_are_recognised(body, establishment):
    siren = _with_check_digit(body)
    assert formats.is_siren(siren)
    siret = _with_check_digit(siren + establishment)
    assert formats.is_siret(siret)
    wrong = siret[:-1] + str((int(siret[-1]) + 1) % 10)
    assert not formats.is_siret(wrong)
    assert not formats.is_siret(siret[1:])  # a lost leading zero is 13 digits: not a SIRET


def test_la_poste_sirets_follow_their_own_rule():
    assert formats.is_siret("35600000000048")  # La Poste: the digits add up to a multiple of 5
    assert not formats.is_siret("35600000000049")


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)))
def test_dates_are_recognised_in_french_and_iso_forms(day):
    assert formats.is_date(day.strftime("%d/%m/%Y"))
    assert formats.is_date(day.isoformat())


@pytest.mark.parametrize("value", ["31/02/2020", "2020-13-01", "00/01/2020", "1/1/2020", "2020", "hier"])
def test_impossible_or_malformed_dates_are_not_dates(value):
    assert not formats.is_date(value)


@pytest.mark.parametrize(
    ("check", "good", "bad"),
    [
        (formats.is_postal_code, ["01000", "75008", "97400"], ["1000", "00100", "750080", "7500A"]),
        (formats.is_insee_commune, ["01001", "2A004", "2B033", "97411"], ["2C004", "1001", "00001"]),
        (formats.is_departement, ["01", "2A", "2b", "95", "971", "976"], ["20", "96", "00", "970", "1"]),
        (formats.is_region, ["11", "84", "01", "94"], ["12", "1", "99", "2A"]),
        (formats.is_boolean, ["true", "FALSE", "oui", "Non"], ["1", "x", "vraie"]),
        (formats.is_geopoint, ["47.65,7.09", "-21.1, 55.5"], ["47,7", "91.0,1.0", "abc"]),
        (formats.is_nda, ["11755555555", "976012345678"], ["1175555555", "117555555556"]),
    ],
)
def test_french_codes(check, good, bad):
    assert all(check(v) for v in good), [v for v in good if not check(v)]
    assert not any(check(v) for v in bad), [v for v in bad if check(v)]


def test_a_column_name_decides_between_formats_its_values_share():
    codes = ["75056", "69123", "13055", "33063"]
    assert formats.detect("Code_postal", codes)[0] == "code_postal"
    assert formats.detect("code_commune_INSEE", codes)[0] == "code_commune_insee"
    assert formats.detect("colonne", codes)[0] == "code_postal"  # 5 digits, no hint: postal codes
    regions = ["11", "84", "93", "44"]
    assert formats.detect("codeRegion", regions)[0] == "region"
    assert formats.detect("dep", regions)[0] == "departement"
    assert formats.detect("nombre", ["1", "20", "300"]) == (None, "integer")
    assert formats.detect("code", ["001", "020"]) == (None, "string")  # leading zeros: a code
    assert formats.detect("lat", ["48.85", "45.76"]) == ("latitude", "number")
    assert formats.detect("valeur", ["48.85", "45.76"]) == (None, "number")  # no hint: not a latitude
    assert formats.detect("vide", []) == (None, "string")


# --- file profiles -------------------------------------------------------------------------------------

LISTE_PUBLIQUE_FORMATS = {
    "numeroDeclarationActivite": "nda",
    "siren": "siren",
    "siretEtablissementDeclarant": "siret",
    "adressePhysiqueOrganismeFormation.codePostal": "code_postal",
    "adressePhysiqueOrganismeFormation.codeRegion": "region",
    "certifications.actionsDeFormation": "booleen",
    "informationsDeclarees.dateDerniereDeclaration": "date",
    "informationsDeclarees.debutExercice": "date",
    "informationsDeclarees.finExercice": "date",
    "denomination": None,
    "adressePhysiqueOrganismeFormation.ville": None,
}


def test_profile_of_the_sample_finds_its_formats(sample_csv):
    profile = profile_file(sample_csv)
    assert (profile.rows, profile.rows_profiled, len(profile.columns)) == (
        2006,
        2006 - 4,
        30,
    )  # empty rows counted, not profiled
    assert profile.delimiter == ";" and profile.encoding in ("utf-8", "utf-8-sig")
    found = profile.formats()
    for column, fmt in LISTE_PUBLIQUE_FORMATS.items():
        assert found[column] == fmt, column
    siret = profile.column("siretEtablissementDeclarant")
    assert siret.type == "string"
    assert 0.95 < siret.share_valid < 1  # the sample has bad checksums and lost zeros
    assert siret.distinct > 1800 and len(siret.examples) == 5
    with sample_csv.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    empty = sum(1 for r in rows[1:] if any(c.strip() for c in r) and not r[4].strip())
    assert siret.empty == empty
    assert profile.column("informationsDeclarees.nbStagiaires").type == "integer"
    assert len(profile.sample) == 5
    assert profile.sample[0]["numeroDeclarationActivite"] == rows[1][0]


def test_profile_of_the_full_snapshot_finds_siret_siren_postal_code_and_dates(shared_dir):
    """Acceptance: liste-publique-of-M (150,364 rows), profiled on its first 20,000 records, all counted."""
    path = shared_dir / "data" / "of" / "liste-publique-of-M.csv.gz"
    profile = profile_file(path)
    assert profile.compressed and profile.rows_profiled == 20_000
    assert profile.rows >= 150_000
    found = profile.formats()
    assert found["siretEtablissementDeclarant"] == "siret"
    assert found["siren"] == "siren"
    assert found["adressePhysiqueOrganismeFormation.codePostal"] == "code_postal"
    assert found["informationsDeclarees.dateDerniereDeclaration"] == "date"
    assert found["informationsDeclarees.debutExercice"] == "date"
    assert profile.column("siretEtablissementDeclarant").share_valid > 0.95


def test_profile_reads_gzip_windows_1252_and_commas(tmp_path):
    rows = [
        ["commune", "code_insee", "cp", "gps"],
        ["Évreux", "27229", "27000", "49.02,1.15"],
        ["Bâle", "", "", ""],
        ["Sète", "34301", "34200", "43.4,3.69"],
    ]
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerows(rows)
    data = text.getvalue().encode("cp1252")
    path = tmp_path / "communes.csv.gz"
    path.write_bytes(gzip.compress(data))
    profile = profile_file(path, max_rows=None)
    assert (profile.delimiter, profile.encoding, profile.compressed, profile.rows) == (",", "cp1252", True, 3)
    assert profile.column("commune").examples == ["Évreux", "Bâle", "Sète"]
    assert profile.formats() == {
        "commune": None,
        "code_insee": "code_commune_insee",
        "cp": "code_postal",
        "gps": "geopoint",
    }
    assert profile.column("cp").share_empty == round(1 / 3, 4)
    assert profile.column("cp").share_valid == 1.0


def test_profile_refuses_an_empty_or_missing_file(tmp_path):
    from annuaire.errors import InputError

    with pytest.raises(InputError, match="no such file"):
        profile_file(tmp_path / "absent.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InputError, match="empty"):
        profile_file(tmp_path / "empty.csv")


# --- metadata, freshness -------------------------------------------------------------------------------


def test_metadata_completeness_of_the_liste_publique(dataset_json):
    found = metadata.completeness(dataset_json)
    assert (found.count, found.total) == (8, 10)
    assert set(found.missing) == {"couverture_temporelle", "schema"}
    assert metadata.completeness(None).count == 0


def test_freshness_compares_the_declared_frequency_with_the_snapshots(dataset_json):
    times = [datetime(2026, 11, d, 16, tzinfo=UTC) for d in (18, 19, 21)]
    fresh = metadata.freshness(dataset_json, LISTE_PUBLIQUE.resource_id, times, NOW)
    assert fresh["frequence_declaree"] == "daily" and fresh["intervalle_attendu_jours"] == 1
    assert fresh["intervalle_observe_jours"] == 1.5  # median of 1 and 2 days
    assert fresh["derniere_modification"].startswith("2026-11-21T16:05")
    assert fresh["age_jours"] == pytest.approx(2.41, abs=0.01)
    assert fresh["a_jour"] is True
    late = metadata.freshness(dataset_json, LISTE_PUBLIQUE.resource_id, [], NOW + timedelta(days=5))
    assert late["a_jour"] is False and late["intervalle_observe_jours"] is None


# --- the trust score -----------------------------------------------------------------------------------


def points(score) -> dict[str, float]:
    return {a.key: a.points for a in score.axes}


def fetched(outcome: str, hours_ago: float, success_hours_ago: float | None = None) -> dict:
    at = (NOW - timedelta(hours=hours_ago)).isoformat()
    record = {
        "last_fetch": {"at": at, "outcome": outcome, "error": "HTTP 500" if outcome == "failed" else None}
    }
    if success_hours_ago is not None:
        record["last_success"] = (NOW - timedelta(hours=success_hours_ago)).isoformat()
    return record


def test_score_of_the_liste_publique_axis_by_axis(dataset_json):
    rid = LISTE_PUBLIQUE.resource_id
    licence = normalise(dataset_json["license"])
    score = trust_score(dataset_json, rid, licence, fetched("downloaded", 3, 3), "DGEFP", NOW)
    # public service + certified; fetched 3 hours ago; 8 of 10 fields; lov2; 5 of 5 agent criteria
    assert points(score) == {
        "officialite": 25,
        "disponibilite": 25,
        "metadonnees": 16,
        "licence": 15,
        "agents": 15,
    }
    assert score.total == 96
    never = trust_score(dataset_json, rid, licence, None, "DGEFP", NOW)
    assert points(never)["disponibilite"] == 12.5  # the crawler saw it available: half
    assert never.total == 83.5
    failed = trust_score(dataset_json, rid, licence, fetched("failed", 1, 30), "DGEFP", NOW)
    assert points(failed)["disponibilite"] == 7.5 and failed.total == 78.5
    stale = trust_score(dataset_json, rid, licence, fetched("not_modified", 24 * 10, 24 * 10), "DGEFP", NOW)
    assert points(stale)["disponibilite"] == 15.0


def test_score_with_weaker_metadata(dataset_json):
    weaker = json.loads(json.dumps(dataset_json))
    weaker["organization"]["badges"] = [{"kind": "public-service"}]
    weaker["license"] = "Licence Ouverte"
    weaker["tags"] = []
    weaker["resources"][0]["extras"] = {}
    weaker["resources"][0]["latest"] = None
    score = trust_score(weaker, LISTE_PUBLIQUE.resource_id, normalise(weaker["license"]), None, None, NOW)
    # 0.6 × 25; unknown availability; 7/10 × 20; 0.7 × 15; 3/5 × 15
    assert points(score) == {
        "officialite": 15,
        "disponibilite": 0,
        "metadonnees": 14,
        "licence": 10.5,
        "agents": 9,
    }
    assert score.total == 48.5
    axes = {a.key: a.explanation for a in score.axes}
    assert "compte non certifié" in axes["officialite"]
    assert "version à préciser" in axes["licence"]
    assert "une URL de téléchargement stable" in axes["agents"].split("Manque")[1]


def test_score_without_any_metadata():
    score = trust_score(None, None, normalise(None), None, "La Poste", NOW)
    assert points(score) == {
        "officialite": 12.5,
        "disponibilite": 0,
        "metadonnees": 0,
        "licence": 0,
        "agents": 0,
    }
    assert all("récupéré" in a.explanation or "La Poste" in a.explanation for a in score.axes)


@settings(deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "title": st.text(max_size=20),
            "description": st.text(max_size=150),
            "license": st.sampled_from(["lov2", "odc-odbl", "other-at", "notspecified", "Licence Ouverte"]),
            "frequency": st.sampled_from(["daily", "unknown", "monthly"]),
            "tags": st.lists(st.text(max_size=5), max_size=2),
            "page": st.just("https://example.org/"),
            "organization": st.fixed_dictionaries(
                {"name": st.text(min_size=1, max_size=10)},
                optional={
                    "badges": st.lists(st.sampled_from([{"kind": "public-service"}, {"kind": "certified"}]))
                },
            ),
            "resources": st.lists(
                st.fixed_dictionaries(
                    {"id": st.just("r"), "format": st.sampled_from(["csv", "pdf", ""])},
                    optional={
                        "latest": st.just("https://x/"),
                        "filesize": st.integers(0, 10),
                        "description": st.text(max_size=5),
                    },
                ),
                max_size=2,
            ),
        },
    ),
    st.sampled_from([None, "downloaded", "failed"]),
)
def test_score_arithmetic_holds_for_any_metadata(dataset, outcome):
    fetch = fetched(outcome, 2, 50) if outcome else None
    score = trust_score(dataset, "r", normalise(dataset.get("license")), fetch, "X", NOW)
    assert [a.key for a in score.axes] == list(WEIGHTS)
    for axis in score.axes:
        assert 0 <= axis.points <= WEIGHTS[axis.key]
        assert axis.points == round(WEIGHTS[axis.key] * axis.share, 1)
        assert axis.explanation.endswith(".")
    assert score.total == round(sum(a.points for a in score.axes), 1)
    assert 0 <= score.total <= 100 == sum(WEIGHTS.values())


def test_profile_source_puts_it_together(sample_csv, dataset_json, tmp_path):
    snapshots = tmp_path / "snapshots" / LISTE_PUBLIQUE.resource_id
    snapshots.mkdir(parents=True)
    for day in (20, 21):
        meta = {
            "resource_last_modified": f"2026-11-{day}T16:05:12+00:00",
            "fetched_at": f"2026-11-{day}T18:00:00Z",
        }
        (snapshots / f"2026112{day}.csv.json").write_text(json.dumps(meta))
    (snapshots / "latest.json").write_text(json.dumps({"resource_last_modified": "2020-01-01T00:00:00Z"}))
    source = profile_source(
        LISTE_PUBLIQUE,
        sample_csv,
        dataset_json,
        fetched("downloaded", 5, 5),
        snapshots_dir=tmp_path / "snapshots",
        now=NOW,
    )
    assert source["licence"]["id"] == "lo-2.0" and source["licence"]["declaree"] == "lov2"
    assert source["metadonnees"]["renseignes"] == 8
    assert source["fraicheur"]["intervalle_observe_jours"] == 1.0
    assert source["volume"] == {"lignes": 2006, "colonnes": 30, "octets": sample_csv.stat().st_size}
    assert source["producteur"]["verifie"] and "certified" in source["producteur"]["badges"]
    assert source["score"]["total"] == 96
    assert json.loads(json.dumps(source)) == source  # plain JSON


# --- fetch records, annuaire profile, pages and endpoints -------------------------------------------------


@pytest.mark.integration
def test_fetch_records_its_outcome_and_the_dataset(
    annuaire_bin, annuaire_env, tmp_path, shared_dir, dataset_json, sample_build, mini_reference_dir
):
    """`annuaire fetch` records each attempt; `annuaire profile` reads the record (the latest snapshot
    is the file it profiles, the recorded description its metadata) for the availability axis."""
    import shutil
    import subprocess

    from annuaire.sources.snapshots import read_attempts
    from datagouv_server import DatagouvServer

    body = gzip.compress((shared_dir / "data/of/sample-M.csv").read_bytes())
    described = json.loads(json.dumps(dataset_json))
    resource = described["resources"][0]
    env = {**annuaire_env, "ANNUAIRE_CACHE_DIR": str(tmp_path / "cache")}
    folder = tmp_path / "snapshots"
    with DatagouvServer() as portal:
        portal.file("/producer/of.csv.gz", body, "text/csv")
        portal.redirect(f"/api/1/datasets/r/{resource['id']}", "/producer/of.csv.gz")
        resource["extras"] = {"analysis:content-length": len(body)}
        portal.json(f"/api/1/datasets/{described['id']}/", described)
        env["ANNUAIRE_PORTAL_URL"] = portal.base_url

        def fetch():
            return subprocess.run(
                [annuaire_bin, "fetch", "--no-laposte", "--folder", folder],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )

        db = tmp_path / "annuaire.db"
        shutil.copyfile(sample_build.db, db)

        def availability() -> dict:
            done = subprocess.run(
                [
                    annuaire_bin,
                    "profile",
                    "--db",
                    db,
                    "--snapshots",
                    folder,
                    "--reference",
                    mini_reference_dir,
                ],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 0, done.stderr
            profiles = json.loads((tmp_path / "annuaire.db.sources.json").read_text(encoding="utf-8"))
            liste = profiles["sources"][0]
            assert liste["volume"]["lignes"] == 2006  # the snapshot fetched, gzipped
            assert liste["fichier"]["path"].startswith(str(folder))
            return next(a for a in liste["score"]["axes"] if a["axe"] == "disponibilite")

        assert fetch().returncode == 0
        record = read_attempts(described["id"], folder)
        assert record["last_fetch"]["outcome"] == "downloaded" and record["last_fetch"]["error"] is None
        assert record["dataset"]["license"] == "lov2"
        assert availability()["points"] == 25
        first_success = record["last_success"]
        portal.error(f"/api/1/datasets/r/{resource['id']}", 500)
        failed = fetch()
        assert failed.returncode == 4
    record = read_attempts(described["id"], folder)
    assert record["last_fetch"]["outcome"] == "failed" and "500" in record["last_fetch"]["error"]
    assert record["last_success"] == first_success and record["dataset"]["id"] == described["id"]
    axis = availability()
    assert axis["points"] == 7.5 and "a échoué" in axis["explication"] and "500" in axis["explication"]


@pytest.fixture(scope="session")
def profiled(sample_build, run_annuaire, reference_dir, dataset_json, tmp_path_factory):
    """`annuaire profile` run on the sample build, with the Liste publique's data.gouv.fr description."""
    path = tmp_path_factory.mktemp("meta") / "dataset.json"
    path.write_text(json.dumps(dataset_json), encoding="utf-8")
    done = run_annuaire(
        "profile",
        "--db",
        sample_build.db,
        "--metadata",
        path,
        "--reference",
        reference_dir,
        "--snapshots",
        tmp_path_factory.mktemp("no-snapshots"),
    )
    assert done.returncode == 0, done.stderr
    return json.loads(sample_build.db.with_name("annuaire.db.sources.json").read_text(encoding="utf-8"))


def test_annuaire_profile_writes_both_sources(profiled, sample_csv):
    by_key = {s["cle"]: s for s in profiled["sources"]}
    assert set(by_key) == {"liste-publique", "laposte"}
    liste = by_key["liste-publique"]
    assert liste["fichier"]["path"] == str(sample_csv)  # the build's own source, found in its report
    assert {c["name"]: c["format"] for c in liste["fichier"]["columns"]}[
        "siretEtablissementDeclarant"
    ] == "siret"
    assert liste["score"]["total"] == 83.5  # never fetched here: the crawler's word only
    poste = by_key["laposte"]
    assert poste["volume"]["lignes"] == 39_192
    formats_found = {c["name"]: c["format"] for c in poste["fichier"]["columns"]}
    assert formats_found["Code_commune_INSEE"] == "code_commune_insee"
    assert formats_found["Code_postal"] == "code_postal"
    assert formats_found["coordonnees_gps"] == "geopoint"
    assert poste["score"]["total"] == 12.5 and not poste["jeu_de_donnees"]["metadonnees_recuperees"]


def test_profile_refuses_a_broken_metadata_file(sample_build, run_annuaire, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    done = run_annuaire("profile", "--db", sample_build.db, "--metadata", bad)
    assert done.returncode == 2 and "bad.json" in done.stderr and "Traceback" not in done.stderr


def test_sources_endpoint_and_page(profiled, api_client):
    answer = api_client.get("/api/v1/sources")
    assert answer.status_code == 200 and answer.headers["etag"]
    assert answer.json() == profiled
    one = api_client.get("/api/v1/sources/laposte")
    assert one.status_code == 200 and one.json()["cle"] == "laposte"
    assert api_client.get("/api/v1/sources/inconnue").status_code == 404
    page = api_client.get("/sources")
    assert page.status_code == 200
    html = page.text
    assert "Score de confiance, axe par axe" in html
    assert (
        "Liste publique des organismes de formation" in html and "Base officielle des codes postaux" in html
    )
    # La Poste's description was not recorded here: no score is shown for it rather than a misleading one
    assert "<dd>83,5/100</dd>" in html and "<dd>non évalué</dd>" in html and "<dd>12,5/100</dd>" not in html
    assert "Jamais récupéré" not in html.split("<details")[0]  # operator details are folded away
    assert "<td>16 / 20</td>" in html  # 8 of the 10 recommended fields
    for axis in profiled["sources"][0]["score"]["axes"]:
        assert axis["libelle"].replace("'", "&#39;") in html
    assert "siretEtablissementDeclarant" in html and "SIRET" in html
    assert "Cinq enregistrements d'exemple" in html


def test_quality_report_matches_the_build(sample_build, api_client):
    answer = api_client.get("/api/v1/qualite")
    assert answer.status_code == 200
    q = answer.json()
    report = sample_build.report
    assert {r["code"]: r["nombre"] for r in q["quarantaine"]} == report["quarantine"]
    assert q["quarantaine_total"] == report["rows"]["quarantined"]
    repairs = {r["code"]: r["nombre"] for r in q["reparations"]}
    assert repairs == {k: v for k, v in report["repairs"].items() if "." not in k}
    assert q["doublons"]["declarations_fusionnees"] == report["deduplication"]["declarations_merged"]
    with (sample_build.out / "declarations.csv").open(encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["statut"] == "actif"]
    assert q["declarations_actives"] == len(rows)
    assert sum(p["nombre"] for p in q["geocodage"]["precision"]) == len(rows)
    completeness = {c["colonne"]: c["renseignees"] for c in q["completude_declarations"]}
    for column in ("siret", "code_commune_insee", "latitude", "date_derniere_declaration", "specialites"):
        assert completeness[column] == sum(1 for r in rows if r[column]), column
    page = api_client.get("/qualite")
    assert page.status_code == 200
    assert "Précision du géocodage" in page.text and "ligne vide" in page.text
    assert f"{report['rows']['records']:,}".replace(",", "\u202f") in page.text


def test_exports_can_be_downloaded(sample_build, api_client):
    listing = api_client.get("/api/v1/exports")
    assert listing.status_code == 200
    files = {f["fichier"]: f for f in listing.json()["fichiers"]}
    assert {
        "declarations.csv",
        "organismes.parquet",
        "organismes.geojson",
        "schema.json",
        "datapackage.json",
        "provenance.csv",
        "provenance.schema.json",
    } <= set(files)
    assert files["provenance.csv"]["table"] == "provenance" and files["provenance.csv"]["lignes"] == 0
    assert files["organismes.csv"]["lignes"] == 1916
    download = api_client.get(files["organismes.csv"]["url"])
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    assert download.content == (sample_build.out / "organismes.csv").read_bytes()
    assert api_client.get("/api/v1/exports/annuaire.db").status_code == 404
    assert api_client.get("/api/v1/exports/..%2Fannuaire.db").status_code == 404
    page = api_client.get("/donnees/")
    assert page.status_code == 200
    for name in (
        "declarations.csv",
        "organismes.parquet",
        "schema.json",
        "datapackage.json",
        "provenance.csv",
    ):
        assert f'href="/api/v1/exports/{name}"' in page.text
    assert "son accord avec la Liste publique" in page.text
    assert "Licence Ouverte / Open Licence version 2.0" in page.text
    assert 'href="/donnees/"' in api_client.get("/").text  # linked from every page's footer
    sitemap = api_client.get("/sitemaps/1.xml").text
    for path in ("/donnees/", "/sources", "/qualite"):
        assert f"<loc>http://testserver{path}</loc>" in sitemap


@pytest.mark.integration
def test_sources_page_without_profiles_says_how_to_compute_them(tmp_path, sample_build):
    import shutil

    from fastapi.testclient import TestClient

    from annuaire.api import ApiSettings, create_app

    db = tmp_path / "annuaire.db"
    shutil.copyfile(sample_build.db, db)
    with TestClient(create_app(ApiSettings(db=str(db), rate_limit_per_minute=0))) as client:
        assert client.get("/api/v1/sources").json()["sources"] == []
        assert "annuaire profile" in client.get("/sources").text


def test_quality_report_is_kept_beside_the_database_until_it_changes(sample_build, tmp_path):
    import os
    import shutil

    from annuaire.store import open_store
    from annuaire.trust import quality

    db = tmp_path / "annuaire.db"
    shutil.copyfile(sample_build.db, db)
    first = quality.cached_quality_report(open_store(str(db)), db)
    stored = json.loads(quality.quality_path(db).read_text(encoding="utf-8"))
    assert stored["rapport"] == first and stored["base"].startswith(f"{db.stat().st_size}:")
    quality._cache.clear()  # another worker: it reads the file instead of the database
    stored["rapport"]["declarations_actives"] = -1
    quality.quality_path(db).write_text(json.dumps(stored), encoding="utf-8")
    assert quality.cached_quality_report(open_store(str(db)), db)["declarations_actives"] == -1
    os.utime(db, ns=(db.stat().st_atime_ns, db.stat().st_mtime_ns + 10**9))  # a new build or update
    assert quality.cached_quality_report(open_store(str(db)), db)["declarations_actives"] == 2000


def test_annuaire_profile_also_writes_the_quality_report(profiled, sample_build):
    stored = json.loads(sample_build.db.with_name("annuaire.db.quality.json").read_text(encoding="utf-8"))
    assert stored["rapport"]["quarantaine_total"] == sample_build.report["rows"]["quarantined"]


def test_files_of_a_database_named_by_a_url_go_to_the_cache(tmp_path, monkeypatch):
    from annuaire import sidecar

    monkeypatch.setenv("ANNUAIRE_CACHE_DIR", str(tmp_path))
    url = "postgresql://annuaire@localhost/annuaire"
    path = sidecar.sidecar_path(url, ".quality.json")
    assert path.parent == tmp_path / "bases" and path.name.endswith(".quality.json")
    assert sidecar.sidecar_path(url, ".exports") != sidecar.sidecar_path("postgresql://other/db", ".exports")
    assert sidecar.sidecar_path(tmp_path / "a.db", ".sources.json") == tmp_path / "a.db.sources.json"

    from annuaire.store.postgres_store import PostgresStore

    class Meta(PostgresStore):
        def meta(self):
            return {"built_at": "2026-11-24T01:00:00+0000", "updated_at": None, "version": "v1"}

    assert sidecar.stamp(url, Meta(url)) == "2026-11-24T01:00:00+0000|None|v1"


CELL = st.one_of(
    st.just(""),
    st.sampled_from(["01000", "75008", "2A004", "true", "false", "12/03/2021", "2021-03-12", "48.85,2.35"]),
    st.text(alphabet="abcdéèçàô ;,\"'\n0123456789", max_size=12),
)


@settings(deadline=None)  # files on a shared machine: a slow example is not a failure
@given(
    st.integers(min_value=2, max_value=4).flatmap(  # one column has no separator to find
        lambda width: st.lists(st.lists(CELL, min_size=width, max_size=width), min_size=1, max_size=25)
    ),
    st.sampled_from([";", ",", "\t"]),
    st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]),
)
def test_profile_counts_what_a_csv_reader_reads(tmp_path_factory, rows, delimiter, encoding):
    width = len(rows[0])
    header = [f"colonne{i}" for i in range(width)]
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerows([header, *rows])
    path = tmp_path_factory.mktemp("profile") / "f.csv"
    path.write_bytes(buffer.getvalue().encode(encoding))
    profile = profile_file(path, max_rows=None)
    assert profile.delimiter == delimiter and profile.rows == len(rows)
    kept = [r for r in rows if any(c.strip() for c in r)]
    assert profile.rows_profiled == len(kept)
    for i, column in enumerate(profile.columns):
        values = [r[i].strip() for r in kept]
        assert column.name == header[i]
        assert column.empty == sum(1 for v in values if not v)
        assert column.filled == sum(1 for v in values if v)
        assert column.distinct == len({v for v in values if v})
        if column.format is not None:
            check = formats.FORMATS[column.format][0]
            assert column.valid == sum(1 for v in values if v and check(v))


def test_exports_are_generated_on_demand_and_again_after_a_change(sample_build, tmp_path, monkeypatch):
    import os
    import shutil

    from annuaire.exports import serving

    monkeypatch.delenv("ANNUAIRE_EXPORT_DIR", raising=False)
    db = tmp_path / "annuaire.db"
    shutil.copyfile(sample_build.db, db)
    folder = serving.export_folder(db)
    assert folder == tmp_path / "annuaire.db.exports"
    first = (folder / serving.STAMP).read_text()
    csv_file = folder / "declarations.csv"
    assert csv_file.read_bytes() == (sample_build.out / "declarations.csv").read_bytes()
    made = csv_file.stat().st_mtime_ns
    assert serving.export_folder(db) == folder and csv_file.stat().st_mtime_ns == made  # not redone
    os.utime(db, ns=(db.stat().st_atime_ns, db.stat().st_mtime_ns + 10**9))  # a new build or update
    serving.export_folder(db)
    assert (folder / serving.STAMP).read_text() != first and csv_file.stat().st_mtime_ns != made
    names = [f["fichier"] for f in serving.listing(folder)]
    assert names[:4] == [
        "declarations.csv",
        "declarations.json",
        "declarations.geojson",
        "declarations.parquet",
    ]
    monkeypatch.setenv("ANNUAIRE_EXPORT_DIR", str(sample_build.out))
    assert serving.export_folder(db) == sample_build.out  # an operator's folder is served as it is


def test_availability_from_a_snapshot_kept_without_a_fetch_record(tmp_path, dataset_json, sample_csv):
    from annuaire.trust.sources import profile_all

    folder = tmp_path / "snapshots" / LISTE_PUBLIQUE.resource_id
    folder.mkdir(parents=True)
    kept = folder / "20261123T060000Z-abc.csv"
    kept.write_bytes(sample_csv.read_bytes())
    meta = {
        "path": str(kept),
        "resource_id": LISTE_PUBLIQUE.resource_id,
        "dataset_id": LISTE_PUBLIQUE.dataset_id,
        "source_url": "file:///x",
        "fetched_at": "2026-11-23T06:00:00Z",
        "sha256": "0" * 64,
        "size": kept.stat().st_size,
    }
    (folder / "latest.json").write_text(json.dumps(meta))
    profiles = profile_all({}, [dataset_json], snapshots_dir=tmp_path / "snapshots", now=NOW)
    liste = profiles["sources"][0]
    assert liste["disponibilite"]["derniere_reussite"] == "2026-11-23T06:00:00Z"
    axis = next(a for a in liste["score"]["axes"] if a["axe"] == "disponibilite")
    assert axis["points"] == 25 and "il y a 20 heures" in axis["explication"]


def test_a_large_export_is_prepared_in_the_background(sample_build, tmp_path, monkeypatch):
    """A request does not wait for a long generation: 503 with Retry-After, the page says so, then the
    files appear."""
    import shutil

    from fastapi.testclient import TestClient

    from annuaire.api import ApiSettings, create_app
    from annuaire.exports import serving

    monkeypatch.delenv("ANNUAIRE_EXPORT_DIR", raising=False)
    monkeypatch.setattr(serving, "WAIT_SECONDS", 0.0)
    db = tmp_path / "annuaire.db"
    shutil.copyfile(sample_build.db, db)
    with TestClient(create_app(ApiSettings(db=str(db), rate_limit_per_minute=0))) as client:
        busy = client.get("/api/v1/exports/declarations.csv")
        assert busy.status_code == 503 and busy.headers["retry-after"] == "60"
        assert "en préparation" in busy.json()["detail"]
        assert "en cours de préparation" in client.get("/donnees/").text
        assert serving.prepared_folder(db, wait=120) == tmp_path / "annuaire.db.exports"
        ready = client.get("/api/v1/exports/declarations.csv")
        assert ready.status_code == 200
        assert ready.content == (sample_build.out / "declarations.csv").read_bytes()
        assert "en cours de préparation" not in client.get("/donnees/").text
