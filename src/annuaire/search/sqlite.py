"""Search over a SQLite directory (tables of store/schema.sql and store/search.sql).

Full text and identifiers are matched in SQLite (FTS5, indexes); filters, facets, orders and
map clusters run on the search table's columns held in memory (columns.py); the records shown
are read back from SQLite. One read-only connection per thread, reopened when the file is
replaced (a build or an update swaps it atomically: the next request reads the new directory).
Aggregates that depend only on the directory are cached until the file changes.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DirectoryMissing
from ..fields import api_reader
from ..gazetteer import CENTRE_KINDS, CITY, Gazetteer, centre_error
from ..sources.naf import naf_label
from ..store.place_sql import PLACE_PROVENANCE
from ..store.sqlite import ensure_math_functions
from . import statistics, text, understanding
from .base import DirectoryUnavailable, Searcher
from .columns import ROW_FIELDS, Columns, Lookups
from .interpret import WORD
from .lexicon import default_lexicon
from .params import SCOPES, ClusterQuery, Filters, QueryError, SearchQuery
from .spelling import Speller

SUMMARY = f"""SELECT o.id, o.identifiant, o.siret, o.siren, o.denomination, o.nda_principal,
       o.nb_declarations, o.voie, o.code_postal, coalesce(o.commune, o.ville) AS commune,
       o.code_commune_insee, o.code_departement, o.code_region, o.type_adresse,
       o.date_derniere_declaration, o.statut,
       {", ".join(f"r.{scope}" for scope in SCOPES)},
       r.latitude, r.longitude, l.geo_methode
