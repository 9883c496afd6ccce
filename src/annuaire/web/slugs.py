"""Clean URLs: slugs for names, and the canonical paths of organisation, commune, département and
région pages. Pure functions: the routes parse what these build."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
MAX_SLUG = 80
DEPARTEMENT = re.compile(r"^(0[1-9]|[1-8][0-9]|9[0-5]|2[ab]|97[1-8]|98[4-9])$", re.IGNORECASE)


def slugify(text: str | None, fallback: str = "organisme") -> str:
    """Lower case ASCII words joined by hyphens: "École d'Été" → "ecole-d-ete"."""
    if not text:
        return fallback
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = _NON_ALNUM.sub("-", ascii_text.lower()).strip("-")
    if len(slug) > MAX_SLUG:
        slug = slug[:MAX_SLUG].rsplit("-", 1)[0]
    return slug or fallback


def departement_segment(code: str) -> str:
    """The département as it appears in URLs: lower case ("2a", "75", "974")."""
    return code.lower()


def commune_slug(name: str | None, code_insee: str) -> str:
    """The commune's name followed by its INSEE code, which alone identifies it: "lyon-09-69389"."""
    return f"{slugify(name, 'commune')}-{code_insee.lower()}"


def commune_code(slug: str) -> str | None:
    """The INSEE code at the end of a commune slug, or None."""
    code = slug.rsplit("-", 1)[-1].upper()
    return code if re.fullmatch(r"[0-9]{5}|2[AB][0-9]{3}", code) else None


def organisation_slug(name: str | None, identifiant: str) -> str:
    """The name followed by the organisation's id (its SIRET, or NDA + its NDA), which alone
    identifies it: a renamed organisation keeps working URLs (they redirect to the new slug)."""
    return f"{slugify(name)}-{identifiant.lower()}"


def organisation_key(slug: str) -> str:
    """The organisation id at the end of a slug ("acme-formation-12345678900011" → "12345678900011")."""
    return slug.rsplit("-", 1)[-1].upper()


def departement_path(code: str) -> str:
    return f"/formation/{departement_segment(code)}/"


def commune_path(code_departement: str, name: str | None, code_insee: str) -> str:
    return f"/formation/{departement_segment(code_departement)}/{commune_slug(name, code_insee)}/"


def region_path(name: str) -> str:
    return f"/region/{slugify(name, 'region')}/"


def organisation_path(org: dict[str, Any]) -> str:
    """Canonical path of an organisation page (a summary or a full record). Without a known
    département and commune, the page lives at /organisme/{id}."""
    identifiant = org["id_organisme"]
    dep, insee = org.get("code_departement"), org.get("code_commune_insee")
    if not dep or not insee:
        return f"/organisme/{identifiant.lower()}"
    return (
        f"/formation/{departement_segment(dep)}/{commune_slug(org.get('commune'), insee)}/"
        f"{organisation_slug(org.get('denomination'), identifiant)}"
    )
