"""`annuaire update`: apply a new snapshot of the Liste publique to an existing directory.

Only what changed is worked on:
- records whose fingerprint (hash of the fields as read) is known are unchanged and not cleaned again;
- the others are cleaned; compared by NDA with the directory they are added, modified (the groups of
  fields that changed are named) or, when a known NDA is missing from the snapshot, removed: soft-deleted,
  kept with status `supprime` and the date in the change log;
- addresses are geocoded only for added declarations and changed addresses;
- organisations are regrouped over the active declarations, and only those whose members changed are
  rewritten, with their full-text, spatial and search rows.

The store applies the changes (store/base.py's UpdateSession): SQLite writes them into a copy of the
file renamed over it, PostgreSQL in one transaction on the live schema. Either way readers see the old
directory or the new one, and a crash or a kill at any point leaves the old one in place. The store's
lock stops two runs (update or build) at once; a second run with the same snapshot changes nothing.
No SQL here: this module is the algorithm, the same on both backends.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..clean.places import PlaceBook, place_declarations
from ..clean.record import EXACT_DUPLICATE, NDA_DUPLICATE, Declaration, RecordCleaner, Rejected, settle_twice
from ..errors import AnnuaireError, DirectoryMissing
from ..memory import gc_paused
from ..sources.download import download, is_url
from ..sources.extra import ExtraSource, LoadedSource, check_names, load_sources
from ..sources.reader import KnownRecord, ListePubliqueReader, Record, record_fingerprint
from ..sources.reference import Reference
from .build import line_accounts
from .cleaning import clean_records, jobs_for
from .dedup import group_declarations
from .diff import (
    ADDRESS_GROUP,
    Diff,
    changed_groups,
    corrected_fields,
    declaration_values,
    scope_changes,
)
from .geocode import GeocodeSettings, addresses_from, declaration_addresses, geocode
from .guard import Guard, PartialSource, refusal_message
from .load import declaration_row, organisation_identifier
from .reconcile import Held, Index, index_directory, reconcile_index
from .sirene import Answers, answer_row, answers_for, row_answer

if TYPE_CHECKING:
    from ..store.base import Member, Store, UpdateSession, UpdateWriter

log = logging.getLogger("annuaire.update")


class UpdateError(AnnuaireError):
    """The directory to update was built without what updates need."""


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


# -- reading: clean only what is new -------------------------------------------------------------


@dataclass
class Reading:
    unchanged: set[str]  # NDAs whose record is byte for byte the one already in the directory
    cleaned: dict[str, Declaration]  # NDA → declaration cleaned from a new or changed record
    rejected: list[Rejected]
    records: int
    counts: Counter
    lines: dict  # where each physical line of the file went (build.line_accounts)


def read_changes(
    reader: ListePubliqueReader,
    reference: Reference,
    known: dict[str, str],
    active: dict[str, str | None],
    jobs: int | None = None,
) -> Reading:
    """`known`: fingerprint → NDA of the directory's active declarations; `active`: NDA → date of
    last declaration (to settle an NDA declared twice, as a build does: the most recent wins).

    The records whose fingerprint is unknown are cleaned while the file is read, by `jobs`
    processes (pipeline/cleaning.py; default: as a build of this file would); what depends on
    order is then settled in record order, as if each record had been cleaned as it was read."""
    counts: Counter = Counter()
    cleaner = RecordCleaner(reference.communes, counts)
    held: list[tuple[Record | KnownRecord, str] | None] = []  # per record: (record, NDA) when known

    def new_records() -> Iterator[Record]:
        for record in reader.records(known):
            if type(record) is KnownRecord:
                held.append((record, record.known))
                continue
            assert type(record) is Record
            nda = known.get(record_fingerprint(record.raw))  # a record with quotes, or spanning lines
            if nda is None:
                held.append(None)
                yield record
            else:
                held.append((record, nda))

    results = list(
        clean_records(new_records(), cleaner, counts, jobs_for(reader.size) if jobs is None else jobs)
    )
    unchanged: dict[str, Record | KnownRecord] = {}  # NDA → the record of it the directory holds
    cleaned: dict[str, Declaration] = {}
    rejected: list[Rejected] = []
    fresh = iter(results)
    for entry in held:
        if entry is None:
            out = next(fresh)
        else:
            record, nda = entry
            if nda not in cleaned:
                if nda in unchanged:
                    first = unchanged[nda].number
                    rejected.append(
                        Rejected(
                            record.number,
                            record.line,
                            nda,
                            EXACT_DUPLICATE,
                            f"same as record {first}",
                            record.raw,
                        )
                    )
                else:
                    unchanged[nda] = record  # its fields are read only if the NDA comes again
                continue
            # The NDA was read anew with other content before: this record is cleaned too.
            out = cleaner.clean_record(reader.record(record) if isinstance(record, KnownRecord) else record)
        if isinstance(out, Rejected):
            rejected.append(out)
            continue
        if out.nda in unchanged:  # the NDA again, with other content than the directory's
            stored = unchanged[out.nda]
            raw = stored.raw
            if out.raw == raw:
                rejected.append(
                    Rejected(out.enregistrement, out.ligne, out.nda, EXACT_DUPLICATE, "", out.raw)
                )
            elif (out.date_derniere_declaration or "") > (active.get(out.nda) or ""):
                del unchanged[out.nda]
                cleaned[out.nda] = out
                # The directory's record read first gives way: quarantined under its own number and line.
                rejected.append(_nda_twice(stored.number, stored.line, out.nda, raw, out.enregistrement))
            else:
                rejected.append(_nda_twice(out.enregistrement, out.ligne, out.nda, out.raw, stored.number))
            continue
        kept = cleaned.get(out.nda)
        if kept is None:
            cleaned[out.nda] = out
        else:
            cleaned[out.nda], quarantined = settle_twice(kept, out)
            rejected.append(quarantined)
    counts.update(reader.repairs)
    numbers = [entry.number for entry in unchanged.values()] + [d.enregistrement for d in cleaned.values()]
    lines = line_accounts(reader, numbers, rejected)
    return Reading(set(unchanged), cleaned, rejected, reader.records_read, counts, lines)


def _nda_twice(number: int, line: int, nda: str, raw: list[str], kept: int) -> Rejected:
    return Rejected(
        number,
        line,
        nda,
        NDA_DUPLICATE,
        f"NDA declared twice; the most recent declaration is kept (record {kept})",
        raw,
    )


# -- comparing ------------------------------------------------------------------------------------


def last_accepted_rows(meta: dict[str, Any]) -> int | None:
    """The rows of the last snapshot the directory accepted: its last update's, else its build's."""
    for key, path in (("update_report", ("source_records",)), ("build_report", ("rows", "records"))):
        value: Any = meta.get(key)
        try:
            for part in path:
                value = value[part]
        except (KeyError, TypeError, IndexError):
            continue
        if isinstance(value, int):
            return value
    return None


def compare(old: dict[str, dict], reading: Reading, active: dict[str, str | None]) -> Diff:
    """`old`: the directory's values of the declarations read anew (UpdateSession.declaration_values)."""
    diff = Diff()
    present = reading.unchanged | set(reading.cleaned)
    diff.removed = sorted(set(active) - present)
    for nda, d in sorted(reading.cleaned.items()):
        if nda not in active:
            diff.added.append(nda)
            continue
        before = old[nda]
        new = declaration_values(d)
        groups = changed_groups(before, new)
        if groups:
            diff.modified[nda] = groups
            if scopes := scope_changes(before, new):
                diff.scopes[nda] = scopes
        elif corrected := corrected_fields(before, new):
            diff.corrected[nda] = corrected
    diff.unchanged = len(present) - len(diff.added) - len(diff.modified) - len(diff.corrected)
    return diff


