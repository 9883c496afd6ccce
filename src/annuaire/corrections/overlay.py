"""Approved corrections applied over what the directory says, when it is read.

The directory's file is rebuilt from the Liste publique by every build and update; corrections live in
their own file and are applied on the way out, so an approved correction outlives them all. The
values published at the source stay visible in the organisation's declarations."""

from __future__ import annotations

from typing import Any

from .fields import FIELDS
from .store import CorrectionStore

EVENT = "correction_verifiee"


def apply_corrections(org: dict[str, Any], approved: list[dict[str, Any]]) -> dict[str, Any]:
    """A copy of `org` (a summary or a full organisation) with its approved corrections applied, the
    most recent decision last so that it wins, listed in `corrections` (field, value, date) and, for a
    full organisation, added to its change log (`historique`) as `correction_verifiee` events."""
    if not approved:
        return org
    out = dict(org)
    latest: dict[str, dict[str, Any]] = {}
    for c in sorted(approved, key=lambda c: (c["decide_le"] or "", c["id"])):
        if c["champ"] not in FIELDS:
            continue
        out[c["champ"]] = c["valeur"]
        if c["champ"] == "siret":
            out["siren"] = c["valeur"][:9]
        latest[c["champ"]] = {
            "champ": c["champ"],
            "libelle": FIELDS[c["champ"]],
            "valeur": c["valeur"],
            "valeur_source": org.get(c["champ"]),
            "date": (c["decide_le"] or "")[:10],
        }
    out["corrections"] = list(latest.values())
    if "historique" in org:
        events = [
            {
                "date": (c["decide_le"] or "")[:10],
                "evenement": EVENT,
                "numero_declaration_activite": None,
                "champs": [c["champ"]],
            }
            for c in approved
            if c["champ"] in FIELDS
        ]
        out["historique"] = sorted([*org["historique"], *events], key=lambda e: e["date"], reverse=True)
    return out


class CorrectedSearcher:
    """A searcher whose organisations and search results carry their approved corrections; every
    other method is the wrapped searcher's."""

    def __init__(self, searcher, store: CorrectionStore):
        self.searcher = searcher
        self.store = store

    def __getattr__(self, name: str):
        return getattr(self.searcher, name)

    def organisation(self, key: str) -> dict[str, Any] | None:
        org = self.searcher.organisation(key)
        if org is None:
            return None
        found = self.store.approved_for([(org["id_organisme"], org.get("numero_declaration_activite"))])
        return apply_corrections(org, found.get(org["id_organisme"], []))

    def search(self, query) -> dict[str, Any]:
        results = self.searcher.search(query)
        rows = results.get("resultats") or []
        found = self.store.approved_for(
            [(r["id_organisme"], r.get("numero_declaration_activite")) for r in rows]
        )
        if found:
            results = dict(results)
            results["resultats"] = [apply_corrections(r, found.get(r["id_organisme"], [])) for r in rows]
        return results
