"""Client addresses behind a reverse proxy.

The address a request comes from is its TCP peer's, unless that peer is a trusted proxy
(`ANNUAIRE_TRUSTED_PROXIES`: addresses or CIDR networks, comma-separated; none by default): then the
client is the last address of `X-Forwarded-For` that is not itself a trusted proxy, and the scheme
comes from `X-Forwarded-Proto` (uvicorn's ProxyHeadersMiddleware does the reading). Rate limits, the
login limit and the audit log all use that address, so a header sent by anyone else changes nothing.
"""

from __future__ import annotations

from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from ..settings import parse_trusted_proxies  # `ANNUAIRE_TRUSTED_PROXIES`, read with the settings

__all__ = ["ProxyHeadersMiddleware", "parse_trusted_proxies"]
