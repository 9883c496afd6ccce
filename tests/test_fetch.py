"""`annuaire fetch` against a local server speaking the data.gouv.fr API (dataset JSON, stable URL
redirecting to the file, ETag / Last-Modified and 304), serving the sample snapshots; then
`annuaire update` from the latest fetched snapshot. And offline, from a mirror folder."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from annuaire.sources.snapshots import LISTE_PUBLIQUE_DATASET as DATASET
from annuaire.sources.snapshots import LISTE_PUBLIQUE_RESOURCE as RESOURCE
from datagouv_server import Answer, DatagouvServer

FILE = "/producer/listePubliqueOF.csv.gz"


def publish(
    portal: DatagouvServer, body: bytes, etag: str | None, *, checksum: bool = True, size: int | None = None
):
    """Describe the dataset as data.gouv.fr does and serve the file behind the stable URL."""
    headers = {"Content-Type": "text/csv", "Last-Modified": "Sat, 21 Nov 2026 16:05:12 GMT"}
    if etag:
        headers["ETag"] = etag
    portal.answer(FILE, Answer(body=body, headers=headers))
    portal.redirect(f"/api/1/datasets/r/{RESOURCE}", FILE)
    resource = {
        "id": RESOURCE,
        "title": "Liste publique des Organismes de Formation (format CSV)",
        "type": "main",
        "format": "csv",
        "url": portal.url(FILE),
        "checksum": None,
        "filesize": None,
        "last_modified": "2026-11-21T16:05:12.118000+00:00",
        "extras": {
            "analysis:content-length": size if size is not None else len(body),
            **({"analysis:checksum": hashlib.sha1(body).hexdigest()} if checksum else {}),
        },
    }
    portal.json(f"/api/1/datasets/{DATASET}/", {"id": DATASET, "resources": [resource]})


@pytest.fixture()
def fetch_env(annuaire_env, tmp_path):
    env = {**annuaire_env, "ANNUAIRE_CACHE_DIR": str(tmp_path / "cache")}
    return env


def run(annuaire_bin, env, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [annuaire_bin, *map(str, args)], env=env, capture_output=True, text=True, timeout=300
    )


def snapshot_files(env) -> list[Path]:
    folder = Path(env["ANNUAIRE_CACHE_DIR"]) / "snapshots" / RESOURCE
    return sorted(p for p in folder.glob("*.csv*") if not p.name.endswith(".json"))


def test_fetch_downloads_once_then_asks_conditionally(annuaire_bin, fetch_env, shared_dir):
    body = gzip.compress((shared_dir / "data/of/sample-M.csv").read_bytes())
    with DatagouvServer() as portal:
        publish(portal, body, '"v1"')
        env = {**fetch_env, "ANNUAIRE_PORTAL_URL": portal.base_url}
        first = run(annuaire_bin, env, "fetch", "--no-laposte")
        assert first.returncode == 0, first.stderr
        assert "new snapshot" in first.stdout
        (kept,) = snapshot_files(env)
        assert kept.read_bytes() == body
        meta = json.loads(kept.with_name(kept.name + ".json").read_text())
        assert meta["etag"] == '"v1"' and meta["sha256"] == hashlib.sha256(body).hexdigest()
        assert meta["declared_checksum"] == "sha1:" + hashlib.sha1(body).hexdigest()

        again = run(annuaire_bin, env, "fetch", "--no-laposte")
        assert again.returncode == 0 and "not modified (304)" in again.stdout
        asked = [h for p, h in zip(portal.requests, portal.headers, strict=True) if p == FILE]
        assert asked[-1]["if-none-match"] == '"v1"'
        assert len(snapshot_files(env)) == 1

        # The producer publishes M+1: a new snapshot, the previous one kept.
        newer = gzip.compress((shared_dir / "data/of/sample-M+1.csv").read_bytes())
        publish(portal, newer, '"v2"')
        third = run(annuaire_bin, env, "fetch", "--no-laposte")
        assert third.returncode == 0 and "new snapshot" in third.stdout
        assert len(snapshot_files(env)) == 2


def test_same_content_without_validators_is_not_kept_twice(annuaire_bin, fetch_env, shared_dir):
    body = (shared_dir / "data/of/sample-M.csv").read_bytes()
    with DatagouvServer() as portal:
        publish(portal, body, None)
        portal.answers[FILE].headers.pop("Last-Modified")
        env = {**fetch_env, "ANNUAIRE_PORTAL_URL": portal.base_url}
        assert run(annuaire_bin, env, "fetch", "--no-laposte").returncode == 0
        second = run(annuaire_bin, env, "fetch", "--no-laposte")
        assert second.returncode == 0 and "same content" in second.stdout
        assert len(snapshot_files(env)) == 1


@pytest.mark.parametrize("damage", ["truncated", "checksum", "size", "gzip"])
def test_a_bad_download_is_refused_and_the_last_snapshot_kept(annuaire_bin, fetch_env, shared_dir, damage):
    good = gzip.compress((shared_dir / "data/of/sample-M.csv").read_bytes())
    with DatagouvServer() as portal:
        publish(portal, good, '"v1"')
        env = {**fetch_env, "ANNUAIRE_PORTAL_URL": portal.base_url}
        assert run(annuaire_bin, env, "fetch", "--no-laposte").returncode == 0
        newer = gzip.compress((shared_dir / "data/of/sample-M+1.csv").read_bytes())
        if damage == "truncated":  # the connection breaks off: fewer bytes than Content-Length
            publish(portal, newer, '"v2"')
            portal.answers[FILE].content_length = len(newer)
            portal.answers[FILE].body = newer[: len(newer) // 2]
        elif damage == "checksum":  # the bytes are not those the portal describes
            publish(portal, newer, '"v2"')
            portal.answers[FILE].body = newer[:-1] + bytes([newer[-1] ^ 1])
        elif damage == "size":
            publish(portal, newer, '"v2"', size=len(newer) + 10)
        else:  # a gzip file cut short, consistently described
            publish(portal, newer[: len(newer) - 100], '"v2"')
        refused = run(annuaire_bin, env, "fetch", "--no-laposte")
        assert refused.returncode == 4, refused.stdout + refused.stderr
        assert "the last snapshot is kept" in refused.stderr or "cut short" in refused.stderr
        (kept,) = snapshot_files(env)
        assert kept.read_bytes() == good
        folder = kept.parent
        assert not [p for p in folder.iterdir() if p.name.startswith(".fetch-")]


@pytest.mark.integration
def test_update_from_the_latest_snapshot(annuaire_bin, fetch_env, shared_dir, reference_dir, tmp_path):
    db = tmp_path / "annuaire.db"
    built = run(
        annuaire_bin,
        fetch_env,
        "build",
        "--source",
        shared_dir / "data/of/sample-M.csv",
        "--db",
        db,
        "--reference",
        reference_dir,
        "--no-progress",
    )
    assert built.returncode == 0, built.stderr
    none_yet = run(annuaire_bin, fetch_env, "update", "--db", db, "--reference", reference_dir)
    assert none_yet.returncode == 1 and "annuaire fetch" in none_yet.stderr
    with DatagouvServer() as portal:
        publish(portal, (shared_dir / "data/of/sample-M+1.csv").read_bytes(), '"v2"')
        env = {**fetch_env, "ANNUAIRE_PORTAL_URL": portal.base_url}
        assert run(annuaire_bin, env, "fetch", "--no-laposte").returncode == 0
    done = run(annuaire_bin, fetch_env, "update", "--db", db, "--reference", reference_dir)
    assert done.returncode == 0, done.stderr
    report = json.loads(db.with_name(db.name + ".update.json").read_text())
    truth = json.loads((shared_dir / "data/of/sample-diff-truth.json").read_text())
    assert sorted(report["added"]) == sorted(truth["added"])


def test_fetch_from_a_mirror_offline(annuaire_bin, fetch_env, shared_dir, tmp_path):
    mirror = tmp_path / "mirror" / RESOURCE
    mirror.mkdir(parents=True)
    (mirror / "liste.csv").write_bytes((shared_dir / "data/of/sample-M.csv").read_bytes())
    env = {**fetch_env, "ANNUAIRE_MIRROR": str(tmp_path / "mirror")}
    first = run(annuaire_bin, env, "fetch", "--no-laposte")
    assert first.returncode == 0 and "new snapshot" in first.stdout, first.stderr
    second = run(annuaire_bin, env, "fetch", "--no-laposte")
    assert "same content" in second.stdout
    os.utime(mirror / "liste.csv")
    assert len(snapshot_files(env)) == 1


def test_fetch_also_refreshes_la_poste_base(annuaire_bin, fetch_env, shared_dir, reference_dir):
    from annuaire.sources.snapshots import LAPOSTE_DATASET

    laposte = (reference_dir / "laposte_hexasmal.csv").read_bytes()
    with DatagouvServer() as portal:
        publish(portal, (shared_dir / "data/of/sample-M.csv").read_bytes(), '"v1"')
        portal.file("/files/laposte_hexasmal.csv", laposte, "text/csv", {"ETag": '"p1"'})
        portal.dataset(
            LAPOSTE_DATASET, [("Base officielle des codes postaux", "csv", "/files/laposte_hexasmal.csv")]
        )
        env = {**fetch_env, "ANNUAIRE_PORTAL_URL": portal.base_url}
        done = run(annuaire_bin, env, "fetch")
        assert done.returncode == 0, done.stderr
        assert "La Poste: new snapshot" in done.stdout
        cached = Path(env["ANNUAIRE_CACHE_DIR"]) / "reference" / "laposte_hexasmal.csv"
        assert cached.read_bytes() == laposte
        again = run(annuaire_bin, env, "fetch")
        assert "La Poste: not modified (304)" in again.stdout
