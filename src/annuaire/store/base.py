"""The store interface: what the pipeline writes, and what the exports, the quality report and the
sidecar files read. Search does not read through it: `search/` opens the same tables read-only
itself (one searcher, a small query class per backend), for speed.

Every difference between the backends lives behind this interface: how a whole directory is
written and swapped in (`build`), how an update is applied (`updating`: the same algorithm,
pipeline/update.py, on both), the lock a run holds, where the files that go with a directory live,
migrations, SIRENE's answers and locations.

Tables and their columns are those of `schema.sql`; rows travel as tuples in the schema's column
order (`columns(table)`), which keeps bulk loads fast on every backend.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..corrections.store import CorrectionStore

Rows = Callable[[], Iterable[tuple[Any, ...]]]


class BuildWriter(ABC):
    """Receives a complete build. Nothing is visible to readers until the build block ends well."""

    @abstractmethod
    def columns(self, table: str) -> list[str]:
        """The columns of a table, in the order `write` expects them."""

    @abstractmethod
    def write(self, table: str, rows: Iterable[tuple[Any, ...]]) -> int:
        """Append rows to a table; returns how many were written."""

    def write_aside(self, tables: dict[str, Rows]) -> None:
        """Write tables whose rows nothing else in the build reads (the full-text index, the map's
        points, the records' fingerprints), each from a callable giving its rows. A backend may
        write them in another process while the load goes on; they are complete when the build
        block ends. A table the backend does not keep is left out (`organismes_geo`, SQLite's
        R*Tree: PostgreSQL indexes `localisations` itself)."""
        for table, rows in tables.items():
            try:
                self.columns(table)
            except KeyError:
                continue
            self.write(table, rows())

    @abstractmethod
    def write_meta(self, values: dict[str, Any]) -> None: ...

    @abstractmethod
    def locate_at_commune_centroids(self) -> None:
        """Give every declaration without a location its commune's centroid (method
        `centroide_commune`), or no location at all (method `aucun`)."""


@dataclass(slots=True)
class Member:
    """What de-duplication needs of an active declaration read back from the directory."""

    nda: str
    siret: str | None
    siren: str | None
    nom_comparaison: str
    code_postal: str | None
    date_derniere_declaration: str | None
    type_adresse: str
    code_commune_insee: str | None
    origine_lieu: str


@dataclass(slots=True)
class HeldOrganisation:
    """An organisation as the directory holds it, for regrouping: its id, key, displayed declaration,
    active declarations and status."""

    id: int
    identifiant: str
    nda_principal: str
    ndas: frozenset[str]
    statut: str


class UpdateWriter(ABC):
    """Applies an update's changes. Nothing is visible to readers until the block that gave it ends
    well (one transaction, or a copy swapped in); if the block raises, the directory stays as it was.
    Reads through it see the changes already written."""

    # -- like a build's writer: tables replaced whole (secondary sources) -------------------------

    @abstractmethod
    def columns(self, table: str) -> list[str]: ...

    @abstractmethod
    def write(self, table: str, rows: Iterable[tuple[Any, ...]]) -> int: ...

    @abstractmethod
    def clear(self, table: str) -> None:
        """Delete every row of a table."""

    @abstractmethod
    def write_meta(self, values: dict[str, Any]) -> None: ...

    # -- declarations ----------------------------------------------------------------------------

    @abstractmethod
    def replace_declarations(
        self,
        rows: Sequence[tuple[Any, ...]],
        fingerprints: Sequence[tuple[Any, ...]],
        previous: Sequence[tuple[Any, ...]],
        specialities: Sequence[tuple[Any, ...]],
    ) -> None:
        """Replace (or add) declarations: their rows (`declarations` order, organisation 0 until
        regrouped), fingerprints (`empreintes`), previous NDAs (previous, nda) and specialities
        (nda, rank, code, label)."""

    @abstractmethod
    def refresh_fingerprints(self, rows: Sequence[tuple[str, str]]) -> None:
        """(fingerprint, nda): records read anew whose declaration did not change."""

    @abstractmethod
    def mark_removed(self, ndas: Sequence[str]) -> None:
        """Declarations gone from the snapshot: kept, with status `supprime`."""

    @abstractmethod
    def write_locations(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert or replace `localisations` rows."""

    # -- organisations -----------------------------------------------------------------------------

    @abstractmethod
    def members(self, sirets: Iterable[str], pairs: Iterable[tuple[str, str]]) -> list[Member]:
        """The active declarations whose SIRET is one of `sirets` or whose (comparison name, postal
        code) is one of `pairs`, in NDA order."""

    @abstractmethod
    def organisations(self, ids: Iterable[int], identifiants: Iterable[str]) -> list[HeldOrganisation]:
        """The organisations with these ids or these identifiers (with their active declarations)."""

    @abstractmethod
    def organisation_of(self, ndas: Iterable[str]) -> dict[str, int]:
        """The organisation each of these declarations belongs to now."""

    @abstractmethod
    def next_organisation_id(self) -> int: ...

    @abstractmethod
    def write_organisations(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """(id, identifiant, siret, siren, nb_declarations, regroupement, nda_principal): each
        organisation rewritten, shown as its displayed declaration, active; its declarations
        (`owners`) set apart."""

    @abstractmethod
    def set_owners(self, owners: dict[str, int]) -> None:
        """NDA → the organisation it now belongs to."""

    @abstractmethod
    def retire_organisations(self, ids: Sequence[int]) -> None:
        """Organisations no group carries any more: status `supprime`."""

    @abstractmethod
    def identifiants(self, ids: Iterable[int]) -> dict[int, str]:
        """Organisation id → its identifier."""

    @abstractmethod
    def refresh_organisations(self, ids: Sequence[int]) -> None:
        """Re-derive these organisations' scopes, declaration counts and search rows (full text,
        map, filters)."""

    # -- the rest --------------------------------------------------------------------------------

    @abstractmethod
    def log(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Change log entries (date, nda, event, fields): each declaration's organisation is the
        one it belongs to now."""

    @abstractmethod
    def log_organisations(self, rows: Sequence[tuple[str, int, str, str | None]]) -> None:
        """Change log entries of organisations (date, id, event, fields), in this order."""

    @abstractmethod
    def replace_quarantine(self, rows: Sequence[tuple[Any, ...]]) -> None: ...

    @abstractmethod
    def reconciliation_rows(self) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """As UpdateSession.reconciliation_rows, for the directory as updated so far."""

    @abstractmethod
    def replace_sirene(self, rows: Sequence[tuple[Any, ...]], answers: dict[str, Any]) -> dict[str, Any]:
        """Replace SIRENE's answers and place the declarations again (see Store.replace_sirene)."""


class UpdateSession(ABC):
    """An update under way (the run's lock held): what the directory holds now, read before
    anything is written, and `apply()` to write the changes."""

    @abstractmethod
    def has_fingerprints(self) -> bool: ...

    @abstractmethod
    def active(self) -> tuple[dict[str, str | None], dict[str, str]]:
        """The active declarations, read at once: NDA → date of last declaration, and fingerprint of
        the record as read → NDA."""

    @abstractmethod
    def declaration_values(self, ndas: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Declarations' rows as dicts, with their `nom_comparaison`, and `ndas_precedents` and
        `specialites` (lists, in order)."""

    @abstractmethod
    def quarantined(self) -> int: ...

    @abstractmethod
    def secondary_sources(self) -> dict[str, tuple[Any, ...]]:
        """name → (sha256, status, location) of the secondary sources the directory holds."""

    @abstractmethod
    def sirene_rows(self) -> list[tuple[Any, ...]]:
        """The `sirene` table's rows (none in a directory without it)."""

    @abstractmethod
    def active_sirets(self) -> set[str]: ...

    @abstractmethod
    def reconciliation_rows(self) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """(nda, previous NDA) pairs, and the active declarations of active organisations:
        (organisme_id, nda, siret, denomination, date, nom_comparaison, code_postal, type_adresse,
        code_commune_insee, origine_lieu, *the four certification flags), in NDA order."""

    @abstractmethod
    def meta(self) -> dict[str, Any]: ...

    @abstractmethod
    def apply(self, on_stage: Callable[[str], None]) -> AbstractContextManager[UpdateWriter]:
        """A writer whose changes become visible together when the block ends well. `on_stage` is
        called at the backend's own stages (`copied`, `committed`)."""


class Store(ABC):
    location: str
    kind: str  # "sqlite" or "postgresql"

    @abstractmethod
    def build(self) -> AbstractContextManager[BuildWriter]:
        """A writer for a whole new directory, swapped in atomically when the block ends without error.

        If the block raises, the previous directory is left exactly as it was.
        """

    @abstractmethod
    def exists(self) -> bool: ...

    @abstractmethod
    def meta(self) -> dict[str, Any]: ...

    @abstractmethod
    def declarations(self) -> Iterator[dict[str, Any]]:
        """Every declaration, one per NDA, in NDA order, with its organisation's id and its location."""

    @abstractmethod
    def organisations(self) -> Iterator[dict[str, Any]]:
        """Every organisation with its merged scopes and NDAs."""

    @abstractmethod
    def quarantine(self) -> Iterator[dict[str, Any]]: ...

    @abstractmethod
    def provenance(self) -> Iterator[dict[str, Any]]:
        """What each source said of each organisation (secondary sources and the Liste publique beside
        them): id_organisme, siret, champ, source, valeur, date_observation, conflit, ligne; ordered by
        organisation, source, field, row."""

    @abstractmethod
    def addresses(self) -> Iterator[dict[str, Any]]:
        """Every declaration's address, for geocoding: nda, voie, code_postal, ville,
        code_commune_insee, commune, type_adresse. Declarations placed by SIRENE are left out: their
        location is SIRENE's (clean/places.py)."""

    @abstractmethod
    def establishment_sirets(self) -> list[str]:
        """The valid SIRETs of the active organisations, in identifier order."""

    @abstractmethod
    def replace_sirene(
        self, rows: Iterable[tuple[Any, ...]], answers: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Replace SIRENE's answers (rows in `sirene` column order) and, with `answers` (SIRET →
        (answer, date, api)), place the declarations whose own address gives no commune at SIRENE's
        address (clean/places.py), in one transaction. Returns what placing changed."""

    @abstractmethod
    def replace_locations(self, rows: Iterable[tuple[Any, ...]]) -> int:
        """Replace the locations of the declarations given (rows in `localisations` column order) and
        refresh the spatial index, in one transaction: readers see the old locations or the new."""

    # -- runs, side files, versions --------------------------------------------------------------

    @property
    def shown(self) -> str:
        """The location for messages: a URL without its password."""
        from ..errors import shown

        return shown(self.location)

    @abstractmethod
    def lock(self) -> AbstractContextManager[None]:
        """Held by a build, an update, a migration or a copy for its whole run: a second one fails at
        once with BusyError (exit code 5). Released when the process ends, even killed."""

    def check_writable(self) -> None:  # noqa: B027 - a server checks rights itself
        """Refuse, before any work, a directory that cannot be replaced (NotWritable, exit code 2)."""

    @abstractmethod
    def report_path(self, suffix: str) -> Path:
        """Where a run writes its JSON report (`.report.json`, `.update.json`)."""

    @abstractmethod
    def sidecar_path(self, suffix: str) -> Path:
        """Where a file that goes with the directory lives (profiles, quality report, exports)."""

    @abstractmethod
    def corrections_file(self) -> Path | None:
        """The default corrections side file (corrections, moderators, sessions, audit log), or None
        when the directory's database keeps them itself (PostgreSQL: `open_corrections`)."""

    @abstractmethod
    def open_corrections(self, file: str | Path | None = None) -> CorrectionStore:
        """The directory's shared state (corrections, moderators, sessions, audit log, signing secret,
        and on a server the rate-limit counters): the side file `file`, or the store's default."""

    @abstractmethod
    def stamp(self) -> str:
        """Changes whenever the directory is rebuilt or updated."""

    @abstractmethod
    def migrate(self) -> list[Any]:
        """Apply the missing migrations (store/migrations); returns those applied."""

    @abstractmethod
    def schema_version(self) -> int: ...

    @abstractmethod
    def latest_version(self) -> int: ...

    @abstractmethod
    def read_table(self, table: str, columns: list[str]) -> Iterator[tuple[Any, ...]]:
        """Every row of a table (nothing when the directory predates it), for a copy."""

    @abstractmethod
    def updating(self) -> AbstractContextManager[UpdateSession]:
        """An update of this directory (the run's lock must be held)."""
