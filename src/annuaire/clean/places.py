"""Where each declaration is: the Liste publique's own address first, SIRENE's when it gives no commune.

The rule, for a declaration whose address gives no commune (none at all, or only a département from
its postal code) and whose SIRET is valid:
- SIRENE's answer for the SIRET gives the establishment's commune (`codeCommuneEtablissement`, a
  former code read as today's commune): the declaration is placed there, `origine_lieu = sirene`,
  dated by the answer (a stock file's date). Closed establishments (`F`) are placed too.
- Its position is SIRENE's (Lambert-93 or UTM converted to WGS 84), labelled `housenumber` with a
  street number, `street` without; under partial diffusion (`[ND]`), without a position or without a
  street, the commune's centroid (`municipality`): a masked street never claims a street's precision.
- When the Liste publique gives a département only and SIRENE's commune lies in another, SIRENE
  contradicts it: nothing is applied.
- An unknown SIRET, an answer without a commune, or a commune code the COG does not know: nothing.
A declaration whose own address gives a commune keeps it, whatever SIRENE says; a SIRENE commune that
disagrees shows in provenance (`concorde_liste_publique = false`), derived from the `sirene` table.

The same function decides for a build (declarations in memory), an update and `annuaire sirene`
(declarations read back from the directory): the result does not depend on the way in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..geocoding.strategy import CENTROID
from ..geocoding.strategy import NOWHERE as NOT_LOCATED
from ..sources.sirene import Etablissement
from .commune import CommuneResolver
from .postal import departement_of_postcode
from .record import FROM_DECLARED_REGION, FROM_LISTE_PUBLIQUE, FROM_SIRENE, NOWHERE, Declaration

# A `localisations` row: nda, latitude, longitude, geo_score, geo_type, geo_label, geo_methode.
LocationRow = tuple[str, float | None, float | None, float | None, str | None, str | None, str]

SIRENE_POSITION = "sirene"  # geo_methode of a position given by SIRENE


@dataclass(frozen=True)
class PlaceBook:
    """The geography a place needs: commune code → (official name, département, région, latitude,
    longitude), former codes → today's commune, département → région. From the reference (a build)
    or from the directory's own `communes`, `communes_anciennes` and `departements` tables (an
    update, `annuaire sirene`)."""

    communes: Mapping[str, tuple[str, str, str | None, float | None, float | None]]
    former: Mapping[str, str]
    departements: Mapping[str, str | None]

    @property
    def regions(self) -> frozenset[str]:
        return frozenset(r for r in self.departements.values() if r)

    @classmethod
    def from_resolver(cls, resolver: CommuneResolver) -> PlaceBook:
        return cls(
            {
                c.insee: (c.name, c.departement, resolver.region_of(c.departement), c.latitude, c.longitude)
                for c in resolver.communes.values()
            },
            dict(resolver.former),
            dict(resolver.departement_region),
        )

    @classmethod
    def from_rows(
        cls,
        communes: Iterable[tuple[Any, ...]],
        former: Iterable[tuple[str, str]],
        departements: Iterable[tuple[str, str | None]],
    ) -> PlaceBook:
        """`communes`: (code, name, département, région, lat, lon); `former`: (former code, code);
        `departements`: (code, région)."""
        return cls(
            {row[0]: tuple(row[1:6]) for row in communes},
            {old: new for old, new in former},
            {code: region for code, region in departements},
        )

    def current(self, code: str | None) -> str | None:
        if not code:
            return None
        code = self.former.get(code, code)
        return code if code in self.communes else None


@dataclass(frozen=True, slots=True)
class Place:
    """A declaration's place: commune, département, région, where it comes from, and when."""

    code_commune_insee: str | None
    commune: str | None
    code_departement: str | None
    code_region: str | None
    origine_lieu: str
    date_origine_lieu: str | None = None


@dataclass(frozen=True, slots=True)
class Situation:
    """What placing needs of a declaration (a cleaned one, or one read back from the directory)."""

    nda: str
    siret: str | None
    methode_commune: str
    own: Place  # the place its own address gives (Liste publique, declared région, or none)
    code_region_declare: str | None


def stored_situation(row: Mapping[str, Any], book: PlaceBook) -> Situation:
    """The situation of a declaration read back from the directory (`nda`, `siret`,
    `methode_commune`, `code_postal`, `code_region_declare`, the place columns and `origine_lieu`):
    its own place is the one stored, unless SIRENE placed it, in which case it is what its own
    address gave (a département from the postal code, the région declared, or nothing)."""
    if row["origine_lieu"] == FROM_LISTE_PUBLIQUE:
        own = Place(
            row["code_commune_insee"],
            row["commune"],
            row["code_departement"],
            row["code_region"],
            FROM_LISTE_PUBLIQUE,
        )
    elif (
        row["methode_commune"] == "departement_seul"
        and (departement := departement_of_postcode(row["code_postal"] or "")) is not None
        and departement in book.departements
    ):
        own = Place(None, None, departement, book.departements[departement], FROM_LISTE_PUBLIQUE)
    elif row["code_region_declare"] in book.regions:
        own = Place(None, None, None, row["code_region_declare"], FROM_DECLARED_REGION)
    else:
        own = Place(None, None, None, None, NOWHERE)
    return Situation(row["nda"], row["siret"], row["methode_commune"], own, row["code_region_declare"])


