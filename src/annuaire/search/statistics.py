"""The figures of the statistics page (`/statistiques`, `/api/v1/statistiques` and its CSV files),
computed from what a searcher reads, with pure functions:

- per département, the Qualiopi-certified active organisations per 10,000 inhabitants, the population
  being the COG's (the sum of its communes', Paris, Lyon and Marseille counted once as cities), and
  the class each falls in for the map: quintiles of the départements' rates (`classes`);
- per Qualiopi scope, the active organisations and declarations holding it, and what the last update
  changed (`scope_changes`, from the change log `historique`): declarations added or removed holding
  the scope, declarations that gained or lost it.

The change log is kept per declaration (NDA), so the changes are counted in declarations: the active
declarations holding a scope after the update, less those before, is the balance (`solde`)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..fields import SCOPES

PER_INHABITANTS = 10_000
CLASSES = 5  # quintiles: a sequential palette of five tints reads well and prints well
SCOPE_CODES = tuple(scope.code for scope in SCOPES)
EVENTS = ("ajout", "modification", "suppression")  # the change log's events about declarations
# What a scope's change is called: a declaration added holding it, one that gained it, one removed
# that held it, one that lost it.
CHANGES = ("declarations_ajoutees", "portee_obtenue", "declarations_retirees", "portee_retiree")


def rate(certified: int, population: int | None) -> float | None:
    """Certified organisations per 10,000 inhabitants, to two decimals (the figure every output
    shows); None without a population."""
    if not population:
        return None
    return round(certified * PER_INHABITANTS / population, 2)


def quantile_breaks(values: Iterable[float], classes: int = CLASSES) -> list[float]:
    """The lowest value of each class after the first: the values splitting the sorted values into
    `classes` groups of (nearly) equal size. Equal values stay in one class, so there may be fewer."""
    ordered = sorted(values)
    if not ordered:
        return []
    breaks: list[float] = []
    for i in range(1, classes):
        value = ordered[i * len(ordered) // classes]
        if value > ordered[0] and (not breaks or value > breaks[-1]):
            breaks.append(value)
    return breaks


def class_of(value: float | None, breaks: Sequence[float]) -> int | None:
    """1 for the lowest class; None for an unknown value."""
    return None if value is None else _class(value, breaks)


def _class(value: float, breaks: Sequence[float]) -> int:
    return 1 + sum(value >= b for b in breaks)


def classes(values: Sequence[float | None], breaks: Sequence[float]) -> list[dict[str, Any]]:
    """Each class with the lowest and highest value it holds and how many it holds."""
    found: dict[int, list[float]] = {}
    for value in values:
        if value is not None:
            found.setdefault(_class(value, breaks), []).append(value)
    return [
        {"classe": k, "minimum": min(found[k]), "maximum": max(found[k]), "nb_departements": len(found[k])}
        for k in sorted(found)
    ]


def departement_figures(
    departements: Sequence[Mapping[str, Any]], populations: Mapping[str, int | None]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Each département (the searcher's `departements()`) with its population, its certified
    organisations per 10,000 inhabitants and its class; and the classes."""
    rows = []
    for d in departements:
        population = populations.get(d["code"]) or None
        rows.append(
            {
                "code": d["code"],
                "nom": d["nom"],
                "type_liaison": d.get("type_liaison"),
                "code_region": d.get("code_region"),
                "population": population,
                "nb_organismes": d["nb_organismes"],
                "nb_certifies": d["nb_certifies"],
                "certifies_pour_10000": rate(d["nb_certifies"], population),
            }
        )
    rates = [r["certifies_pour_10000"] for r in rows]
    breaks = quantile_breaks(r for r in rates if r is not None)
    for row in rows:
        row["classe"] = class_of(row["certifies_pour_10000"], breaks)
    return rows, classes(rates, breaks)


