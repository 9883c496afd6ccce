"""Reconciliation of secondary sources with the Liste publique, with per-field provenance.

Each row of a secondary source is matched to one organisation of the directory, most certain key
first: its SIRET (valid), then its NDA (current or previous; a pre-2015 NDA such as `7487P000187`
cannot be converted and only matches when the Liste publique lists it as written), then its
comparison name (`clean.names.comparison_name`) and postal code when they designate exactly one
organisation. What matches nothing is kept in `correspondances` with the reason.

Conflict rule: the Liste publique is authoritative. A secondary source never changes an
organisation's fields or scopes; what it says is stored beside them (`provenance`: organisation,
field, source, value, date observed) and flagged `conflit` when it contradicts the Liste publique:
- `qualiopi`: the source says certified and the Liste publique lists no scope, or the reverse;
- `portees`: the source names a scope the Liste publique does not list for the organisation;
- `siret`: matched by NDA or name, the source gives another valid SIRET.
Names, certifiers, dates and administrative states are shown, never counted as conflicts.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ..clean.record import Declaration
from ..fields import SCOPE_CODES
from ..sources.extra import LoadedSource
from ..sources.secondary import SecondaryRecord
from .dedup import _display_order as display_order

if TYPE_CHECKING:
    from ..store.base import BuildWriter

LISTE_PUBLIQUE = "liste_publique"
BY_SIRET, BY_NDA, BY_NAME, NONE = "siret", "nda", "nom_code_postal", "aucune"


@dataclass
class Organisation:
    """What reconciliation needs of an organisation, gathered from its declarations."""

    siret: str | None = None
    scopes: frozenset[str] = frozenset()
    denomination: str = ""
    date: str | None = None  # its last declaration's date: when the Liste publique said what it says


@dataclass
class Index:
    organisations: dict[int, Organisation]
    by_siret: dict[str, int]
    by_nda: dict[str, int]
    by_name: dict[tuple[str, str], set[int]]


@dataclass(slots=True)
class Held:
    """What reconciliation reads of a declaration, when it comes from a directory's database rather
    than from the cleaning stage (`annuaire update`): the same attributes as a `Declaration`'s."""

    nda: str
    siret: str | None
    denomination: str
    date_derniere_declaration: str | None
    certifications: tuple[bool, ...]  # in SCOPES order
    ndas_precedents: tuple[str, ...]
    nom_comparaison: str
    code_postal: str | None
    type_adresse: str
    code_commune_insee: str | None
    origine_lieu: str = "liste_publique"  # where the place comes from (clean/places.py)


class Writer(Protocol):
    def write(self, table: str, rows: Iterable[tuple]) -> int: ...


def index_directory(decls: Sequence[Declaration | Held], organisme_of: Sequence[int]) -> Index:
    organisations: dict[int, Organisation] = {}
    by_siret: dict[str, int] = {}
    by_nda: dict[str, int] = {}
    by_name: dict[tuple[str, str], set[int]] = defaultdict(set)
    scopes: dict[int, set[str]] = defaultdict(set)
    shown: dict[int, tuple] = {}  # organisation → display order of the declaration it is shown from
    for d, oid in zip(decls, organisme_of, strict=True):
        org = organisations.get(oid)
        order = display_order(d)
        if org is None:
            org = organisations[oid] = Organisation(
                d.siret, frozenset(), d.denomination, d.date_derniere_declaration
            )
            shown[oid] = order
        else:
            if order > shown[oid]:  # the declaration the directory shows it from (dedup's choice)
                org.date, org.denomination, shown[oid] = d.date_derniere_declaration, d.denomination, order
            org.siret = org.siret or d.siret
        scopes[oid].update(code for code, flag in zip(SCOPE_CODES, d.certifications, strict=True) if flag)
        if d.siret:
            by_siret[d.siret] = oid
        by_nda[d.nda] = oid
        for previous in d.ndas_precedents or ():
            by_nda.setdefault(previous, oid)
        if d.nom_comparaison and d.code_postal:
            by_name[(d.nom_comparaison, d.code_postal)].add(oid)
    for oid, held in scopes.items():
        organisations[oid].scopes = frozenset(held)
    return Index(organisations, by_siret, by_nda, dict(by_name))


def match(record: SecondaryRecord, index: Index) -> tuple[int | None, str, str | None]:
    """(organisation id or None, method, reason when unmatched)."""
    if record.siret and record.siret in index.by_siret:
        return index.by_siret[record.siret], BY_SIRET, None
    if record.nda and record.nda in index.by_nda:
        return index.by_nda[record.nda], BY_NDA, None
    if record.nom_comparaison and record.code_postal:
        found = index.by_name.get((record.nom_comparaison, record.code_postal), ())
        if len(found) == 1:
            return next(iter(found)), BY_NAME, None
        if len(found) > 1:
            return None, NONE, "nom_ambigu"
    if record.nda_ancien:
        return None, NONE, "nda_ancien_format"
    if record.siret or record.nda:
        return None, NONE, "identifiant_inconnu"
    if record.siret_brut or record.nda_brut:
        return None, NONE, "identifiant_invalide"
    return None, NONE, "sans_cle"