# -- applying -------------------------------------------------------------------------------------


def _write_declarations(writer: UpdateWriter, decls: list[Declaration]) -> None:
    """Replace (or add) these declarations with their specialities, previous NDAs and fingerprints."""
    specialities = [
        (d.nda, rank, code or label, label)
        for d in decls
        for rank, (code, label) in enumerate(d.specialites, start=1)
    ]
    columns = writer.columns("declarations")
    writer.replace_declarations(
        [declaration_row(d, 0, columns) for d in decls],  # the organisation is set when regrouping
        [(d.nda, record_fingerprint(d.raw), d.nom_comparaison) for d in decls],
        sorted({(p, d.nda) for d in decls for p in d.ndas_precedents}),
        specialities,
    )


def _locate(
    writer: UpdateWriter,
    decls: list[Declaration],
    reference: Reference,
    geocoding: GeocodeSettings | None,
    on_progress: Callable[[int, int], None] | None,
    sirene_locations: dict[str, tuple],
) -> dict:
    """Locations for these declarations: SIRENE's for those it placed, else geocoded when allowed,
    else (or when not found) the commune's centroid."""
    settings = geocoding or GeocodeSettings(enabled=False)
    found, report = geocode(
        addresses_from(
            declaration_addresses(d for d in decls if d.nda not in sirene_locations), reference.communes
        ),
        settings,
        on_progress,
    )
    rows = [loc.row() for loc in found] + [
        sirene_locations[d.nda] for d in decls if d.nda in sirene_locations
    ]
    writer.write_locations(rows)
    return report


