"""Downloads against a real HTTP server on 127.0.0.1 speaking like data.gouv.fr (tests/datagouv_server.py).

- `annuaire build --source URL`: follows data.gouv.fr's 302, reads the gzip file; a 404, a body cut short
  or a stalled server end with exit code 4 and a clear message, the previous directory untouched and no
  temporary file left behind.
- Reference data without `--reference`: the mirror if complete, else the cache, filled once through the
  data.gouv.fr API (La Poste's base, INSEE's COG CSVs: départements, régions) and the npm package
  `@etalab/decoupage-administratif` (the COG's communes.json, with populations, postal codes and former
  codes: the statistics page has its map), and not downloaded again; a package that cannot be had
  (refused, wrong checksum, damaged) gives INSEE's v_commune file instead, with a warning; a cache
  filled before the communes were read, or holding INSEE's only, gets the package alone.

The local server serves the package's registry tarball too, built at test time from the shared
communes.json (as the real 6.0.0 tarball holds it: the same bytes).
"""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import io
import json
import logging
import os
import sqlite3
import subprocess
import tarfile
import time
import unicodedata
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from lxml import html

from annuaire.api import ApiSettings, create_app
from annuaire.errors import DownloadError, ReferenceError_
from annuaire.sources import reference_files
from annuaire.sources.download import download, fetch
from annuaire.sources.reference import read_cog_communes
from annuaire.sources.reference_files import cache_folder, download_reference, reference_folder
from datagouv_server import Answer, DatagouvServer

RESOURCE_ID = "ac59a0f5-fa83-4b82-bf12-3c5806d4f19f"  # the Liste publique's real resource id
COG_YEAR = "2024"
# Where a registry serves the package's tarball (the same path as registry.npmjs.org's).
PACKAGE_PATH = "/npm/@etalab/decoupage-administratif/-/decoupage-administratif-6.0.0.tgz"
NO_PACKAGE = "http://127.0.0.1:9/decoupage-administratif.tgz"  # the discard port: nothing answers there


# --- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_registry(monkeypatch):
    """In-process downloads never reach the real npm registry (the `portal` fixture serves the package)."""
    monkeypatch.setenv("ANNUAIRE_COG_PACKAGE_URL", NO_PACKAGE)
    monkeypatch.delenv("ANNUAIRE_COG_PACKAGE_INTEGRITY", raising=False)


@pytest.fixture
def server():
    with DatagouvServer() as s:
        yield s


def _tarball(files: dict[str, bytes]) -> bytes:
    """A gzipped tar as `npm pack` makes them: every file under `package/`."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _integrity(data: bytes) -> str:
    """npm's `dist.integrity` of a tarball."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


PACKAGE_JSON = json.dumps({"name": "@etalab/decoupage-administratif", "version": "6.0.0"}).encode()


@pytest.fixture(scope="session")
def package_tgz(reference_dir: Path) -> bytes:
    """The package's tarball: package.json, the COG's three files (communes.json the shared one)."""
    return _tarball(
        {
            "package/package.json": PACKAGE_JSON,
            "package/data/regions.json": (reference_dir / "regions.json").read_bytes(),
            "package/data/departements.json": (reference_dir / "departements.json").read_bytes(),
            "package/data/communes.json": (reference_dir / "communes.json").read_bytes(),
        }
    )


