"""A real PostgreSQL (with PostGIS) on loopback, in a temporary folder, for tests and benchmarks.

Debian's binaries (`postgresql-15`, `postgresql-15-postgis-3`) are looked up in
`ANNUAIRE_POSTGRES_BIN` (default: the newest `/usr/lib/postgresql/*/bin`, else `PATH`). PostgreSQL
refuses to run as root: when the tests run as root the cluster belongs to the `postgres` user.

    python tests/postgres_server.py          # prints the URL and serves until Ctrl-C
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


class PostgresMissing(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_bin() -> Path:
    configured = os.environ.get("ANNUAIRE_POSTGRES_BIN")
    candidates = [Path(configured)] if configured else []
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    found = shutil.which("pg_ctl")
    if found:
        candidates.append(Path(found).parent)
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    raise PostgresMissing(
        "PostgreSQL's initdb/pg_ctl not found (set ANNUAIRE_POSTGRES_BIN or "
        "`apt-get install postgresql postgresql-postgis`)"
    )


def check_postgis(bindir: Path) -> None:
    """PostGIS must be installed beside that PostgreSQL (its extension control file)."""
    sharedir = subprocess.run(
        [str(bindir / "pg_config"), "--sharedir"], capture_output=True, text=True, check=False
    ).stdout.strip()
    if not sharedir and bindir.name == "bin":
        version = bindir.parent.name
        sharedir = f"/usr/share/postgresql/{version}"
    for extension in ("postgis", "unaccent"):
        if not Path(sharedir, "extension", f"{extension}.control").exists():
            raise PostgresMissing(
                f"the {extension} extension is not installed in {sharedir} "
                "(`apt-get install postgresql-postgis`)"
            )


class ExistingPostgres:
    """A server given by URL (a role allowed to create databases): same interface as PostgresServer."""

    def __init__(self, url: str):
        self.url = url

    def url_for(self, database: str) -> str:
        from urllib.parse import urlsplit, urlunsplit

        return urlunsplit(urlsplit(self.url)._replace(path=f"/{database}"))

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url_for(name)


class PostgresServer:
    """`with PostgresServer() as pg: pg.url` — a private cluster, removed when the block ends."""

    def __init__(self) -> None:
        self.bindir = postgres_bin()
        check_postgis(self.bindir)
        self.port = free_port()
        self.folder: Path | None = None
        self.user: str | None = None

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def url_for(self, database: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        command = [str(a) for a in args]
        if os.geteuid() == 0:  # initdb and postgres refuse root
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)

    def start(self) -> PostgresServer:
        self.folder = Path(tempfile.mkdtemp(prefix="annuaire-pg-"))
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
            self.user = "postgres"
        else:
            self.user = pwd.getpwuid(os.geteuid()).pw_name
        data = self.folder / "data"
        done = self._run(
            self.bindir / "initdb", "-D", data, "-A", "trust", "-U", self.user, "-E", "UTF8",
            "--locale=C.UTF-8", timeout=120,
        )  # fmt: skip
        if done.returncode:
            raise RuntimeError(f"initdb failed:\n{done.stdout}\n{done.stderr}")
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c shared_buffers=128MB "
            "-c max_connections=100"
        )
        done = self._run(
            self.bindir / "pg_ctl", "start", "-w", "-t", "60", "-D", data, "-l", self.folder / "log",
            "-o", options, timeout=90,
        )  # fmt: skip
        if done.returncode:
            log = (self.folder / "log").read_text(errors="replace") if (self.folder / "log").exists() else ""
            self.stop()
            raise RuntimeError(f"PostgreSQL did not start:\n{done.stdout}\n{done.stderr}\n{log}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        return self

    def create_database(self, name: str) -> str:
        """A new empty database; its URL."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url_for(name)

    def stop(self) -> None:
        if self.folder is None:
            return
        data = self.folder / "data"
        if (data / "postmaster.pid").exists():
            self._run(self.bindir / "pg_ctl", "stop", "-D", data, "-m", "immediate", "-w", timeout=60)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


if __name__ == "__main__":
    with PostgresServer() as server:
        print(server.url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            sys.exit(0)
