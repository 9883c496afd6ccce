"""Plain ASGI middleware every answer goes through: HEAD answered wherever GET is, the Host header
checked against the allowed hosts, and the security headers.

- HEAD: FastAPI routes answer GET only; a HEAD request is run as a GET and its body dropped (the
  headers, Content-Length included, are the GET's).
- Hosts: a Host header that is not allowed answers 400, so that no link, sitemap or redirect is
  ever built on a host an attacker chose (cache poisoning). Allowed: `ANNUAIRE_ALLOWED_HOSTS`
  (comma-separated names, `*.example.org` for subdomains, `*` for any), else `localhost`,
  `127.0.0.1`, `::1` and `testserver` (local use and tests); the host of `ANNUAIRE_SITE_URL` always.
- Security headers, on every answer that has not set its own: a Content-Security-Policy letting
  scripts, styles, fonts and requests come from the site only (no inline script; images also from
  the map's tile server), `frame-ancestors 'none'`, `X-Content-Type-Options: nosniff`,
  `X-Frame-Options: DENY`, `Referrer-Policy: strict-origin-when-cross-origin`, and, when the site is
  served over HTTPS (`ANNUAIRE_SECURE_COOKIES=1`), `Strict-Transport-Security`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1", "testserver")
LOG_EVERY = 60.0  # seconds between two log lines about refused hosts, per worker
log = logging.getLogger("annuaire.api")
HSTS = "max-age=31536000"


class HeadAsGetMiddleware:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def without_body(message):
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        # A copy: the server keeps its own scope, still HEAD, and sends no body either.
        await self.app({**scope, "method": "GET"}, receive, without_body)


def allowed_hosts(configured: Iterable[str] | None, site_url: str | None) -> tuple[str, ...]:
    """The hosts to accept: `configured` (ANNUAIRE_ALLOWED_HOSTS) or the defaults, and the site's."""
    hosts = [h.strip().lower() for h in configured or () if h.strip()] or list(DEFAULT_HOSTS)
    if site_url and (site := urlsplit(site_url).hostname):
        hosts.append(site.lower())
    return tuple(dict.fromkeys(hosts))


def host_allowed(host: str, patterns: Iterable[str]) -> bool:
    for pattern in patterns:
        if pattern == "*" or host == pattern:
            return True
        if pattern.startswith("*.") and host.endswith(pattern[1:]):
            return True
    return False


def _host_of(header: str) -> str | None:
    """The name in a Host header (`example.org:8000`, `[::1]:8000`), lower case; None if malformed."""
    try:
        parts = urlsplit("//" + header)
        host = parts.hostname
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return None
    if not host or parts.path or parts.query or parts.fragment or parts.username is not None:
        return None
    return host


class AllowedHostsMiddleware:
    def __init__(self, app, *, hosts: tuple[str, ...]):
        self.app = app
        self.hosts = hosts
        self.any = "*" in hosts
        self.logged = 0.0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or self.any:
            await self.app(scope, receive, send)
            return
        header = next((v for k, v in scope["headers"] if k == b"host"), None)
        if header is None:  # HTTP/1.0 without Host: links are built on the server's own address
            await self.app(scope, receive, send)
            return
        host = _host_of(header.decode("latin-1"))
        if host is not None and host_allowed(host, self.hosts):
            await self.app(scope, receive, send)
            return
        if time.monotonic() - self.logged >= LOG_EVERY:  # an operator who forgot a host learns it here
            self.logged = time.monotonic()
            log.warning(
                "request for host %r refused (400): not in ANNUAIRE_ALLOWED_HOSTS nor ANNUAIRE_SITE_URL",
                header.decode("latin-1")[:100],
            )
        body = "Hôte non autorisé (en-tête Host).\n".encode()
        await send(
            {
                "type": "http.response.start",
                "status": 400,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                    (b"cache-control", b"no-store"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def tile_sources(tile_url: str) -> str:
    """The CSP source of a tile URL template: its scheme and host, `{s}` subdomains as a wildcard."""
    parts = urlsplit(tile_url.replace("{s}", "SUBDOMAIN"))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    host = parts.netloc.replace("SUBDOMAIN", "*").lower()
    if host.count("*") > 1 or ("*" in host and not host.startswith("*.")):
        return f"{parts.scheme}:"
    return urlunsplit((parts.scheme, host, "", "", ""))


def content_security_policy(tile_url: str) -> str:
    images = " ".join(s for s in ("'self'", "data:", tile_sources(tile_url)) if s)
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src {images}; font-src 'self'; connect-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


class SecurityHeadersMiddleware:
    def __init__(self, app, *, csp: str, hsts: bool):
        self.app = app
        self.headers = [
            (b"content-security-policy", csp.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"strict-origin-when-cross-origin"),
        ]
        if hsts:
            self.headers.append((b"strict-transport-security", HSTS.encode()))

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message):
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", ())}
                extra = [(k, v) for k, v in self.headers if k not in present]
                if extra:
                    message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)