def decide(
    situation: Situation, answer: Etablissement | None, when: str | None, book: PlaceBook
) -> tuple[Place, str]:
    """The declaration's place, and why (`liste_publique`, `sirene`, or why SIRENE was not used)."""
    own = situation.own
    if own.code_commune_insee:
        return own, "liste_publique"
    if not situation.siret:
        return own, "sans_siret"
    if answer is None or answer.etat_administratif is None:
        return own, "inconnu_de_sirene"
    code = book.current(answer.code_commune)
    if code is None:
        return own, "commune_sirene_inconnue" if answer.code_commune else "sans_commune_sirene"
    name, departement, region, _, _ = book.communes[code]
    if own.code_departement and own.code_departement != departement:
        return own, "contredit_le_departement"
    return Place(code, name, departement, region, FROM_SIRENE, when), FROM_SIRENE


def location(nda: str, answer: Etablissement, place: Place, book: PlaceBook) -> LocationRow:
    """The `localisations` row of a declaration placed by SIRENE: its position, or its commune's
    centroid when SIRENE masks or lacks it."""
    if answer.latitude is not None and answer.longitude is not None and answer.adresse:
        precise = "housenumber" if answer.adresse[:1].isdigit() else "street"
        label = " ".join(p for p in (answer.adresse, answer.code_postal, place.commune) if p)
        return (nda, answer.latitude, answer.longitude, None, precise, label, SIRENE_POSITION)
    _, _, _, lat, lon = book.communes[place.code_commune_insee or ""]  # SIRENE's places have one
    if lat is None or lon is None:
        return (nda, None, None, None, None, None, NOT_LOCATED)
    return (nda, lat, lon, None, "municipality", place.commune, CENTROID)


@dataclass
class Placement:
    """The outcome over many declarations: each one's place, the positions SIRENE gives, counts."""

    places: dict[str, Place]  # NDA → place, for every declaration seen
    locations: dict[str, LocationRow]  # NDA → `localisations` row, for those placed by SIRENE
    counts: Counter[str]

    def report(self) -> dict[str, Any]:
        c = self.counts
        return {
            "placed_by_sirene": c[FROM_SIRENE],
            "with_sirene_position": c["position_sirene"],
            "at_commune_centroid": c["centroide_commune"],
            "closed_establishments_placed": c["ferme"],
            "not_placed": {k: c[k] for k in sorted(c) if k not in _REPORTED and c[k]},
        }


_REPORTED = {FROM_SIRENE, "position_sirene", "centroide_commune", "ferme", "liste_publique"}


def place_all(
    situations: Iterable[Situation],
    answers: Mapping[str, tuple[Etablissement, str]],
    book: PlaceBook,
) -> Placement:
    """Decide every declaration's place. `answers`: SIRET → (SIRENE's answer, its date)."""
    placement = Placement({}, {}, Counter())
    counts = placement.counts
    for s in situations:
        answer, when = answers.get(s.siret, (None, None)) if s.siret else (None, None)
        place, why = decide(s, answer, when, book)
        placement.places[s.nda] = place
        counts[why] += 1
        if place.origine_lieu == FROM_SIRENE and answer is not None:  # SIRENE's place: its answer
            row = location(s.nda, answer, place, book)
            placement.locations[s.nda] = row
            counts["position_sirene" if row[-1] == SIRENE_POSITION else "centroide_commune"] += 1
            if answer.etat_administratif == "F":
                counts["ferme"] += 1
    return placement


def situation_of(d: Declaration) -> Situation:
    """A cleaned declaration's situation (clean/record.py's Declaration, before any placing)."""
    own = Place(d.code_commune_insee, d.commune, d.code_departement, d.code_region, d.origine_lieu)
    return Situation(d.nda, d.siret, d.methode_commune, own, d.code_region_declare)


def place_declarations(
    declarations: Iterable[Declaration], answers: Mapping[str, tuple[Etablissement, str]], book: PlaceBook
) -> Placement:
    """Place cleaned declarations (clean/record.py's, as cleaned: their own place) in memory."""
    declarations = list(declarations)
    placement = place_all(
        (situation_of(d) for d in declarations if d.siret and not d.code_commune_insee), answers, book
    )
    for d in declarations:
        place = placement.places.get(d.nda)
        if place is not None and place.origine_lieu == FROM_SIRENE:
            d.code_commune_insee, d.commune = place.code_commune_insee, place.commune
            d.code_departement, d.code_region = place.code_departement, place.code_region
            d.origine_lieu, d.date_origine_lieu = place.origine_lieu, place.date_origine_lieu
    return placement


def replacements(
    rows: Iterable[Mapping[str, Any]], answers: Mapping[str, tuple[Any, ...]], book: PlaceBook
) -> tuple[list[tuple[Any, ...]], list[LocationRow], Placement]:
    """For declarations read back from a directory (store/place_sql.py's PLACEABLE rows) and SIRENE's answers
    (SIRET → (answer, date, …)): the places that change, as PLACE_UPDATE parameters, their
    `localisations` rows, and the placement (for its report)."""
    rows = list(rows)
    placement = place_all(
        (stored_situation(r, book) for r in rows), {k: v[:2] for k, v in answers.items()}, book
    )
    changes, locations = [], []
    for r in rows:
        place = placement.places[r["nda"]]
        before = (r["code_commune_insee"], r["origine_lieu"], r["date_origine_lieu"])
        if (place.code_commune_insee, place.origine_lieu, place.date_origine_lieu) == before:
            continue
        changes.append(
            (
                place.code_commune_insee,
                place.commune,
                place.code_departement,
                place.code_region,
                place.origine_lieu,
                place.date_origine_lieu,
                r["nda"],
            )
        )
        locations.append(
            placement.locations.get(r["nda"]) or (r["nda"], None, None, None, None, None, NOT_LOCATED)
        )
    return changes, locations, placement
