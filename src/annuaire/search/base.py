"""The search interface: what the web pages and the API read. searcher.py implements it for every
backend, over its query class (queries.py)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from ..gazetteer import Gazetteer
from .params import ClusterQuery, SearchQuery


class DirectoryUnavailable(Exception):
    """The directory's database cannot be read right now: missing (between a deletion and a new
    build), unreadable, damaged, or its server unreachable. The server answers 503 until it is back."""


class Searcher(ABC):
    """Read-only access to one directory. Methods take checked queries (`SearchQuery.checked()`)."""

    @abstractmethod
    def version(self) -> str:
        """An identifier of the directory's current state (changes with every build or update)."""

    @abstractmethod
    def search(self, query: SearchQuery) -> dict[str, Any]:
        """`total`, `page`, `par_page`, `pages`, `resultats` (organisation summaries), `centre`
        (when the query has one) and `facettes` (when asked: counts per scope, département,
        speciality over every match)."""

    @abstractmethod
    def organisation(self, key: str) -> dict[str, Any] | None:
        """One organisation with its declarations, by its id, a SIRET, an NDA or a previous NDA."""

    @abstractmethod
    def clusters(self, query: ClusterQuery) -> dict[str, Any]:
        """`grappes` (count, centroid, bounds) and single `organismes` in a bounding box."""

    @abstractmethod
    def departements(self) -> list[dict[str, Any]]: ...

    @abstractmethod
    def departement(self, code: str) -> dict[str, Any] | None: ...

    @abstractmethod
    def regions(self) -> list[dict[str, Any]]: ...

    @abstractmethod
    def commune(self, code: str) -> dict[str, Any] | None: ...

    @abstractmethod
    def region(self, code: str) -> dict[str, Any] | None:
        """One région's figures: scopes, top specialities, its départements with their counts."""

    @abstractmethod
    def gazetteer(self) -> Gazetteer:
        """The directory's places and what people type to name them (gazetteer.py): the one place
        resolver of the search box, "autour de", the API's `autour=` and the suggestions."""

    @abstractmethod
    def suggest_communes(self, text: str, limit: int = 5) -> list[dict[str, Any]]:
        """Communes (arrondissements, cities) whose official name starts with `text` (compared as the
        gazetteer compares names), those with most organisations first."""

    @abstractmethod
    def sitemap_entries(self) -> list[tuple[str, str, str | None, str | None, str | None, str | None]]:
        """Every active organisation as (id, name, département, commune INSEE code, commune name,
        last declaration date), in id order: what the website's sitemap lists."""

    @abstractmethod
    def specialites(self) -> list[dict[str, Any]]: ...

    @abstractmethod
    def stats(self) -> dict[str, Any]: ...

    @abstractmethod
    def statistiques(self) -> dict[str, Any]:
        """The statistics page's figures (statistics.py): `departements` (population, certified
        organisations per 10,000 inhabitants, map class), `classes`, `france`, `portees` (counts and
        the last update's changes), `evolution` (the dates compared)."""

    def available(self) -> bool:
        """Whether the directory can be read now (after an error: was it the database's absence, or
        a bug?)."""
        return True

    def warm_up(self) -> None:  # noqa: B027 - optional
        """Load what the first request would otherwise wait for."""

    def close(self) -> None:  # noqa: B027 - optional for backends without resources
        """Release connections."""