FROM organismes o JOIN recherche r ON r.id = o.id LEFT JOIN localisations l ON l.nda = o.nda_principal
WHERE o.id IN (SELECT value FROM json_each(?))"""

CACHE_SIZE = 512
SUMMARY_CACHE = 20_000  # organisation summaries kept in memory per version (a few MB)
MATCHES_KEPT = 2_000_000  # full-text match ids kept in memory per version (16 MB)
IDENTIFIER_MATCHES = {
    "siret": """SELECT id FROM organismes WHERE siret = ?1
                UNION SELECT organisme_id FROM declarations WHERE siret = ?1""",
    "siren": """SELECT id FROM organismes WHERE siren = ?1
                UNION SELECT organisme_id FROM declarations WHERE siren = ?1""",
    "nda": """SELECT organisme_id FROM declarations WHERE nda = ?1
              UNION SELECT d.organisme_id FROM ndas_precedents p JOIN declarations d ON d.nda = p.nda
                    WHERE p.nda_precedent = ?1""",
}


# A declaration as the API gives it (api/models.py), from its row with its lists (fields.py).
_DECLARATION = api_reader()
ACTIVITY_FIELDS = (
    "debut_exercice",
    "fin_exercice",
    "nb_stagiaires",
    "nb_stagiaires_confies",
    "effectif_formateurs",
)


def activity(declarations: list[dict[str, Any]], principal: str) -> dict[str, Any]:
    """An organisation's declared activity: its most recent declaration's (the one shown, `principal`),
    never a sum. The declarations of one establishment each report the same establishment's year, so
    adding them up would count its trainees once per NDA."""
    shown = next((d for d in declarations if d["numero_declaration_activite"] == principal), None)
    return {name: (shown or {}).get(name) for name in ACTIVITY_FIELDS}


def _column(row, name: str):
    """A column a directory built before it lacks (None there)."""
    return row[name] if name in row.keys() else None  # noqa: SIM118 (sqlite3.Row)


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


def _liaison(row) -> int | None:
    """A département's or région's COG article (TNCC); None in a directory built before it."""
    return row["type_liaison"] if "type_liaison" in row.keys() else None  # noqa: SIM118 (sqlite3.Row)


def summary(row: sqlite3.Row, distance: float | None = None) -> dict[str, Any]:
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


class _Matches:
    """Full-text answers kept for one version of the file, least recently used dropped first."""

    def __init__(self):
        self.ids: OrderedDict[str, np.ndarray] = OrderedDict()
        self.total = 0

    def add(self, expression: str, ids: np.ndarray) -> None:
        if expression in self.ids:
            return
        self.ids[expression] = ids
        self.total += len(ids)
        while self.total > MATCHES_KEPT and len(self.ids) > 1:
            self.total -= len(self.ids.popitem(last=False)[1])


class SQLiteSearcher(Searcher):
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.is_file():
            raise DirectoryMissing(str(self.path))
        self._local = threading.local()
        self._lock = threading.Lock()
        self._cache: OrderedDict[Any, Any] = OrderedDict()
        self._pinned: dict[Any, Any] = {}
        self._cache_ident: tuple | None = None
        self._connections: list[sqlite3.Connection] = []

    # -- connections and caching -------------------------------------------------------------------

    def _ident(self) -> tuple:
        try:
            st = os.stat(self.path)
        except OSError as exc:
            raise DirectoryUnavailable(f"{self.path}: {exc.strerror or exc}") from exc
        return st.st_ino, st.st_mtime_ns, st.st_size

    def available(self) -> bool:
        try:
            with open(self.path, "rb") as fh:
                return fh.read(16) == b"SQLite format 3\x00"
        except OSError:
            return False

    def _conn(self) -> sqlite3.Connection:
        ident = self._ident()
        local = self._local
        if getattr(local, "ident", None) != ident:
            old = getattr(local, "conn", None)
            local.conn = local.ident = None  # until the new one works: a failed open is tried again
            if old is not None:
                old.close()
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            try:
                conn.row_factory = sqlite3.Row
                conn.execute("PRAGMA query_only = 1")
                conn.execute("PRAGMA mmap_size = 268435456")
                conn.execute("PRAGMA cache_size = -32768")
                ensure_math_functions(conn)
            except sqlite3.Error:
                conn.close()  # not a database (yet): unavailable, answered 503
                raise
            local.conn, local.ident = conn, ident
            with self._lock:
                self._connections.append(conn)
        return local.conn

    def _cached(self, key: Any, compute: Callable[[], Any], *, pinned: bool = False) -> Any:
        """`compute()`'s value, kept until the file changes. The most recently used CACHE_SIZE values
        are kept; `pinned` ones (the search columns, the summaries) whatever else is asked, so that a
        crawl through many pages never evicts what every search needs."""
        ident = self._ident()
        with self._lock:
            if self._cache_ident != ident:
                self._cache.clear()
                self._pinned.clear()
                self._cache_ident = ident
            if key in self._pinned:
                return self._pinned[key]
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        value = compute()
        with self._lock:
            if self._cache_ident == ident:
                if pinned:
                    return self._pinned.setdefault(key, value)
                self._cache[key] = value
                while len(self._cache) > CACHE_SIZE:
                    self._cache.popitem(last=False)
        return value

    def _text_matches(self, conn: sqlite3.Connection, expression: str) -> np.ndarray:
        """Organisation ids matching a full-text expression. Recent answers are kept (typed queries
        repeat: "formation", "sas"…), up to MATCHES_KEPT ids in all."""
        kept: _Matches = self._cached("matches", _Matches, pinned=True)
        with self._lock:
            found = kept.ids.get(expression)
            if found is not None:
                kept.ids.move_to_end(expression)
                return found
        (found_ids,) = conn.execute(
            "SELECT group_concat(rowid) FROM organismes_fts WHERE organismes_fts MATCH ?", (expression,)
        ).fetchone()
        # One string parsed in C: far cheaper than a Python tuple per match for broad prefixes.
        found = np.fromstring(found_ids or "", dtype=np.int64, sep=",")
        found.flags.writeable = False  # shared between requests
        with self._lock:
            kept.add(expression, found)
        return found

    def version(self) -> str:
        ino, mtime, size = self._ident()
        return f"{ino:x}-{mtime:x}-{size:x}"

    def warm_up(self) -> None:
        self.columns()
        self.gazetteer()
        self.speller()
        self._commune_counts()

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    # -- search ------------------------------------------------------------------------------------

    def gazetteer(self) -> Gazetteer:
        """The directory's places and what people type to name them (gazetteer.py), loaded once per
        version of the directory."""

        def load() -> Gazetteer:
            conn = self._conn()
            if self._has_table("communes_anciennes"):
                communes = conn.execute(
                    """SELECT code_insee, nom, codes_postaux, code_departement, code_region, latitude,
                              longitude, type, commune_parente, population FROM communes"""
                ).fetchall()
                former = conn.execute(
                    "SELECT code_ancien, code_insee, nom FROM communes_anciennes"
                ).fetchall()
            else:  # a directory built before (`annuaire migrate` adds the columns)
                communes = [
                    (*row, "commune", None, None)
                    for row in conn.execute(
                        """SELECT code_insee, nom, codes_postaux, code_departement, code_region, latitude,
                                  longitude FROM communes"""
                    ).fetchall()
                ]
                former = []
            departements = conn.execute("SELECT code, nom FROM departements").fetchall()
            return Gazetteer(communes, former, departements)

        return self._cached("gazetteer", load, pinned=True)

    def _centre(self, f: Filters) -> tuple[tuple[float, float] | None, dict | None]:
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
        """The search table in memory, loaded once per version of the file."""

        def load() -> Columns:
            cursor = self._conn().cursor()
            cursor.row_factory = None  # plain tuples: much faster than sqlite3.Row for 150,000 rows
            rows = cursor.execute(f"SELECT {', '.join(ROW_FIELDS)} FROM recherche ORDER BY id").fetchall()
            specialities = cursor.execute("SELECT organisme_id, code FROM organisme_specialites").fetchall()
            return Columns(rows, specialities)

        return self._cached("columns", load, pinned=True)

    # -- what the query text means (understanding.py) ------------------------------------------------

    def speller(self) -> Speller:
        """The spelling vocabulary (spelling.py): the words of the names and communes of the
        organisations, of the communes' official names and of the lexicon; loaded once per version."""

        def load() -> Speller:
            conn = self._conn()
            counts: Counter[str] = Counter()
            for name in self.columns().names:
                counts.update(set(name.split()))
            for commune, n in conn.execute(
                "SELECT coalesce(commune, ville), count(*) FROM organismes GROUP BY 1"
            ).fetchall():
                for word in set(text.folded(commune or "").split()):
                    counts[word] += n
            spelt: dict[str, str] = {}
            lexicon_words: set[str] = set()
            place_words: set[str] = set()
            terms = [t for entry in default_lexicon().entries for t in entry.terms]
            places = [nom for (nom,) in conn.execute("SELECT nom FROM communes").fetchall()]
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
        """Ids of the organisations whose name or commune holds every word (each a prefix, or whole)."""
        return self._text_matches(self._conn(), text.fts_expression(words, prefix))

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

    def _lookups(self, conn: sqlite3.Connection, f: Filters) -> Lookups:
        matches = None
        understood = None
        if f.q:
            found = text.identifier(f.q)
            if found:
                kind, digits = found
                ids = [row[0] for row in conn.execute(IDENTIFIER_MATCHES[kind], (digits,))]
                matches = np.array(ids, dtype=np.int64)
            else:
                understood = self._understand(f)
        postal = ()
        if f.code_postal:
            postal = tuple(
                row[0]
                for row in conn.execute(
                    "SELECT code_insee FROM codes_postaux WHERE code_postal = ?", (f.code_postal,)
                )
            )
        centre, place = self._centre(f)
        return Lookups(
            matches=matches,
            centre=centre,
            postal_communes=postal,
            communes=self._communes_meant(f),
            place=place,
            understood=understood,
        )

    def _selection(self, f: Filters) -> tuple[Columns, np.ndarray, Lookups]:
        conn = self._conn()
        lookups = self._lookups(conn, f)
        columns = self.columns()
        for _ in range(3):  # the directory was replaced while the text was read: read it again
            if lookups.understood is None or lookups.understood.columns is columns:
                break
            lookups = self._lookups(conn, f)
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
        ids = columns.ids[page].tolist()
        results = self._summaries(
            self._conn(),
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

    def _interpretation(self, f: Filters, understood: understanding.Understanding | None) -> dict | None:
        if understood is not None:
            return understanding.interpretation(understood, default_lexicon(), self._speciality_labels())
        found = text.identifier(f.q) if f.q else None
        return understanding.identifier_interpretation(f.q, found) if found else None

    def _suggestions(self, f: Filters, understood: understanding.Understanding) -> list[dict]:
        """What to try instead of a search that found nothing (understanding.suggestions), each
        counted with the search's other conditions."""
        columns = self.columns()
        if understood.columns is not columns:
            return []
        others = replace(f, q="").checked()
        lookups = self._lookups(self._conn(), others)
        return understanding.suggestions(
            understood, self._understanding_context(), columns.mask(others, lookups)
        )

    def _summaries(self, conn: sqlite3.Connection, ids: list[tuple[int, float | None]]) -> list[dict]:
        """Organisation summaries, with their distance when given. The most recently shown are kept
        in memory for this version of the file: result pages share many organisations."""
        if not ids:
            return []
        known: OrderedDict[int, dict] = self._cached("summaries", OrderedDict, pinned=True)
        with self._lock:
            missing = [i for i, _ in ids if i not in known]
        if missing:
            fetched = {row["id"]: summary(row) for row in conn.execute(SUMMARY, (json.dumps(missing),))}
            with self._lock:
                known.update(fetched)
                while len(known) > SUMMARY_CACHE:
                    known.popitem(last=False)
        else:
            fetched = {}
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

    def _organisation_id(self, conn: sqlite3.Connection, key: str) -> int | None:
        compact = "".join(key.split()).replace(".", "").upper()
        if not compact or len(compact) > 40:
            return None
        row = conn.execute("SELECT id FROM organismes WHERE identifiant = ?", (compact,)).fetchone()
        if row is None and compact.isdigit():
            row = conn.execute(
                """SELECT organisme_id FROM declarations WHERE nda = ?1 OR siret = ?1
                   UNION ALL SELECT d.organisme_id FROM ndas_precedents p JOIN declarations d ON d.nda = p.nda
                             WHERE p.nda_precedent = ?1
                   LIMIT 1""",
                (compact,),
            ).fetchone()
        return None if row is None else row[0]

    def organisation(self, key: str) -> dict[str, Any] | None:
        conn = self._conn()
        oid = self._organisation_id(conn, key)
        if oid is None:
            return None
        (org,) = self._summaries(conn, [(oid, None)])
        extra = conn.execute(
            """SELECT o.regroupement, l.geo_score, l.geo_type, l.geo_label,
                      d.nom AS departement, g.nom AS region
               FROM organismes o LEFT JOIN localisations l ON l.nda = o.nda_principal
               LEFT JOIN departements d ON d.code = o.code_departement
               LEFT JOIN regions g ON g.code = o.code_region WHERE o.id = ?""",
            (oid,),
        ).fetchone()
        declarations = []
        all_specialities: dict[str, str | None] = {}
        for d in conn.execute(
            "SELECT * FROM declarations WHERE organisme_id = ? ORDER BY nda", (oid,)
        ).fetchall():
            specialities = [
                {"code": code, "libelle": label}
                for code, label in conn.execute(
                    """SELECT s.code, sp.libelle FROM declaration_specialites s
                       LEFT JOIN specialites sp ON sp.code = s.code WHERE s.nda = ? ORDER BY s.rang""",
                    (d["nda"],),
                )
            ]
            for s in specialities:
                all_specialities.setdefault(s["code"], s["libelle"])
            previous = [
                row[0]
                for row in conn.execute(
                    "SELECT nda_precedent FROM ndas_precedents WHERE nda = ? ORDER BY 1", (d["nda"],)
                )
            ]
            declarations.append(
                _DECLARATION({**dict(d), "ndas_precedents": previous, "specialites": specialities})
            )
        history = [
            {
                "date": row["date"],
                "evenement": row["evenement"],
                "numero_declaration_activite": row["nda"],
                "champs": json.loads(row["champs"]) if row["champs"] else None,
            }
            for row in (
                conn.execute(
                    "SELECT * FROM historique WHERE organisme_id = ? ORDER BY date DESC, id DESC", (oid,)
                )
                if self._has_table("historique")  # directories built before the change log have none
                else ()
            )
        ]
        sirene = self._sirene(conn, org.get("siret"))
        main = org["numero_declaration_activite"]
        shown = next(
            (d for d in declarations if d["numero_declaration_activite"] == main),
            declarations[0] if declarations else {},
        )
        org.update(
            {
                **activity(declarations, org["numero_declaration_activite"]),
                "lieu": _place_of(shown, sirene),
                "provenance": self._provenance(conn, oid),
                "sirene": sirene,
                "historique": history,
                "numeros_declaration_activite": [
                    d["numero_declaration_activite"] for d in declarations if d["statut"] == "actif"
                ],
                "departement": extra["departement"],
                "region": extra["region"],
                "regroupement": extra["regroupement"],
                "geo_score": extra["geo_score"],
                "geo_type": extra["geo_type"],
                "geo_label": extra["geo_label"],
                "specialites": [{"code": c, "libelle": label} for c, label in all_specialities.items()],
                "declarations": declarations,
            }
        )
        return org

    def _provenance(self, conn: sqlite3.Connection, oid: int) -> dict[str, Any]:
        """What each source said about the organisation (pipeline/reconcile.py), grouped by source."""
        if not self._has_table("provenance"):  # directories built before secondary sources
            return {"sources": [], "conflits": 0}
        labels = {
            row["nom"]: row for row in conn.execute("SELECT nom, libelle, statut FROM sources_secondaires")
        }
        by_source: dict[str, dict[str, Any]] = {}
        places = (
            f"UNION ALL SELECT * FROM ({PLACE_PROVENANCE}) x WHERE x.organisme_id = ?"
            if (self._has_table("communes_anciennes"))
            else ""
        )
        for row in conn.execute(
            f"""SELECT champ, source, valeur, date_observation, conflit, ligne FROM (
                   SELECT * FROM provenance WHERE organisme_id = ? {places}) p
               ORDER BY source = 'liste_publique' DESC, source, ligne, champ, valeur""",
            (oid, oid) if places else (oid,),
        ):
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
                    "seen": set(),
                }
            said = (row["champ"], row["valeur"], row["date_observation"])
            if (
                said in entry["seen"]
            ):  # the same statement on another row of the source (a CFA in two networks)
                continue
            entry["seen"].add(said)
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
        for entry in sources:
            del entry["seen"]
        return {
            "sources": sources,
            "conflits": sum(c["conflit"] for s in sources for c in s["champs"]),
        }

    def _sirene(self, conn: sqlite3.Connection, siret: str | None) -> dict[str, Any] | None:
        """SIRENE's answer for the establishment (`annuaire sirene`), if it was asked."""
        if not siret or not self._has_table("sirene"):
            return None
        row = conn.execute("SELECT * FROM sirene WHERE siret = ?", (siret,)).fetchone()
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
            **{
                name: _column(row, name)
                for name in ("adresse", "code_postal", "code_commune", "latitude", "longitude", "diffusion")
            },
        }

    # -- map ---------------------------------------------------------------------------------------

    def clusters(self, query: ClusterQuery) -> dict[str, Any]:
        columns, mask, _ = self._selection(query.filters)
        rows = columns.clusters(mask, query)
        conn = self._conn()
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
            for s in self._summaries(conn, singles)
        ]
        return {
            "zoom": query.zoom,
            "total": sum(row[0] for row in rows),
            "grappes": grappes,
            "organismes": points,
        }

    # -- geography and reference lists ---------------------------------------------------------------

    def _has_table(self, name: str) -> bool:
        return self._cached(
            ("has_table", name),
            lambda: (
                self._conn().execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone()
                is not None
            ),
        )

    def _departement_names(self) -> dict[str, str]:
        return self._cached(
            "departement_names",
            lambda: dict(self._conn().execute("SELECT code, nom FROM departements").fetchall()),
        )

    def _speciality_labels(self) -> dict[str, str]:
        return self._cached(
            "speciality_labels",
            lambda: dict(self._conn().execute("SELECT code, libelle FROM specialites").fetchall()),
        )

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

        def compute():
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
        rows = self._cached(
            "departements",
            lambda: self._conn().execute("SELECT * FROM departements ORDER BY code").fetchall(),
        )
        return [
            {
                "code": row["code"],
                "nom": row["nom"],
                "type_liaison": _liaison(row),
                "code_region": row["code_region"],
                "nb_organismes": counts.get(row["code"], (0, 0))[0],
                "nb_certifies": counts.get(row["code"], (0, 0))[1],
            }
            for row in rows
        ]

    def departement(self, code: str) -> dict[str, Any] | None:
        return self._cached(("departement", code), lambda: self._departement(code))

    def _departement(self, code: str) -> dict[str, Any] | None:
        conn = self._conn()
        row = conn.execute(
            """SELECT d.*, r.nom AS region FROM departements d
               LEFT JOIN regions r ON r.code = d.code_region WHERE d.code = ?""",
            (code,),
        ).fetchone()
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
            code = columns.commune.values[i]
            code = places.city_of(code) or code
            totals[code] = totals.get(code, 0) + int(per_commune[i])
        communes = sorted(totals.items(), key=lambda item: (-item[1], item[0]))[:10]
        names = dict(
            conn.execute(
                "SELECT code_insee, nom FROM communes WHERE code_insee IN (SELECT value FROM json_each(?))",
                (json.dumps([c for c, _ in communes]),),
            ).fetchall()
        )
        return {
            "code": row["code"],
            "nom": row["nom"],
            "type_liaison": _liaison(row),
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

        def compute():
            conn = self._conn()
            members: dict[str, list[str]] = {}
            for code, region in conn.execute("SELECT code, code_region FROM departements ORDER BY code"):
                members.setdefault(region, []).append(code)
            return [
                {
                    "code": row["code"],
                    "nom": row["nom"],
                    "type_liaison": _liaison(row),
                    "departements": members.get(row["code"], []),
                    "nb_organismes": counts.get(row["code"], (0, 0))[0],
                    "nb_certifies": counts.get(row["code"], (0, 0))[1],
                }
                for row in conn.execute("SELECT * FROM regions ORDER BY code").fetchall()
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

        def compute():
            columns = self.columns()
            active = columns.status.codes == columns.status["actif"]
            codes = columns.commune.codes[active]
            counts = np.bincount(codes[codes >= 0], minlength=len(columns.commune.values))
            places = self.gazetteer()
            out: dict[str, int] = {}
            for i in np.flatnonzero(counts).tolist():
                code, n = columns.commune.values[i], int(counts[i])
                out[code] = out.get(code, 0) + n
                if city := places.city_of(code):
                    out[city] = out.get(city, 0) + n
            return out

        return self._cached("commune_counts", compute)

    def suggest_communes(self, text_: str, limit: int = 5) -> list[dict[str, Any]]:
        counts = self._commune_counts()
        return [
            {
                "code_insee": p.code,
                "nom": p.nom,
                "type": p.kind,
                "code_departement": p.code_departement,
                "nb_organismes": counts.get(p.code, 0),
            }
            for p in self.gazetteer().suggest(text_, limit, weights=counts)
        ]

    def sitemap_entries(self) -> list[tuple[str, str, str | None, str | None, str | None, str | None]]:
        def compute():
            return (
                self._conn()
                .execute(
                    """SELECT identifiant, denomination, code_departement, code_commune_insee,
                          coalesce(commune, ville), date_derniere_declaration
                   FROM organismes WHERE statut = 'actif' ORDER BY id"""
                )
                .fetchall()
            )

        return [tuple(row) for row in self._cached("sitemap_entries", compute)]

    def commune(self, code: str) -> dict[str, Any] | None:
        """A commune, arrondissement or city by its INSEE code (a former code: today's commune), with
        its counts; a city lists its arrondissements, an arrondissement names its city."""
        places = self.gazetteer()
        place = places.commune(code)
        if place is None:
            return None
        conn = self._conn()
        row = conn.execute("SELECT * FROM communes WHERE code_insee = ?", (place.code,)).fetchone()
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
        def compute():
            columns = self.columns()
            counts = dict(columns.facets(columns.mask(Filters(), Lookups()))["specialites"])
            return [
                {"code": code, "libelle": label, "nb_organismes": counts.get(code, 0)}
                for code, label in self._conn().execute("SELECT code, libelle FROM specialites ORDER BY code")
            ]

        return self._cached("specialites", compute)

    def stats(self) -> dict[str, Any]:
        def compute():
            conn = self._conn()
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            methods = dict(
                conn.execute(
                    """SELECT l.geo_methode, count(*) FROM organismes o
                       JOIN localisations l ON l.nda = o.nda_principal WHERE o.statut = 'actif' GROUP BY 1"""
                ).fetchall()
            )
            return {
                **self._area(),
                "nb_declarations": conn.execute(
                    "SELECT count(*) FROM declarations WHERE statut = 'actif'"
                ).fetchone()[0],
                "nb_quarantaine": conn.execute("SELECT count(*) FROM quarantaine").fetchone()[0],
                "localisation": methods,
                "date_construction": meta.get("built_at"),
            }

        return self._cached("stats", compute)

    def statistiques(self) -> dict[str, Any]:
        """The statistics page's figures (statistics.py): per département, the certified organisations
        per 10,000 inhabitants (the COG's populations of its communes); per scope, the organisations
        and declarations holding it and what the last update changed (from `historique`)."""

        def compute():
            conn = self._conn()
            populations = dict(
                conn.execute(
                    """SELECT code_departement, sum(population) FROM communes
                       WHERE type IN ('commune', 'ville') GROUP BY code_departement"""
                ).fetchall()
            )
            rows, classes = statistics.departement_figures(self.departements(), populations)
            area = self._area()
            flags = ", ".join(f"coalesce(sum(certification_{c}), 0)" for c in statistics.SCOPE_CODES)
            held = conn.execute(f"SELECT {flags} FROM declarations WHERE statut = 'actif'").fetchone()
            meta = dict(
                conn.execute("SELECT key, value FROM meta WHERE key IN ('built_at', 'updated_at')").fetchall()
            )
            last, previous, changes = None, None, None
            if self._has_table("historique"):
                events = ", ".join(f"'{e}'" for e in statistics.EVENTS)
                dates = [
                    d
                    for (d,) in conn.execute(
                        f"""SELECT DISTINCT date FROM historique WHERE evenement IN ({events})
                            ORDER BY date DESC LIMIT 2"""
                    ).fetchall()
                ]
                if dates:
                    last = dates[0]
                    previous = dates[1] if len(dates) > 1 else (meta.get("built_at") or "")[:10] or None
                    found = conn.execute(
                        f"""SELECT h.nda, h.evenement, h.champs, d.statut,
                                   {", ".join(f"d.certification_{c}" for c in statistics.SCOPE_CODES)}
                            FROM historique h JOIN declarations d ON d.nda = h.nda
                            WHERE h.date = ? AND h.evenement IN ({events}) ORDER BY h.id""",
                        (last,),
                    ).fetchall()
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
