"""`annuaire update`: apply a new snapshot of the Liste publique to an existing directory.

Only what changed is worked on:
- records whose fingerprint (hash of the fields as read) is known are unchanged and not cleaned again;
- the others are cleaned; compared by NDA with the directory they are added, modified (the groups of
  fields that changed are named) or, when a known NDA is missing from the snapshot, removed: soft-deleted,
  kept with status `supprime` and the date in the change log;
- addresses are geocoded only for added declarations and changed addresses;
- organisations are regrouped over the active declarations, and only those whose members changed are
  rewritten, with their full-text, spatial and search rows.

The changes are applied to a copy of the database, renamed over it at the end: readers see the old
directory or the new one, and a crash or a kill at any point leaves the old one in place. A lock file
stops two runs (update or build) at once; a second run with the same snapshot changes nothing.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..clean.places import PlaceBook, place_declarations
from ..clean.record import EXACT_DUPLICATE, NDA_DUPLICATE, Declaration, RecordCleaner, Rejected, settle_twice
from ..errors import AnnuaireError, DirectoryMissing
from ..fields import SCOPE_CODES
from ..memory import gc_paused
from ..sources.download import download, is_url
from ..sources.extra import ExtraSource, LoadedSource, check_names, load_sources
from ..sources.reader import ListePubliqueReader
from ..sources.reference import Reference
from ..store import is_postgres
from ..store.files import aside_path, check_writable, keep_attributes, resolved
from ..store.sqlite import SQLiteBuildWriter, apply_sirene_places, refresh_organisations
from .build import line_accounts
from .dedup import group_declarations
from .diff import (
    ADDRESS_GROUP,
    Diff,
    changed_groups,
    corrected_fields,
    declaration_values,
    raw_fingerprint,
    scope_changes,
)
from .geocode import GeocodeSettings, addresses_from, declaration_addresses, geocode
from .guard import Guard, PartialSource, refusal_message
from .load import declaration_row, organisation_identifier
from .lock import run_lock
from .reconcile import Held, Index, index_directory, reconcile_index
from .sirene import Answers, answer_row, answers_for, row_answer

log = logging.getLogger("annuaire.update")
IN_JSON = "IN (SELECT value FROM json_each(?))"  # one parameter: a JSON list of values


class UpdateError(AnnuaireError):
    """The directory to update was built without what updates need."""


@dataclass(slots=True)
class Member:
    """What de-duplication needs of a declaration (read back from the directory)."""

    nda: str
    siret: str | None
    siren: str | None
    nom_comparaison: str
    code_postal: str | None
    date_derniere_declaration: str | None
    type_adresse: str
    code_commune_insee: str | None
    origine_lieu: str


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
) -> Reading:
    """`known`: fingerprint → NDA of the directory's active declarations; `active`: NDA → date of
    last declaration (to settle an NDA declared twice, as a build does: the most recent wins)."""
    counts: Counter = Counter()
    cleaner = RecordCleaner(reference.communes, counts)
    unchanged: dict[str, tuple[int, int, list[str]]] = {}  # NDA → record number, line, raw fields
    cleaned: dict[str, Declaration] = {}
    rejected: list[Rejected] = []
    for record in reader:
        nda = known.get(raw_fingerprint(record.raw))
        if nda is not None and nda not in cleaned:
            if nda in unchanged:
                first = unchanged[nda][0]
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
                unchanged[nda] = (record.number, record.line, record.raw)
            continue
        out = cleaner.clean_record(record)
        if isinstance(out, Rejected):
            rejected.append(out)
            continue
        if out.nda in unchanged:  # the NDA again, with other content than the directory's
            first, first_line, raw = unchanged[out.nda]
            if out.raw == raw:
                rejected.append(
                    Rejected(out.enregistrement, out.ligne, out.nda, EXACT_DUPLICATE, "", out.raw)
                )
            elif (out.date_derniere_declaration or "") > (active.get(out.nda) or ""):
                del unchanged[out.nda]
                cleaned[out.nda] = out
                # The directory's record read first gives way: quarantined under its own number and line.
                rejected.append(_nda_twice(first, first_line, out.nda, raw, out.enregistrement))
            else:
                rejected.append(_nda_twice(out.enregistrement, out.ligne, out.nda, out.raw, first))
            continue
        kept = cleaned.get(out.nda)
        if kept is None:
            cleaned[out.nda] = out
        else:
            cleaned[out.nda], quarantined = settle_twice(kept, out)
            rejected.append(quarantined)
    counts.update(reader.repairs)
    numbers = [entry[0] for entry in unchanged.values()] + [d.enregistrement for d in cleaned.values()]
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


def _old_values(conn: sqlite3.Connection, ndas: Iterable[str]) -> dict[str, dict]:
    """Significant values of declarations as the directory holds them."""
    chosen = json.dumps(sorted(ndas))
    rows = {
        row["nda"]: dict(row)
        for row in conn.execute(
            "SELECT * FROM declarations WHERE nda IN (SELECT value FROM json_each(?))", (chosen,)
        )
    }
    for row in rows.values():
        row["ndas_precedents"], row["specialites"] = [], []
    for nda, previous in conn.execute(
        f"SELECT nda, nda_precedent FROM ndas_precedents WHERE nda {IN_JSON} ORDER BY 2",
        (chosen,),
    ):
        rows[nda]["ndas_precedents"].append(previous)
    for nda, code in conn.execute(
        f"SELECT nda, code FROM declaration_specialites WHERE nda {IN_JSON} ORDER BY nda, rang",
        (chosen,),
    ):
        rows[nda]["specialites"].append(code)
    return rows


def _last_accepted_rows(conn: sqlite3.Connection) -> int | None:
    """The rows of the last snapshot the directory accepted: its last update's, else its build's."""
    meta = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('update_report', 'build_report')"))
    for key, path in (("update_report", ("source_records",)), ("build_report", ("rows", "records"))):
        try:
            value: Any = json.loads(meta[key])
            for part in path:
                value = value[part]
        except (KeyError, TypeError, ValueError):
            continue
        if isinstance(value, int):
            return value
    return None


def compare(conn: sqlite3.Connection, reading: Reading, active: dict[str, str | None]) -> Diff:
    diff = Diff()
    present = reading.unchanged | set(reading.cleaned)
    diff.removed = sorted(set(active) - present)
    old = _old_values(conn, [n for n in reading.cleaned if n in active])
    for nda, d in sorted(reading.cleaned.items()):
        if nda not in active:
            diff.added.append(nda)
            continue
        new = declaration_values(d)
        groups = changed_groups(old[nda], new)
        if groups:
            diff.modified[nda] = groups
            if scopes := scope_changes(old[nda], new):
                diff.scopes[nda] = scopes
        elif corrected := corrected_fields(old[nda], new):
            diff.corrected[nda] = corrected
    diff.unchanged = len(present) - len(diff.added) - len(diff.modified) - len(diff.corrected)
    return diff


# -- applying -------------------------------------------------------------------------------------


def _write_declarations(conn: sqlite3.Connection, decls: list[Declaration]) -> None:
    """Replace (or add) these declarations with their specialities, previous NDAs and fingerprints."""
    chosen = json.dumps([d.nda for d in decls])
    for table in ("declaration_specialites", "ndas_precedents", "empreintes", "declarations"):
        conn.execute(f"DELETE FROM {table} WHERE nda IN (SELECT value FROM json_each(?))", (chosen,))
    columns = [c[0] for c in conn.execute("SELECT * FROM declarations LIMIT 0").description]
    conn.executemany(
        f"INSERT INTO declarations VALUES ({', '.join('?' * len(columns))})",
        (declaration_row(d, 0, columns) for d in decls),  # organisation set when regrouping
    )
    conn.executemany(
        "INSERT INTO empreintes VALUES (?, ?, ?)",
        ((d.nda, raw_fingerprint(d.raw), d.nom_comparaison) for d in decls),
    )
    conn.executemany(
        "INSERT INTO ndas_precedents VALUES (?, ?)", ((p, d.nda) for d in decls for p in d.ndas_precedents)
    )
    links = []
    for d in decls:
        for rank, (code, label) in enumerate(d.specialites, start=1):
            key = code or label
            conn.execute("INSERT OR IGNORE INTO specialites VALUES (?, ?)", (key, label))
            links.append((d.nda, rank, key))
    conn.executemany("INSERT INTO declaration_specialites VALUES (?, ?, ?)", links)


def _locate(
    conn: sqlite3.Connection,
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
    conn.executemany("INSERT OR REPLACE INTO localisations VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    return report


def _regroup(conn: sqlite3.Connection, changed: set[str], today: str) -> set[int]:
    """Regroup the active declarations into organisations; rewrite the organisations whose members or
    displayed declaration changed. Returns the ids of the organisations rewritten or removed."""
    members = [
        Member(*row)
        for row in conn.execute(
            """SELECT d.nda, d.siret, d.siren, e.nom_comparaison, d.code_postal, d.date_derniere_declaration,
                      d.type_adresse, d.code_commune_insee, d.origine_lieu
               FROM declarations d JOIN empreintes e ON e.nda = d.nda
               WHERE d.statut = 'actif' ORDER BY d.nda"""
        )
    ]
    groups = group_declarations(members)
    old = {
        identifiant: (oid, nda_principal, set(ndas.split(" ")) if ndas else set(), statut)
        for oid, identifiant, nda_principal, statut, ndas in conn.execute(
            """SELECT o.id, o.identifiant, o.nda_principal, o.statut,
                      (SELECT group_concat(d.nda, ' ') FROM declarations d
                        WHERE d.organisme_id = o.id AND d.statut = 'actif')
               FROM organismes o"""
        )
    }
    next_id = (conn.execute("SELECT max(id) FROM organismes").fetchone()[0] or 0) + 1
    touched: set[int] = set()
    seen: set[str] = set()
    owner: dict[str, int] = {}  # NDA → organisation it now belongs to
    rows = []
    for group in groups:
        ndas = [members[i].nda for i in group.members]
        identifiant = organisation_identifier(group, members)
        seen.add(identifiant)
        previous = old.get(identifiant)
        if (
            previous is not None
            and previous[3] == "actif"
            and previous[1] == ndas[0]
            and previous[2] == set(ndas)
            and not changed.intersection(ndas)
        ):
            continue
        if previous is None:
            oid, next_id = next_id, next_id + 1
        else:
            oid = previous[0]
        touched.add(oid)
        for nda in ndas:
            owner[nda] = oid
        siren = group.siret[:9] if group.siret else members[group.members[0]].siren
        rows.append((oid, identifiant, group.siret, siren, len(ndas), group.how, ndas[0]))
    conn.executemany("DELETE FROM organismes WHERE id = ?", ((r[0],) for r in rows))
    conn.executemany(
        """INSERT INTO organismes
           SELECT ?, ?, ?, ?, d.denomination, e.nom_comparaison, d.nda, d.voie, d.code_postal, d.ville,
                  d.code_commune_insee, d.commune, d.code_departement, d.code_region, d.type_adresse,
                  d.date_derniere_declaration, ?, ?, 'actif'
           FROM declarations d JOIN empreintes e ON e.nda = d.nda WHERE d.nda = ?""",
        rows,
    )
    if owner:
        conn.executemany(
            "UPDATE declarations SET organisme_id = ? WHERE nda = ?", ((o, n) for n, o in owner.items())
        )
    # Organisations no group carries any more: gone (every declaration removed) or merged into another.
    for identifiant, (oid, _, held, statut) in old.items():
        if identifiant in seen or statut != "actif":
            continue
        touched.add(oid)
        conn.execute("UPDATE organismes SET statut = 'supprime' WHERE id = ?", (oid,))
        moved = sorted({owner[n] for n in held if n in owner})
        if moved:
            target = [
                r[0] for r in conn.execute("SELECT identifiant FROM organismes WHERE id = ?", (moved[0],))
            ]
            event, fields = "organisme_regroupe", json.dumps({"avec": target[0] if target else None})
        else:
            event, fields = "organisme_supprime", None
        conn.execute(
            "INSERT INTO historique (date, organisme_id, nda, evenement, champs) VALUES (?, ?, NULL, ?, ?)",
            (today, oid, event, fields),
        )
    if touched:
        chosen = json.dumps(sorted(touched))
        conn.execute(
            "DELETE FROM certifications WHERE organisme_id IN (SELECT value FROM json_each(?))", (chosen,)
        )
        for code in SCOPE_CODES:
            conn.execute(
                f"""INSERT INTO certifications
                    SELECT organisme_id, ?, nda FROM declarations
                    WHERE certification_{code} = 1 AND statut = 'actif'
                      AND organisme_id IN (SELECT value FROM json_each(?))""",
                (code, chosen),
            )
        conn.execute(
            """UPDATE organismes SET nb_declarations =
                 (SELECT count(*) FROM declarations d
                   WHERE d.organisme_id = organismes.id AND d.statut = 'actif')
               WHERE id IN (SELECT value FROM json_each(?)) AND statut = 'actif'""",
            (chosen,),
        )
    return touched


def _log_changes(conn: sqlite3.Connection, diff: Diff, today: str) -> None:
    rows: list[tuple[str, str, str, str | None]] = [(today, nda, "ajout", None) for nda in diff.added]
    # A modification's fields: the groups changed, then the scopes gained (+vae) or lost (-vae).
    rows += [
        (today, nda, "modification", json.dumps(groups + diff.scopes.get(nda, [])))
        for nda, groups in diff.modified.items()
    ]
    rows += [(today, nda, "suppression", None) for nda in diff.removed]
    conn.executemany(
        """INSERT INTO historique (date, organisme_id, nda, evenement, champs)
           SELECT ?, organisme_id, nda, ?, ? FROM declarations WHERE nda = ?""",
        ((date, event, fields, nda) for date, nda, event, fields in rows),
    )


def _write_quarantine(conn: sqlite3.Connection, rejected: list[Rejected]) -> None:
    conn.execute("DELETE FROM quarantaine")
    conn.executemany(
        "INSERT INTO quarantaine VALUES (?, ?, ?, ?, ?, ?)",
        ((r.enregistrement, r.ligne, r.nda or None, r.motif, r.detail, r.raw_json()) for r in rejected),
    )


# -- secondary sources ----------------------------------------------------------------------------

SECONDARY_TABLES = ("provenance", "correspondances", "sources_secondaires")


def directory_index(conn: sqlite3.Connection) -> Index:
    """The reconciliation index of a directory's active organisations, read from its database."""
    previous: dict[str, list[str]] = defaultdict(list)
    for nda, before in conn.execute("SELECT nda, nda_precedent FROM ndas_precedents ORDER BY 1, 2"):
        previous[nda].append(before)
    flags = ", ".join(f"d.certification_{code}" for code in SCOPE_CODES)
    held, organisme_of = [], []
    for row in conn.execute(
        f"""SELECT d.organisme_id, d.nda, d.siret, d.denomination, d.date_derniere_declaration,
                   e.nom_comparaison, d.code_postal, d.type_adresse, d.code_commune_insee,
                   d.origine_lieu, {flags}
            FROM declarations d JOIN empreintes e ON e.nda = d.nda
            JOIN organismes o ON o.id = d.organisme_id
            WHERE d.statut = 'actif' AND o.statut = 'actif' ORDER BY d.nda"""
    ):
        oid, nda, siret, denomination, date, comparison, postcode, kind, insee, origin, *scopes = tuple(row)
        flags_held = tuple(bool(f) for f in scopes)
        before = tuple(previous.get(nda, ()))
        held.append(
            Held(
                nda,
                siret,
                denomination,
                date,
                flags_held,
                before,
                comparison or "",
                postcode,
                kind,
                insee,
                origin,
            )
        )
        organisme_of.append(oid)
    return index_directory(held, organisme_of)


