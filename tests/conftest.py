"""Shared fixtures.

The shared test data (../shared, see its README) is never copied into the repository: it is read from
`ANNUAIRE_SHARED_DIR`, by default `<repo>/../shared`. When it is missing the tests that need it fail
loudly instead of being skipped: a green run must mean the data was there and was checked.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_ENV = "ANNUAIRE_SHARED_DIR"


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        pytest.fail(
            f"{what} not found at {path}. The shared test data is read from ${SHARED_ENV} "
            f"(default: {REPO.parent / 'shared'}); set it to the shared folder.",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    value = os.environ.get(SHARED_ENV)
    folder = Path(value) if value else REPO.parent / "shared"
    _require(folder, f"shared test data folder (${SHARED_ENV})")
    if not folder.is_dir():
        pytest.fail(f"{folder} (${SHARED_ENV}) is not a folder", pytrace=False)
    return folder


@pytest.fixture(scope="session")
def reference_dir(shared_dir: Path) -> Path:
    folder = _require(shared_dir / "data" / "reference", "reference data folder")
    for name in ("laposte_hexasmal.csv", "departements.json", "regions.json", "communes.json"):
        _require(folder / name, f"reference file {name}")
    return folder


@pytest.fixture(scope="session")
def sample_csv(shared_dir: Path) -> Path:
    return _require(shared_dir / "data" / "of" / "sample-M.csv", "sample snapshot")


@pytest.fixture(scope="session")
def sample_truth(shared_dir: Path) -> Path:
    return _require(shared_dir / "data" / "of" / "sample-truth.csv.gz", "sample truth")


@pytest.fixture(scope="session")
def real_extract_csv(shared_dir: Path) -> Path:
    return _require(shared_dir / "data" / "real" / "liste-publique-of-2022-05-extrait.csv", "real extract")


@pytest.fixture(scope="session")
def score_script(shared_dir: Path) -> Path:
    return _require(shared_dir / "tools" / "score.py", "scorer")


@pytest.fixture(scope="session")
def mini_reference_dir(reference_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small reference folder (La Poste's first 300 rows, the real COG files, the COG's communes of
    those rows), made in a temporary folder: loading it takes a few milliseconds instead of a second,
    for the command-line tests whose subject is not the communes."""
    folder = tmp_path_factory.mktemp("mini-reference")
    with (reference_dir / "laposte_hexasmal.csv").open("rb") as fh:
        head = [fh.readline() for _ in range(301)]
    (folder / "laposte_hexasmal.csv").write_bytes(b"".join(head))
    for name in ("departements.json", "regions.json"):
        shutil.copyfile(reference_dir / name, folder / name)
    codes = {line.split(b";", 1)[0].decode() for line in head[1:]}
    communes = json.loads((reference_dir / "communes.json").read_text(encoding="utf-8"))
    kept = [c for c in communes if c["code"] in codes]
    (folder / "communes.json").write_text(json.dumps(kept, ensure_ascii=False), encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def reference(reference_dir: Path):
    """The real reference (La Poste base + COG), loaded once per session."""
    from annuaire.sources.reference import load_reference

    return load_reference(reference_dir)


@pytest.fixture(scope="session")
def resolver(reference):
    return reference.communes


# --- the command line ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def annuaire_bin() -> Path:
    """The installed console script, next to the interpreter running the tests (the virtualenv's)."""
    script = Path(sys.executable).with_name("annuaire")
    if not script.exists():
        found = shutil.which("annuaire")
        if not found:
            pytest.fail("the `annuaire` console script is not installed (pip install -e .)", pytrace=False)
        script = Path(found)
    return script


def cli_env() -> dict[str, str]:
    """The environment for the command: no terminal width inherited, no reference folder, mirror or log
    format from the developer's shell. (Other test modules import it: `from conftest import cli_env`.)"""
    env = dict(os.environ)
    for name in ("COLUMNS", "LINES", "ANNUAIRE_REFERENCE_DIR", "ANNUAIRE_MIRROR", "ANNUAIRE_LOG_FORMAT"):
        env.pop(name, None)
    env["PYTHONIOENCODING"] = "utf-8"
    return env


@pytest.fixture(scope="session")
def annuaire_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """cli_env() with a cache of the session's own: never the user's cache, never a download."""
    env = cli_env()
    env["ANNUAIRE_CACHE_DIR"] = str(tmp_path_factory.mktemp("annuaire-cache"))
    env["ANNUAIRE_PORTAL_URL"] = "http://127.0.0.1:9"  # a test that forgets --reference fails at once
    env["ANNUAIRE_GEOCODE"] = "0"  # geocoding has its own tests, against a local Addok
    return env


@pytest.fixture(scope="session")
def run_annuaire(annuaire_bin: Path, annuaire_env: dict[str, str]):
    def run(
        *args: str | os.PathLike, timeout: float = 120, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess:
        """`annuaire ARGS` in the tests' environment (with `env`'s variables added)."""
        return subprocess.run(
            [str(annuaire_bin), *map(str, args)],
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            env={**annuaire_env, **(env or {})},
            timeout=timeout,
        )

    return run


@pytest.fixture(scope="session")
def run_build(run_annuaire, reference_dir: Path):
    """`annuaire build --source S --db D --reference R --no-progress` (R: the real reference by default)."""

    def build(
        source: str | os.PathLike, db: str | os.PathLike, reference: str | os.PathLike | None = None
    ) -> subprocess.CompletedProcess:
        return run_annuaire(
            "build",
            "--source",
            source,
            "--db",
            db,
            "--reference",
            reference or reference_dir,
            "--no-progress",
        )

    return build


@pytest.fixture(scope="session")
def run_score(score_script: Path, sample_truth: Path):
    def score(out_dir: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [
                sys.executable,
                str(score_script),
                "build",
                "--truth",
                str(sample_truth),
                "--declarations",
                str(out_dir / "declarations.csv"),
                "--quarantine",
                str(out_dir / "quarantaine.csv"),
            ],
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=120,
        )

    return score


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def file_sha256():
    return sha256


@dataclass
class Built:
    db: Path
    out: Path
    report: dict
    build_stdout: str
    build_stderr: str


@pytest.fixture(scope="session")
def build_and_export(run_annuaire, run_build):
    """Build `source` into `folder/annuaire.db` with the CLI, export it to `folder/out`."""

    def go(source: Path, folder: Path) -> Built:
        db = folder / "annuaire.db"
        built = run_build(source, db)
        assert built.returncode == 0, f"build of {source} failed ({built.returncode}):\n{built.stderr}"
        exported = run_annuaire("export", "--db", db, "--out", folder / "out")
        assert exported.returncode == 0, f"export failed ({exported.returncode}):\n{exported.stderr}"
        report = json.loads(db.with_name(db.name + ".report.json").read_text(encoding="utf-8"))
        return Built(db, folder / "out", report, built.stdout, built.stderr)

    return go


@pytest.fixture(scope="session")
def sample_build(build_and_export, sample_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Built:
    """sample-M.csv built and exported once per session."""
    return build_and_export(sample_csv, tmp_path_factory.mktemp("sample-build"))


@pytest.fixture(scope="session")
def real_build(build_and_export, real_extract_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The 500-row real extract built and exported once per session."""
    return build_and_export(real_extract_csv, tmp_path_factory.mktemp("real-build"))


@pytest.fixture(scope="session")
def sample_searcher(sample_build: Built):
    """The search layer over the sample directory."""
    from annuaire.search import open_searcher

    searcher = open_searcher(str(sample_build.db))
    yield searcher
    searcher.close()


@pytest.fixture(scope="session")
def sample_api(sample_build: Built):
    """The API app over the sample directory (no rate limit: tests call it in bursts)."""
    from annuaire.api import ApiSettings, create_app

    return create_app(ApiSettings(db=str(sample_build.db), rate_limit_per_minute=0))


@pytest.fixture(scope="session")
def api_client(sample_api):
    from fastapi.testclient import TestClient

    with TestClient(sample_api) as client:
        yield client


@pytest.fixture(scope="session")
def addok(shared_dir: Path):
    """A real Addok (Redis + addok-fr/france/csv) loaded with the sample's BAN import file."""
    from addok_server import AddokServer

    ban = shared_dir / "data" / "of" / "sample-ban.ndjson.gz"
    if not ban.exists():
        pytest.fail(f"{ban}: BAN import file missing", pytrace=False)
    with AddokServer(ban, workers=2) as server:
        yield server


# --- PostgreSQL: the second backend ----------------------------------------------------------------

POSTGRES_URL_ENV = "ANNUAIRE_TEST_POSTGRES_URL"


@pytest.fixture(scope="session")
def redis_server():
    """A Redis server on loopback (tests/addok_server.py's RedisServer): its `url`."""
    from addok_server import RedisServer

    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server with PostGIS: $ANNUAIRE_TEST_POSTGRES_URL (a role allowed to create
    databases) when set, else a private cluster started on loopback in a temporary folder."""
    from postgres_server import ExistingPostgres, PostgresMissing, PostgresServer

    url = os.environ.get(POSTGRES_URL_ENV)
    if url:
        yield ExistingPostgres(url)
        return
    try:
        server = PostgresServer()
    except PostgresMissing as exc:
        pytest.fail(f"{exc}; or set ${POSTGRES_URL_ENV}", pytrace=False)
    with server:
        yield server


@pytest.fixture(scope="session")
def sample_postgres(postgres, run_build, sample_csv: Path) -> str:
    """sample-M.csv built once per session into a PostgreSQL database (by `annuaire build --db URL`)."""
    url = postgres.create_database("annuaire_sample")
    built = run_build(sample_csv, url)
    assert built.returncode == 0, f"build into PostgreSQL failed ({built.returncode}):\n{built.stderr}"
    return url


BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request) -> str:
    """The sample directory's location on each backend in turn: a SQLite file, a PostgreSQL URL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sample_build").db)
    return request.getfixturevalue("sample_postgres")


@pytest.fixture(scope="session")
def backend_searcher(backend: str):
    """The search layer over the sample directory, on each backend."""
    from annuaire.search import open_searcher

    searcher = open_searcher(backend)
    yield searcher
    searcher.close()


@pytest.fixture(scope="session")
def backend_api_client(backend: str):
    """The API over the sample directory, on each backend (no rate limit)."""
    from fastapi.testclient import TestClient

    from annuaire.api import ApiSettings, create_app

    with TestClient(create_app(ApiSettings(db=backend, rate_limit_per_minute=0))) as client:
        yield client


# --- tiers: markers -------------------------------------------------------------------------------

# Tests that use these fixtures carry the marker, whichever module they are in (see pyproject.toml).
MARKER_OF_FIXTURE = {
    "postgres": "postgres",
    "sample_postgres": "postgres",
    "addok": "geocoder",
    "redis_server": "redis",
    "browser": "browser",
}


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_collection_modifyitems(items):
    """Markers from fixtures before `-m` selects on them; once items are selected and ordered, the
    slow tests moved first: with `make test`'s two workers (pytest-xdist, a module's tests on one
    worker, modules handed out in this order), the full snapshot is built on one worker while the
    other runs the rest."""
    for item in items:
        names = set(item.fixturenames)
        for fixture, marker in MARKER_OF_FIXTURE.items():
            if fixture in names:
                item.add_marker(marker)
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("backend") == "postgresql":
            item.add_marker("postgres")
    result = yield
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
    return result


def pytest_terminal_summary(terminalreporter):
    """Say where the browser tests left their screenshots."""
    folder = REPO / "test-artifacts" / "web"
    if folder.is_dir() and any(folder.glob("*.png")):
        terminalreporter.write_line(f"website screenshots: {folder}")
