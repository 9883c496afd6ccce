"""The store interface: what the pipeline writes, and what the exports, the quality report and the
sidecar files read. Search does not read through it: `search/` opens the same tables read-only
itself (its `base.Searcher`, one implementation per backend), for speed.

Tables and their columns are those of `schema.sql`; rows travel as tuples in the schema's column
order (`columns(table)`), which keeps bulk loads fast on every backend.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Any

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


class Store(ABC):
    location: str

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