def _keys(values: Iterable[tuple[str | None, str | None, str | None]]) -> tuple[set[str], set[tuple]]:
    """The de-duplication keys of declarations given as (siret, comparison name, postal code): their
    SIRETs, and their (name, postal code) pairs (only a pair with both can join a group)."""
    sirets, pairs = set(), set()
    for siret, name, postcode in values:
        if siret:
            sirets.add(siret)
        if name and postcode:
            pairs.add((name, postcode))
    return sirets, pairs


def affected_members(writer: UpdateWriter, sirets: set[str], pairs: set[tuple]) -> list[Member]:
    """The active declarations whose organisation may change: every one sharing a SIRET or a
    (comparison name, postal code) pair with the declarations that changed, then with those, and so
    on until nothing new comes (pipeline/dedup.py groups by nothing else). Grouped alone, they give
    the groups a regrouping of the whole directory gives them."""
    members: dict[str, Member] = {}
    seen_sirets: set[str] = set()
    seen_pairs: set[tuple] = set()
    while sirets or pairs:
        seen_sirets |= sirets
        seen_pairs |= pairs
        found = writer.members(sirets, pairs)
        sirets, pairs = set(), set()
        for m in found:  # each shares a SIRET or a pair asked for
            if m.nda in members:
                continue
            pair = (m.nom_comparaison, m.code_postal)
            members[m.nda] = m
            if m.siret and m.siret not in seen_sirets:
                sirets.add(m.siret)
            if m.nom_comparaison and m.code_postal and pair not in seen_pairs:
                pairs.add(pair)
    return [members[nda] for nda in sorted(members)]


def _regroup(
    writer: UpdateWriter,
    changed: set[str],
    keys: tuple[set[str], set[tuple]],
    previous_owners: set[int],
    today: str,
) -> set[int]:
    """Regroup the active declarations that changed (`changed`: NDAs; `keys`: their de-duplication
    keys before and after) with every declaration whose group may follow; rewrite the organisations
    whose members or displayed declaration changed. `previous_owners`: the organisations the changed
    declarations belonged to. Returns the ids of the organisations rewritten or removed."""
    members = affected_members(writer, *keys)
    groups = group_declarations(members)
    considered = set(previous_owners) | set(writer.organisation_of(m.nda for m in members).values())
    keyed = [(organisation_identifier(group, members), group) for group in groups]
    old = {o.identifiant: o for o in writer.organisations(considered, [k for k, _ in keyed])}
    next_id = writer.next_organisation_id()
    touched: set[int] = set()
    seen: set[str] = set()
    owner: dict[str, int] = {}  # NDA → organisation it now belongs to
    rows = []
    for identifiant, group in keyed:
        ndas = [members[i].nda for i in group.members]
        seen.add(identifiant)
        previous = old.get(identifiant)
        if (
            previous is not None
            and previous.statut == "actif"
            and previous.nda_principal == ndas[0]
            and previous.ndas == set(ndas)
            and not changed.intersection(ndas)
        ):
            continue
        if previous is None:
            oid, next_id = next_id, next_id + 1
        else:
            oid = previous.id
        touched.add(oid)
        for nda in ndas:
            owner[nda] = oid
        siren = group.siret[:9] if group.siret else members[group.members[0]].siren
        rows.append((oid, identifiant, group.siret, siren, len(ndas), group.how, ndas[0]))
    writer.write_organisations(rows)
    if owner:
        writer.set_owners(owner)
    # Organisations no group carries any more: gone (every declaration removed) or merged into another.
    retired = [
        (held.id, min((owner[n] for n in held.ndas if n in owner), default=None))
        for identifiant, held in sorted(old.items())
        if identifiant not in seen and held.statut == "actif" and held.id in considered
    ]
    writer.retire_organisations([oid for oid, _ in retired])
    into = writer.identifiants(target for _, target in retired if target is not None)
    writer.log_organisations(
        [
            (today, oid, "organisme_supprime", None)
            if target is None
            else (today, oid, "organisme_regroupe", json.dumps({"avec": into.get(target)}))
            for oid, target in retired
        ]
    )
    touched.update(oid for oid, _ in retired)
    return touched


