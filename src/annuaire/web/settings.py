"""Website settings, from the environment: map tiles, the public base URL, where npm put the assets."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = (
    '&copy; <a href="https://www.openstreetmap.org/copyright">les contributeurs d’OpenStreetMap</a>'
)
SITEMAP_MAX_URLS = 50_000
HOSTS_ENV = "ANNUAIRE_ALLOWED_HOSTS"  # the sitemaps.org limit per file


def find_node_modules() -> Path | None:
    """`node_modules` of the project (`npm ci` at its root), looked for above this package and in the
    current folder."""
    candidates = [*Path(__file__).resolve().parents, Path.cwd()]
    for folder in candidates:
        if (folder / "node_modules" / "leaflet" / "dist" / "leaflet.js").is_file():
            return folder / "node_modules"
    return None


@dataclass(frozen=True)
class WebSettings:
    tile_url: str = OSM_TILES
    tile_attribution: str = OSM_ATTRIBUTION
    site_url: str | None = None  # public base URL for sitemaps and canonical links; else the request's
    node_modules: Path | None = None
    sitemap_max_urls: int = SITEMAP_MAX_URLS
    guides_dir: Path | None = None  # the editorial guides' folder; None: those shipped with the package
    allowed_hosts: tuple[str, ...] | None = None  # Host headers accepted; None: api/middleware's defaults

    @classmethod
    def from_environment(cls) -> WebSettings:
        assets = os.environ.get("ANNUAIRE_NODE_MODULES")
        return cls(
            tile_url=os.environ.get("ANNUAIRE_TILE_URL") or OSM_TILES,
            tile_attribution=os.environ.get("ANNUAIRE_TILE_ATTRIBUTION") or OSM_ATTRIBUTION,
            site_url=(os.environ.get("ANNUAIRE_SITE_URL") or "").rstrip("/") or None,
            node_modules=Path(assets) if assets else find_node_modules(),
            guides_dir=Path(os.environ["ANNUAIRE_GUIDES_DIR"])
            if os.environ.get("ANNUAIRE_GUIDES_DIR")
            else None,
            allowed_hosts=tuple(h for h in os.environ.get(HOSTS_ENV, "").split(",") if h.strip()) or None,
        )
