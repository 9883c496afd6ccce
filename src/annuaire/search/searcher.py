"""Search over a directory, whatever its backend.

Full text, identifiers, the radius prefilter where the backend indexes places, and the records shown
come from the database, through a query class written in its dialect (queries.py: sqlite.py,
postgres.py). Everything else is here, once for both backends: filters, facets, orders and map
clusters run on the search table's columns held in memory (columns.py), the query text is
understood (understanding.py), territories and statistics are assembled, and what depends only on
the directory is cached until its state (`Queries.ident`) changes.
"""

from __future__ import annotations

import json
import math
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import replace
from typing import Any, TypeVar

import numpy as np

from ..fields import api_reader
from ..gazetteer import CENTRE_KINDS, CITY, Gazetteer, centre_error
from ..sources.naf import naf_label
from . import statistics, text, understanding
from .base import Searcher
from .columns import Columns, Lookups
from .interpret import WORD
from .lexicon import default_lexicon
from .params import SCOPES, ClusterQuery, Filters, QueryError, SearchQuery
from .queries import Queries, Record
from .spelling import Speller

T = TypeVar("T")

CACHE_SIZE = 512
SUMMARY_CACHE = 20_000  # organisation summaries kept in memory per version (a few MB)
MATCHES_KEPT = 2_000_000  # full-text match ids kept in memory per version (16 MB)

# A declaration as the API gives it (api/models.py), from its row with its lists (fields.py).
_DECLARATION = api_reader()
ACTIVITY_FIELDS = (
    "debut_exercice",
    "fin_exercice",
    "nb_stagiaires",
    "nb_stagiaires_confies",
    "effectif_formateurs",
)
SIRENE_FIELDS = (
    "etat_administratif",
    "date_fermeture",
    "denomination",
    "activite_principale",
    "etat_unite_legale",
    "date_verification",
    "api",
)
SIRENE_LATER_FIELDS = ("adresse", "code_postal", "code_commune", "latitude", "longitude", "diffusion")


def activity(declarations: list[dict[str, Any]], principal: str) -> dict[str, Any]:
    """An organisation's declared activity: its most recent declaration's (the one shown, `principal`),
    never a sum. The declarations of one establishment each report the same establishment's year, so
    adding them up would count its trainees once per NDA."""
    shown = next((d for d in declarations if d["numero_declaration_activite"] == principal), None)
    return {name: (shown or {}).get(name) for name in ACTIVITY_FIELDS}


def _place_of(shown: dict[str, Any], sirene: dict[str, Any] | None) -> dict[str, Any]:
    """Where the organisation's place comes from (its displayed declaration's): `liste_publique`,
    `sirene` (with SIRENE's address and the date of its answer), `region_declaree`, `aucune`."""
    origin = shown.get("origine_lieu") or "liste_publique"
    from_sirene = origin == "sirene" and sirene is not None
    sirene = sirene or {}
    return {
        "origine": origin,
        "date": shown.get("date_origine_lieu"),
        "adresse": sirene["adresse"] if from_sirene else shown.get("adresse"),
        "code_postal": sirene["code_postal"] if from_sirene else shown.get("code_postal"),
        "diffusion_partielle": bool(from_sirene and sirene["diffusion"] == "P"),
    }


def summary(row: Record, distance: float | None = None) -> dict[str, Any]:
    """An organisation as listed in results (field names as in organismes.csv)."""
    return {
        "id_organisme": row["identifiant"],
        "siret": row["siret"],
        "siren": row["siren"],
        "denomination": row["denomination"],
        "numero_declaration_activite": row["nda_principal"],
        "nb_declarations": row["nb_declarations"],
        "adresse": row["voie"],
        "code_postal": row["code_postal"],
        "commune": row["commune"],
        "code_commune_insee": row["code_commune_insee"],
        "code_departement": row["code_departement"],
        "code_region": row["code_region"],
        "type_adresse": row["type_adresse"],
        **{f"certification_{s}": bool(row[s]) for s in SCOPES},
        "date_derniere_declaration": row["date_derniere_declaration"],
        "latitude": row["latitude"],
        "longitude": row["longitude"],
        "geo_methode": row["geo_methode"],
        "statut": row["statut"],
        "distance_km": None if distance is None else round(distance, 3),
    }


