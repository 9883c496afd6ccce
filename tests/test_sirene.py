"""SIRENE: the token bucket, both APIs' answers, retries, the resumable cache, and `annuaire sirene`
against a local server speaking the APIs' shapes (tests/sirene_server.py)."""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import subprocess
import time
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from annuaire.errors import EXIT_MISSING, DownloadError
from annuaire.sources.sirene import (
    SireneCache,
    SireneClient,
    TokenBucket,
    check,
    parse_insee,
    parse_recherche_entreprises,
    retry_after,
)
from sirene_server import SireneServer, insee, is_closed, unit


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds


@given(
    rate=st.floats(min_value=1, max_value=100_000),
    burst=st.integers(min_value=1, max_value=10),
    n=st.integers(min_value=1, max_value=300),
)
@settings(max_examples=60, deadline=None)
def test_token_bucket_never_exceeds_its_rate(rate: float, burst: int, n: int) -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate, burst, clock=clock, sleep=clock.sleep)
    for _ in range(n):
        bucket.acquire()
    interval = 60.0 / rate
    least = max(0, n - burst) * interval
    assert clock.now >= least - 1e-6 * max(1.0, least)
    assert clock.now <= least + interval  # and it does not wait longer than it must


def test_token_bucket_refills_while_idle() -> None:
    clock = FakeClock()
    bucket = TokenBucket(60, 1, clock=clock, sleep=clock.sleep)
    bucket.acquire()
    clock.now += 5  # idle: a full bucket (1 token), not 5
    bucket.acquire()
    assert clock.now == 5
    bucket.acquire()
    assert clock.now == pytest.approx(6)


def test_parse_recherche_entreprises_answers() -> None:
    siret = "12345678200014"
    body = {"results": [unit(siret)], "total_results": 1}
    e = parse_recherche_entreprises(siret, body)
    assert e.etat_administratif == ("F" if is_closed(siret) else "A")
    assert e.denomination == "ORGANISME 123456782"
    assert e.activite_principale == "85.59A"
    # the siege answers when the SIRET is the head office's
    head = unit(siret)["siege"]["siret"]
    assert parse_recherche_entreprises(head, body).etat_administratif in ("A", "F")
    # another SIRET of the same SIREN, or no result: unknown, never guessed
    assert parse_recherche_entreprises("12345678200099", body).etat_administratif is None
    assert parse_recherche_entreprises(siret, {"results": []}).etat_administratif is None


def test_parse_insee_answer() -> None:
    closed = next(str(n) for n in range(73282932000074, 73282932000200) if int(n) % 7 == 0)
    e = parse_insee(closed, insee(closed))
    assert (e.etat_administratif, e.date_fermeture, e.etat_unite_legale) == ("F", "2023-06-30", "A")
    assert e.denomination.startswith("ORGANISME ")
    assert parse_insee("00000000000000", insee(closed)).etat_administratif is None


def test_retry_after_reads_seconds_and_dates() -> None:
    assert retry_after("3") == 3.0
    assert retry_after(None) is None
    assert retry_after("soon") is None
    assert retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == pytest.approx(10.0)


def test_client_retries_429_and_503_then_answers() -> None:
    slept: list[float] = []
    for status in (429, 503):
        with SireneServer(fail_first=2, fail_status=status) as server:
            client = SireneClient(
                "recherche-entreprises", server.base_url, rate_per_minute=60_000, sleep=slept.append
            )
            try:
                e = client.lookup("73282932000074")
            finally:
                client.close()
            assert e.etat_administratif in ("A", "F")
            assert server.requests == 3 and client.requests == 3
    assert slept == [0.0, 0.0, 0.0, 0.0]  # Retry-After: 0 honoured instead of the backoff


def test_client_gives_up_after_its_attempts() -> None:
    with SireneServer(fail_first=100) as server:
        client = SireneClient(
            "recherche-entreprises", server.base_url, rate_per_minute=60_000, attempts=3, sleep=lambda s: None
        )
        with pytest.raises(DownloadError, match="after 3 attempts"):
            client.lookup("73282932000074")
        client.close()
        assert server.requests == 3


def test_client_backs_off_exponentially_when_the_server_is_down() -> None:
    slept: list[float] = []
    client = SireneClient(
        "recherche-entreprises", "http://127.0.0.1:9", rate_per_minute=60_000, attempts=4, sleep=slept.append
    )
    with pytest.raises(DownloadError, match="ConnectError"):
        client.lookup("73282932000074")
    client.close()
    assert slept == [1.0, 2.0, 4.0]


