"""Website settings (from settings.py's): map tiles, the public base URL, where npm put the assets."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from ..settings import OSM_ATTRIBUTION, OSM_TILES, Settings
from ..settings import current as current_settings

SITEMAP_MAX_URLS = 50_000  # the sitemaps.org limit per file


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

    name: str | None = None  # a body or a person
    address: str | None = None
    contact: str | None = None  # an e-mail address or a contact page's URL
    director: str | None = None  # the directeur de la publication
    hosting: str | None = None  # the host's name, address and telephone

    @classmethod
    def from_settings(cls, s: Settings) -> Publisher:
        return cls(
            name=s.publisher_name,
            address=s.publisher_address,
            contact=s.publisher_contact,
            director=s.publication_director,
            hosting=s.hosting_provider,
        )

    @property
    def contact_is_email(self) -> bool:
        return self.contact is not None and "@" in self.contact and not urlsplit(self.contact).netloc


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
    def from_settings(cls, settings: Settings | None = None) -> WebSettings:
        s = settings or current_settings()
        return cls(
            tile_url=s.tile_url,
            tile_attribution=s.tile_attribution,
            site_url=s.site_url,
            node_modules=s.node_modules or find_node_modules(),
            guides_dir=s.guides_dir,
            publisher=Publisher.from_settings(s),
            reference_dir=s.reference_dir,
            allowed_hosts=s.allowed_hosts or None,
        )