class Matches:
    """Full-text answers kept for one version of the directory, least recently used dropped first."""

    def __init__(self) -> None:
        self.ids: OrderedDict[tuple[tuple[str, ...], bool], np.ndarray] = OrderedDict()
        self.total = 0

    def add(self, key: tuple[tuple[str, ...], bool], ids: np.ndarray) -> None:
        if key in self.ids:
            return
        self.ids[key] = ids
        self.total += len(ids)
        while self.total > MATCHES_KEPT and len(self.ids) > 1:
            self.total -= len(self.ids.popitem(last=False)[1])


class DirectorySearcher(Searcher):
    """The searcher of one directory, reading its database through `queries`."""

    def __init__(self, queries: Queries):
        self.queries = queries
        self._lock = threading.Lock()
        self._cache: OrderedDict[Hashable, Any] = OrderedDict()
        self._pinned: dict[Hashable, Any] = {}
        self._cache_ident: Hashable | None = None

    # -- caching -----------------------------------------------------------------------------------

    def _cached(self, key: Hashable, compute: Callable[[], T], *, pinned: bool = False) -> T:
        """`compute()`'s value, kept until the directory changes. The most recently used CACHE_SIZE
        values are kept; `pinned` ones (the search columns, the summaries) whatever else is asked, so
        that a crawl through many pages never evicts what every search needs."""
        ident = self.queries.ident()
        with self._lock:
            if self._cache_ident != ident:
                self._cache.clear()
                self._pinned.clear()
                self._cache_ident = ident
            if key in self._pinned:
                value: T = self._pinned[key]
                return value
            if key in self._cache:
                self._cache.move_to_end(key)
                value = self._cache[key]
                return value
        value = compute()
        with self._lock:
            if self._cache_ident == ident:
                if pinned:
                    kept: T = self._pinned.setdefault(key, value)
                    return kept
                self._cache[key] = value
                while len(self._cache) > CACHE_SIZE:
                    self._cache.popitem(last=False)
        return value

    def version(self) -> str:
        return self.queries.version()

    def available(self) -> bool:
        return self.queries.available()

    def warm_up(self) -> None:
        self.columns()
        self.gazetteer()
        self.speller()
        self._commune_counts()

    def close(self) -> None:
        self.queries.close()

    def _has_table(self, name: str) -> bool:
        return self._cached(("has_table", name), lambda: self.queries.has_table(name))

    # -- search ------------------------------------------------------------------------------------

    def gazetteer(self) -> Gazetteer:
        """The directory's places and what people type to name them (gazetteer.py), loaded once per
        version of the directory."""

        def load() -> Gazetteer:
            communes, former, departements = self.queries.gazetteer_rows(
                self._has_table("communes_anciennes")
            )
            return Gazetteer(communes, former, departements)

        return self._cached("gazetteer", load, pinned=True)

    def _centre(self, f: Filters) -> tuple[tuple[float, float] | None, dict[str, Any] | None]:
        """The search's centre and the place it is: a position given, or the place `autour` names
        (gazetteer.py: a name, a postal code, an INSEE code). QueryError when the place is unknown or
        ambiguous: the message names the candidates."""
        if f.lat is not None and f.lon is not None:
            return (f.lat, f.lon), {
                "type": "position",
                "code": None,
                "nom": None,
                "code_commune_insee": None,
                "code_postal": None,
                "code_departement": None,
                "latitude": f.lat,
                "longitude": f.lon,
            }
        if not f.autour:
            return None, None
        found = self.gazetteer().resolve(f.autour, CENTRE_KINDS)
        problem = centre_error(found)
        if problem or found.place is None or found.place.latitude is None or found.place.longitude is None:
            raise QueryError("autour", problem or f.autour)  # centre_error names what is missing
        return (found.place.latitude, found.place.longitude), found.place.as_dict()

    def _communes_meant(self, f: Filters) -> tuple[str, ...]:
        """The communes a commune filter means (a city: its arrondissements too)."""
        return self.gazetteer().communes_of(f.commune) if f.commune else ()

    def columns(self) -> Columns:
        """The search table in memory, loaded once per version of the directory."""

        def load() -> Columns:
            rows, specialities = self.queries.columns()
            return Columns(rows, specialities)

        return self._cached("columns", load, pinned=True)

    # -- what the query text means (understanding.py) ------------------------------------------------

    def speller(self) -> Speller:
        """The spelling vocabulary (spelling.py): the words of the names and communes of the
        organisations, of the communes' official names and of the lexicon; loaded once per version."""

        def load() -> Speller:
            counts: Counter[str] = Counter()
            for name in self.columns().names:
                counts.update(set(name.split()))
            for commune, n in self.queries.commune_word_counts():
                for word in set(text.folded(commune or "").split()):
                    counts[word] += n
            spelt: dict[str, str] = {}
            lexicon_words: set[str] = set()
            place_words: set[str] = set()
            terms = [t for entry in default_lexicon().entries for t in entry.terms]
            places = self.queries.commune_names()
            for phrases, words in ((terms, lexicon_words), (places, place_words)):
                for phrase in phrases:
                    folded, typed = text.folded(phrase).split(), WORD.findall(phrase)
                    words.update(folded)
                    if len(folded) == len(typed):  # how a correction is written: "Étienne", "comptabilité"
                        for f, t in zip(folded, typed, strict=True):
                            if len(f) == len(t):
                                spelt.setdefault(f, t.lower())
            return Speller(counts, (lexicon_words, place_words), spelt)

        return self._cached("speller", load, pinned=True)

    def _words_matching(self, words: list[str], prefix: bool = True) -> np.ndarray:
        """Ids of the organisations whose name or commune holds every word (each a prefix, or whole).
        Recent answers are kept (typed queries repeat: "formation", "sas"…), up to MATCHES_KEPT ids
        in all, read-only as they are shared between requests."""
        key = (tuple(words), prefix)
        kept = self._cached("matches", Matches, pinned=True)
        with self._lock:
            found = kept.ids.get(key)
            if found is not None:
                kept.ids.move_to_end(key)
                return found
        found = self.queries.text_matches(words, prefix)
        found.flags.writeable = False
        with self._lock:
            kept.add(key, found)
        return found

    def _understanding_context(self) -> understanding.Context:
        return understanding.Context(
            columns=self.columns(),
            lexicon=default_lexicon(),
            gazetteer=self.gazetteer(),
            speller=self.speller(),
            words_matching=self._words_matching,
            weights=self._commune_counts(),
            labels=self._speciality_labels(),
            memo=self._cached("names_holding", dict, pinned=True),
        )

    def _understand(self, f: Filters) -> understanding.Understanding | None:
        """What the text of a search means (None without text, or for an identifier)."""
        if not f.q or text.identifier(f.q):
            return None
        return understanding.understand(f.q, self._understanding_context(), correct=f.correction)

    def _lookups(self, f: Filters) -> Lookups:
        matches = None
        understood = None
        found = text.identifier(f.q) if f.q else None
        if found:
            kind, digits = found
            matches = np.array(self.queries.identifier_matches(kind, digits), dtype=np.int64)
        elif f.q:
            understood = self._understand(f)
        postal: tuple[str, ...] = ()
        if f.code_postal:
            postal = self.queries.postal_communes(f.code_postal)
        centre, place = self._centre(f)
        if centre is not None and not found:
            # The radius's prefilter, where the backend has a spatial index (None: the columns alone).
            matches = self.queries.near(centre, f.rayon_km * 1000.0)
        return Lookups(
            matches=matches,
            centre=centre,
            postal_communes=postal,
            communes=self._communes_meant(f),
            place=place,
            understood=understood,
        )

    def _selection(self, f: Filters) -> tuple[Columns, np.ndarray, Lookups]:
        lookups = self._lookups(f)
        columns = self.columns()
        for _ in range(3):  # the directory was replaced while the text was read: read it again
            if lookups.understood is None or lookups.understood.columns is columns:
                break
            lookups = self._lookups(f)
            columns = self.columns()
        else:
            raise QueryError("q", "l'annuaire vient d'être mis à jour : relancez la recherche")
        return columns, columns.mask(f, lookups), lookups

    def search(self, query: SearchQuery) -> dict[str, Any]:
        f = query.filters
        columns, mask, lookups = self._selection(f)
        understood: understanding.Understanding | None = lookups.understood
        ranked_text = text.folded(f.q) if f.q and understood is None and not text.identifier(f.q) else None
        positions, distances = columns.ordered(
            mask,
            query.tri,
            ranked_text,
            lookups.centre,
            understood.ranking if understood is not None else None,
        )
        total = len(positions)
        start = (query.page - 1) * query.par_page
        page = positions[start : start + query.par_page]
        page_distances = distances[start : start + query.par_page] if distances is not None else None
        ids: list[int] = columns.ids[page].tolist()
        results = self._summaries(
            list(
                zip(
                    ids,
                    page_distances.tolist() if page_distances is not None else [None] * len(ids),
                    strict=True,
                )
            ),
        )
        out: dict[str, Any] = {
            "total": total,
            "page": query.page,
            "par_page": query.par_page,
            "pages": math.ceil(total / query.par_page),
            "tri": query.tri,
            "centre": lookups.place,
            "resultats": results,
            "interpretation": self._interpretation(f, understood),
            "suggestions": self._suggestions(f, understood) if total == 0 and understood is not None else [],
        }
        if query.facettes:
            out["facettes"] = self._facets(columns, mask)
        return out

    def _interpretation(
        self, f: Filters, understood: understanding.Understanding | None
    ) -> dict[str, Any] | None:
        if understood is not None:
            return understanding.interpretation(understood, default_lexicon(), self._speciality_labels())
        found = text.identifier(f.q) if f.q else None
        return understanding.identifier_interpretation(f.q, found) if f.q and found else None

    def _suggestions(self, f: Filters, understood: understanding.Understanding) -> list[dict[str, Any]]:
        """What to try instead of a search that found nothing (understanding.suggestions), each
        counted with the search's other conditions."""
        columns = self.columns()
        if understood.columns is not columns:
            return []
        others = replace(f, q="").checked()
        lookups = self._lookups(others)
        return understanding.suggestions(
            understood, self._understanding_context(), columns.mask(others, lookups)
        )

    def _summaries(self, ids: list[tuple[int, float | None]]) -> list[dict[str, Any]]:
        """Organisation summaries, with their distance when given. The most recently shown are kept
        in memory for this version of the directory: result pages share many organisations."""
        if not ids:
            return []
        known: OrderedDict[int, dict[str, Any]] = self._cached("summaries", OrderedDict, pinned=True)
        with self._lock:
            missing = [i for i, _ in ids if i not in known]
        fetched: dict[int, dict[str, Any]] = {}
        if missing:
            fetched = {row["id"]: summary(row) for row in self.queries.summaries(missing)}
            with self._lock:
                known.update(fetched)
                while len(known) > SUMMARY_CACHE:
                    known.popitem(last=False)
        out = []
        with self._lock:
            for i, d in ids:
                found = fetched.get(i) or known.get(i)
                if found is not None:
                    if i in known:
                        known.move_to_end(i)
                    out.append({**found, "distance_km": None if d is None or math.isnan(d) else round(d, 3)})
        return out

    def _facets(self, columns: Columns, mask: np.ndarray) -> dict[str, Any]:
        counts = columns.facets(mask)
        departements = self._departement_names()
        specialities = self._speciality_labels()
        return {
            "portees": counts["portees"],
            "certifie": counts["certifie"],
            "departements": sorted(
                (
                    {"code": code, "nom": departements.get(code), "nombre": n}
                    for code, n in counts["departements"]
                ),
                key=lambda d: (-d["nombre"], d["code"] or ""),
            ),
            "specialites": sorted(
                (
                    {"code": code, "libelle": specialities.get(code), "nombre": n}
                    for code, n in counts["specialites"]
                ),
                key=lambda d: (-d["nombre"], d["code"]),
            ),
        }

    # -- one organisation ----------------------------------------------------------------------------

    def _organisation_id(self, key: str) -> int | None:
        compact = "".join(key.split()).replace(".", "").upper()
        if not compact or len(compact) > 40:
            return None
        found = self.queries.organisation_by_identifier(compact)
        if found is None and compact.isdigit():
            found = self.queries.organisation_by_number(compact)
        return found

    def organisation(self, key: str) -> dict[str, Any] | None:
        q = self.queries
        oid = self._organisation_id(key)
        if oid is None:
            return None
        (org,) = self._summaries([(oid, None)])
        extra = q.organisation_details(oid) or {}
        declarations = []
        all_specialities: dict[str, str | None] = {}
        for d in q.declarations(oid):
            listed = q.declaration_specialities(d["nda"])
            for code, label in listed:
                all_specialities.setdefault(code, label)
            specialities = [{"code": code, "libelle": label} for code, label in listed]
            declarations.append(
                _DECLARATION({**d, "ndas_precedents": q.previous_ndas(d["nda"]), "specialites": specialities})
            )
        history = [
            {
                "date": row["date"],
                "evenement": row["evenement"],
                "numero_declaration_activite": row["nda"],
                "champs": json.loads(row["champs"]) if row["champs"] else None,
            }
            # directories built before the change log have none
            for row in (q.history(oid) if self._has_table("historique") else ())
        ]
        sirene = self._sirene(org.get("siret"))
        main = org["numero_declaration_activite"]
        shown = next(
            (d for d in declarations if d["numero_declaration_activite"] == main),
            declarations[0] if declarations else {},
        )
        org.update(
            {
                **activity(declarations, org["numero_declaration_activite"]),
                "lieu": _place_of(shown, sirene),
                "provenance": self._provenance(oid),
                "sirene": sirene,
                "historique": history,
                "numeros_declaration_activite": [
                    d["numero_declaration_activite"] for d in declarations if d["statut"] == "actif"
                ],
                "departement": extra.get("departement"),
                "region": extra.get("region"),
                "regroupement": extra.get("regroupement"),
                "geo_score": extra.get("geo_score"),
                "geo_type": extra.get("geo_type"),
                "geo_label": extra.get("geo_label"),
                "specialites": [{"code": c, "libelle": label} for c, label in all_specialities.items()],
                "declarations": declarations,
            }
        )
        return org

    def _provenance(self, oid: int) -> dict[str, Any]:
        """What each source said about the organisation (pipeline/reconcile.py), grouped by source."""
        if not self._has_table("provenance"):  # directories built before secondary sources
            return {"sources": [], "conflits": 0}
        labels = {row["nom"]: row for row in self.queries.secondary_sources()}
        by_source: dict[str, dict[str, Any]] = {}
        seen: dict[str, set[tuple[Any, ...]]] = {}
        for row in self.queries.provenance(oid, self._has_table("communes_anciennes")):
            name = row["source"]
            entry = by_source.get(name)
            if entry is None:
                known = labels.get(name)
                entry = by_source[name] = {
                    "source": name,
                    "libelle": "Liste publique des organismes de formation"
                    if name == "liste_publique"
                    else "Répertoire SIRENE (INSEE)"
                    if name == "sirene"
                    else (known["libelle"] if known else name),
                    "statut": "frais" if name == "liste_publique" else (known["statut"] if known else None),
                    "champs": [],
                }
                seen[name] = set()
            said = (row["champ"], row["valeur"], row["date_observation"])
            if said in seen[name]:  # the same statement on another row of the source (a CFA in two networks)
                continue
            seen[name].add(said)
            entry["champs"].append(
                {
                    "champ": row["champ"],
                    "valeur": row["valeur"],
                    "date_observation": row["date_observation"],
                    "conflit": bool(row["conflit"]),
                    "ligne": row["ligne"],
                }
            )
        sources = list(by_source.values())
        return {
            "sources": sources,
            "conflits": sum(c["conflit"] for s in sources for c in s["champs"]),
        }

    def _sirene(self, siret: str | None) -> dict[str, Any] | None:
        """SIRENE's answer for the establishment (`annuaire sirene`), if it was asked."""
        if not siret or not self._has_table("sirene"):
            return None
        row = self.queries.sirene(siret)
        if row is None:
            return None
        return {
            "etat_administratif": row["etat_administratif"],
            "ferme": row["etat_administratif"] == "F",
            "date_fermeture": row["date_fermeture"],
            "denomination": row["denomination"],
            "activite_principale": row["activite_principale"],
            "activite_principale_libelle": naf_label(row["activite_principale"]),
            "etat_unite_legale": row["etat_unite_legale"],
            "date_verification": row["date_verification"],
            "api": row["api"],
            # columns a directory built before them lacks (None there)
            **{name: row.get(name) for name in SIRENE_LATER_FIELDS},
        }

    # -- map ---------------------------------------------------------------------------------------

    def clusters(self, query: ClusterQuery) -> dict[str, Any]:
        columns, mask, _ = self._selection(query.filters)
        rows = columns.clusters(mask, query)
        grappes = [
            {
                "nombre": row[0],
                "latitude": row[1],
                "longitude": row[2],
                "limites": {"sud": row[3], "nord": row[4], "ouest": row[5], "est": row[6]},
            }
            for row in rows
            if row[0] > 1
        ]
        singles: list[tuple[int, float | None]] = [
            (int(columns.ids[row[7]]), None) for row in rows if row[0] == 1
        ]
        points = [
            {k: s[k] for k in ("id_organisme", "denomination", "commune", "latitude", "longitude")}
            for s in self._summaries(singles)
        ]
        return {
            "zoom": query.zoom,
            "total": sum(row[0] for row in rows),
            "grappes": grappes,
            "organismes": points,
        }

    # -- geography and reference lists ---------------------------------------------------------------

    def _departement_names(self) -> dict[str, str]:
        return self._cached("departement_names", self.queries.departement_names)

    def _speciality_labels(self) -> dict[str, str]:
        return self._cached("speciality_labels", self.queries.speciality_labels)

    def _area(self, **filters: Any) -> dict[str, Any]:
        """Counts over the active organisations of one area (`departement=`, `commune=`…), or all."""
        columns = self.columns()
        f = Filters(**filters)
        counts = columns.facets(columns.mask(f, Lookups(communes=self._communes_meant(f))))
        return {
            "nb_organismes": counts["total"],
            "nb_certifies": counts["certifie"]["oui"],
            "portees": counts["portees"],
        }

    def _per_area(self, key: str) -> dict[str | None, tuple[int, int]]:
        """(organisations, certified) among active organisations per département or région."""

        def compute() -> dict[str | None, tuple[int, int]]:
            c = self.columns()
            vocabulary = c.departement if key == "departement" else c.region
            active = c.status.codes == c.status["actif"]
            total = np.bincount(vocabulary.codes[active] + 1, minlength=len(vocabulary.values) + 1)
            certified = np.bincount(
                vocabulary.codes[active & c.certified] + 1, minlength=len(vocabulary.values) + 1
            )
            return {
                vocabulary.values[i - 1] if i else None: (int(total[i]), int(certified[i]))
                for i in range(len(total))
            }

        return self._cached(("per_area", key), compute)

    def departements(self) -> list[dict[str, Any]]:
        counts = self._per_area("departement")
        rows = self._cached("departements", self.queries.departements)
        return [
            {
                "code": row["code"],
                "nom": row["nom"],
                "type_liaison": row.get("type_liaison"),  # None in a directory built before it
                "code_region": row["code_region"],
                "nb_organismes": counts.get(row["code"], (0, 0))[0],
                "nb_certifies": counts.get(row["code"], (0, 0))[1],
            }
            for row in rows
        ]

    def departement(self, code: str) -> dict[str, Any] | None:
        return self._cached(("departement", code), lambda: self._departement(code))

    def _departement(self, code: str) -> dict[str, Any] | None:
        row = self.queries.departement(code)
        if row is None:
            return None
        columns = self.columns()
        mask = columns.mask(Filters(departement=code), Lookups())
        facets = self._facets(columns, mask)
        in_departement = columns.commune.codes[mask]
        per_commune = np.bincount(in_departement[in_departement >= 0], minlength=len(columns.commune.values))
        # Paris, Lyon and Marseille count as cities: their arrondissements' organisations added up.
        places = self.gazetteer()
        totals: dict[str, int] = {}
        for i in np.flatnonzero(per_commune).tolist():
            commune = columns.commune.values[i]
            assert commune is not None  # codes >= 0 name a commune
            commune = places.city_of(commune) or commune
            totals[commune] = totals.get(commune, 0) + int(per_commune[i])
        communes = sorted(totals.items(), key=lambda item: (-item[1], item[0]))[:10]
        names = self.queries.communes_named([c for c, _ in communes])
        return {
            "code": row["code"],
            "nom": row["nom"],
            "type_liaison": row.get("type_liaison"),
            "code_region": row["code_region"],
            "region": row["region"],
            "nb_organismes": int(mask.sum()),
            "nb_certifies": facets["certifie"]["oui"],
            "portees": facets["portees"],
            "specialites": facets["specialites"][:10],
            "communes": [{"code_insee": c, "nom": names.get(c), "nombre": n} for c, n in communes],
        }

    def regions(self) -> list[dict[str, Any]]:
        counts = self._per_area("region")

        def compute() -> list[dict[str, Any]]:
            members: dict[str, list[str]] = {}
            for code, region in self.queries.departement_regions():
                members.setdefault(region, []).append(code)
            return [
                {
                    "code": row["code"],
                    "nom": row["nom"],
                    "type_liaison": row.get("type_liaison"),
                    "departements": members.get(row["code"], []),
                    "nb_organismes": counts.get(row["code"], (0, 0))[0],
                    "nb_certifies": counts.get(row["code"], (0, 0))[1],
                }
                for row in self.queries.regions()
            ]

        return self._cached("regions", compute)

    def region(self, code: str) -> dict[str, Any] | None:
        return self._cached(("region", code), lambda: self._region(code))

    def _region(self, code: str) -> dict[str, Any] | None:
        found = next((r for r in self.regions() if r["code"] == code), None)
        if found is None:
            return None
        columns = self.columns()
        facets = self._facets(columns, columns.mask(Filters(region=code), Lookups()))
        members = {d["code"]: d for d in self.departements()}
        return {
            **found,
            "portees": facets["portees"],
            "specialites": facets["specialites"][:10],
            "departements": [members[c] for c in found["departements"] if c in members],
        }

    def _commune_counts(self) -> dict[str, int]:
        """Active organisations per commune; a city counts its arrondissements'."""

        def compute() -> dict[str, int]:
            columns = self.columns()
            active = columns.status.codes == columns.status["actif"]
            codes = columns.commune.codes[active]
            counts = np.bincount(codes[codes >= 0], minlength=len(columns.commune.values))
            places = self.gazetteer()
            out: dict[str, int] = {}
            for i in np.flatnonzero(counts).tolist():
                code, n = columns.commune.values[i], int(counts[i])
                assert code is not None  # codes >= 0 name a commune
                out[code] = out.get(code, 0) + n
                if city := places.city_of(code):
                    out[city] = out.get(city, 0) + n
            return out

        return self._cached("commune_counts", compute)

    def suggest_communes(self, text: str, limit: int = 5) -> list[dict[str, Any]]:
        counts = self._commune_counts()
        return [
            {
                "code_insee": p.code,
                "nom": p.nom,
                "type": p.kind,
                "code_departement": p.code_departement,
                "nb_organismes": counts.get(p.code, 0),
            }
            for p in self.gazetteer().suggest(text, limit, weights=counts)
        ]

    def sitemap_entries(self) -> list[tuple[str, str, str | None, str | None, str | None, str | None]]:
        return [
            (row[0], row[1], row[2], row[3], row[4], row[5])
            for row in self._cached("sitemap_entries", self.queries.sitemap_rows)
        ]

    def commune(self, code: str) -> dict[str, Any] | None:
        """A commune, arrondissement or city by its INSEE code (a former code: today's commune), with
        its counts; a city lists its arrondissements, an arrondissement names its city."""
        places = self.gazetteer()
        place = places.commune(code)
        if place is None:
            return None
        row = self.queries.commune(place.code)
        if row is None:
            return None
        city = places.commune(place.ville) if place.ville else None
        return {
            "code_insee": row["code_insee"],
            "nom": row["nom"],
            "type": place.kind,
            "codes_postaux": row["codes_postaux"].split(),
            "code_departement": row["code_departement"],
            "code_region": row["code_region"],
            "latitude": row["latitude"],
            "longitude": row["longitude"],
            "ville": {"code_insee": city.code, "nom": city.nom} if city else None,
            "arrondissements": [
                {"code_insee": a.code, "nom": a.nom, **self._area(commune=a.code)}
                for a in places.arrondissements(place.code)
            ]
            if place.kind == CITY
            else [],
            **self._area(commune=place.code),
        }

    def specialites(self) -> list[dict[str, Any]]:
        def compute() -> list[dict[str, Any]]:
            columns = self.columns()
            counts = dict(columns.facets(columns.mask(Filters(), Lookups()))["specialites"])
            return [
                {"code": code, "libelle": label, "nb_organismes": counts.get(code, 0)}
                for code, label in self._speciality_labels().items()
            ]

        return self._cached("specialites", compute)

    def stats(self) -> dict[str, Any]:
        def compute() -> dict[str, Any]:
            q = self.queries
            return {
                **self._area(),
                "nb_declarations": q.count("declarations", "statut = 'actif'"),
                "nb_quarantaine": q.count("quarantaine"),
                "localisation": q.location_methods(),
                "date_construction": q.meta().get("built_at"),
            }

        return self._cached("stats", compute)

    def statistiques(self) -> dict[str, Any]:
        """The statistics page's figures (statistics.py): per département, the certified organisations
        per 10,000 inhabitants (the COG's populations of its communes); per scope, the organisations
        and declarations holding it and what the last update changed (from `historique`)."""

        def compute() -> dict[str, Any]:
            q = self.queries
            rows, classes = statistics.departement_figures(self.departements(), q.populations())
            area = self._area()
            held = q.scopes_held()
            meta = q.meta()
            last, previous, changes = None, None, None
            if self._has_table("historique"):
                dates = q.update_dates()
                if dates:
                    last = dates[0]
                    previous = dates[1] if len(dates) > 1 else (meta.get("built_at") or "")[:10] or None
                    found = q.changes_on(last)
                    state = {
                        row[0]: (
                            row[3] == "actif",
                            frozenset(c for c, f in zip(statistics.SCOPE_CODES, row[4:], strict=True) if f),
                        )
                        for row in found
                    }
                    changes = statistics.scope_changes(((r[0], r[1], r[2]) for r in found), state)
            return {
                "date_construction": meta.get("built_at"),
                "date_mise_a_jour": meta.get("updated_at"),
                "evolution": {"date": last, "date_precedente": previous} if last else None,
                "france": statistics.national(rows, area["nb_organismes"], area["nb_certifies"]),
                "classes": classes,
                "departements": rows,
                "portees": statistics.scope_figures(
                    area["portees"], dict(zip(statistics.SCOPE_CODES, held, strict=True)), changes
                ),
            }

        return self._cached("statistiques", compute)
