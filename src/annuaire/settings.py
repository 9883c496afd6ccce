"""The settings, described once: each `ANNUAIRE_*` environment variable with its type, default and
meaning (`SETTINGS`), read into one typed, frozen `Settings` (as Starlette's `Config` and Datasette's
`SETTINGS` do).

The command line reads them once, with its options over them (`read(environ, **options)`), and makes
them the process's settings (`use`); the web workers read them once when the app is made. Objects
that need some of them take them from a `Settings` (`WebSettings.from_settings`,
`GeocodeSettings.from_settings`…); code deeper down asks `current()`: the settings in use, else the
environment as it is now (a library call, a test). This is the only module that reads the
environment; nothing reads it at import time. README's Configuration table documents every one of
them (tests/test_readme.py checks it).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .errors import InputError

OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = (
    '&copy; <a href="https://www.openstreetmap.org/copyright">les contributeurs d’OpenStreetMap</a>'
)
DATAGOUV_URL = "https://www.data.gouv.fr"
_FALSE = ("0", "false", "no", "off", "non")


def _text(value: str) -> str | None:
    return value.strip() or None


def _path(value: str) -> Path | None:
    return Path(value) if value.strip() else None


def _int(value: str) -> int:
    return int(value.strip())


def _jobs(value: str) -> int:
    jobs = int(value.strip())
    if not 1 <= jobs <= 64:
        raise ValueError("a number of processes from 1 to 64")
    return jobs


def _flag(value: str) -> bool:
    return value.strip().lower() not in _FALSE


def _items(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _url(value: str) -> str | None:
    return value.strip().rstrip("/") or None


def _redis_url(value: str) -> str | None:
    url = value.strip()
    if url and not url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("a Redis URL: redis://host:port/db, rediss://… or unix:///path")
    return url or None


def parse_trusted_proxies(value: str) -> tuple[str, ...]:
    """`ANNUAIRE_TRUSTED_PROXIES`: IP addresses or CIDR networks, comma-separated."""
    items = _items(value)
    for item in items:
        try:
            if "/" in item:
                ipaddress.ip_network(item, strict=False)
            else:
                ipaddress.ip_address(item)
        except ValueError:
            raise ValueError(
                f"{item!r} is not an IP address nor a CIDR network (such as 10.0.0.0/8)"
            ) from None
    return items


def default_cache_dir(environ: Mapping[str, str]) -> Path:
    """$XDG_CACHE_HOME/annuaire, else ~/.cache/annuaire."""
    return Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "annuaire"


def setting(
    default: Any,
    doc: str,
    parse: Callable[[str], Any] = _text,
    *,
    option: str | None = None,
    computed: Callable[[Mapping[str, str]], Any] | None = None,
) -> Any:
    """A `Settings` field: its default (when the variable is unset or empty; `computed` from the
    environment when given), what it is for, how its variable's text is read (a ValueError refuses
    it), and the command-line option that overrides it."""
    return field(
        default=default, metadata={"doc": doc, "parse": parse, "option": option, "computed": computed}
    )


@dataclass(frozen=True)
class Settings:
    """Every setting: its name (the variable is `ANNUAIRE_` + its name in capitals), type, default and
    meaning. `read()` fills them from the environment."""

    # Data and downloads.
    reference_dir: Path | None = setting(
        None, "folder of the reference files (La Poste, COG)", _path, option="--reference"
    )
    mirror: Path | None = setting(None, "a local mirror of data.gouv.fr files (offline)", _path)
    portal_url: str = setting(DATAGOUV_URL, "base URL of the data.gouv.fr API", _url)
    cog_package_url: str | None = setting(
        None, "the COG's communes package (npm tarball URL; `off`: INSEE's file only)", _text
    )
    cog_package_integrity: str | None = setting(None, "the integrity the communes package must have", _text)
    cache_dir: Path = setting(
        Path(".cache/annuaire"), "where downloads and caches are kept", _path, computed=default_cache_dir
    )
    log_format: str = setting("", "`json` for JSON-lines logs on stderr", lambda v: v.strip().lower())
    # Building and updating.
    geocoder_url: str | None = setting(
        None, "the BAN geocoder's base URL (None: the public one)", _url, option="--geocoder-url"
    )
    geocode: bool = setting(True, "geocode street addresses", _flag, option="--geocode/--no-geocode")
    build_side_process: bool = setting(True, "write the search indexes in a forked process", _flag)
    cleaning_jobs: int | None = setting(
        None, "processes cleaning the records of a build or update (1: its own only)", _jobs
    )
    sources_config: Path | None = setting(
        None, "a TOML file listing secondary sources", _path, option="--sources-config"
    )
    redis_url: str | None = setting(
        None, "a Redis server keeping the rate limits every worker and server share (redis://…)", _redis_url
    )
    update_pause_at: str | None = setting(None, "tests: the update stage to pause at (fault injection)")
    sirene_url: str | None = setting(None, "the SIRENE API's base URL", _url, option="--url")
    insee_token: str | None = setting(None, "the INSEE API's bearer token")
    # Serving.
    db: str | None = setting(None, "the directory `annuaire serve`'s workers serve", option="--db")
    rate_limit: int = setting(
        600,
        "API requests per minute per client IP (0: off); per worker on SQLite, shared on PostgreSQL",
        _int,
        option="--rate-limit",
    )
    cors_origins: tuple[str, ...] = setting(("*",), "origins allowed by CORS, comma-separated", _items)
    trusted_proxies: tuple[str, ...] = setting(
        (), "reverse proxies whose X-Forwarded-For is believed", parse_trusted_proxies
    )
    allowed_hosts: tuple[str, ...] = setting((), "Host headers accepted (none: the local ones)", _items)
    export_dir: Path | None = setting(None, "the export files `serve` offers (None: generated)", _path)
    pg_pool_size: int = setting(8, "PostgreSQL connections per `serve` worker", _int)
    pg_prepared_statements: bool = setting(
        True, "server-side prepared statements (0: behind pgbouncer < 1.21 in transaction mode)", _flag
    )
    # Corrections and moderation.
    corrections_db: Path | None = setting(
        None, "the corrections file (None: beside the directory)", _path, option="--corrections"
    )
    secret_key: str | None = setting(None, "signs session cookies and CSRF tokens (None: generated, kept)")
    secure_cookies: bool = setting(False, "Secure cookies and HSTS (behind HTTPS)", _flag)
    corrections_per_hour: int = setting(
        10, "corrections per client IP an hour (0: no limit); per worker on SQLite", _int
    )
    logins_per_quarter: int = setting(
        10, "logins per client IP in 15 minutes (0: no limit); per worker on SQLite", _int
    )
    corrections_email_days: int = setting(365, "days a decided correction's e-mail is kept (0: kept)", _int)
    # The website.
    guides_dir: Path | None = setting(None, "the editorial guides' folder (None: those shipped)", _path)
    tile_url: str = setting(OSM_TILES, "the maps' tile URL template")
    tile_attribution: str = setting(OSM_ATTRIBUTION, "the attribution under the tiles (HTML)")
    site_url: str | None = setting(None, "the public base URL (sitemap, canonical links)", _url)
    node_modules: Path | None = setting(None, "the `node_modules` holding Leaflet (None: found)", _path)
    publisher_name: str | None = setting(None, "legal notice: who publishes the site")
    publisher_address: str | None = setting(None, "legal notice: the publisher's postal address")
    publisher_contact: str | None = setting(None, "legal notice: an e-mail address or a contact URL")
    publication_director: str | None = setting(None, "legal notice: the directeur de la publication")
    hosting_provider: str | None = setting(None, "legal notice: the host's name, address, telephone")

    def but(self, **options: Any) -> Settings:
        """These settings with the options given (None: not given, the setting stays)."""
        return replace(self, **{k: v for k, v in options.items() if v is not None})

    def hand_down(self, *attributes: str) -> None:
        """Put these settings into this process's environment, from which the processes it starts
        (the web workers of `annuaire serve`) read them again with `read()`: the one place besides
        `read()` that touches the environment."""
        for name in attributes:
            value = getattr(self, name)
            if isinstance(value, tuple):
                value = ",".join(value)
            elif isinstance(value, bool):
                value = "1" if value else "0"
            os.environ[variable(name)] = "" if value is None else str(value)


def variable(name: str) -> str:
    """A setting's environment variable."""
    return "ANNUAIRE_" + name.upper()


SETTINGS = fields(Settings)  # the description: name, type, default, metadata (doc, parse, option)
BY_VARIABLE = {variable(f.name): f for f in SETTINGS}


def read(environ: Mapping[str, str] | None = None, **options: Any) -> Settings:
    """The settings from the environment (`os.environ` by default), then the options given (None: not
    given). A value that cannot be read is refused, naming its variable (exit code 2)."""
    environ = os.environ if environ is None else environ
    values = {}
    for f in SETTINGS:
        name = variable(f.name)
        text = environ.get(name, "")
        if text.strip():
            try:
                values[f.name] = f.metadata["parse"](text)
            except ValueError as exc:
                raise InputError(name, f"{text!r}: {exc}") from None
        elif f.metadata["computed"] is not None:
            values[f.name] = f.metadata["computed"](environ)
    return Settings(**values).but(**options)


_current: Settings | None = None


def use(settings: Settings | None) -> None:
    """Make these the process's settings (None: the environment's, read when asked)."""
    global _current
    _current = settings


def current() -> Settings:
    """The settings in use: those the command line or the app read, else the environment's now."""
    return _current if _current is not None else read()