def _stored_sources(conn: sqlite3.Connection) -> dict[str, tuple]:
    """What the directory holds of its secondary sources: name → (sha256, status, location)."""
    return {
        row[0]: tuple(row[1:])
        for row in conn.execute("SELECT nom, sha256, statut, emplacement FROM sources_secondaires")
    }


class _Discard:
    """A writer that keeps nothing: the report of a reconciliation whose rows are already stored."""

    def write(self, table: str, rows: Iterable[tuple]) -> int:
        return sum(1 for _ in rows)


def _reconcile(conn: sqlite3.Connection, sources: Sequence[LoadedSource]) -> dict:
    """Replace the directory's secondary data by these sources' reconciled with it (in the caller's
    transaction)."""
    for table in SECONDARY_TABLES:
        conn.execute(f"DELETE FROM {table}")
    return reconcile_index(SQLiteBuildWriter(conn), directory_index(conn), sources)


# -- SIRENE -----------------------------------------------------------------------------------------


@dataclass
class SireneAnswers:
    answers: Answers  # SIRET → (answer, date, api)
    changed: bool  # a stock file said something else than the directory holds
    report: dict


def _sirene_answers(conn: sqlite3.Connection, reading: Reading, stock: Path | None) -> SireneAnswers:
    """SIRENE's answers for the update: the directory's own (`sirene` table), or a stock file's for
    every active or new establishment."""
    held = {}
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sirene'").fetchone():
        held = {row[0]: row_answer(row) for row in conn.execute("SELECT * FROM sirene")}
    if stock is None:
        return SireneAnswers(held, False, {"from_directory": len(held)})
    sirets = {row[0] for row in conn.execute("SELECT siret FROM declarations WHERE statut = 'actif'")}
    sirets |= {d.siret for d in reading.cleaned.values()}
    answers, report = answers_for({s for s in sirets if s}, stock)
    changed = sorted(answer_row(*a) for a in answers.values()) != sorted(
        answer_row(*a) for a in held.values()
    )
    return SireneAnswers(answers, changed, {"stock": str(stock), **report})