def _log_changes(writer: UpdateWriter, diff: Diff, today: str) -> None:
    rows: list[tuple[str, str, str, str | None]] = [(today, nda, "ajout", None) for nda in diff.added]
    # A modification's fields: the groups changed, then the scopes gained (+vae) or lost (-vae).
    rows += [
        (today, nda, "modification", json.dumps(groups + diff.scopes.get(nda, [])))
        for nda, groups in diff.modified.items()
    ]
    rows += [(today, nda, "suppression", None) for nda in diff.removed]
    writer.log(rows)


def quarantine_rows(rejected: list[Rejected]) -> list[tuple]:
    return [(r.enregistrement, r.ligne, r.nda or None, r.motif, r.detail, r.raw_json()) for r in rejected]


# -- secondary sources ----------------------------------------------------------------------------

SECONDARY_TABLES = ("provenance", "correspondances", "sources_secondaires")


def directory_index(rows: tuple[list[tuple], list[tuple]]) -> Index:
    """The reconciliation index of a directory's active organisations, from its rows
    (UpdateSession.reconciliation_rows)."""
    previous_rows, declaration_rows = rows
    previous: dict[str, list[str]] = defaultdict(list)
    for nda, before in previous_rows:
        previous[nda].append(before)
    held, organisme_of = [], []
    for row in declaration_rows:
        oid, nda, siret, denomination, date, comparison, postcode, kind, insee, origin, *scopes = tuple(row)
        held.append(
            Held(
                nda,
                siret,
                denomination,
                date,
                tuple(bool(f) for f in scopes),
                tuple(previous.get(nda, ())),
                comparison or "",
                postcode,
                kind,
                insee,
                origin,
            )
        )
        organisme_of.append(oid)
    return index_directory(held, organisme_of)


class _Discard:
    """A writer that keeps nothing: the report of a reconciliation whose rows are already stored."""

    def write(self, table: str, rows: Iterable[tuple]) -> int:
        return sum(1 for _ in rows)


def _reconcile(writer: UpdateWriter, sources: Sequence[LoadedSource]) -> dict:
    """Replace the directory's secondary data by these sources' reconciled with it."""
    for table in SECONDARY_TABLES:
        writer.clear(table)
    return reconcile_index(writer, directory_index(writer.reconciliation_rows()), sources)


# -- SIRENE -----------------------------------------------------------------------------------------


@dataclass
class SireneAnswers:
    answers: Answers  # SIRET → (answer, date, api)
    changed: bool  # a stock file said something else than the directory holds
    report: dict


def _sirene_answers(session: UpdateSession, reading: Reading, stock: Path | None) -> SireneAnswers:
    """SIRENE's answers for the update: the directory's own (`sirene` table), or a stock file's for
    every active or new establishment."""
    held = {row[0]: row_answer(row) for row in session.sirene_rows()}
    if stock is None:
        return SireneAnswers(held, False, {"from_directory": len(held)})
    sirets = session.active_sirets() | {d.siret for d in reading.cleaned.values() if d.siret}
    answers, report = answers_for(sirets, stock)
    changed = sorted(answer_row(*a) for a in answers.values()) != sorted(
        answer_row(*a) for a in held.values()
    )
    return SireneAnswers(answers, changed, {"stock": str(stock), **report})


# -- the run --------------------------------------------------------------------------------------