def test_insee_api_with_token_unknown_and_refused() -> None:
    with SireneServer(token="secret") as server:
        server.unknown.add("73282932000074")
        client = SireneClient("insee", server.base_url, "secret", 60_000)
        assert client.lookup("73282932000074").etat_administratif is None  # 404: unknown to SIRENE
        assert client.lookup("44229377500031").etat_administratif in ("A", "F")
        client.close()
        wrong = SireneClient("insee", server.base_url, "wrong", 60_000)
        with pytest.raises(DownloadError, match="401"):
            wrong.lookup("44229377500031")
        wrong.close()


def test_check_skips_fresh_answers_and_asks_stale_ones(tmp_path) -> None:
    sirets = ["73282932000074", "44229377500031", "55208131766522"]
    with SireneServer() as server:
        cache = SireneCache(tmp_path / "cache.sqlite")
        client = SireneClient("recherche-entreprises", server.base_url, rate_per_minute=60_000)
        first = check(sirets, client, cache, today=date(2026, 1, 1), limit=2)
        assert (first["establishments"], first["asked"]) == (2, 2)
        second = check(sirets, client, cache, today=date(2026, 1, 10))
        assert (second["asked"], second["from_cache"]) == (1, 2)
        assert max(server.per_siret.values()) == 1
        third = check(sirets, client, cache, today=date(2026, 1, 1) + timedelta(days=31), max_age_days=30)
        assert third["asked"] == 2  # the two asked on 1 January are stale now
        client.close()
        cache.close()


# -- the command, on 1,000 establishments ---------------------------------------------------------------


@pytest.fixture()
def directory_copy(sample_build, tmp_path):
    copy = tmp_path / "annuaire.db"
    shutil.copyfile(sample_build.db, copy)
    with sqlite3.connect(copy) as conn:
        count = conn.execute("SELECT count(*) FROM organismes WHERE siret IS NOT NULL").fetchone()[0]
    assert count >= 1000, "the sample must hold 1,000 establishments with a SIRET"
    return copy


@pytest.mark.integration
def test_sirene_command_respects_the_rate_and_resumes_after_a_kill(
    directory_copy, tmp_path, annuaire_bin, annuaire_env
) -> None:
    rate = 6000  # per minute: 100 requests a second
    cache = tmp_path / "sirene.sqlite"
    args = [
        str(annuaire_bin), "sirene", "--db", str(directory_copy), "--limit", "1000", "--rate", str(rate),
        "--cache", str(cache), "--no-progress",
    ]  # fmt: skip
    with SireneServer() as server:
        args[args.index("--db"):args.index("--db")] = ["--url", server.base_url]  # fmt: skip
        # 1. interrupted (killed) after about 300 answers
        proc = subprocess.Popen(args, env=annuaire_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while server.requests < 300 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)  # and its pipes closed
        first = server.requests
        assert 300 <= first < 1000, first
        # 2. run again: it asks only what it lacks
        started = time.monotonic()
        done = subprocess.run(args, env=annuaire_env, capture_output=True, text=True, timeout=120)
        elapsed = time.monotonic() - started
        assert done.returncode == 0, done.stderr
        second = server.requests - first
        assert len(server.per_siret) == 1000
        assert server.requests <= 1001  # at most the one answer in flight when killed is asked twice
        assert sum(1 for n in server.per_siret.values() if n > 1) <= 1
        # the rate: `second` requests at 100 a second take at least (second - 1) / 100 seconds
        assert elapsed >= (second - 1) * 60 / rate, (elapsed, second)
        assert elapsed < (second * 60 / rate) * 2 + 15  # and not much more
        # 3. a third run asks nothing
        again = subprocess.run(args, env=annuaire_env, capture_output=True, text=True, timeout=60)
        assert again.returncode == 0 and server.requests == first + second
    with sqlite3.connect(directory_copy) as conn:
        rows = conn.execute("SELECT siret, etat_administratif FROM sirene").fetchall()
    assert len(rows) == 1000
    assert {s for s, state in rows if state == "F"} == {s for s, _ in rows if is_closed(s)}


