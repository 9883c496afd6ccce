"""What changed between two snapshots, declaration by declaration (NDA), in words people use.

Pure functions. A declaration's significant fields fall in groups (`GROUPS`); a declaration is
modified when a group's values differ once cleaned and compared as people read them:
- names and streets folded (case, accents, punctuation); a name's complement after a `;` (some
  exports append one) is not part of the name;
- an address is its street, postal code and foreign part: the city as typed is often misspelt or
  wrong (the postal code decides the commune), so a new spelling of it is a correction;
- a declaration figure or date that was unknown (empty or impossible) and is now given is a
  completion, not a change; scopes are compared as they are (blank to true is a new scope).
Other differences (a SIRET filled in, a city's spelling, a name's case) are corrections: the new
version is stored and reported apart (`corrected`), it is not a modification. Row order and
record numbers are not changes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..clean.names import fold
from ..clean.record import Declaration

# Group → the declaration fields it holds (names of the `declarations` table's columns).
GROUPS: dict[str, tuple[str, ...]] = {
    "denomination": ("denomination",),
    "adresse": ("voie", "code_postal", "etranger"),
    "certifications": (
        "certification_actions_formation",
        "certification_bilans_competences",
        "certification_vae",
        "certification_apprentissage",
    ),
    "declaration": (
        "date_derniere_declaration",
        "debut_exercice",
        "fin_exercice",
        "nb_stagiaires",
        "nb_stagiaires_confies",
        "effectif_formateurs",
        "specialites",
    ),
}
ADDRESS_GROUP = "adresse"
FOLDED = frozenset(["denomination", "voie", "etranger"])
COMPLETED = frozenset(GROUPS["declaration"])  # unknown → known is a completion
# Compared exactly to tell a correction from no change at all.
EXACT = (
    "denomination",
    "siret",
    "siret_brut",
    "siren",
    "ndas_precedents",
    "voie",
    "ville",
    "code_postal",
    "code_commune_insee",
    *GROUPS["declaration"],
)


def raw_fingerprint(raw: Iterable[str]) -> str:
    """A short hash of a record exactly as read: equal fingerprints, nothing to clean again."""
    return hashlib.blake2b("\x1f".join(raw).encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


def declaration_values(d: Declaration) -> dict[str, Any]:
    """A cleaned declaration's significant fields, keyed like the `declarations` table."""
    c = d.certifications
    return {
        "denomination": d.denomination,
        "siret": d.siret,
        "siret_brut": d.siret_brut,
        "siren": d.siren,
        "ndas_precedents": sorted(d.ndas_precedents),
        "voie": d.voie,
        "code_postal": d.code_postal,
        "ville": d.ville,
        "code_commune_insee": d.code_commune_insee,
        "etranger": list(d.etranger),
        "certification_actions_formation": None if c[0] is None else int(c[0]),
        "certification_bilans_competences": None if c[1] is None else int(c[1]),
        "certification_vae": None if c[2] is None else int(c[2]),
        "certification_apprentissage": None if c[3] is None else int(c[3]),
        "date_derniere_declaration": d.date_derniere_declaration,
        "debut_exercice": d.debut_exercice,
        "fin_exercice": d.fin_exercice,
        "nb_stagiaires": d.nb_stagiaires,
        "nb_stagiaires_confies": d.nb_stagiaires_confies,
        "effectif_formateurs": d.effectif_formateurs,
        "specialites": [code or label for code, label in d.specialites],
    }


def _normal(value: Any) -> Any:
    """Empty strings and None compare equal; lists compare as lists."""
    if value == "":
        return None
    if isinstance(value, tuple):
        return [_normal(v) for v in value]
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def _significant(name: str, value: Any) -> Any:
    value = _normal(value)
    if name == "denomination" and value is not None:
        value = value.split(";")[0]
    if name in FOLDED and value is not None:
        return [fold(v or "") for v in value] if isinstance(value, list) else fold(value)
    return value


def _differs(name: str, old: Any, new: Any) -> bool:
    before, after = _significant(name, old), _significant(name, new)
    if name in COMPLETED and before in (None, []):
        return False
    return before != after


def changed_groups(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The groups whose significant values differ between two versions of a declaration."""
    return [
        group for group, names in GROUPS.items() if any(_differs(n, old.get(n), new.get(n)) for n in names)
    ]


def scope_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The Qualiopi scopes a declaration gained (`+vae`) or lost (`-vae`), for the change log: a scope
    is held when its flag is true (false or blank: not held)."""
    changes = []
    for name in GROUPS["certifications"]:
        before, after = bool(_normal(old.get(name))), bool(_normal(new.get(name)))
        if before != after:
            changes.append(("+" if after else "-") + name.removeprefix("certification_"))
    return changes


def corrected_fields(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Fields whose published value differs although no significant group does (repairs upstream)."""
    return [n for n in EXACT if _normal(old.get(n)) != _normal(new.get(n))]


@dataclass
class Diff:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    modified: dict[str, list[str]] = field(default_factory=dict)  # NDA → changed groups
    scopes: dict[str, list[str]] = field(default_factory=dict)  # NDA → scopes gained/lost (+vae, -vae)
    corrected: dict[str, list[str]] = field(default_factory=dict)  # NDA → fields corrected, not modified
    unchanged: int = 0

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.modified or self.corrected)

    def as_report(self) -> dict[str, Any]:
        return {
            "added": sorted(self.added),
            "removed": sorted(self.removed),
            "modified": dict(sorted(self.modified.items())),
            "corrected": dict(sorted(self.corrected.items())),
            "counts": {
                "added": len(self.added),
                "removed": len(self.removed),
                "modified": len(self.modified),
                "corrected": len(self.corrected),
                "unchanged": self.unchanged,
            },
        }
