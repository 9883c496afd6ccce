"""The sitemap: an index at /sitemap.xml pointing to files of at most 50,000 URLs each
(sitemaps.org protocol): home, régions, départements, communes, then every active organisation."""

from __future__ import annotations

import math
from typing import Any
from xml.sax.saxutils import escape

from ..search import Searcher
from .slugs import commune_path, departement_path, organisation_path, region_path

NAMESPACE = "http://www.sitemaps.org/schemas/sitemap/0.9"
DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'


def site_paths(searcher: Searcher) -> list[tuple[str, str | None]]:
    """(path, last modification date or None) of every page worth indexing, territories first."""
    paths: list[tuple[str, str | None]] = [("/", None)]
    paths += [("/donnees/", None), ("/sources", None), ("/qualite", None)]  # the data about the data
    paths += [("/statistiques", None)]
    paths += [("/mentions-legales", None), ("/accessibilite", None), ("/donnees-personnelles", None)]
    paths += [(region_path(r["nom"]), None) for r in searcher.regions() if r["nb_organismes"]]
    paths += [(departement_path(d["code"]), None) for d in searcher.departements() if d["nb_organismes"]]
    communes: dict[str, tuple[str, str | None]] = {}
    organisations = []
    for identifiant, name, dep, insee, commune, declared in searcher.sitemap_entries():
        if dep and insee:
            communes.setdefault(insee, (dep, commune))
        org = {
            "id_organisme": identifiant,
            "denomination": name,
            "code_departement": dep,
            "code_commune_insee": insee,
            "commune": commune,
        }
        organisations.append((organisation_path(org), declared))
    places = searcher.gazetteer()
    for insee in list(communes):  # Paris, Lyon and Marseille: the city's page beside its arrondissements'
        city = places.commune(places.city_of(insee))
        if city is not None and city.code_departement:
            communes.setdefault(city.code, (city.code_departement, city.nom))
    paths += [(commune_path(dep, name, insee), None) for insee, (dep, name) in sorted(communes.items())]
    return paths + organisations


def file_count(total: int, per_file: int) -> int:
    return max(1, math.ceil(total / per_file))


def index_xml(base: str, files: int, lastmod: str | None) -> str:
    stamp = f"<lastmod>{escape(lastmod)}</lastmod>" if lastmod else ""
    entries = "".join(
        f"<sitemap><loc>{escape(base)}/sitemaps/{n}.xml</loc>{stamp}</sitemap>" for n in range(1, files + 1)
    )
    return f'{DECLARATION}<sitemapindex xmlns="{NAMESPACE}">{entries}</sitemapindex>\n'


def urlset_xml(base: str, paths: list[tuple[str, Any]]) -> str:
    lines = []
    for path, lastmod in paths:
        stamp = f"<lastmod>{escape(lastmod)}</lastmod>" if lastmod else ""
        lines.append(f"<url><loc>{escape(base + path)}</loc>{stamp}</url>")
    return f'{DECLARATION}<urlset xmlns="{NAMESPACE}">\n' + "\n".join(lines) + "\n</urlset>\n"


def robots_txt(base: str) -> str:
    return (
        "User-agent: *\n"
        "Disallow: /api/\n"
        "Disallow: /recherche\n"
        "Disallow: /suggestions\n"
        "Disallow: /organismes/\n"
        "Disallow: /admin/\n"
        f"Sitemap: {base}/sitemap.xml\n"
    )
