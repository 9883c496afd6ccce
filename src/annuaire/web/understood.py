"""What the search page says it understood from the search box (the API's `interpretation`):
removable chips ("Langues vivantes ×", "Lyon ×"), the corrected spelling with a link to the words
as typed, the words set aside, the other places of the same name, and what to try when nothing is
found. Links keep the page's other parameters; removing a chip rewrites `q` without its words."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from . import text


def search_link(current: list[tuple[str, str]], **changes: str | None) -> str:
    """This search with some parameters replaced (None or "": removed)."""
    kept = [(k, v) for k, v in current if k not in changes]
    kept += [(k, v) for k, v in changes.items() if v]
    return "/recherche" + ("?" + urlencode(kept) if kept else "")


def chip_label(kind: str, part: dict[str, Any]) -> str:
    if kind == "specialite":
        return part["libelle_court"]
    if kind == "portee":
        return f"Qualiopi · {text.SCOPE_SHORT.get(part['portee'], part['portee'])}"
    if kind == "certifie":
        return "Certifiés Qualiopi"
    return text.nice_name(part["libelle"])


def understood_view(interpretation: dict | None, current: list[tuple[str, str]]) -> dict[str, Any] | None:
    """What the page shows of an interpretation; None when there is nothing to say (no text, an
    identifier)."""
    if not interpretation or interpretation["lecture"] == "identifiant":
        return None
    chips = []
    for kind, parts in (
        ("specialite", interpretation["specialites"]),
        ("portee", interpretation["portees"]),
        ("certifie", [interpretation["certifie"]] if interpretation["certifie"] else []),
        ("lieu", [interpretation["lieu"]] if interpretation["lieu"] else []),
    ):
        for part in parts:
            chips.append((chip_label(kind, part), search_link(current, q=part["sans"], page=None), kind))
    place = interpretation["lieu"]
    return {
        "chips": chips,
        "corrected": interpretation["texte_corrige"],
        "typed": interpretation["texte"],
        "exact_link": search_link(current, correction="non", page=None),
        "ignored": interpretation["mots_ignores"],
        "name_words": interpretation["mots_nom"] if chips else None,
        "others": [
            (text.nice_name(o["libelle"]), search_link(current, q=o["q"], page=None)) for o in place["autres"]
        ]
        if place
        else [],
    }


def empty_hints(form: dict[str, Any]) -> str:
    """What a search that found nothing may loosen, in words: only what it has."""
    hints = []
    if form.get("portee") or form.get("departement") or form.get("specialite") or form.get("certifie"):
        hints.append("moins de filtres")
    if form.get("autour") or form.get("lat"):
        hints.append("un rayon plus grand")
    if form.get("q"):
        hints.append("d'autres mots")
    if len(hints) <= 1:
        return "".join(hints)
    return ", ".join(hints[:-1]) + " ou " + hints[-1]


def suggestion_links(suggestions: list[dict], current: list[tuple[str, str]]) -> list[tuple[str, str, int]]:
    return [(s["texte"], search_link(current, q=s["q"], page=None), s["total"]) for s in suggestions]