def scope_changes(
    events: Iterable[tuple[str, str, str | None]], declarations: Mapping[str, tuple[bool, frozenset[str]]]
) -> dict[str, dict[str, int]]:
    """Per scope, how many declarations an update's events changed, by kind (`CHANGES`).

    `events`: (NDA, event, fields as JSON) of the update, in the order written; `declarations`: each
    of their NDAs' state now (active or not, the scopes its row holds). The state before the update
    is found by undoing the events from the last: an `ajout` had no declaration before, a
    `suppression` had the one whose flags the row keeps, a `modification`'s `+vae` did not hold VAE
    before and its `-vae` did. Several updates the same day count as one."""
    per_nda: dict[str, list[tuple[str, Any]]] = {}
    for nda, event, fields in events:
        try:
            tokens = json.loads(fields) if fields else []
        except ValueError:
            tokens = []
        per_nda.setdefault(nda, []).append((event, tokens if isinstance(tokens, list) else []))
    counts = {code: dict.fromkeys(CHANGES, 0) for code in SCOPE_CODES}
    for nda, undone in per_nda.items():
        if nda not in declarations:
            continue
        active, held = declarations[nda]
        after: frozenset[str] | None = held if active else None
        before = after
        for event, tokens in reversed(undone):
            if event == "ajout":
                before = None
            elif event == "suppression":
                before = held
            elif event == "modification":
                scopes = set(before or ())
                for token in tokens:
                    if isinstance(token, str) and token[1:] in SCOPE_CODES:
                        (scopes.discard if token[0] == "+" else scopes.add)(token[1:])
                before = frozenset(scopes)
        for code in SCOPE_CODES:
            was = before is not None and code in before
            now = after is not None and code in after
            if now and not was:
                counts[code]["declarations_ajoutees" if before is None else "portee_obtenue"] += 1
            elif was and not now:
                counts[code]["declarations_retirees" if after is None else "portee_retiree"] += 1
    return counts


def scope_figures(
    organisations: Mapping[str, int],
    declarations: Mapping[str, int],
    changes: Mapping[str, Mapping[str, int]] | None,
) -> list[dict[str, Any]]:
    """Per scope: organisations and declarations holding it, and the last update's changes (None
    when the directory has had no update that changed a declaration)."""
    rows = []
    for code, label in ((scope.code, scope.label) for scope in SCOPES):
        change = None
        if changes is not None:
            change = {k: changes[code][k] for k in CHANGES}
            change["solde"] = (
                change["declarations_ajoutees"]
                + change["portee_obtenue"]
                - change["declarations_retirees"]
                - change["portee_retiree"]
            )
        rows.append(
            {
                "portee": code,
                "libelle": label,
                "nb_organismes": organisations.get(code, 0),
                "nb_declarations": declarations.get(code, 0),
                "evolution": change,
            }
        )
    return rows


def national(rows: Sequence[Mapping[str, Any]], nb_organismes: int, nb_certifies: int) -> dict[str, Any]:
    """France as a whole: the départements' populations added up, every certified organisation (those
    whose place is not known to the département included: `nb_certifies_sans_departement`)."""
    population = sum(r["population"] or 0 for r in rows) or None
    placed = sum(r["nb_certifies"] for r in rows)
    return {
        "population": population,
        "nb_organismes": nb_organismes,
        "nb_certifies": nb_certifies,
        "nb_certifies_sans_departement": max(0, nb_certifies - placed),
        "certifies_pour_10000": rate(nb_certifies, population),
    }


# The CSV files of the same figures (`/api/v1/statistiques/{name}.csv`): their columns, then rows.
DEPARTEMENT_COLUMNS = (
    "code_departement",
    "nom",
    "code_region",
    "population",
    "nb_organismes",
    "nb_certifies",
    "certifies_pour_10000",
    "classe",
)
SCOPE_COLUMNS = (
    "portee",
    "libelle",
    "nb_organismes",
    "nb_declarations",
    *CHANGES,
    "solde",
    "date_mise_a_jour",
    "date_precedente",
)


def csv_tables(figures: Mapping[str, Any]) -> dict[str, tuple[tuple[str, ...], list[list[Any]]]]:
    """`departements` and `portees`: the columns and rows of each CSV file (a scope's changes empty
    when there has been no update)."""
    evolution = figures.get("evolution") or {}
    departements = [
        [
            r["code"],
            r["nom"],
            r["code_region"],
            r["population"],
            r["nb_organismes"],
            r["nb_certifies"],
            r["certifies_pour_10000"],
            r["classe"],
        ]
        for r in figures["departements"]
    ]
    scopes = [
        [
            p["portee"],
            p["libelle"],
            p["nb_organismes"],
            p["nb_declarations"],
            *[(p["evolution"] or {}).get(k) for k in (*CHANGES, "solde")],
            evolution.get("date"),
            evolution.get("date_precedente"),
        ]
        for p in figures["portees"]
    ]
    return {"departements": (DEPARTEMENT_COLUMNS, departements), "portees": (SCOPE_COLUMNS, scopes)}
