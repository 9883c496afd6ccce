"""`annuaire serve` (uvicorn, real sockets) under forged proxy headers and under load (issue 19)."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(annuaire_bin, env, db, *args: str):
    port = free_port()
    proc = subprocess.Popen(
        [annuaire_bin, "serve", "--db", db, "--port", str(port), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/robots.txt", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read().decode()
                assert time.monotonic() < deadline, "the server did not start within 60 s"
                time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        proc.communicate(timeout=20)  # and its pipes closed


@pytest.mark.integration
def test_a_forged_header_on_loopback_does_not_make_a_new_client(annuaire_bin, annuaire_env, sample_build):
    """uvicorn trusts X-Forwarded-For from 127.0.0.1 unless told otherwise: `serve` tells it not to,
    and trusts only ANNUAIRE_TRUSTED_PROXIES."""
    env = {k: v for k, v in annuaire_env.items() if k != "ANNUAIRE_TRUSTED_PROXIES"}
    with serving(annuaire_bin, env, sample_build.db, "--rate-limit", "3") as base:
        statuses = [
            httpx.get(f"{base}/api/v1/stats", headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code
            for i in range(6)
        ]
    assert statuses == [200, 200, 200, 429, 429, 429]


@pytest.mark.integration
def test_forged_headers_do_not_reset_the_login_limit_nor_reach_the_audit_log(
    annuaire_bin, annuaire_env, sample_build, tmp_path
):
    """The probe: 40 wrong passwords, each with another X-Forwarded-For, never got a 429, and the
    right password was then accepted; the forged addresses went to the audit log."""
    from lxml import html

    from annuaire.corrections import CorrectionStore

    corrections = tmp_path / "corrections.sqlite"
    store = CorrectionStore(str(corrections))
    store.add_moderator("paul", "un mot de passe assez long")
    env = {k: v for k, v in annuaire_env.items() if k != "ANNUAIRE_TRUSTED_PROXIES"}
    env |= {"ANNUAIRE_LOGINS_PER_QUARTER": "3"}
    args = ("--corrections", str(corrections))
    with serving(annuaire_bin, env, sample_build.db, *args) as base, httpx.Client(base_url=base) as client:
        form = client.get("/admin/connexion")
        token = html.fromstring(form.text).xpath("//input[@name='csrf']/@value")[0]

        def attempt(password: str, forged: str) -> int:
            return client.post(
                "/admin/connexion",
                data={"csrf": token, "nom": "paul", "mot_de_passe": password},
                headers={"X-Forwarded-For": forged},
            ).status_code

        statuses = [attempt("non", f"192.0.2.{i}") for i in range(5)]
        right = attempt("un mot de passe assez long", "192.0.2.99")
    assert statuses == [401, 401, 401, 429, 429] and right == 429
    logged = {e["detail"]["ip"] for e in store.journal()[0] if e["detail"] and "ip" in e["detail"]}
    store.close()
    assert logged == {"127.0.0.1"}


@pytest.mark.integration
def test_behind_a_trusted_proxy_each_client_has_its_own_limit(annuaire_bin, annuaire_env, sample_build):
    env = annuaire_env | {"ANNUAIRE_TRUSTED_PROXIES": "127.0.0.1, ::1"}
    with serving(annuaire_bin, env, sample_build.db, "--rate-limit", "2") as base:
        same = [
            httpx.get(f"{base}/api/v1/stats", headers={"X-Forwarded-For": "198.51.100.1"}).status_code
            for _ in range(3)
        ]
        others = [
            httpx.get(f"{base}/api/v1/stats", headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code
            for i in range(2, 6)
        ]
    assert same == [200, 200, 429] and others == [200] * 4


def test_a_wrong_trusted_proxy_setting_stops_serve(run_annuaire, sample_build, annuaire_bin, annuaire_env):
    done = subprocess.run(
        [annuaire_bin, "serve", "--db", sample_build.db],
        env=annuaire_env | {"ANNUAIRE_TRUSTED_PROXIES": "10.0.0.0/8, le-proxy"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "le-proxy" in done.stderr and "Traceback" not in done.stderr


# A wrk script that forges another X-Forwarded-For on every request, and counts the answers by
# status and the 429s without Retry-After.
WRK_SCRIPT = """
local threads = {}
request = function()
  wrk.headers["X-Forwarded-For"] = "198.51.100." .. math.random(1, 254)
  return wrk.format()
end
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {}; missing_retry = 0 end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 429 and headers["retry-after"] == nil and headers["Retry-After"] == nil then
    missing_retry = missing_retry + 1
  end
end
function done(summary, latency, requests)
  local all, missing = {}, 0
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do all[status] = (all[status] or 0) + n end
    missing = missing + thread:get("missing_retry")
  end
  local parts = {}
  for status, n in pairs(all) do table.insert(parts, string.format('"%d": %d', status, n)) end
  io.write(string.format('WRK-JSON {"statuses": {%s}, "missing_retry_after": %d, "errors": %d}\\n',
    table.concat(parts, ", "), missing,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def run_wrk(url: str, script, seconds: int) -> dict:
    if shutil.which("wrk") is None:
        pytest.fail("wrk is not installed (apt-get install wrk)", pytrace=False)
    command = ["wrk", "-t2", "-c64", f"-d{seconds}s", "--timeout", "10s", "-s", str(script)]
    done = subprocess.run([*command, url], capture_output=True, text=True, timeout=seconds + 60)
    assert done.returncode == 0, done.stderr
    found = re.search(r"WRK-JSON (\{.*\})", done.stdout)
    assert found, done.stdout
    return json.loads(found.group(1))


@pytest.mark.integration
def test_under_load_only_429s_and_they_count_against_the_real_client(
    annuaire_bin, annuaire_env, sample_build, tmp_path
):
    """A bounded load on loopback (64 connections, 2 workers, a few seconds): no error but 429s, each
    with Retry-After; a forged X-Forwarded-For on every request does not escape the limit."""
    script = tmp_path / "statuses.lua"
    script.write_text(WRK_SCRIPT)
    seconds, per_minute = 5, 600
    with serving(
        annuaire_bin, annuaire_env, sample_build.db, "--workers", "2", "--rate-limit", str(per_minute)
    ) as base:
        result = run_wrk(f"{base}/api/v1/organismes?q=formation", script, seconds)
    statuses = {int(k): v for k, v in result["statuses"].items()}
    assert result["errors"] == 0
    assert set(statuses) <= {200, 429}, statuses
    # One client, 127.0.0.1, whatever the forged header: each worker's bucket (its burst, then its
    # refill) and no more.
    assert statuses.get(200, 0) <= 2 * (per_minute + per_minute / 60 * (seconds + 5))
    assert statuses.get(429, 0) > 0
    assert result["missing_retry_after"] == 0
