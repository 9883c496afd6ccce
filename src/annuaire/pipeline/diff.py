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

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..clean.names import fold
from ..clean.record import Declaration
from ..fields import FIELDS, SCOPE_CODES, groups

# Group → the declaration fields it holds (names of the `declarations` table's columns), and how each
# is compared: from the fields table (fields.py).
GROUPS: dict[str, tuple[str, ...]] = groups()
ADDRESS_GROUP = "adresse"
FOLDED = frozenset(f.name for f in FIELDS if f.compare == "folded")
COMPLETED = frozenset(f.name for f in FIELDS if f.compare == "completed")  # unknown → known: a completion
# Compared exactly to tell a correction from no change at all.
EXACT = tuple(f.name for f in FIELDS if f.correction)
_COMPARED = [f for f in FIELDS if f.group is not None or f.correction]
_SCOPE_INDEX = {code: i for i, code in enumerate(SCOPE_CODES)}


def declaration_values(d: Declaration) -> dict[str, Any]:
    """A cleaned declaration's significant fields, keyed and valued like the `declarations` table
    (flags as 0/1), its previous NDAs and specialities as lists (as `ndas_precedents` and
    `declaration_specialites` hold them)."""
    out: dict[str, Any] = {}
    for f in _COMPARED:
        if f.scope is not None:
            flag = d.certifications[_SCOPE_INDEX[f.scope]]
            out[f.name] = None if flag is None else int(flag)
        elif f.name == "ndas_precedents":
            out[f.name] = sorted(d.ndas_precedents)
        elif f.name == "specialites":
            out[f.name] = [code or label for code, label in d.specialites]
        else:
            out[f.name] = getattr(d, f.name)
    return out


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
    if old == new:  # most fields of most declarations: nothing to normalise
        return False
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
    return [n for n in EXACT if (a := old.get(n)) != (b := new.get(n)) and _normal(a) != _normal(b)]


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
