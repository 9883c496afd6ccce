"""Turn cleaned declarations and their groups into the store's tables."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache, partial
from operator import attrgetter
from typing import TYPE_CHECKING

from ..clean.names import fold, place_words
from ..clean.record import Declaration, Rejected
from ..fields import SCOPE_CODES, SCOPES
from ..fields import stored as stored_fields
from ..sources.reader import record_fingerprint
from ..sources.reference import Reference
from .dedup import Declared, Group

if TYPE_CHECKING:
    from ..store.base import BuildWriter

ORGANISMES = [
    "id",
    "identifiant",
    "siret",
    "siren",
    "denomination",
    "nom_comparaison",
    "nda_principal",
    "voie",
    "code_postal",
    "ville",
    "code_commune_insee",
    "commune",
    "code_departement",
    "code_region",
    "type_adresse",
    "date_derniere_declaration",
    "nb_declarations",
    "regroupement",
    "statut",
]


def _check(writer: BuildWriter, table: str, expected: list[str]) -> None:
    actual = writer.columns(table)
    if actual[: len(expected)] != expected:  # pragma: no cover - a schema edit without this file
        raise RuntimeError(f"table {table}: schema columns {actual} differ from the loader's {expected}")


_SCOPE_INDEX = {code: i for i, code in enumerate(SCOPE_CODES)}


def declaration_row_getter(columns: Sequence[str]) -> Callable[[Declaration], tuple]:
    """A function giving a declaration's row for a `declarations` table with these columns, in their
    order, from the fields table (fields.py): each column is a field's, a scope's flag is the
    declaration's `certifications[i]`. A column no field names, or a field no column holds, is an
    error now rather than a misaligned row later.

    The function is generated as one tuple expression (as `dataclasses` generates `__init__`): the
    build calls it 150,000 times, and it costs less than slicing the attributes through
    `attrgetter`s and concatenating the slices. Booleans (siren_incoherent, the scopes' flags) are
    stored as they are: SQLite's driver binds True/False as 1/0, None as NULL."""
    by_column = {f.column_name: f for f in stored_fields()}
    unknown = [c for c in columns if c not in by_column]
    missing = sorted(str(c) for c in set(by_column) - set(columns))
    if unknown or missing:
        raise RuntimeError(
            f"table declarations: columns {unknown} are no field's, fields {missing} have no column "
            "(fields.py and store/schema.sql disagree)"
        )
    values = []
    for column in columns:
        f = by_column[column]
        if not f.name.isidentifier():  # pragma: no cover - the table's names are ours
            raise ValueError(f"field name {f.name!r}")
        values.append(f"d.certifications[{_SCOPE_INDEX[f.scope]}]" if f.scope else f"d.{f.name}")
    return eval(f"lambda d: ({', '.join(values)},)")  # our own field names, checked above


@lru_cache(maxsize=8)
def _row_getter(columns: tuple[str, ...]) -> Callable[[Declaration], tuple]:
    return declaration_row_getter(columns)


def declaration_row(d: Declaration, organisme_id: int, columns: Sequence[str]) -> tuple:
    """The row of a declaration of this organisation, for a `declarations` table with these columns."""
    d.organisme_id = organisme_id
    return _row_getter(tuple(columns))(d)


# An organisation is shown as its displayed declaration: these columns of `organismes` (after its
# identifiers, before its grouping) are its declaration's, `nda_principal` its NDA.
_SHOWN = attrgetter(*("nda" if c == "nda_principal" else c for c in ORGANISMES[4:-3]))


def organisation_identifier(group: Group, decls: Sequence[Declared]) -> str:
    """A stable pivot identifier: the SIRET, or "NDA" + the lowest NDA for those without one."""
    if group.siret:
        return group.siret
    return "NDA" + (
        decls[group.members[0]].nda if len(group.members) == 1 else min(decls[i].nda for i in group.members)
    )


def search_row(number: int, group: Group, shown: Declaration, decls: Sequence[Declaration]) -> tuple:
    """The organisation's full-text entry: (rowid = its id, name, commune, identifiers).

    The identifiers are its SIRET and SIREN, its NDAs, then the NDAs they replaced (each NDA's in
    order): computed here, where the groups are at hand, rather than gathered back from the tables.
    """
    if len(group.members) == 1:  # most organisations
        ndas = shown.nda
        previous = " ".join(sorted(set(shown.ndas_precedents))) if shown.ndas_precedents else ""
    else:
        members = sorted((decls[i] for i in group.members), key=_nda)
        ndas = " ".join(d.nda for d in members)
        previous = " ".join(p for d in members for p in sorted(set(d.ndas_precedents)))
    siren = group.siret[:9] if group.siret else shown.siren
    identifiers = f"{group.siret or ''} {siren or ''} {ndas} {previous}"
    commune = shown.commune if shown.commune is not None else shown.ville
    # Folded as queries are (search/text.py): FTS5 alone would keep "cœur" whole, and "coeur" typed
    # in a search would not find "CŒUR".
    return number, fold(shown.denomination), place_words(commune or ""), identifiers


def fingerprint_rows(decls: Sequence[Declaration], order: Sequence[int]) -> Iterator[tuple]:
    """`empreintes`: each record's fingerprint as read, and its name as compared (for updates)."""
    for i in order:
        d = decls[i]
        yield d.nda, record_fingerprint(d.raw), d.nom_comparaison


def search_rows(keyed: Sequence[tuple[str, Group]], decls: Sequence[Declaration]) -> Iterator[tuple]:
    for number, (_, group) in enumerate(keyed, start=1):
        yield search_row(number, group, decls[group.members[0]], decls)


def organisation_points(
    keyed: Sequence[tuple[str, Group]],
    decls: Sequence[Declaration],
    locations: Sequence[tuple],
    reference: Reference,
) -> Iterator[tuple]:
    """Each organisation's point on the map, (id, lat, lat, lon, lon): where `localisations` puts
    its displayed declaration, its geocoded location (`locations` rows) or else its commune's
    centroid (`locate_at_commune_centroids`); none without either."""
    located = {row[0]: row for row in locations}
    communes = reference.communes.communes
    for number, (_, group) in enumerate(keyed, start=1):
        shown = decls[group.members[0]]
        row = located.get(shown.nda)
        if row is not None:
            latitude, longitude = row[1], row[2]
        else:
            commune = communes.get(shown.code_commune_insee) if shown.code_commune_insee else None
            if commune is None:
                continue
            latitude, longitude = commune.latitude, commune.longitude
        if latitude is not None and longitude is not None:
            yield number, latitude, latitude, longitude, longitude


def _nda(d: Declaration) -> str:
    return d.nda


def write_geography(writer: BuildWriter, reference: Reference) -> None:
    writer.write(
        "regions",
        sorted((code, r["nom"], r.get("type_liaison")) for code, r in reference.regions.items()),
    )
    writer.write(
        "departements",
        sorted(
            (code, d["nom"], d.get("region"), d.get("type_liaison"))
            for code, d in reference.departements.items()
        ),
    )
    resolver = reference.communes
    writer.write("communes", sorted(commune_rows(resolver)))
    writer.write("communes_anciennes", sorted(former_rows(resolver)))


def former_rows(resolver) -> Iterator[tuple]:
    """The `communes_anciennes` table's rows: (former code, today's commune, former name); a delegated
    commune that kept today's code has its name there (its code maps to itself)."""
    for old, new in resolver.former.items():
        if new in resolver.communes:
            yield old, new, resolver.former_names.get(old)
    for code, name in resolver.former_names.items():
        if code not in resolver.former and code in resolver.communes:
            yield code, code, name


def commune_rows(resolver) -> Iterator[tuple]:
    """The `communes` table's rows: every commune, arrondissement and city with its official name."""
    for c in resolver.communes.values():
        yield (
            c.insee,
            c.name,
            " ".join(c.postcodes),
            c.departement,
            resolver.region_of(c.departement),
            c.latitude,
            c.longitude,
            c.kind,
            c.parent,
            c.population,
        )


def load_directory(
    writer: BuildWriter,
    decls: Sequence[Declaration],
    groups: Sequence[Group],
    rejected: Sequence[Rejected],
    reference: Reference,
    locations: Sequence[tuple] = (),
) -> list[int]:
    """Write the directory; returns each declaration's organisation id (for later stages)."""
    _check(writer, "organismes", ORGANISMES)
    write_geography(writer, reference)
    writer.write("portees", [(s.code, s.label) for s in SCOPES])

    organisme_of: list[int] = [0] * len(decls)
    organisations = []
    certifications: list[tuple[int, str, str]] = []
    keyed = sorted((organisation_identifier(g, decls), g) for g in groups)
    # Rows go in key order: SQLite appends to its b-trees instead of splitting pages all over.
    order = sorted(range(len(decls)), key=[d.nda for d in decls].__getitem__)
    # First: the SQLite store writes these in another process while this one writes the rest.
    writer.write_aside(
        {
            "organismes_fts": partial(search_rows, keyed, decls),
            "organismes_geo": partial(organisation_points, keyed, decls, locations, reference),
            "empreintes": partial(fingerprint_rows, decls, order),
        }
    )
    row = declaration_row_getter(writer.columns("declarations"))
    for number, (identifier, group) in enumerate(keyed, start=1):
        shown = decls[group.members[0]]
        for i in group.members:
            organisme_of[i] = number
            d = decls[i]
            d.organisme_id = number
            c = d.certifications
            if any(c):
                certifications.extend(
                    (number, code, d.nda) for code, f in zip(SCOPE_CODES, c, strict=True) if f
                )
        organisations.append(
            (number, identifier, group.siret, group.siret[:9] if group.siret else shown.siren)
            + _SHOWN(shown)
            + (len(group.members), group.how, "actif")
        )
    writer.write("organismes", organisations)
    del organisations, keyed  # the peak of memory is near: let them go
    writer.write("declarations", (row(decls[i]) for i in order))
    writer.write("certifications", certifications)
    writer.write("ndas_precedents", sorted({(p, d.nda) for d in decls for p in d.ndas_precedents}))

    labels: dict[str, str] = {}
    links = []
    for i in order:
        d = decls[i]
        if not d.specialites:
            continue
        for rank, (code, label) in enumerate(d.specialites, start=1):
            key = code or label
            if label and (key not in labels or (labels[key] == "" and label)):
                labels[key] = label
            labels.setdefault(key, label)
            links.append((d.nda, rank, key))
    writer.write("specialites", sorted(labels.items()))
    writer.write("declaration_specialites", links)

    # Until an address is geocoded, its commune's centroid (La Poste's base) is all we know: say so.
    writer.write("localisations", locations)
    writer.locate_at_commune_centroids()
    writer.write(
        "quarantaine",
        ((r.enregistrement, r.ligne, r.nda or None, r.motif, r.detail, r.raw_json()) for r in rejected),
    )
    return organisme_of
