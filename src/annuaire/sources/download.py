"""Download files over HTTP(S): streamed to a temporary file, checked, never left half-written.

data.gouv.fr's stable URLs (`/api/1/datasets/r/<resource id>`) answer 302 to the producer's file, so
redirects are followed. Any failure (refused connection, timeout, HTTP error status, body cut short)
raises `DownloadError` (exit code 4), whose message names the URL and the reason.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import httpx

from .. import __version__
from ..errors import DownloadError

# Seconds allowed to connect, and between two pieces of the body (not for the whole download).
TIMEOUT = 60.0
HEADERS = {"User-Agent": f"annuaire/{__version__}"}


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def http_client(timeout: float = TIMEOUT) -> httpx.Client:
    """A client that follows redirects, with timeouts; share one for several downloads."""
    return httpx.Client(follow_redirects=True, timeout=timeout, headers=HEADERS)


def failure(url: str, exc: Exception) -> DownloadError:
    """A `DownloadError` for an httpx exception, in words rather than a traceback."""
    if isinstance(exc, httpx.TimeoutException):
        reason = "the server did not answer in time"
    elif isinstance(exc, httpx.ConnectError):
        reason = f"cannot connect ({exc})"
    elif isinstance(exc, httpx.RemoteProtocolError):
        reason = f"the connection broke off ({exc})"
    elif isinstance(exc, httpx.HTTPStatusError):
        reason = f"the server answered {exc.response.status_code} {exc.response.reason_phrase}"
    else:
        reason = str(exc) or type(exc).__name__
    return DownloadError(f"{url}: download failed: {reason}")


def _stream(client: httpx.Client, url: str, fh) -> None:
    with client.stream("GET", url) as response:
        if response.status_code != 200:
            where = f" (redirected to {response.url})" if str(response.url) != url else ""
            raise DownloadError(
                f"{url}: download failed: the server answered "
                f"{response.status_code} {response.reason_phrase}{where}"
            )
        for chunk in response.iter_bytes(1 << 16):  # decoded if the server used Content-Encoding
            fh.write(chunk)
        expected = response.headers.get("content-length", "")
        # num_bytes_downloaded counts the bytes as sent, which Content-Length describes.
        if expected.isdigit() and response.num_bytes_downloaded != int(expected):
            raise DownloadError(
                f"{url}: download failed: cut short "
                f"({response.num_bytes_downloaded:,} of {int(expected):,} bytes received)"
            )


def fetch(url: str, target: Path, *, client: httpx.Client | None = None, timeout: float = TIMEOUT) -> Path:
    """Download `url` to `target`. The file is written aside and renamed into place only when complete:
    on failure `target` is left as it was and nothing else remains."""
    target = Path(target)
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed below, renamed or removed)
        prefix=f".{target.name}.", suffix=".part", dir=target.parent, delete=False
    )
    temp = Path(handle.name)
    try:
        with handle:
            if client is None:
                with http_client(timeout) as own:
                    _stream(own, url, handle)
            else:
                _stream(client, url, handle)
        os.replace(temp, target)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        temp.unlink(missing_ok=True)
        raise failure(url, exc) from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return target


def download(url: str, folder: Path | None = None, *, timeout: float = TIMEOUT) -> Path:
    """Download `url` into a new temporary file in `folder` (the system's by default) and return its
    path; the caller removes it."""
    fd, name = tempfile.mkstemp(prefix="annuaire-source-", dir=folder)
    os.close(fd)
    path = Path(name)
    try:
        return fetch(url, path, timeout=timeout)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
