"""`annuaire serve` as users run it: a real server process with two workers on loopback."""

from __future__ import annotations

import socket
import subprocess
import time

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.integration
def test_serve_answers_over_http(annuaire_bin, annuaire_env, sample_build):
    port = free_port()
    proc = subprocess.Popen(
        [
            annuaire_bin,
            "serve",
            "--db",
            sample_build.db,
            "--port",
            str(port),
            "--workers",
            "2",
            "--rate-limit",
            "0",
        ],
        env=annuaire_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                stats = httpx.get(f"{base}/api/v1/stats", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read().decode()
                assert time.monotonic() < deadline, "the server did not start within 60 s"
                time.sleep(0.3)
        assert stats.status_code == 200 and stats.json()["nb_organismes"] > 1000
        with httpx.Client(base_url=base, timeout=10) as client:
            found = client.get("/api/v1/organismes", params={"q": "formation", "facettes": "true"}).json()
            assert found["total"] > 0 and found["facettes"]["departements"]
            assert client.get("/api/openapi.json").json()["info"]["title"]
            assert client.get("/api/v1/organismes", params={"par_page": 0}).status_code == 422
    finally:
        proc.terminate()
        proc.communicate(timeout=20)  # and its pipes closed


def test_serve_refuses_a_missing_database(run_annuaire, tmp_path):
    done = run_annuaire("serve", "--db", tmp_path / "none.db")
    assert done.returncode != 0 and "no such database" in done.stderr
