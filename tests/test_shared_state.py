"""The shared state of a PostgreSQL directory (corrections/postgres.py, schema `annuaire_partage`):
corrections, moderators, sessions, the audit log, the signing secret and the rate-limit buckets live
in the directory's database, where a build, an update or a copy of the directory never reaches them;
the buckets give the answers a worker's own buckets give, to every worker and server at once. A SQLite
directory keeps its side file and each worker its own buckets.
"""

from __future__ import annotations

import time

import pytest

from annuaire.corrections.fields import Submission
from annuaire.corrections.store import CorrectionStore
from annuaire.limits import SharedBuckets, TokenBuckets, buckets
from annuaire.store import open_store

PASSWORD = "un mot de passe assez long"


@pytest.fixture(scope="module")
def directory(postgres, run_build, sample_csv) -> str:
    url = postgres.create_database("annuaire_shared_state")
    built = run_build(sample_csv, url)
    assert built.returncode == 0, built.stderr
    return url


def _first_organisation(url: str) -> dict:
    org = next(iter(open_store(url).organisations()))
    return {
        "id_organisme": org["identifiant"],
        "numero_declaration_activite": org["nda_principal"],
        "denomination": org["denomination"],
    }


@pytest.mark.integration
def test_the_shared_state_outlives_an_update_a_rebuild_and_a_copy(
    directory, run_annuaire, run_build, sample_csv, shared_dir, sample_build, tmp_path
):
    url = directory
    shared = open_store(url).open_corrections()
    assert open_store(url).corrections_file() is None  # no side file for a server's directory
    org = _first_organisation(url)
    assert shared.add_moderator("moderatrice", PASSWORD)
    correction = shared.add(org, Submission("denomination", "NOM CORRIGÉ", "Vu sur le Kbis", "a@b.fr"))
    assert shared.decide(correction, "approuver", "moderatrice")
    session = shared.open_session("moderatrice", 8)
    secret = shared.secret_key()
    shared.close()

    runs = {
        "update": run_annuaire(
            "update",
            "--db",
            url,
            "--source",
            shared_dir / "data" / "of" / "sample-M+1.csv",
            "--reference",
            shared_dir / "data" / "reference",
            "--force",
            timeout=300,
        ),  # fmt: skip
        "build": run_build(sample_csv, url),
        "copy": run_annuaire("copy", "--from", sample_build.db, "--to", url, timeout=300),
    }
    for name, done in runs.items():
        assert done.returncode == 0, (name, done.stderr)
        again = open_store(url).open_corrections()
        try:
            assert [m["nom"] for m in again.moderators()] == ["moderatrice"], name
            assert again.check_login("moderatrice", PASSWORD), name
            assert again.session_user(session) == "moderatrice", name
            assert again.secret_key() == secret, name
            shown = again.approved_for([(org["id_organisme"], org["numero_declaration_activite"])])
            assert [c["valeur"] for c in shown[org["id_organisme"]]] == ["NOM CORRIGÉ"], name
            entries, total = again.journal()
            assert total == 1 and entries[0]["action"] == "approbation", name
        finally:
            again.close()

    listed = run_annuaire("admin", "list-users", "--db", url)
    assert listed.returncode == 0 and listed.stdout.startswith("moderatrice\t"), listed.stderr


def test_the_shared_buckets_answer_as_a_workers_own_for_every_server(directory):
    # Two stores: two servers' workers.
    one, two = (open_store(directory).open_corrections() for _ in range(2))
    try:
        rate, capacity = 1 / 60, 3.0
        on_one = buckets(one, "essai", rate, capacity)
        on_two = buckets(two, "essai", rate, capacity)
        local = TokenBuckets(rate, capacity)
        assert isinstance(on_one, SharedBuckets) and isinstance(on_two, SharedBuckets)
        waits = [on_one.take("192.0.2.1"), on_two.take("192.0.2.1"), on_one.take("192.0.2.1")]
        assert waits == [0.0, 0.0, 0.0] == [local.take("192.0.2.1", 0.0) for _ in range(3)]
        refused = on_two.take("192.0.2.1")  # the burst is spent, whichever server asks
        assert 59.0 < refused <= 60.0 and local.take("192.0.2.1", 0.0) == 60.0
        assert on_two.take("192.0.2.2") == 0.0  # another client has its own bucket
        assert buckets(one, "autre", rate, capacity).take("192.0.2.1") == 0.0  # and another limit
        # Tokens come back with time, at the rate.
        fast = buckets(one, "rapide", 20.0, 1.0)
        assert fast.take("192.0.2.3") == 0.0
        assert fast.take("192.0.2.3") > 0.0
        time.sleep(0.1)
        assert fast.take("192.0.2.3") == 0.0
    finally:
        one.close()
        two.close()


def test_a_sqlite_directory_keeps_its_side_file_and_each_worker_its_buckets(sample_build, tmp_path):
    store = open_store(str(sample_build.db))
    side = store.corrections_file()
    assert side == sample_build.db.with_name(sample_build.db.name + ".corrections.sqlite")
    corrections = store.open_corrections(tmp_path / "corrections.sqlite")
    try:
        assert isinstance(corrections, CorrectionStore)
        assert isinstance(buckets(corrections, "api", 1.0, 5.0), TokenBuckets)
    finally:
        corrections.close()