@pytest.fixture(scope="session")
def sample_gz(sample_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return gzip.compress(sample_csv.read_bytes(), mtime=0)


def _ncc(name: str) -> str:
    """INSEE's NCC column: the name in capitals without accents."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return plain.upper().replace("-", " ").replace("'", " ")


def _csv(header: list[str], rows: list[list]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return text.getvalue().encode("utf-8")


@pytest.fixture(scope="session")
def reference_payloads(reference_dir: Path) -> dict[str, bytes]:
    """What the portal serves: La Poste's base as it is, the COG in INSEE's CSV format (generated from
    the shared departements.json, regions.json and communes.json)."""
    deps = json.loads((reference_dir / "departements.json").read_text(encoding="utf-8"))
    regs = json.loads((reference_dir / "regions.json").read_text(encoding="utf-8"))
    communes = json.loads((reference_dir / "communes.json").read_text(encoding="utf-8"))
    kinds = {
        "commune-actuelle": "COM",
        "arrondissement-municipal": "ARM",
        "commune-deleguee": "COMD",
        "commune-associee": "COMA",
    }
    return {
        "communes": _csv(
            [
                "TYPECOM",
                "COM",
                "REG",
                "DEP",
                "CTCD",
                "ARR",
                "TNCC",
                "NCC",
                "NCCENR",
                "LIBELLE",
                "CAN",
                "COMPARENT",
            ],
            [
                [
                    kinds[c["type"]],
                    c["code"],
                    c.get("region", ""),
                    c.get("departement", ""),
                    "",
                    c.get("arrondissement", ""),
                    c.get("typeLiaison", ""),
                    _ncc(c["nom"]),
                    c["nom"],
                    c["nom"],
                    "",
                    c.get("commune") or c.get("chefLieu") or "",
                ]
                for c in communes
            ],
        ),  # fmt: skip
        "laposte": (reference_dir / "laposte_hexasmal.csv").read_bytes(),
        "departements": _csv(
            ["DEP", "REG", "CHEFLIEU", "TNCC", "NCC", "NCCENR", "LIBELLE"],
            [
                [d["code"], d["region"], d["chefLieu"], d["typeLiaison"], _ncc(d["nom"]), d["nom"], d["nom"]]
                for d in deps
            ],
        ),
        "regions": _csv(
            ["REG", "CHEFLIEU", "TNCC", "NCC", "NCCENR", "LIBELLE"],
            [[r["code"], r["chefLieu"], r["typeLiaison"], _ncc(r["nom"]), r["nom"], r["nom"]] for r in regs],
        ),
    }


@pytest.fixture
def portal(
    server: DatagouvServer, reference_payloads: dict[str, bytes], package_tgz: bytes, monkeypatch
) -> DatagouvServer:
    """The server with the reference datasets, as data.gouv.fr describes them (other formats and an
    older COG vintage next to the files to pick), and the npm package's tarball, named with its
    integrity by the settings (`portal_env` for the command, the environment for in-process calls)."""
    server.file(PACKAGE_PATH, package_tgz, "application/octet-stream")
    server.package_env = {
        "ANNUAIRE_COG_PACKAGE_URL": server.url(PACKAGE_PATH),
        "ANNUAIRE_COG_PACKAGE_INTEGRITY": _integrity(package_tgz),
    }
    for name, value in server.package_env.items():
        monkeypatch.setenv(name, value)
    server.file("/files/laposte_hexasmal.csv", reference_payloads["laposte"], "text/csv")
    server.file("/files/laposte_hexasmal.json", b"[]", "application/json")
    server.file(f"/files/v_departement_{COG_YEAR}.csv", reference_payloads["departements"], "text/csv")
    server.file(f"/files/v_region_{COG_YEAR}.csv", reference_payloads["regions"], "text/csv")
    server.file(f"/files/v_commune_{COG_YEAR}.csv", reference_payloads["communes"], "text/csv")
    server.dataset(
        reference_files.LAPOSTE_DATASET,
        [
            ("Base officielle des codes postaux (JSON)", "json", "/files/laposte_hexasmal.json"),
            ("Base officielle des codes postaux", "csv", "/files/laposte_hexasmal.csv"),
        ],
    )
    server.dataset(
        reference_files.COG_DATASET,
        [
            ("v_departement_2023.csv", "csv", "/files/gone/v_departement_2023.csv"),  # 404 if fetched
            (f"v_departement_{COG_YEAR}.csv", "csv", f"/files/v_departement_{COG_YEAR}.csv"),
            (f"v_region_{COG_YEAR}.csv", "csv", f"/files/v_region_{COG_YEAR}.csv"),
            ("v_region_2023.csv", "csv", "/files/gone/v_region_2023.csv"),
            ("v_commune_2023.csv", "csv", "/files/gone/v_commune_2023.csv"),
            (f"v_commune_{COG_YEAR}.csv", "csv", f"/files/v_commune_{COG_YEAR}.csv"),
            ("v_mvt_commune_2024.csv", "csv", "/files/gone/v_mvt_commune_2024.csv"),
        ],
    )
    # Etalab's outlines of the départements (the maps' background), gzipped as the portal also offers
    server.file("/files/2024/departements-1000m.geojson.gz", gzip.compress(CONTOURS), "application/gzip")
    server.file("/files/2024/communes-1000m.geojson", b"{}", "application/geo+json")
    server.dataset(
        reference_files.CONTOURS_DATASET,
        [
            ("communes-1000m.geojson", "geojson", "/files/2024/communes-1000m.geojson"),
            ("departements-1000m.geojson.gz", "gz", "/files/2024/departements-1000m.geojson.gz"),
        ],
    )
    return server


@pytest.fixture
def portal_env(portal: DatagouvServer) -> dict[str, str]:
    """The command's environment for the portal and its package."""
    return {"ANNUAIRE_PORTAL_URL": portal.base_url, **portal.package_env}


CONTOURS = (
    b'{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"2A","nom":"Corse-du-Sud"},'
    b'"geometry":{"type":"Polygon","coordinates":[[[8.5,41.4],[9.4,41.4],[9.4,42.4],[8.5,42.4],[8.5,41.4]]]}}]}'
)


@pytest.fixture
def run(annuaire_bin: Path, annuaire_env: dict[str, str], tmp_path: Path):
    """Run `annuaire` with a cache, a temporary folder and a portal of the test's own; `env` adds to or
    overrides them. `run.tmpdir` should be empty after every run: no temporary file left behind."""
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()

    def go(*args, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        environment = dict(annuaire_env)
        environment.update(
            ANNUAIRE_CACHE_DIR=str(tmp_path / "cache"),
            ANNUAIRE_PORTAL_URL="http://127.0.0.1:9",  # the discard port: nothing answers there
            ANNUAIRE_COG_PACKAGE_URL=NO_PACKAGE,
            TMPDIR=str(tmpdir),
            NO_PROXY="127.0.0.1,localhost",
            COLUMNS="400",  # error messages unwrapped
        )
        environment.update(env or {})
        return subprocess.run(
            [str(annuaire_bin), *map(str, args)],
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            env=environment,
            timeout=120,
        )

    go.tmpdir = tmpdir
    return go


def _report(db: Path) -> dict:
    return json.loads(db.with_name(db.name + ".report.json").read_text(encoding="utf-8"))


def _one_clear_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors, result.stderr
    message = " ".join(result.stderr.split())  # rich may wrap a long message
    for fragment in fragments:
        assert fragment in message, result.stderr


@pytest.fixture
def previous_db(tmp_path: Path, run, sample_csv: Path, mini_reference_dir: Path) -> Path:
    db = tmp_path / "annuaire.db"
    built = run(
        "build", "--source", sample_csv, "--db", db, "--reference", mini_reference_dir, "--no-progress"
    )
    assert built.returncode == 0, built.stderr
    return db


# --- annuaire build --source URL ------------------------------------------------------------------


def test_build_from_url_follows_the_redirect(server, run, sample_gz, mini_reference_dir, tmp_path):
    server.file("/files/sample-M.csv.gz", sample_gz, "application/gzip")
    url = server.redirect(f"/api/1/datasets/r/{RESOURCE_ID}", "/files/sample-M.csv.gz")
    db = tmp_path / "annuaire.db"

    result = run("build", "--source", url, "--db", db, "--reference", mini_reference_dir, "--no-progress")

    assert result.returncode == 0, result.stderr
    report = _report(db)
    assert report["rows"]["records"] == 2006
    assert report["source"]["location"] == url
    assert report["source"]["compressed"] is True
    assert server.requests == [f"/api/1/datasets/r/{RESOURCE_ID}", "/files/sample-M.csv.gz"]
    assert list(run.tmpdir.iterdir()) == []  # the downloaded copy was removed


@pytest.mark.parametrize("failure", ["404", "cut short"])
def test_failed_download_exits_4_and_keeps_the_previous_db(
    failure, server, run, previous_db, sample_gz, mini_reference_dir, file_sha256
):
    if failure == "404":
        url = server.redirect(f"/api/1/datasets/r/{RESOURCE_ID}", "/files/missing.csv.gz")
        expected = ["404", "/files/missing.csv.gz"]
    else:
        half = sample_gz[: len(sample_gz) // 2]
        url = server.answer("/files/sample-M.csv.gz", Answer(body=half, content_length=len(sample_gz)))
        expected = [url, "download failed"]
    before = file_sha256(previous_db)
    report_before = previous_db.with_name(previous_db.name + ".report.json").read_bytes()

    result = run(
        "build", "--source", url, "--db", previous_db, "--reference", mini_reference_dir, "--no-progress"
    )

    assert result.returncode == 4, result.stderr
    _one_clear_error(result, *expected)
    assert file_sha256(previous_db) == before
    assert previous_db.with_name(previous_db.name + ".report.json").read_bytes() == report_before
    assert list(run.tmpdir.iterdir()) == []
    assert sorted(
        p.name
        for p in previous_db.parent.iterdir()
        if p.name.startswith("annuaire.db") and not p.name.endswith(".lock")
    ) == [
        "annuaire.db",
        "annuaire.db.report.json",
    ]


def test_unreachable_server_exits_4(run, mini_reference_dir, tmp_path):
    result = run(
        "build", "--source", "http://127.0.0.1:9/f.csv", "--db", tmp_path / "a.db",
        "--reference", mini_reference_dir, "--no-progress",
    )  # fmt: skip
    assert result.returncode == 4, result.stderr
    _one_clear_error(result, "http://127.0.0.1:9/f.csv", "cannot connect")
    assert not (tmp_path / "a.db").exists()


# --- download() and fetch() ------------------------------------------------------------------------


def test_fetch_writes_the_exact_bytes(server, tmp_path):
    data = os.urandom(300_000)
    url = server.redirect("/api/1/datasets/r/x", server.file("/files/x.bin", data))
    target = fetch(url, tmp_path / "x.bin")
    assert target.read_bytes() == data
    assert [p.name for p in tmp_path.iterdir()] == ["x.bin"]


def test_fetch_decodes_a_gzip_content_encoding(server, tmp_path):
    """A server compressing on the fly: the file is stored decoded, and the announced length (of the
    compressed body) is not mistaken for a short read."""
    text = "Code_commune_INSEE;Nom_commune;Code_postal\n01001;L'ABERGEMENT;01400\n" * 2000
    body = gzip.compress(text.encode())
    url = server.file("/files/laposte.csv", body, "text/csv", headers={"Content-Encoding": "gzip"})
    assert fetch(url, tmp_path / "laposte.csv").read_text() == text


def test_download_cut_short_leaves_nothing(server, tmp_path):
    url = server.answer("/files/big.bin", Answer(body=b"x" * 1000, content_length=5000))
    with pytest.raises(DownloadError, match=r"/files/big.bin: download failed"):
        download(url, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_failed_fetch_leaves_the_previous_file(server, tmp_path):
    target = tmp_path / "laposte_hexasmal.csv"
    target.write_text("previous")
    url = server.answer("/files/laposte.csv", Answer(body=b"new, but cut", content_length=100))
    with pytest.raises(DownloadError):
        fetch(url, target)
    assert target.read_text() == "previous"
    assert list(tmp_path.iterdir()) == [target]


def test_stalled_server_times_out(server, tmp_path):
    url = server.answer("/files/slow.csv", Answer(body=b"late", delay=2))
    with pytest.raises(DownloadError, match="did not answer in time"):
        download(url, tmp_path, timeout=0.3)
    assert list(tmp_path.iterdir()) == []


def test_redirect_loop_is_a_download_error(server, tmp_path):
    server.redirect("/a", "/b")
    url = server.redirect("/b", "/a")
    with pytest.raises(DownloadError, match="/b: download failed"):
        download(url, tmp_path)
    assert list(tmp_path.iterdir()) == []


# --- reference data: cache, mirror, portal ---------------------------------------------------------


@pytest.mark.integration
def test_reference_downloaded_once_into_the_cache(
    portal, portal_env, run, sample_csv, reference_dir, reference_payloads, sample_build, tmp_path
):
    """The default download gives the whole COG: the communes' populations (the statistics page has its
    map), postal codes and former codes, from the package; INSEE's v_commune file is not fetched."""
    outlines = (reference_dir / "departements-contours.geojson").read_bytes()
    portal.file("/files/2024/departements-1000m.geojson.gz", gzip.compress(outlines), "application/gzip")
    db = tmp_path / "from-portal.db"

    first = run("build", "--source", sample_csv, "--db", db, "--no-progress", env=portal_env)

    assert first.returncode == 0, first.stderr
    cache = tmp_path / "cache" / "reference"
    assert sorted(p.name for p in cache.iterdir()) == [
        "communes.json",
        "departements-contours.geojson",
        "laposte_hexasmal.csv",
        f"v_departement_{COG_YEAR}.csv",
        f"v_region_{COG_YEAR}.csv",
    ]
    assert (cache / "laposte_hexasmal.csv").read_bytes() == reference_payloads["laposte"]
    assert (cache / "communes.json").read_bytes() == (reference_dir / "communes.json").read_bytes()
    assert (cache / "departements-contours.geojson").read_bytes() == outlines  # unpacked
    # La Poste's description, as the portal gave it, recorded for `annuaire profile`
    recorded = json.loads(
        (
            tmp_path / "cache" / "snapshots" / "datasets" / f"{reference_files.LAPOSTE_DATASET}.json"
        ).read_text()
    )
    assert [r["title"] for r in recorded["dataset"]["resources"]][-1] == "Base officielle des codes postaux"
    assert "last_fetch" not in recorded  # a description, not a fetch of the file
    assert sorted(portal.requests) == sorted(
        [
            f"/api/1/datasets/{reference_files.LAPOSTE_DATASET}/",
            f"/api/1/datasets/{reference_files.COG_DATASET}/",
            f"/api/1/datasets/{reference_files.CONTOURS_DATASET}/",
            "/files/laposte_hexasmal.csv",
            f"/files/v_departement_{COG_YEAR}.csv",
            f"/files/v_region_{COG_YEAR}.csv",
            PACKAGE_PATH,
            "/files/2024/departements-1000m.geojson.gz",
        ]
    )
    report, expected = _report(db), sample_build.report  # built with the shared reference (JSON COG)
    assert report["reference"] == str(cache)
    assert report["rows"] == expected["rows"]
    assert report["deduplication"] == expected["deduplication"]
    # The COG's communes as the package gives them, in the directory.
    cog = {c["code"]: c for c in json.loads((reference_dir / "communes.json").read_text(encoding="utf-8"))}
    with sqlite3.connect(db) as conn:
        populations = dict(conn.execute("SELECT code_insee, population FROM communes"))
        postcodes = dict(conn.execute("SELECT code_insee, codes_postaux FROM communes"))
        former = dict(conn.execute("SELECT code_ancien, code_insee FROM communes_anciennes"))
    current = [c for c in cog.values() if c["type"] == "commune-actuelle"]
    assert all(populations[c["code"]] == c.get("population") for c in current)
    assert sum(1 for c in current if populations[c["code"]]) > 34_000
    assert postcodes["12218"] == "12320"  # Conques-en-Rouergue (2016): not in La Poste's 2020 base
    assert not any(line.startswith("12218;") for line in reference_payloads["laposte"].decode().splitlines())
    assert former["01126"] == "01033"  # a former code (merged into Valserhône), not a delegated commune
    assert "01126" not in cog
    # The statistics page: the map, tinted for the départements with a population.
    with TestClient(create_app(ApiSettings(db=str(db), rate_limit_per_minute=0))) as client:
        page = client.get("/statistiques")
    assert page.status_code == 200
    tree = html.fromstring(page.text)
    drawn = tree.xpath("//svg[@class='choroplethe']//path[@data-departement]")
    assert len(drawn) == 101
    assert sum(1 for path in drawn if "teinte-nd" not in path.get("class")) == 101
    assert "populations des départements ne sont pas connues" not in page.text

    second = run("build", "--source", sample_csv, "--db", db, "--no-progress", env=portal_env)

    assert second.returncode == 0, second.stderr
    assert len(portal.requests) == 8  # nothing asked again
    assert _report(db)["rows"] == expected["rows"]
    assert list(run.tmpdir.iterdir()) == []


def _insee_cache(cache: Path, payloads: dict[str, bytes], communes: bool) -> None:
    """A cache as earlier versions filled it: La Poste's base, INSEE's COG files (v_commune or not)."""
    cache.mkdir(parents=True)
    (cache / "laposte_hexasmal.csv").write_bytes(payloads["laposte"])
    (cache / f"v_departement_{COG_YEAR}.csv").write_bytes(payloads["departements"])
    (cache / f"v_region_{COG_YEAR}.csv").write_bytes(payloads["regions"])
    if communes:
        (cache / f"v_commune_{COG_YEAR}.csv").write_bytes(payloads["communes"])


@pytest.mark.integration
def test_cache_without_communes_gets_them_alone(
    portal, portal_env, run, sample_csv, reference_dir, reference_payloads, tmp_path
):
    """A cache filled before the COG's communes were read: only the package is fetched, and communes
    take their official names from it (Paris, Lyon and Marseille as cities)."""
    cache = tmp_path / "cache" / "reference"
    _insee_cache(cache, reference_payloads, communes=False)
    db = tmp_path / "a.db"

    result = run("build", "--source", sample_csv, "--db", db, "--no-progress", env=portal_env)

    assert result.returncode == 0, result.stderr
    assert portal.requests == [PACKAGE_PATH]
    assert (cache / "communes.json").read_bytes() == (reference_dir / "communes.json").read_bytes()
    with sqlite3.connect(db) as conn:
        names = dict(
            conn.execute("SELECT code_insee, nom FROM communes WHERE code_insee IN ('42218', '94038')")
        )
        kinds = dict(
            conn.execute("SELECT code_insee, type FROM communes WHERE code_insee IN ('69123', '69383')")
        )
        departements = dict(
            conn.execute("SELECT code, type_liaison FROM departements WHERE code IN ('69', '80')")
        )
        population = conn.execute("SELECT population FROM communes WHERE code_insee = '69123'").fetchone()
    assert names == {"42218": "Saint-Étienne", "94038": "L'Haÿ-les-Roses"}
    assert kinds == {"69123": "ville", "69383": "arrondissement"}
    assert departements == {"69": 2, "80": 3}  # du Rhône, de la Somme (INSEE's TNCC)
    assert population[0] > 500_000


def test_cache_without_communes_and_without_the_package_gets_insee_s(
    portal, reference_payloads, monkeypatch, tmp_path, caplog
):
    """The package unreachable: INSEE's v_commune file, from the portal, with a warning."""
    cache = tmp_path / "cache" / "reference"
    _insee_cache(cache, reference_payloads, communes=False)
    monkeypatch.setenv("ANNUAIRE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("ANNUAIRE_PORTAL_URL", portal.base_url)
    portal.error(PACKAGE_PATH, 404)

    assert reference_folder(None) == cache

    assert portal.requests == [
        PACKAGE_PATH,
        f"/api/1/datasets/{reference_files.COG_DATASET}/",
        f"/files/v_commune_{COG_YEAR}.csv",
    ]
    assert (cache / f"v_commune_{COG_YEAR}.csv").read_bytes() == reference_payloads["communes"]
    assert not (cache / "communes.json").exists()
    warned = [r for r in caplog.records if "communes package not downloaded" in r.getMessage()]
    assert len(warned) == 1 and "404" in warned[0].error


def test_cache_with_insee_s_communes_gets_the_package_tried_once_a_day(
    portal, reference_payloads, reference_dir, monkeypatch, tmp_path, caplog
):
    """A cache holding INSEE's communes only (filled by an earlier version, or when the package failed):
    the package is fetched alone; after a failure, not again before a day has passed."""
    cache = tmp_path / "cache" / "reference"
    _insee_cache(cache, reference_payloads, communes=True)
    monkeypatch.setenv("ANNUAIRE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("ANNUAIRE_PORTAL_URL", portal.base_url)
    tarball = portal.answers[PACKAGE_PATH]
    portal.error(PACKAGE_PATH, 503)

    assert reference_folder(None) == cache  # the package fails: INSEE's communes stay
    assert reference_folder(None) == cache  # not asked again within the day
    assert portal.requests == [PACKAGE_PATH]
    assert "communes package not downloaded" in caplog.text
    marker = cache / reference_files.PACKAGE_FAILED
    assert marker.is_file() and not (cache / "communes.json").exists()

    portal.answer(PACKAGE_PATH, tarball)
    a_day_ago = time.time() - reference_files.PACKAGE_RETRY_SECONDS - 60
    os.utime(marker, (a_day_ago, a_day_ago))
    assert reference_folder(None) == cache
    assert portal.requests == [PACKAGE_PATH, PACKAGE_PATH]
    assert (cache / "communes.json").read_bytes() == (reference_dir / "communes.json").read_bytes()
    assert not marker.exists()
    assert reference_folder(None) == cache
    assert len(portal.requests) == 2  # complete: nothing more


def _damaged(package_tgz: bytes, case: str) -> tuple[bytes, str | None]:
    """A tarball that must not be used, and the integrity to announce for it (None: the right file's)."""
    if case == "checksum":  # another file than the one the integrity names
        return package_tgz[:-8] + bytes(8), None
    if case == "cut":  # the announced file, damaged
        body = package_tgz[: len(package_tgz) // 2]
        return body, _integrity(body)
    if case == "not gzip":
        body = b"<html>registry maintenance</html>"
        return body, _integrity(body)
    if case == "no communes":
        body = _tarball({"package/package.json": PACKAGE_JSON, "package/data/regions.json": b"[]"})
        return body, _integrity(body)
    body = _tarball({"package/package.json": PACKAGE_JSON, "package/data/communes.json": b'{"a": 1}'})
    return body, _integrity(body)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("checksum", "not the expected file (integrity sha512-"),
        ("cut", "damaged package"),
        ("not gzip", "damaged package"),
        ("no communes", "no package/data/communes.json in the package"),
        ("not communes", "not a list of communes"),
        ("404", "404 Not Found"),
        ("cut short", "download failed: the connection broke off"),
    ],
)
def test_a_package_that_cannot_be_used_falls_back_to_insee_s_communes(
    portal, package_tgz, reference_payloads, monkeypatch, tmp_path, caplog, case, message
):
    monkeypatch.setenv("ANNUAIRE_PORTAL_URL", portal.base_url)
    monkeypatch.setenv("ANNUAIRE_CACHE_DIR", str(tmp_path / "cache"))
    if case == "404":
        portal.error(PACKAGE_PATH, 404)
    elif case == "cut short":
        half = package_tgz[: len(package_tgz) // 2]
        portal.answer(PACKAGE_PATH, Answer(body=half, content_length=len(package_tgz)))
    else:
        body, integrity = _damaged(package_tgz, case)
        portal.file(PACKAGE_PATH, body)
        if integrity:
            monkeypatch.setenv("ANNUAIRE_COG_PACKAGE_INTEGRITY", integrity)
    folder = tmp_path / "reference"

    with caplog.at_level(logging.WARNING, logger="annuaire.reference"):
        download_reference(folder)

    assert sorted(p.name for p in folder.iterdir()) == [
        reference_files.PACKAGE_FAILED,
        "departements-contours.geojson",
        "laposte_hexasmal.csv",
        f"v_commune_{COG_YEAR}.csv",
        f"v_departement_{COG_YEAR}.csv",
        f"v_region_{COG_YEAR}.csv",
    ]  # nothing half-written left behind
    assert (folder / f"v_commune_{COG_YEAR}.csv").read_bytes() == reference_payloads["communes"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warnings] == [
        "the COG's communes package not downloaded: INSEE's communes instead, without populations "
        "(the statistics page has no map), postal codes or former codes of merged communes"
    ]
    assert message in warnings[0].error and PACKAGE_PATH in warnings[0].error
    communes = read_cog_communes(folder)  # INSEE's: names and kinds, nothing more
    assert len(communes) == 37_590 and all(c[6:] == ((), (), None) for c in communes)


def test_the_package_turned_off_gives_insee_s_communes(portal, monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("ANNUAIRE_PORTAL_URL", portal.base_url)
    monkeypatch.setenv("ANNUAIRE_COG_PACKAGE_URL", "off")
    with caplog.at_level(logging.INFO, logger="annuaire.reference"):
        download_reference(tmp_path / "reference")
    assert PACKAGE_PATH not in portal.requests
    assert (tmp_path / "reference" / f"v_commune_{COG_YEAR}.csv").is_file()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "package is off" in caplog.text


def test_a_wrong_integrity_setting_stops_before_any_download(portal, monkeypatch, tmp_path):
    monkeypatch.setenv("ANNUAIRE_PORTAL_URL", portal.base_url)
    monkeypatch.setenv("ANNUAIRE_COG_PACKAGE_INTEGRITY", "md5-abc")
    with pytest.raises(ReferenceError_, match="ANNUAIRE_COG_PACKAGE_INTEGRITY: 'md5-abc' is not an npm"):
        reference_files.download_package(tmp_path)
    assert portal.requests == [] and list(tmp_path.iterdir()) == []


def test_the_integrity_is_npm_s(package_tgz, portal, monkeypatch, tmp_path):
    """npm's `dist.integrity` (SRI, several hashes allowed) or its `dist.shasum` (SHA-1 in hex)."""
    sha1 = hashlib.sha1(package_tgz).hexdigest()
    other = "sha256-" + base64.b64encode(hashlib.sha256(b"another file").digest()).decode()
    accepted = (
        sha1,
        "sha1-" + base64.b64encode(bytes.fromhex(sha1)).decode(),
        f"{other} {_integrity(package_tgz)}",
    )
    for integrity in accepted:
        monkeypatch.setenv("ANNUAIRE_COG_PACKAGE_INTEGRITY", integrity)
        assert reference_files.download_package(tmp_path), integrity
    assert reference_files.PACKAGE_INTEGRITY == (
        "sha512-XavYsFlbcM/prKr8hNHPKER94IHw/dsxNM4nxjWMYk6PLFACpEedvn/7wK8Baozm0dCYhWWcf+7bcWpA5pmCaQ=="
    )  # `npm view @etalab/decoupage-administratif@6.0.0 dist.integrity`


def test_mirror_reference_is_used_without_the_network(server, run, sample_csv, mini_reference_dir, tmp_path):
    """A mirror's reference folder holds the files as the cache does: the package's communes.json too
    (populations, former codes), read without any download, the package's included."""
    mirror = tmp_path / "mirror"
    (mirror / "reference").mkdir(parents=True)
    for name in ("laposte_hexasmal.csv", "departements.json", "regions.json", "communes.json"):
        (mirror / "reference" / name).symlink_to(mini_reference_dir / name)
    db = tmp_path / "a.db"

    result = run(
        "build",
        "--source",
        sample_csv,
        "--db",
        db,
        "--no-progress",
        env={
            "ANNUAIRE_MIRROR": str(mirror),
            "ANNUAIRE_PORTAL_URL": server.base_url,
            "ANNUAIRE_COG_PACKAGE_URL": server.url(PACKAGE_PATH),
        },
    )

    assert result.returncode == 0, result.stderr
    assert _report(db)["reference"] == str(mirror / "reference")
    assert server.requests == []
    assert not (tmp_path / "cache").exists()
    cog = json.loads((mini_reference_dir / "communes.json").read_text(encoding="utf-8"))
    with sqlite3.connect(db) as conn:
        populations = dict(conn.execute("SELECT code_insee, population FROM communes"))
        former = dict(conn.execute("SELECT code_ancien, code_insee FROM communes_anciennes"))
    current = [c for c in cog if c["type"] == "commune-actuelle"]
    assert current and all(populations[c["code"]] == c["population"] for c in current)
    expected = {old: c["code"] for c in current for old in c.get("anciensCodes", ())} | {
        c["code"]: c["chefLieu"] for c in cog if c["type"] in ("commune-deleguee", "commune-associee")
    }  # fmt: skip
    assert expected and expected.items() <= former.items()
    assert set(former.values()) <= {c["code"] for c in current}


@pytest.mark.integration
def test_incomplete_mirror_falls_back_to_the_portal(
    portal, portal_env, run, sample_csv, reference_dir, tmp_path
):
    mirror = tmp_path / "mirror"
    (mirror / "reference").mkdir(parents=True)
    (mirror / "reference" / "laposte_hexasmal.csv").symlink_to(reference_dir / "laposte_hexasmal.csv")
    db = tmp_path / "a.db"

    result = run(
        "build", "--source", sample_csv, "--db", db, "--no-progress",
        env={"ANNUAIRE_MIRROR": str(mirror), **portal_env},
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert _report(db)["reference"] == str(tmp_path / "cache" / "reference")
    assert portal.count("/files/") == 4  # La Poste's base, two COG files, the départements' outlines
    assert portal.count(PACKAGE_PATH) == 1  # the COG's communes


def test_missing_reference_folder_exits_3_without_the_network(server, run, sample_csv, tmp_path):
    result = run(
        "build", "--source", sample_csv, "--db", tmp_path / "a.db",
        "--reference", tmp_path / "nowhere", "--no-progress",
        env={"ANNUAIRE_PORTAL_URL": server.base_url},
    )  # fmt: skip
    assert result.returncode == 3, result.stderr
    _one_clear_error(result, "nowhere", "reference folder not found")
    assert server.requests == []
    assert not (tmp_path / "a.db").exists()


def test_portal_error_exits_4(server, run, sample_csv, previous_db, file_sha256, tmp_path):
    url = server.error(f"/api/1/datasets/{reference_files.LAPOSTE_DATASET}/", 500)
    before = file_sha256(previous_db)

    result = run(
        "build", "--source", sample_csv, "--db", previous_db, "--no-progress",
        env={"ANNUAIRE_PORTAL_URL": server.base_url},
    )  # fmt: skip

    assert result.returncode == 4, result.stderr
    _one_clear_error(result, url, "500 Internal Server Error")
    assert file_sha256(previous_db) == before
    assert list((tmp_path / "cache" / "reference").iterdir()) == []


def test_reference_file_cut_short_is_not_cached(portal, monkeypatch, reference_payloads, tmp_path):
    laposte = reference_payloads["laposte"]
    portal.answer(
        "/files/laposte_hexasmal.csv", Answer(body=laposte[: len(laposte) // 3], content_length=len(laposte))
    )
    monkeypatch.setenv("ANNUAIRE_PORTAL_URL", portal.base_url)
    with pytest.raises(DownloadError, match="laposte_hexasmal.csv: download failed"):
        download_reference(tmp_path / "reference")
    assert list((tmp_path / "reference").iterdir()) == []


@pytest.mark.parametrize(
    ("dataset", "answer", "message"),
    [
        (reference_files.COG_DATASET, {"resources": []}, "no resource titled v_departement_YYYY.csv"),
        (reference_files.LAPOSTE_DATASET, {"resources": []}, "no CSV resource"),
        (reference_files.LAPOSTE_DATASET, ["not", "a", "dataset"], "not a data.gouv.fr dataset"),
    ],
)
def test_unexpected_portal_answers_are_download_errors(
    portal, monkeypatch, tmp_path, dataset, answer, message
):
    portal.json(f"/api/1/datasets/{dataset}/", answer)
    monkeypatch.setenv("ANNUAIRE_PORTAL_URL", portal.base_url)
    with pytest.raises(DownloadError, match=message):
        download_reference(tmp_path / "reference")
    assert portal.count("/files/") == 0  # nothing fetched before every resource was found


def test_outlines_missing_on_the_portal_are_a_warning_not_an_error(portal, monkeypatch, tmp_path, caplog):
    """Only the maps use the départements' outlines: without them the reference data is complete."""
    portal.json(f"/api/1/datasets/{reference_files.CONTOURS_DATASET}/", {"resources": []})
    monkeypatch.setenv("ANNUAIRE_PORTAL_URL", portal.base_url)
    monkeypatch.setenv("ANNUAIRE_CACHE_DIR", str(tmp_path / "cache"))
    download_reference(tmp_path / "reference")
    assert sorted(p.name for p in (tmp_path / "reference").iterdir()) == [
        "communes.json",
        "laposte_hexasmal.csv",
        f"v_departement_{COG_YEAR}.csv",
        f"v_region_{COG_YEAR}.csv",
    ]
    assert "outlines not downloaded" in caplog.text


def test_cache_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("ANNUAIRE_CACHE_DIR", str(tmp_path / "c"))
    assert cache_folder() == tmp_path / "c" / "reference"
    monkeypatch.delenv("ANNUAIRE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_folder() == tmp_path / "xdg" / "annuaire" / "reference"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_folder() == tmp_path / "home" / ".cache" / "annuaire" / "reference"


def test_unwritable_cache_exits_3(server, run, sample_csv, tmp_path):
    (tmp_path / "file").write_text("not a folder")
    result = run(
        "build", "--source", sample_csv, "--db", tmp_path / "a.db", "--no-progress",
        env={"ANNUAIRE_CACHE_DIR": str(tmp_path / "file"), "ANNUAIRE_PORTAL_URL": server.base_url},
    )  # fmt: skip
    assert result.returncode == 3, result.stderr
    _one_clear_error(result, "cannot create the reference cache", "--reference")
    assert server.requests == []
