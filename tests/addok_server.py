"""A real BAN geocoder on loopback: Redis + Addok (addok-fr, addok-france, addok-csv), for tests.

Addok runs in its own virtualenv (ANNUAIRE_ADDOK_VENV, default `<repo>/.cache/addok-venv`), created on
first use from PyPI with the versions known to work together: with addok 1.3.x, addok-csv 1.1.0 answers
500 as soon as a filter such as `citycode=` is sent; addok 1.2.1 with falcon 4.0.2 works.

    python tests/addok_server.py --ban ../shared/data/of/sample-ban.ndjson.gz   # serves until Ctrl-C
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ADDOK_PACKAGES = [
    "addok==1.2.1",
    "addok-fr==1.1.0",
    "addok-france==1.2.0",
    "addok-csv==1.1.0",
    "falcon==4.0.2",
    "gunicorn==23.0.0",
    "setuptools<81",
]
CONFIG = """
REDIS = {{"host": "127.0.0.1", "port": {redis_port}, "unix_socket_path": None,
          "indexes": {{"db": 0}}, "documents": {{"db": 1}}}}
FILTERS = ["type", "postcode", "citycode"]
EXTRA_FIELDS = [{{"key": "citycode"}}]  # answered as result_citycode, as the public service does
QUERY_PROCESSORS_PYPATHS = [
    "addok.helpers.text.check_query_length",
    "addok_france.extract_address",
    "addok_france.clean_query",
    "addok_france.remove_leading_zeros",
]
SEARCH_RESULT_PROCESSORS_PYPATHS = [
    "addok.helpers.results.match_housenumber",
    "addok_france.make_labels",
    "addok.helpers.results.score_by_importance",
    "addok.helpers.results.score_by_autocomplete_distance",
    "addok.helpers.results.score_by_ngram_distance",
    "addok.helpers.results.score_by_geo_distance",
    "addok.helpers.results.adjust_scores",
]
PROCESSORS_PYPATHS = [
    "addok.helpers.text.tokenize",
    "addok.helpers.text.normalize",
    "addok_france.glue_ordinal",
    "addok_france.fold_ordinal",
    "addok_france.flag_housenumber",
    "addok.helpers.text.synonymize",
    "addok_fr.phonemicize",
]
BATCH_WORKERS = 1
LOG_DIR = "{folder}"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def addok_venv() -> Path:
    """The virtualenv holding Addok, created once (a few packages from PyPI). A marker written last
    tells a complete install from an interrupted one, which is rebuilt."""
    venv = Path(os.environ.get("ANNUAIRE_ADDOK_VENV") or REPO / ".cache" / "addok-venv")
    marker = venv / ".complete"
    if marker.exists():
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", *ADDOK_PACKAGES], check=True)
    marker.write_text(" ".join(ADDOK_PACKAGES))
    return venv


def _wait(check, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not start within {timeout:.0f} s")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


class AddokServer:
    """Redis + Addok loaded with a BAN ndjson file, served on loopback. Use as a context manager."""

    def __init__(self, ban_file: Path, *, workers: int = 2, folder: Path | None = None):
        self.ban_file = Path(ban_file)
        if not self.ban_file.exists():
            raise FileNotFoundError(f"{self.ban_file}: BAN import file not found")
        if not shutil.which("redis-server"):
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.workers = workers
        self.folder = Path(folder or tempfile.mkdtemp(prefix="annuaire-addok-"))
        self.redis_port = free_port()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.processes: list[subprocess.Popen] = []

    def _env(self) -> dict[str, str]:
        return {**os.environ, "ADDOK_CONFIG_MODULE": str(self.folder / "addok.conf")}

    def start(self) -> AddokServer:
        venv = addok_venv()
        (self.folder / "addok.conf").write_text(CONFIG.format(redis_port=self.redis_port, folder=self.folder))
        redis = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.processes.append(redis)
        _wait(lambda: _port_open(self.redis_port), "redis-server")
        plain = self.folder / "ban.ndjson"
        opener = gzip.open if self.ban_file.suffix == ".gz" else open
        with opener(self.ban_file, "rb") as src, plain.open("wb") as dst:
            shutil.copyfileobj(src, dst)
        addok = str(venv / "bin" / "addok")
        for command in (["batch", str(plain)], ["ngrams"]):
            subprocess.run(
                [addok, *command],
                env=self._env(),
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=1800,
            )
        server = subprocess.Popen(
            [
                str(venv / "bin" / "gunicorn"),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.workers),
                "--timeout",
                "600",
                "addok.http.wsgi:application",
            ],
            env=self._env(),
            stdout=subprocess.DEVNULL,
            stderr=(self.folder / "gunicorn.log").open("wb"),
        )
        self.processes.append(server)
        _wait(lambda: _answers(f"{self.url}/search/?q=rue"), "Addok")
        return self

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()

    def __enter__(self) -> AddokServer:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ban", type=Path, required=True, help="BAN import file (.ndjson or .ndjson.gz)")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    with AddokServer(args.ban, workers=args.workers) as server:
        print(f"Addok serving {args.ban.name} at {server.url} (Ctrl-C to stop)", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
