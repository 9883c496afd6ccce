"""What the searcher asks its database, one method per question, answered with plain Python values
(tuples, dicts, numpy id arrays). One subclass per backend (sqlite.py, postgres.py) writes the
statements that take parameters in its own dialect; the statements without parameters are the same
SQL on both and are written once here.

The directory's state (`ident`) is the backend's: the SQLite file's identity, PostgreSQL's
`version` row. The searcher (searcher.py) keys its caches on it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from . import statistics
from .columns import ROW_FIELDS
from .params import SCOPES

Record = dict[str, Any]

SCOPE_FLAGS = ", ".join(f"coalesce(sum(certification_{c}), 0)" for c in statistics.SCOPE_CODES)
DECLARATION_SCOPES = ", ".join(f"d.certification_{c}" for c in statistics.SCOPE_CODES)
EVENTS = ", ".join(f"'{e}'" for e in statistics.EVENTS)
# Organisation summaries (search results, map popups): each backend adds how it takes a list of ids.
SUMMARY = f"""SELECT o.id, o.identifiant, o.siret, o.siren, o.denomination, o.nda_principal,
       o.nb_declarations, o.voie, o.code_postal, coalesce(o.commune, o.ville) AS commune,
       o.code_commune_insee, o.code_departement, o.code_region, o.type_adresse,
       o.date_derniere_declaration, o.statut,
       {", ".join(f"r.{scope}" for scope in SCOPES)},
       r.latitude, r.longitude, l.geo_methode
