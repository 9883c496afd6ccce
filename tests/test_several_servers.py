"""Several app servers on one PostgreSQL: two `annuaire serve` processes (two workers each) on two
ports share corrections, moderators, sessions, the signing secret and the rate limits (schema
`annuaire_partage`), and both serve an update within 5 seconds of its commit, with no 5xx while it
runs under a bounded load.

Clients are told apart by `X-Forwarded-For` (the servers trust 127.0.0.1 as their proxy), so that the
rate-limited client and the load's clients each have their own buckets.

Twice: the servers connected to PostgreSQL directly, then through pgbouncer in transaction mode (a
pool of 10 server connections for the 4 workers' pools, prepared statements off, the search path set
by pgbouncer's `connect_query`, as README's deployment section says); the build, the moderator's
creation and the update connect directly, as the README says runs should.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections import Counter

import httpx
import pytest
from lxml import html

from pgbouncer_server import PgBouncer
from postgres_server import free_port

pytestmark = pytest.mark.integration  # server processes under load

PASSWORD = "un mot de passe assez long"
RATE = 20  # API requests per minute per client, a burst of as many


def _start(annuaire_bin, env, url: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [str(annuaire_bin), "serve", "--db", url, "--port", str(port), "--workers", "2",
         "--rate-limit", str(RATE)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    return proc, f"http://127.0.0.1:{port}"


def _wait_up(proc: subprocess.Popen, base: str) -> None:
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"{base}/api/v1/stats", headers=_as("198.51.100.1"), timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, f"{base} did not start within 90 s"
        time.sleep(0.3)


def _as(ip: str) -> dict[str, str]:
    return {"X-Forwarded-For": ip}


def _csrf(client: httpx.Client, url: str) -> str:
    page = client.get(url)
    assert page.status_code == 200, (url, page.status_code)
    return html.fromstring(page.text).xpath("//input[@name='csrf']/@value")[0]


@pytest.fixture(scope="module", params=["direct", "pgbouncer"])
def servers(request, postgres, run_build, run_annuaire, shared_dir, annuaire_bin, annuaire_env):
    url = postgres.create_database(f"annuaire_servers_{request.param}")
    built = run_build(shared_dir / "data" / "of" / "sample-M.csv", url)
    assert built.returncode == 0, built.stderr
    added = subprocess.run(
        [str(annuaire_bin), "admin", "add-user", "--db", url, "--password-stdin", "moderatrice"],
        env=annuaire_env, input=PASSWORD + "\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    env = annuaire_env | {
        "ANNUAIRE_TRUSTED_PROXIES": "127.0.0.1",
        "ANNUAIRE_CORRECTIONS_PER_HOUR": "100",
        "ANNUAIRE_LOGINS_PER_QUARTER": "100",
    }
    env.pop("ANNUAIRE_SECRET_KEY", None)  # the secret comes from the shared state
    env.pop("ANNUAIRE_CORRECTIONS_DB", None)
    bouncer = PgBouncer(url) if request.param == "pgbouncer" else None
    served = url
    if bouncer is not None:
        served = bouncer.__enter__().url
        env["ANNUAIRE_PG_PREPARED_STATEMENTS"] = "0"
    started = [_start(annuaire_bin, env, served) for _ in range(2)]
    try:
        for proc, base in started:
            _wait_up(proc, base)
        yield url, [base for _, base in started]
    finally:
        for proc, _ in started:
            proc.terminate()
        for proc, _ in started:
            try:
                proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate(timeout=30)
        if bouncer is not None:
            bouncer.__exit__(None, None, None)


@pytest.fixture(scope="module")
def organisation(servers) -> dict:
    _, (a, _) = servers
    found = httpx.get(
        f"{a}/api/v1/organismes", params={"q": "formation", "par_page": 5}, headers=_as("198.51.100.2")
    )
    return found.json()["resultats"][0]


def test_a_session_opened_on_one_server_works_on_the_other(servers):
    _, (a, b) = servers
    with httpx.Client(base_url=a, headers=_as("198.51.100.3"), timeout=20) as on_a:
        token = _csrf(on_a, "/admin/connexion")
        done = on_a.post(
            "/admin/connexion",
            data={"csrf": token, "nom": "moderatrice", "mot_de_passe": PASSWORD, "suite": "/admin/"},
            follow_redirects=False,
        )
        assert done.status_code == 303, done.text
        cookies = on_a.cookies
    with httpx.Client(base_url=b, headers=_as("198.51.100.3"), cookies=cookies, timeout=20) as on_b:
        page = on_b.get("/admin/", follow_redirects=False)
        assert page.status_code == 200 and "moderatrice" in page.text
    with httpx.Client(base_url=b, headers=_as("198.51.100.3"), timeout=20) as stranger:
        assert stranger.get("/admin/", follow_redirects=False).status_code == 303  # no cookie, no session


def test_a_correction_sent_to_one_server_and_approved_on_the_other_shows_on_both(servers, organisation):
    _, (a, b) = servers
    key = organisation["id_organisme"]
    new_name = "ORGANISME CORRIGÉ PAR DEUX SERVEURS"
    with httpx.Client(base_url=a, headers=_as("198.51.100.4"), timeout=20) as visitor:
        form = f"/organismes/{key}/correction"
        sent = visitor.post(
            form,
            data={"csrf": _csrf(visitor, form), "champ": "denomination", "valeur": new_name,
                  "message": "Vu sur le Kbis", "email": "a@b.fr"},
            follow_redirects=False,
        )  # fmt: skip
        assert sent.status_code in (200, 303), sent.text
    with httpx.Client(base_url=b, headers=_as("198.51.100.5"), timeout=20) as moderator:
        token = _csrf(moderator, "/admin/connexion")
        done = moderator.post(
            "/admin/connexion",
            data={"csrf": token, "nom": "moderatrice", "mot_de_passe": PASSWORD, "suite": "/admin/"},
            follow_redirects=False,
        )
        assert done.status_code == 303
        listing = moderator.get("/admin/", params={"statut": "en_attente", "organisme": key})
        ids = html.fromstring(listing.text).xpath("//form[contains(@action, '/approuver')]/@action")
        assert ids, "the correction sent to the other server is listed"
        approved = moderator.post(ids[0], data={"csrf": _csrf(moderator, "/admin/")}, follow_redirects=False)
        assert approved.status_code == 303
    for base in (a, b):
        shown = httpx.get(f"{base}/api/v1/organismes/{key}", headers=_as("198.51.100.6"), timeout=20).json()
        assert shown["denomination"] == new_name, base
        assert [c["valeur"] for c in shown["corrections"]] == [new_name]


def test_a_client_over_the_rate_limit_on_one_server_is_refused_on_the_other(servers):
    _, (a, b) = servers
    client = _as("203.0.113.7")
    statuses = [httpx.get(f"{a}/api/v1/stats", headers=client, timeout=20).status_code for _ in range(RATE)]
    assert statuses == [200] * RATE  # the burst, spent on A
    refused = httpx.get(f"{b}/api/v1/stats", headers=client, timeout=20)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    other = httpx.get(f"{b}/api/v1/stats", headers=_as("203.0.113.8"), timeout=20)
    assert other.status_code == 200  # another client is not


def test_an_update_under_load_gives_no_5xx_and_both_serve_it_within_5_seconds(
    servers, run_annuaire, reference_dir, shared_dir
):
    url, bases = servers
    truth = json.loads((shared_dir / "data" / "of" / "sample-diff-truth.json").read_text(encoding="utf-8"))
    added = sorted(truth["added"])[0]
    added = added if isinstance(added, str) else added["nda"]
    for base in bases:
        assert httpx.get(f"{base}/api/v1/organismes/{added}", headers=_as("198.51.100.9")).status_code == 404
    statuses: Counter = Counter()
    stop = threading.Event()
    paths = [
        "/api/v1/organismes?q=formation",
        "/api/v1/organismes?departement=75&facettes=true",
        "/recherche?q=anglais",
    ]

    def load(worker: int) -> None:  # bounded: at most 400 requests, each client under its limit
        with httpx.Client(timeout=30) as client:
            for n in range(400):
                if stop.is_set():
                    return
                base = bases[n % 2]
                ip = f"192.0.2.{(worker * 50 + n // 15) % 250 + 1}"  # 15 requests per client
                answer = client.get(base + paths[n % len(paths)], headers=_as(ip))
                statuses[answer.status_code] += 1

    threads = [threading.Thread(target=load, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    try:
        done = run_annuaire(
            "update", "--db", url, "--source", shared_dir / "data" / "of" / "sample-M+1.csv",
            "--reference", reference_dir, timeout=300,
        )  # fmt: skip
        committed = time.monotonic()
        assert done.returncode == 0, done.stderr
        seen: dict[str, float] = {}
        while len(seen) < 2 and time.monotonic() - committed < 10:
            for base in bases:
                if base not in seen:
                    found = httpx.get(f"{base}/api/v1/organismes/{added}", headers=_as("198.51.100.10"))
                    if found.status_code == 200:
                        seen[base] = time.monotonic() - committed
            time.sleep(0.1)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert set(seen) == set(bases) and max(seen.values()) <= 5.0, seen
    assert statuses and not any(code >= 500 for code in statuses), statuses
    assert statuses[200] > 0 and statuses.get(429, 0) == 0, statuses
