"""Client addresses behind a reverse proxy.

The address a request comes from is its TCP peer's, unless that peer is a trusted proxy
(`ANNUAIRE_TRUSTED_PROXIES`: addresses or CIDR networks, comma-separated; none by default): then the
client is the last address of `X-Forwarded-For` that is not itself a trusted proxy, and the scheme
comes from `X-Forwarded-Proto` (uvicorn's ProxyHeadersMiddleware does the reading). Rate limits, the
login limit and the audit log all use that address, so a header sent by anyone else changes nothing.
"""

from __future__ import annotations

import ipaddress
import os

from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

ENVIRONMENT = "ANNUAIRE_TRUSTED_PROXIES"

__all__ = [
    "ENVIRONMENT",
    "ProxyHeadersMiddleware",
    "parse_trusted_proxies",
    "trusted_proxies_from_environment",
]


def parse_trusted_proxies(value: str) -> tuple[str, ...]:
    """`10.0.0.1, 192.168.0.0/16, ::1` → its items, each checked; ValueError names a wrong one."""
    items = tuple(item.strip() for item in value.split(",") if item.strip())
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


def trusted_proxies_from_environment() -> tuple[str, ...]:
    return parse_trusted_proxies(os.environ.get(ENVIRONMENT, ""))