# -- the run --------------------------------------------------------------------------------------


def update(
    source: str,
    db: str,
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
    """Apply the snapshot `source` (a path or URL) to the directory `db`. Returns the update report.

    `guard` (default: 5 % removed at most, 90 % of the last accepted rows at least) refuses a snapshot
    that looks partial, raising PartialSource before anything is written (pipeline/guard.py).

    `extra_sources` (as for a build) are read again and reconciled with the updated directory, in the
    same swap; without them the directory keeps the secondary data it has. When neither the Liste
    publique nor the sources changed, the directory is left untouched.
    SIRENE's answers place the declarations whose own address gives no commune (clean/places.py):
    those the directory holds, or the stock file `sirene_stock` (INSEE's, streamed), which replaces
    them and places every declaration again.
    `pause(stage)` is called between stages (tests use it to kill the process at chosen points).
    A PostgreSQL directory is updated through a SQLite copy (pipeline/transfer.py)."""
    check_names(extra_sources)
    if is_postgres(db):
        from .transfer import update_postgres

        return update_postgres(
            source, db, reference, geocoding=geocoding, on_geocode_progress=on_geocode_progress,
            today=today, pause=pause, extra_sources=extra_sources, guard=guard,
            sirene_stock=sirene_stock,
        )  # fmt: skip
    path = Path(resolved(db))  # a link's target: updated there, the link stays a link
    if not path.is_file():
        raise DirectoryMissing(db)
    check_writable(path)  # a read-only file, or a folder that cannot be written: refused now
    started = time.perf_counter()
    today = today or _today()
    pause = pause or (lambda stage: None)
    if sirene_stock is not None:
        from ..sources.sirene_stock import check_stock

        check_stock(sirene_stock)  # a file that is not a stock fails before anything else
    with run_lock(path), gc_paused():  # the lock removes what killed runs left beside the file
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        conn.row_factory = sqlite3.Row
        try:
            if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'empreintes'").fetchone():
                raise UpdateError(
                    f"{db}: built by an older version without fingerprints: run `annuaire build` once"
                )
            active = dict(
                conn.execute("SELECT nda, date_derniere_declaration FROM declarations WHERE statut = 'actif'")
            )
            known = dict(
                conn.execute(
                    """SELECT e.brute, e.nda FROM empreintes e JOIN declarations d ON d.nda = e.nda
                       WHERE d.statut = 'actif'"""
                )
            )
            local = download(source) if is_url(source) else Path(source)
            try:
                reader = ListePubliqueReader(local, display_name=source)
                reading = read_changes(reader, reference, known, active)
            finally:
                if local != Path(source):
                    local.unlink(missing_ok=True)
            timings = {"read_and_clean": time.perf_counter() - started}
            mark = time.perf_counter()
            sirene = _sirene_answers(conn, reading, sirene_stock)
            placement = place_declarations(
                reading.cleaned.values(),
                {siret: answer[:2] for siret, answer in sirene.answers.items()},
                PlaceBook.from_resolver(reference.communes),
            )
            timings["sirene"] = time.perf_counter() - mark
            diff = compare(conn, reading, active)
            last_rows = _last_accepted_rows(conn)
            old_quarantine = conn.execute("SELECT count(*) FROM quarantaine").fetchone()[0]
            secondary: list[LoadedSource] | None = None
            sources_unchanged = True
            if extra_sources:
                mark = time.perf_counter()
                secondary = load_sources(list(extra_sources))  # a source that fails falls back, never raises
                loaded = {s.name: (s.sha256, s.status, s.location) for s in secondary}
                sources_unchanged = loaded == _stored_sources(conn)
                timings["secondary_sources"] = time.perf_counter() - mark
        finally:
            conn.close()
        decision = (guard or Guard()).decide(
            active=len(active), removed=len(diff.removed), rows=reading.records, last_rows=last_rows
        )
        pause("compared")
        listed = set(diff.added) | set(diff.modified) | set(diff.corrected)
        rewritten = [d for n, d in reading.cleaned.items() if n not in listed]
        report: dict = {
            "source": {"location": source, "records": reading.records, "lines": reading.lines},
            "database": str(path),
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
            raise PartialSource(refusal_message(str(db), decision), report)
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
                conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
                try:
                    report["sources_secondaires"] = reconcile_index(
                        _Discard(), directory_index(conn), secondary
                    )
                finally:
                    conn.close()
        else:
            report["changed"] = True
            timings |= _apply(
                path,
                reading,
                diff,
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
    path: Path,
    reading: Reading,
    diff: Diff,
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
    """Apply the changes to a copy of the database, then swap it in (with the secondary sources
    reconciled again, when given, and SIRENE's new answers recorded and applied, when a stock file
    brought them)."""
    timings: dict[str, float] = {}
    mark = time.perf_counter()
    temp = aside_path(path, "updating")
    try:
        shutil.copyfile(path, temp)
        timings["copy"] = time.perf_counter() - mark
        pause("copied")
        conn = sqlite3.connect(temp, isolation_level=None)
        try:
            conn.executescript(
                "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -262144;"
            )
            conn.execute("BEGIN")
            mark = time.perf_counter()
            # Declarations whose record changed but whose cleaned values did not keep their row: only
            # the fingerprint is refreshed.
            changed = set(diff.added) | set(diff.modified) | set(diff.corrected)
            decls = [d for n, d in reading.cleaned.items() if n in changed]
            _write_declarations(conn, decls)
            conn.executemany(
                "UPDATE empreintes SET brute = ? WHERE nda = ?",
                ((raw_fingerprint(d.raw), d.nda) for d in rewritten),
            )
            if diff.removed:
                conn.execute(
                    f"UPDATE declarations SET statut = 'supprime' WHERE nda {IN_JSON}",
                    (json.dumps(diff.removed),),
                )
            added = set(diff.added)
            relocate = [
                d
                for d in decls
                if d.nda in added
                or ADDRESS_GROUP in diff.modified.get(d.nda, ())
                or "code_commune_insee" in diff.corrected.get(d.nda, ())
            ]
            report["geocoding"] = _locate(
                conn, relocate, reference, geocoding, on_geocode_progress, sirene_locations or {}
            )
            report["geocoding"]["declarations_relocated"] = len(relocate)
            timings["declarations"] = time.perf_counter() - mark
            pause("declarations")
            mark = time.perf_counter()
            touched = _regroup(conn, changed | set(diff.removed), today)
            _log_changes(conn, diff, today)
            _write_quarantine(conn, reading.rejected)
            refresh_organisations(conn, sorted(touched))
            if sirene is not None:  # a stock file: its answers replace the directory's, and place again
                conn.execute("DELETE FROM sirene")
                conn.executemany(
                    f"INSERT INTO sirene VALUES ({', '.join('?' * 14)})",
                    (answer_row(*sirene.answers[s]) for s in sorted(sirene.answers)),
                )
                report["sirene"]["directory"] = apply_sirene_places(conn, sirene.answers)
            report["organisations_rewritten"] = len(touched)
            if secondary is not None:
                report["sources_secondaires"] = _reconcile(conn, secondary)
            conn.execute(
                "INSERT OR REPLACE INTO meta VALUES ('updated_at', ?), ('update_report', ?)",
                (
                    time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    json.dumps(
                        {k: report[k] for k in ("date", "counts")} | {"source_records": reading.records}
                    ),
                ),
            )
            timings["organisations"] = time.perf_counter() - mark
            pause("organisations")
            conn.execute("COMMIT")
            conn.execute("PRAGMA journal_mode = DELETE")
        finally:
            conn.close()
        pause("committed")
        mark = time.perf_counter()
        keep_attributes(path, temp)  # the mode, owner and group the operator gave the file
        os.replace(temp, path)  # atomic: readers see the old directory or the new one
        timings["swap"] = time.perf_counter() - mark
    finally:
        temp.unlink(missing_ok=True)
    return timings