def update(
    source: str,
    store: Store,
    reference: Reference,
    *,
    geocoding: GeocodeSettings | None = None,
    on_geocode_progress: Callable[[int, int], None] | None = None,
    today: str | None = None,
    pause: Callable[[str], None] | None = None,
    extra_sources: Sequence[ExtraSource] = (),
    guard: Guard | None = None,
    sirene_stock: Path | None = None,
) -> dict:
    """Apply the snapshot `source` (a path or URL) to the directory in `store`. Returns the update
    report.

    `guard` (default: 5 % removed at most, 90 % of the last accepted rows at least) refuses a snapshot
    that looks partial, raising PartialSource before anything is written (pipeline/guard.py).

    `extra_sources` (as for a build) are read again and reconciled with the updated directory, in the
    same swap; without them the directory keeps the secondary data it has. When neither the Liste
    publique nor the sources changed, the directory is left untouched.
    SIRENE's answers place the declarations whose own address gives no commune (clean/places.py):
    those the directory holds, or the stock file `sirene_stock` (INSEE's, streamed), which replaces
    them and places every declaration again.
    `pause(stage)` is called between stages (tests use it to kill the process at chosen points)."""
    check_names(extra_sources)
    if not store.exists():
        raise DirectoryMissing(store.location)
    store.check_writable()  # a read-only file, or a folder that cannot be written: refused now
    started = time.perf_counter()
    today = today or _today()
    pause = pause or (lambda stage: None)
    if sirene_stock is not None:
        from ..sources.sirene_stock import check_stock

        check_stock(sirene_stock)  # a file that is not a stock fails before anything else
    # The lock removes what killed runs left beside a SQLite file.
    with store.lock(), gc_paused(), store.updating() as session:
        if not session.has_fingerprints():
            raise UpdateError(
                f"{store.shown}: built by an older version without fingerprints: run `annuaire build` once"
            )
        active, known = session.active()
        local = download(source) if is_url(source) else Path(source)
        try:
            reader = ListePubliqueReader(local, display_name=source)
            reading = read_changes(reader, reference, known, active)
        finally:
            if local != Path(source):
                local.unlink(missing_ok=True)
        del known
        timings = {"read_and_clean": time.perf_counter() - started}
        mark = time.perf_counter()
        sirene = _sirene_answers(session, reading, sirene_stock)
        placement = place_declarations(
            reading.cleaned.values(),
            {siret: answer[:2] for siret, answer in sirene.answers.items()},
            PlaceBook.from_resolver(reference.communes),
        )
        timings["sirene"] = time.perf_counter() - mark
        mark = time.perf_counter()
        stored = session.declaration_values(n for n in reading.cleaned if n in active)
        diff = compare(stored, reading, active)
        last_rows = last_accepted_rows(session.meta())
        old_quarantine = session.quarantined()
        timings["compare"] = time.perf_counter() - mark
        secondary: list[LoadedSource] | None = None
        sources_unchanged = True
        if extra_sources:
            mark = time.perf_counter()
            secondary = load_sources(list(extra_sources))  # a source that fails falls back, never raises
            loaded = {s.name: (s.sha256, s.status, s.location) for s in secondary}
            sources_unchanged = loaded == session.secondary_sources()
            timings["secondary_sources"] = time.perf_counter() - mark
        decision = (guard or Guard()).decide(
            active=len(active), removed=len(diff.removed), rows=reading.records, last_rows=last_rows
        )
        pause("compared")
        listed = set(diff.added) | set(diff.modified) | set(diff.corrected)
        rewritten = [d for n, d in reading.cleaned.items() if n not in listed]
        report: dict = {
            "source": {"location": source, "records": reading.records, "lines": reading.lines},
            "database": store.shown,
            "date": today,
            **diff.as_report(),
            "rows": {
                "records": reading.records,
                "declarations": len(reading.unchanged) + len(reading.cleaned),
                "quarantined": len(reading.rejected),
                "records_cleaned": len(reading.cleaned) + len(reading.rejected),
                "fingerprints_refreshed": len(rewritten),
            },
        }
        report["rows"]["accounted_for"] = report["rows"]["declarations"] + report["rows"]["quarantined"]
        report["garde"] = decision
        if decision["decision"] == "refused":
            report["changed"] = False
            log.warning("update refused: the snapshot looks partial", extra=decision)
            raise PartialSource(refusal_message(store.shown, decision), report)
        log.info("update guard: %s", decision["decision"], extra=decision)
        if report["rows"]["accounted_for"] != reading.records:  # pragma: no cover - an invariant
            raise AssertionError(
                f"{reading.records} records read, {report['rows']['accounted_for']} accounted for"
            )
        report["sirene"] = {**sirene.report, **placement.report()}
        nothing_to_do = (
            diff.empty
            and not rewritten
            and len(reading.rejected) == old_quarantine
            and sources_unchanged
            and not sirene.changed
        )
        if nothing_to_do:
            report["changed"] = False
            report["geocoding"] = {"distinct_addresses_sent": 0}
            if secondary is not None:  # what the directory already holds, reported as a build would
                report["sources_secondaires"] = reconcile_index(
                    _Discard(), directory_index(session.reconciliation_rows()), secondary
                )
        else:
            report["changed"] = True
            timings |= _apply(
                session,
                reading,
                diff,
                stored,
                rewritten,
                reference,
                geocoding,
                on_geocode_progress,
                today,
                report,
                pause,
                secondary,
                placement.locations,
                sirene if sirene.changed else None,
            )
        report["timings_seconds"] = {k: round(v, 2) for k, v in timings.items()}
        report["duration_seconds"] = round(time.perf_counter() - started, 2)
    log.info("update finished", extra=report["counts"])
    return report