@pytest.mark.integration
def test_closed_establishment_is_flagged_in_api_and_page(
    directory_copy, tmp_path, annuaire_bin, annuaire_env, sample_csv, reference_dir
):
    from annuaire.api import ApiSettings, create_app

    env = dict(annuaire_env, ANNUAIRE_CACHE_DIR=str(tmp_path / "cache"))  # the default cache, its own
    with SireneServer() as server:
        done = subprocess.run(
            [str(annuaire_bin), "sirene", "--db", str(directory_copy), "--url", server.base_url,
             "--limit", "200", "--rate", "60000", "--no-progress"],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "cache" / "sirene.sqlite").is_file()
    with sqlite3.connect(directory_copy) as conn:
        closed = conn.execute("SELECT siret FROM sirene WHERE etat_administratif = 'F' LIMIT 1").fetchone()[0]
        open_ = conn.execute("SELECT siret FROM sirene WHERE etat_administratif = 'A' LIMIT 1").fetchone()[0]
    # a new build keeps what SIRENE said (from the cache, without a request)
    rebuilt = tmp_path / "rebuilt.db"
    built = subprocess.run(
        [str(annuaire_bin), "build", "--source", str(sample_csv), "--db", str(rebuilt),
         "--reference", str(reference_dir), "--no-progress"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    report = json.loads(rebuilt.with_name("rebuilt.db.report.json").read_text(encoding="utf-8"))
    assert report["sirene_answers_from_cache"] == 200
    for db in (directory_copy, rebuilt):
        app = create_app(ApiSettings(db=str(db), rate_limit_per_minute=0))
        with TestClient(app) as client:
            body = client.get(f"/api/v1/organismes/{closed}").json()
            assert body["sirene"]["ferme"] is True
            assert body["sirene"]["date_fermeture"] == "2023-06-30"
            assert body["sirene"]["activite_principale"] == "85.59A"
            assert client.get(f"/api/v1/organismes/{open_}").json()["sirene"]["ferme"] is False
            page = client.get(f"/organisme/{closed}", follow_redirects=True)
            assert page.status_code == 200
            assert "établissement fermé" in page.text and "30 juin 2023" in page.text
            other = client.get(f"/organisme/{open_}", follow_redirects=True)
            assert "établissement fermé" not in other.text and "État dans SIRENE" in other.text


def test_sirene_command_user_errors(run_annuaire, tmp_path) -> None:
    missing = run_annuaire("sirene", "--db", tmp_path / "none.db", "--url", "http://127.0.0.1:9")
    assert missing.returncode == EXIT_MISSING and "no such database" in missing.stderr
    insee_ = run_annuaire("sirene", "--db", tmp_path / "none.db", "--api", "insee")
    assert insee_.returncode == 2 and "ANNUAIRE_INSEE_TOKEN" in insee_.stderr
    other = run_annuaire("sirene", "--db", tmp_path / "none.db", "--api", "pappers")
    assert other.returncode == 2 and "expected recherche-entreprises or insee" in other.stderr
    for done in (missing, insee_, other):
        assert "Traceback" not in done.stderr


def test_addresses_in_real_recherche_entreprises_answers(shared_dir) -> None:
    """The address and position of the establishment, as the real API gives them: split street,
    postal code, commune's INSEE code, latitude and longitude; under partial diffusion only the
    commune (`[NON-DIFFUSIBLE]` elsewhere)."""
    folder = shared_dir / "data" / "sirene"
    body = json.loads((folder / "recherche-entreprises-siret-exemple.json").read_text(encoding="utf-8"))
    siege = body["results"][0]["siege"]
    found = parse_recherche_entreprises(siege["siret"], body)
    assert (found.adresse, found.code_postal, found.code_commune, found.diffusion) == (
        "128 RUE LA BOETIE", "75008", "75108", "O"
    )  # fmt: skip
    assert abs(found.latitude - 48.870973756) < 1e-9 and abs(found.longitude - 2.3058596405) < 1e-9
    partial = json.loads(
        (folder / "recherche-entreprises-diffusion-partielle-exemple.json").read_text(encoding="utf-8")
    )
    siege = partial["results"][0]["siege"]
    masked = parse_recherche_entreprises(siege["siret"], partial)
    assert (masked.adresse, masked.code_postal, masked.code_commune, masked.latitude, masked.diffusion) == (
        None, None, siege["commune"], None, "P"
    )  # fmt: skip


def test_insee_answer_gives_the_address_in_wgs84() -> None:
    siret = "44306184100047"
    body = {
        "etablissement": {
            "siret": siret,
            "statutDiffusionEtablissement": "O",
            "uniteLegale": {"denominationUniteLegale": "ACME", "etatAdministratifUniteLegale": "A"},
            "adresseEtablissement": {
                "numeroVoieEtablissement": "12",
                "indiceRepetitionEtablissement": "B",
                "typeVoieEtablissement": "AV",
                "libelleVoieEtablissement": "JEAN JAURES",
                "codePostalEtablissement": "69007",
                "codeCommuneEtablissement": "69387",
                "coordonneeLambertAbscisseEtablissement": "700000",
                "coordonneeLambertOrdonneeEtablissement": "6600000",
            },
            "periodesEtablissement": [{"dateFin": None, "etatAdministratifEtablissement": "A"}],
        }
    }
    found = parse_insee(siret, body)
    assert (found.adresse, found.code_postal, found.code_commune) == (
        "12 BIS AVENUE JEAN JAURES",
        "69007",
        "69387",
    )
    assert abs(found.latitude - 46.5) < 1e-7 and abs(found.longitude - 3.0) < 1e-7  # Lambert-93's origin
