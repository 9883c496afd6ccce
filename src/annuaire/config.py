"""Settings read from the environment, with their defaults, in one place."""

from __future__ import annotations

import os
from pathlib import Path

DATAGOUV_URL = "https://www.data.gouv.fr"
LISTE_PUBLIQUE_DATASET = "582c8978c751df788ec0bb7e"
LISTE_PUBLIQUE_RESOURCE = "ac59a0f5-fa83-4b82-bf12-3c5806d4f19f"


def portal_url() -> str:
    """Base URL of the data.gouv.fr API (a local server in tests)."""
    return os.environ.get("ANNUAIRE_PORTAL_URL", DATAGOUV_URL).rstrip("/")


def reference_dir() -> Path | None:
    """Folder holding the reference files, when the user gives one."""
    value = os.environ.get("ANNUAIRE_REFERENCE_DIR")
    return Path(value) if value else None


def mirror_dir() -> Path | None:
    """A local folder mirroring data.gouv.fr files, for offline runs."""
    value = os.environ.get("ANNUAIRE_MIRROR")
    return Path(value) if value else None


def cache_dir() -> Path:
    """ANNUAIRE_CACHE_DIR, else $XDG_CACHE_HOME/annuaire, else ~/.cache/annuaire."""
    if value := os.environ.get("ANNUAIRE_CACHE_DIR"):
        return Path(value)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "annuaire"


def env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    return value not in ("0", "false", "no", "off", "non")


def geocoder_url() -> str | None:
    """The BAN geocoder (an Addok with its CSV plugin); None: the public service."""
    return os.environ.get("ANNUAIRE_GEOCODER_URL") or None
