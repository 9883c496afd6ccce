"""Download a source given as a URL to a local file (streamed, with progress)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import httpx

from ..errors import DownloadError


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def download(url: str, folder: Path | None = None, *, timeout: float = 60.0) -> Path:
    """Fetch `url` into a temporary file in `folder`; the caller removes it. Follows redirects
    (data.gouv.fr's stable URLs answer 302 to the producer's file)."""
    handle = tempfile.NamedTemporaryFile(prefix="annuaire-source-", dir=folder, delete=False)  # noqa: SIM115
    path = Path(handle.name)
    try:
        with handle, httpx.stream("GET", url, follow_redirects=True, timeout=timeout) as response:
            if response.status_code != 200:
                raise DownloadError(
                    f"{url}: the server answered {response.status_code} {response.reason_phrase}"
                )
            expected = response.headers.get("content-length")
            received = 0
            for chunk in response.iter_raw(1 << 16):
                handle.write(chunk)
                received += len(chunk)
            if (
                expected
                and expected.isdigit()
                and int(expected) != received
                and not response.headers.get("content-encoding")
            ):
                raise DownloadError(f"{url}: download cut short ({received} of {expected} bytes)")
    except httpx.HTTPError as exc:
        path.unlink(missing_ok=True)
        raise DownloadError(f"{url}: download failed ({exc})") from None
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path
