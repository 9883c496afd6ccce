"""De-duplication: declarations of one establishment become one organisation.

Rules, most certain first (precision before recall):
1. declarations that share a valid SIRET are one establishment;
2. a declaration without a valid SIRET joins a SIRET group when its comparison name and postal code
   match exactly one SIRET group's (and, when it has a valid SIREN, that SIREN agrees);
3. declarations without a valid SIRET that share comparison name, postal code and SIREN (or lack of
   one) are one establishment.
Nothing else merges: two different SIRETs are never merged, whatever their names.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class Displayed(Protocol):
    """What choosing the declaration an organisation is shown from reads of one."""

    @property
    def nda(self) -> str: ...
    @property
    def date_derniere_declaration(self) -> str | None: ...
    @property
    def type_adresse(self) -> str: ...
    @property
    def code_commune_insee(self) -> str | None: ...
    @property
    def origine_lieu(self) -> str: ...


class Declared(Displayed, Protocol):
    """What de-duplication reads of a declaration: a cleaned one (clean/record.py's Declaration), or
    one read back from a directory (an update's)."""

    @property
    def siret(self) -> str | None: ...
    @property
    def siren(self) -> str | None: ...
    @property
    def nom_comparaison(self) -> str: ...
    @property
    def code_postal(self) -> str | None: ...


BY_SIRET = "siret"
BY_NAME_POSTCODE = "nom_code_postal"
ALONE = "seul"


@dataclass(slots=True)
class Group:
    members: list[int]  # indices into the declarations, first the displayed one
    siret: str | None
    how: str  # siret, nom_code_postal or seul


def _display_order(d: Displayed) -> tuple[str, bool, bool, int]:
    """Most recent declaration first; then the most complete (its own address gives a commune: a
    place SIRENE gives does not count, so that the order does not depend on SIRENE's answers); then
    the lowest NDA."""
    return (
        d.date_derniere_declaration or "",
        d.type_adresse == "voie",
        d.code_commune_insee is not None and d.origine_lieu == "liste_publique",
        -int(d.nda),
    )


def group_declarations(decls: Sequence[Declared]) -> list[Group]:
    by_siret: dict[str, list[int]] = defaultdict(list)
    orphans: list[int] = []
    for i, d in enumerate(decls):
        if d.siret:
            by_siret[d.siret].append(i)
        else:
            orphans.append(i)

    # Which SIRET groups carry a given (comparison name, postal code)?
    name_cp_to_sirets: dict[tuple[str, str | None], set[str]] = defaultdict(set)
    for siret, members in by_siret.items():
        for i in members:
            d = decls[i]
            if d.nom_comparaison:
                name_cp_to_sirets[(d.nom_comparaison, d.code_postal)].add(siret)

    merged: dict[str, str] = {}  # how each SIRET group was formed
    joined_orphans: dict[tuple, list[int]] = defaultdict(list)
    for i in orphans:
        d = decls[i]
        key = (d.nom_comparaison, d.code_postal)
        candidates = name_cp_to_sirets.get(key, set()) if d.nom_comparaison and d.code_postal else set()
        if d.siren:
            candidates = {s for s in candidates if s[:9] == d.siren}
        if len(candidates) == 1:
            siret = next(iter(candidates))
            by_siret[siret].append(i)
            merged[siret] = BY_NAME_POSTCODE
        elif d.nom_comparaison and d.code_postal and not candidates:
            joined_orphans[(d.nom_comparaison, d.code_postal, d.siren)].append(i)
        else:
            joined_orphans[("", "", d.nda)].append(i)

    groups = []
    for siret, members in by_siret.items():
        if len(members) > 1:
            members.sort(key=lambda i: _display_order(decls[i]), reverse=True)
        how = merged.get(siret, BY_SIRET if len(members) > 1 else ALONE)
        groups.append(Group(members, siret, how))
    for members in joined_orphans.values():
        if len(members) > 1:
            members.sort(key=lambda i: _display_order(decls[i]), reverse=True)
        groups.append(Group(members, None, BY_NAME_POSTCODE if len(members) > 1 else ALONE))
    return groups