def _yes_no(value: bool) -> str:
    return "oui" if value else "non"


def claims(record: SecondaryRecord) -> list[tuple[str, str]]:
    """The fields a record states, as (field, value) text."""
    out = []
    for key in ("denomination", "siret", "certificateur", "date_certification", "date_expiration"):
        if value := getattr(record, key):
            out.append((key, value))
    if record.nda_brut:
        out.append(("nda", record.nda or record.nda_brut))
    if record.qualiopi is not None:
        out.append(("qualiopi", _yes_no(record.qualiopi)))
    if record.portees:
        out.append(("portees", ",".join(record.portees)))
    if record.referencable is not None:
        out.append(("referencable", _yes_no(record.referencable)))
    if record.etat_administratif:
        out.append(("etat_administratif", record.etat_administratif))
    return out


def conflicts(record: SecondaryRecord, org: Organisation) -> set[str]:
    """The fields where the record contradicts the Liste publique (see the module's rule)."""
    out = set()
    if record.qualiopi is not None and record.qualiopi != bool(org.scopes):
        out.add("qualiopi")
    if record.portees and not set(record.portees) <= org.scopes:
        out.add("portees")
    if record.siret and org.siret and record.siret != org.siret:
        out.add("siret")
    return out


def _liste_publique_rows(oid: int, org: Organisation) -> list[tuple]:
    rows = [("denomination", org.denomination), ("qualiopi", _yes_no(bool(org.scopes)))]
    if org.siret:
        rows.append(("siret", org.siret))
    if org.scopes:
        rows.append(("portees", ",".join(c for c in SCOPE_CODES if c in org.scopes)))
    return [(oid, champ, LISTE_PUBLIQUE, value, org.date, 0, None) for champ, value in rows]


def reconcile(
    writer: BuildWriter,
    decls: Sequence[Declaration],
    organisme_of: Sequence[int],
    sources: Sequence[LoadedSource],
) -> dict:
    """Match every source's rows, write `sources_secondaires`, `correspondances` and `provenance`,
    and return the report's `sources_secondaires` section."""
    return reconcile_index(writer, index_directory(decls, organisme_of), sources)


def reconcile_index(writer: Writer, index: Index, sources: Sequence[LoadedSource]) -> dict:
    """`reconcile` against a directory already indexed (an update reads its index from the database)."""
    matched_orgs: set[int] = set()
    report: dict = {"sources": {}, "by_status": dict(Counter(s.status for s in sources))}
    described = []
    for source in sources:
        links = []
        provenance: list[tuple[Any, ...]] = []
        methods: Counter = Counter()
        reasons: Counter = Counter()
        conflict_counts: Counter = Counter()
        organisations: set[int] = set()
        for rec in source.records:
            oid, method, reason = match(rec, index)
            methods[method] += 1
            if reason:
                reasons[reason] += 1
            links.append(
                (
                    source.name,
                    rec.line,
                    oid,
                    method,
                    reason,
                    rec.siret or rec.siret_brut or None,
                    rec.nda or rec.nda_brut or None,
                    rec.denomination,
                )
            )
            if oid is None:
                continue
            organisations.add(oid)
            disputed = conflicts(rec, index.organisations[oid])
            conflict_counts.update(disputed)
            date = rec.date_observation or source.observed_at
            provenance.extend(
                (oid, champ, source.name, value, date, int(champ in disputed), rec.line)
                for champ, value in claims(rec)
            )
        writer.write("correspondances", links)
        writer.write("provenance", provenance)
        matched_orgs |= organisations
        rows = len(source.records)
        found = rows - methods[NONE]
        described.append(
            (
                source.name,
                source.label,
                source.location,
                source.format,
                source.status,
                source.observed_at,
                source.sha256,
                rows,
                found,
                source.error,
            )
        )
        report["sources"][source.name] = {
            "status": source.status,
            "location": source.location,
            "format": source.format,
            "observed_at": source.observed_at,
            "error": source.error,
            "rows": rows,
            "matched": found,
            "match_rate": round(found / rows, 4) if rows else None,
            "by_method": {m: methods[m] for m in (BY_SIRET, BY_NDA, BY_NAME, NONE)},
            "unmatched_reasons": dict(sorted(reasons.items())),
            "organisations_matched": len(organisations),
            "conflicts": dict(sorted(conflict_counts.items())),
            "rows_with_issues": dict(sorted(Counter(i for r in source.records for i in r.issues).items())),
        }
    writer.write("sources_secondaires", described)
    writer.write(
        "provenance",
        (row for oid in sorted(matched_orgs) for row in _liste_publique_rows(oid, index.organisations[oid])),
    )
    report["organisations_with_secondary_data"] = len(matched_orgs)
    report["directory_coverage"] = (
        round(len(matched_orgs) / len(index.organisations), 4) if index.organisations else None
    )
    report["conflicts"] = sum(sum(s["conflicts"].values()) for s in report["sources"].values())
    report["unavailable"] = sorted(s.name for s in sources if s.status != "frais")
    return report
