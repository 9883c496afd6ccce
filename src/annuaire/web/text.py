"""Words shown on the pages: names in a readable case, dates and numbers in French, scope labels,
and a short description generated from each organisation's fields so that no two pages read alike."""

from __future__ import annotations

from datetime import date
from typing import Any

from ..fields import SCOPES, scope_flag

SCOPE_LABELS = {s.code: s.words for s in SCOPES}  # within a sentence
SCOPE_SHORT = {s.code: s.short for s in SCOPES}
MONTHS = "janvier février mars avril mai juin juillet août septembre octobre novembre décembre".split()  # noqa: SIM905
_SMALL_WORDS = frozenset("de des du la le les l d sur sous en et aux au lès".split())  # noqa: SIM905
STALE_AFTER_DAYS = 183  # about six months


def nice_name(name: str | None) -> str:
    """A place name published in capitals, in a readable case: "ST MARTIN DE RE" → "St Martin de Re"."""
    if not name:
        return ""
    if not name.isupper():
        return name
    words = name.lower().split()
    return " ".join(
        w if (i and w in _SMALL_WORDS) else "-".join(p[:1].upper() + p[1:] for p in w.split("-"))
        for i, w in enumerate(words)
    )


# Fields of the provenance table (pipeline/reconcile.py), as the organisation page names them.
FIELD_LABELS = {
    "denomination": "Dénomination",
    "siret": "SIRET",
    "nda": "Numéro de déclaration (NDA)",
    "certificateur": "Certificateur ou réseau",
    "qualiopi": "Certifié Qualiopi",
    "portees": "Portées Qualiopi",
    "date_certification": "Date de certification",
    "date_expiration": "Date d'expiration",
    "referencable": "Référençable",
    "etat_administratif": "État administratif",
}


def provenance_value(field: str, value: str) -> str:
    """A provenance value as the page shows it: scopes by their names, dates in French."""
    if field == "portees":
        return ", ".join(SCOPE_SHORT.get(code, code) for code in value.split(","))
    if field.startswith("date_"):
        return french_date(value) or value
    return value


def french_date(value: str | None) -> str:
    """ISO date → "3 mars 2025" ("1er" for the first of the month); empty when unknown."""
    if not value:
        return ""
    try:
        d = date.fromisoformat(value[:10])
    except ValueError:
        return value
    day = "1er" if d.day == 1 else str(d.day)
    return f"{day} {MONTHS[d.month - 1]} {d.year}"


def number(value: int | float | None) -> str:
    """French thousands separator (narrow no-break space): 12 345."""
    if value is None:
        return "–"
    return f"{value:,}".replace(",", "\u202f")


def decimal(value: float | None, places: int = 2) -> str:
    """A figure with a decimal comma and French thousands: 1234.5 → "1 234,50"; "–" when unknown."""
    if value is None:
        return "–"
    return f"{value:,.{places}f}".replace(",", "\u202f").replace(".", ",")


def signed(value: int) -> str:
    """A change with its sign: "+12", "−3" (a true minus sign), "0"."""
    return f"+{number(value)}" if value > 0 else f"\u2212{number(-value)}" if value < 0 else "0"


def is_stale(value: str | None, today: date) -> bool:
    """True when the last declaration is older than about six months, or unknown."""
    if not value:
        return True
    try:
        return (today - date.fromisoformat(value[:10])).days > STALE_AFTER_DAYS
    except ValueError:
        return True


def scopes_of(org: dict[str, Any]) -> list[str]:
    return [s for s in SCOPE_LABELS if org.get(scope_flag(s))]


def join_words(items: list[str]) -> str:
    """ "a", "a et b", "a, b et c"."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " et " + items[-1]


def plural(n: int, one: str, many: str, none: str | None = None) -> str:
    """ "1 organisme", "12 organismes"; `none` for zero when given ("Aucun organisme")."""
    if n == 0 and none is not None:
        return none
    return f"{number(n)} {one if n < 2 else many}"


def describe(org: dict[str, Any]) -> str:
    """Two or three sentences from the organisation's own fields: where it is, what it is certified
    for, what it teaches and how much it trained, when it last declared."""
    name = org["denomination"]
    place = nice_name(org.get("commune"))
    where = f" à {place}" if place else ""
    if org.get("departement") and place:
        where += f" ({org['departement']})"
    scopes = scopes_of(org)
    if scopes:
        first = (
            f"{name} est un organisme de formation{where}, certifié Qualiopi pour "
            f"{join_words([SCOPE_LABELS[s] for s in scopes])}."
        )
    else:
        first = f"{name} est un organisme de formation déclaré{where}, sans certification Qualiopi publiée."
    sentences = [first]
    labels = [s["libelle"] for s in org.get("specialites", []) if s.get("libelle")]
    if labels:
        kind = "Sa spécialité" if len(labels) == 1 else "Ses spécialités"
        sentences.append(f"{kind} : {join_words([label.lower() for label in labels[:3]])}.")
    # The most recent declaration's figures (the search layer's `activity`), never a sum over NDAs.
    trainees = org.get("nb_stagiaires") or 0
    trainers = org.get("effectif_formateurs") or 0
    if trainees or trainers:
        parts = []
        if trainees:
            parts.append(plural(trainees, "stagiaire", "stagiaires"))
        if trainers:
            parts.append(plural(trainers, "formateur", "formateurs"))
        sentences.append(f"Dernier exercice déclaré : {join_words(parts)}.")
    if org.get("date_derniere_declaration"):
        sentences.append(f"Déclaration mise à jour le {french_date(org['date_derniere_declaration'])}.")
    return " ".join(sentences)


def meta_description(org: dict[str, Any]) -> str:
    """The page's meta description: the generated description, cut at a word under 160 characters."""
    text = describe(org)
    if len(text) <= 160:
        return text
    return text[:157].rsplit(" ", 1)[0] + "…"