FROM organismes o JOIN recherche r ON r.id = o.id LEFT JOIN localisations l ON l.nda = o.nda_principal
"""


class Queries(ABC):
    """One directory's database, read only."""

    # -- the directory's state and connections -----------------------------------------------------

    @abstractmethod
    def ident(self) -> Hashable:
        """The directory's current state: changes with every build, update or swap.
        DirectoryUnavailable when it cannot be known."""

    @abstractmethod
    def version(self) -> str:
        """`ident()` as a string."""

    def available(self) -> bool:
        return True

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def rows(self, statement: str) -> list[tuple[Any, ...]]:
        """A statement without parameters (written in the SQL both backends speak), as tuples."""

    @abstractmethod
    def records(self, statement: str) -> list[Record]:
        """A statement without parameters, as dicts by column name."""

    @abstractmethod
    def has_table(self, name: str) -> bool: ...

    # -- search ------------------------------------------------------------------------------------

    def columns(self) -> tuple[list[tuple[Any, ...]], list[tuple[int, str]]]:
        """The search table's rows (columns.ROW_FIELDS) and the (organisation id, NSF code) pairs,
        from one state of the directory."""
        rows = self.rows(f"SELECT {', '.join(ROW_FIELDS)} FROM recherche ORDER BY id")
        specialities = self.rows("SELECT organisme_id, code FROM organisme_specialites")
        return rows, [(i, c) for i, c in specialities]

    @abstractmethod
    def text_matches(self, words: list[str], prefix: bool) -> np.ndarray:
        """Ids of the organisations whose name or commune holds every word (each a prefix from
        text.MIN_PREFIX characters, or whole), from the full-text index."""

    @abstractmethod
    def identifier_matches(self, kind: str, digits: str) -> list[int]:
        """Ids of the organisations a SIRET, SIREN or NDA (current or previous) names."""

    def near(self, centre: tuple[float, float], metres: float) -> np.ndarray | None:
        """Ids of the organisations within `metres` of `centre`, when the backend has a spatial
        index to prefilter a radius with; None: the columns compute it alone."""
        return None

    @abstractmethod
    def postal_communes(self, code_postal: str) -> tuple[str, ...]: ...

    @abstractmethod
    def summaries(self, ids: Sequence[int]) -> list[Record]:
        """The listed organisations' rows (searcher.summary's columns, with `id`), in any order."""

    # -- one organisation ----------------------------------------------------------------------------

    @abstractmethod
    def organisation_by_identifier(self, identifiant: str) -> int | None: ...

    @abstractmethod
    def organisation_by_number(self, digits: str) -> int | None:
        """The organisation an NDA (current or previous) or a SIRET names."""

    @abstractmethod
    def organisation_details(self, oid: int) -> Record | None:
        """`regroupement`, `geo_score`, `geo_type`, `geo_label`, `departement`, `region`."""

    @abstractmethod
    def declarations(self, oid: int) -> list[Record]: ...

    @abstractmethod
    def declaration_specialities(self, nda: str) -> list[tuple[str, str | None]]: ...

    @abstractmethod
    def previous_ndas(self, nda: str) -> list[str]: ...

    @abstractmethod
    def history(self, oid: int) -> list[Record]: ...

    @abstractmethod
    def provenance(self, oid: int, places: bool) -> list[Record]:
        """What each source said about the organisation, with (`places`) where its place came
        from (store/place_sql.py)."""

    def secondary_sources(self) -> list[Record]:
        return self.records("SELECT nom, libelle, statut FROM sources_secondaires")

    @abstractmethod
    def sirene(self, siret: str) -> Record | None: ...

    # -- geography and reference lists ---------------------------------------------------------------

    def gazetteer_rows(
        self, with_former: bool
    ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """Communes, former communes and départements as gazetteer.Gazetteer reads them."""
        if with_former:
            communes = self.rows(
                """SELECT code_insee, nom, codes_postaux, code_departement, code_region, latitude,
                          longitude, type, commune_parente, population FROM communes"""
            )
            former = self.rows("SELECT code_ancien, code_insee, nom FROM communes_anciennes")
        else:  # a directory built before (`annuaire migrate` adds the columns)
            communes = [
                (*row, "commune", None, None)
                for row in self.rows(
                    """SELECT code_insee, nom, codes_postaux, code_departement, code_region, latitude,
                              longitude FROM communes"""
                )
            ]
            former = []
        return communes, former, self.rows("SELECT code, nom FROM departements")

    def commune_word_counts(self) -> list[tuple[str | None, int]]:
        """Organisations per commune name, as the speller counts words."""
        return [
            (c, int(n))
            for c, n in self.rows("SELECT coalesce(commune, ville), count(*) FROM organismes GROUP BY 1")
        ]

    def commune_names(self) -> list[str]:
        return [nom for (nom,) in self.rows("SELECT nom FROM communes")]

    def departement_names(self) -> dict[str, str]:
        return {c: n for c, n in self.rows("SELECT code, nom FROM departements")}

    def speciality_labels(self) -> dict[str, str]:
        """Every NSF speciality's label, in code order."""
        return {c: n for c, n in self.rows("SELECT code, libelle FROM specialites ORDER BY code")}

    def departements(self) -> list[Record]:
        return self.records("SELECT * FROM departements ORDER BY code")

    @abstractmethod
    def departement(self, code: str) -> Record | None:
        """The département's row with its région's name (`region`)."""

    @abstractmethod
    def communes_named(self, codes: Sequence[str]) -> dict[str, str]:
        """The names of these communes (INSEE codes)."""

    def departement_regions(self) -> list[tuple[str, str]]:
        return [(d, r) for d, r in self.rows("SELECT code, code_region FROM departements ORDER BY code")]

    def regions(self) -> list[Record]:
        return self.records("SELECT * FROM regions ORDER BY code")

    @abstractmethod
    def commune(self, code: str) -> Record | None: ...

    def sitemap_rows(self) -> list[tuple[Any, ...]]:
        return self.rows(
            """SELECT identifiant, denomination, code_departement, code_commune_insee,
                      coalesce(commune, ville), date_derniere_declaration
               FROM organismes WHERE statut = 'actif' ORDER BY id"""
        )

    # -- figures ---------------------------------------------------------------------------------

    def meta(self) -> dict[str, str]:
        return {k: v for k, v in self.rows("SELECT key, value FROM meta")}

    def location_methods(self) -> dict[str | None, int]:
        """Active organisations per geocoding method."""
        return {
            m: n
            for m, n in self.rows(
                """SELECT l.geo_methode, count(*) FROM organismes o
                   JOIN localisations l ON l.nda = o.nda_principal WHERE o.statut = 'actif' GROUP BY 1"""
            )
        }

    def count(self, table: str, where: str = "") -> int:
        """Rows of a table (`where`: a condition without parameters)."""
        where = f" WHERE {where}" if where else ""
        return int(self.rows(f"SELECT count(*) FROM {table}{where}")[0][0])

    def populations(self) -> dict[str, Any]:
        """The population of each département (its communes and cities, not their arrondissements)."""
        return {
            d: p
            for d, p in self.rows(
                """SELECT code_departement, sum(population) FROM communes
                   WHERE type IN ('commune', 'ville') GROUP BY code_departement"""
            )
        }

    def scopes_held(self) -> tuple[Any, ...]:
        """Active declarations holding each scope (statistics.SCOPE_CODES' order)."""
        return tuple(self.rows(f"SELECT {SCOPE_FLAGS} FROM declarations WHERE statut = 'actif'")[0])

    def update_dates(self) -> list[str]:
        """The last two dates of the change log that changed declarations, newest first."""
        return [
            d
            for (d,) in self.rows(
                f"""SELECT DISTINCT date FROM historique WHERE evenement IN ({EVENTS})
                    ORDER BY date DESC LIMIT 2"""
            )
        ]

    @abstractmethod
    def changes_on(self, date: str) -> list[tuple[Any, ...]]:
        """The change log's entries of one date as (nda, evenement, champs, statut, the declaration's
        scope flags in statistics.SCOPE_CODES' order), in log order."""
