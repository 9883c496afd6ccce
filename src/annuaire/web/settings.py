"""Website settings, from the environment: map tiles, the public base URL, where npm put the assets."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

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
class Publisher:
    """Who publishes the site, for the legal notice (mentions légales); None: "à compléter"."""

    name: str | None = None  # ANNUAIRE_PUBLISHER_NAME: a body or a person
    address: str | None = None  # ANNUAIRE_PUBLISHER_ADDRESS
    contact: str | None = None  # ANNUAIRE_PUBLISHER_CONTACT: an e-mail address or a contact page's URL
    director: str | None = None  # ANNUAIRE_PUBLICATION_DIRECTOR: the directeur de la publication
    hosting: str | None = None  # ANNUAIRE_HOSTING_PROVIDER: the host's name, address and telephone

    @classmethod
    def from_environment(cls) -> Publisher:
        def get(name: str) -> str | None:
            return (os.environ.get(name) or "").strip() or None

        return cls(
            name=get("ANNUAIRE_PUBLISHER_NAME"),
            address=get("ANNUAIRE_PUBLISHER_ADDRESS"),
            contact=get("ANNUAIRE_PUBLISHER_CONTACT"),
            director=get("ANNUAIRE_PUBLICATION_DIRECTOR"),
            hosting=get("ANNUAIRE_HOSTING_PROVIDER"),
        )

    @property
    def contact_is_email(self) -> bool:
        return bool(self.contact) and "@" in self.contact and not urlsplit(self.contact).netloc


@dataclass(frozen=True)
class WebSettings:
    tile_url: str = OSM_TILES
    tile_attribution: str = OSM_ATTRIBUTION
    site_url: str | None = None  # public base URL for sitemaps and canonical links; else the request's
    node_modules: Path | None = None
    sitemap_max_urls: int = SITEMAP_MAX_URLS
    guides_dir: Path | None = None  # the editorial guides' folder; None: those shipped with the package
    publisher: Publisher = field(default_factory=Publisher)
    # Where the département outlines drawn under the maps are (contours.py); None: the build's folder
    reference_dir: Path | None = None
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
            publisher=Publisher.from_environment(),
            reference_dir=Path(os.environ["ANNUAIRE_REFERENCE_DIR"])
            if os.environ.get("ANNUAIRE_REFERENCE_DIR")
            else None,
            allowed_hosts=tuple(h for h in os.environ.get(HOSTS_ENV, "").split(",") if h.strip()) or None,
        )
