"""A private pgbouncer in transaction mode, on loopback, in front of a test PostgreSQL: the pooler
README's "Several app servers" section describes, configured the same way (the search path set on
every server connection by `connect_query`, prepared statements off in the app for pgbouncer < 1.21).

Debian's `pgbouncer` (scripts/system-packages.sh). It refuses to run as root: when the tests run as
root it runs as the `postgres` user, as the private PostgreSQL does.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from postgres_server import free_port

SEARCH_PATH = "annuaire, annuaire_partage, public"  # store/postgres.py's serving_search_path()


class PgBouncer:
    """`with PgBouncer(url) as bouncer: bouncer.url` — `url`'s database through pgbouncer."""

    def __init__(self, url: str, *, pool_size: int = 10):
        self.target = urlsplit(url)
        self.pool_size = pool_size
        self.port = free_port()
        self.folder: Path | None = None
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return self.target._replace(netloc=f"{self.target.username}@127.0.0.1:{self.port}").geturl()

    def __enter__(self) -> PgBouncer:
        binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        if not Path(binary).exists():
            raise RuntimeError("pgbouncer not found (`apt-get install pgbouncer`)")
        self.folder = Path(tempfile.mkdtemp(prefix="annuaire-pgbouncer-"))
        database = self.target.path.lstrip("/")
        user = self.target.username
        (self.folder / "users.txt").write_text(f'"{user}" ""\n', encoding="utf-8")
        server = f"host={self.target.hostname} port={self.target.port or 5432} dbname={database}"
        if self.target.password:  # ANNUAIRE_TEST_POSTGRES_URL's server may ask for one
            server += f" user={user} password={self.target.password}"
        (self.folder / "pgbouncer.ini").write_text(
            f"""[databases]
{database} = {server} connect_query='SET search_path = {SEARCH_PATH}'

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {self.folder / "users.txt"}
pool_mode = transaction
default_pool_size = {self.pool_size}
max_client_conn = 500
ignore_startup_parameters = extra_float_digits
logfile = {self.folder / "pgbouncer.log"}
""",
            encoding="utf-8",
        )
        command = [binary, str(self.folder / "pgbouncer.ini")]
        if os.geteuid() == 0:  # pgbouncer refuses root
            entry = pwd.getpwnam("postgres")
            for path in (self.folder, *self.folder.iterdir()):
                os.chown(path, entry.pw_uid, entry.pw_gid)
            command = ["runuser", "-u", "postgres", "--", *command]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log = (self.folder / "pgbouncer.log").read_text(errors="replace")
                    self.__exit__(None, None, None)
                    raise RuntimeError(f"pgbouncer did not start:\n{log}") from None
                time.sleep(0.1)

    def log(self) -> str:
        path = self.folder / "pgbouncer.log" if self.folder else None
        return path.read_text(errors="replace") if path and path.exists() else ""

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