def _apply(
    session: UpdateSession,
    reading: Reading,
    diff: Diff,
    stored: dict[str, dict],
    rewritten: list[Declaration],
    reference: Reference,
    geocoding: GeocodeSettings | None,
    on_geocode_progress: Callable[[int, int], None] | None,
    today: str,
    report: dict,
    pause: Callable[[str], None],
    secondary: Sequence[LoadedSource] | None = None,
    sirene_locations: dict[str, tuple] | None = None,
    sirene: SireneAnswers | None = None,
) -> dict[str, float]:
    """Write the changes through the store (with the secondary sources reconciled again, when given,
    and SIRENE's new answers recorded and applied, when a stock file brought them). `stored`: the
    directory's values of the declarations read anew, as compare() had them."""
    timings: dict[str, float] = {}
    changed = set(diff.added) | set(diff.modified) | set(diff.corrected)
    decls = [d for n, d in reading.cleaned.items() if n in changed]
    # Where the declarations that change or go were: their organisations and de-duplication keys.
    before = {nda: stored[nda] for nda in changed.difference(diff.added)}  # all read anew
    before |= session.declaration_values(diff.removed)
    keys = _keys(
        [(row["siret"], row["nom_comparaison"], row["code_postal"]) for row in before.values()]
        + [(d.siret, d.nom_comparaison, d.code_postal) for d in decls]
    )
    previous_owners = {row["organisme_id"] for row in before.values()}
    mark = time.perf_counter()
    with session.apply(pause) as writer:
        report_copy = getattr(session, "copy_seconds", None)
        if report_copy is not None:
            timings["copy"] = report_copy
        mark = time.perf_counter()
        # Declarations whose record changed but whose cleaned values did not keep their row: only
        # the fingerprint is refreshed.
        _write_declarations(writer, decls)
        writer.refresh_fingerprints([(record_fingerprint(d.raw), d.nda) for d in rewritten])
        writer.mark_removed(diff.removed)
        added = set(diff.added)
        relocate = [
            d
            for d in decls
            if d.nda in added
            or ADDRESS_GROUP in diff.modified.get(d.nda, ())
            or "code_commune_insee" in diff.corrected.get(d.nda, ())
        ]
        report["geocoding"] = _locate(
            writer, relocate, reference, geocoding, on_geocode_progress, sirene_locations or {}
        )
        report["geocoding"]["declarations_relocated"] = len(relocate)
        timings["declarations"] = time.perf_counter() - mark
        pause("declarations")
        mark = time.perf_counter()
        touched = _regroup(writer, changed | set(diff.removed), keys, previous_owners, today)
        _log_changes(writer, diff, today)
        writer.replace_quarantine(quarantine_rows(reading.rejected))
        writer.refresh_organisations(sorted(touched))
        if sirene is not None:  # a stock file: its answers replace the directory's, and place again
            report["sirene"]["directory"] = writer.replace_sirene(
                [answer_row(*sirene.answers[s]) for s in sorted(sirene.answers)], sirene.answers
            )
        report["organisations_rewritten"] = len(touched)
        if secondary is not None:
            report["sources_secondaires"] = _reconcile(writer, secondary)
        writer.write_meta(
            {
                "updated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "update_report": {k: report[k] for k in ("date", "counts")}
                | {"source_records": reading.records},
            }
        )
        timings["organisations"] = time.perf_counter() - mark
        pause("organisations")
        mark = time.perf_counter()
    timings["commit_and_swap"] = time.perf_counter() - mark
    return timings
