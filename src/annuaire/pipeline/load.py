"""Turn cleaned declarations and their groups into the store's tables."""

from __future__ import annotations

from collections.abc import Sequence

from ..clean.record import Declaration, Rejected
from ..sources.liste_publique import SCOPES
from ..sources.reference import Reference
from ..store.base import BuildWriter
from .dedup import Group
from .diff import raw_fingerprint

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


SCOPE_CODES = [code for code, _, _ in SCOPES]


def _check(writer: BuildWriter, table: str, expected: list[str]) -> None:
    actual = writer.columns(table)
    if actual[: len(expected)] != expected:  # pragma: no cover - a schema edit without this file
        raise RuntimeError(f"table {table}: schema columns {actual} differ from the loader's {expected}")


def _flag(value: bool | None) -> int | None:
    return None if value is None else int(value)


def declaration_row(d: Declaration, organisme_id: int) -> tuple:
    c = d.certifications
    return (
        d.nda,
        organisme_id,
        d.enregistrement,
        d.ligne,
        d.denomination,
        d.siret,
        d.siret_brut,
        d.siret_statut,
        d.siren,
        d.siren_brut,
        int(d.siren_incoherent),
        d.voie,
        d.code_postal,
        d.ville,
        d.code_commune_insee,
        d.commune,
        d.code_departement,
        d.code_region,
        d.code_region_declare,
        d.methode_commune,
        d.type_adresse,
        _flag(c[0]),
        _flag(c[1]),
        _flag(c[2]),
        _flag(c[3]),
        *d.etranger,
        d.date_derniere_declaration,
        d.debut_exercice,
        d.fin_exercice,
        d.nb_stagiaires,
        d.nb_stagiaires_confies,
        d.effectif_formateurs,
        d.extras,
        "actif",
    )


def organisation_identifier(group: Group, decls: Sequence[Declaration]) -> str:
    """A stable pivot identifier: the SIRET, or "NDA" + the lowest NDA for those without one."""
    if group.siret:
        return group.siret
    return "NDA" + (
        decls[group.members[0]].nda if len(group.members) == 1 else min(decls[i].nda for i in group.members)
    )


def write_geography(writer: BuildWriter, reference: Reference) -> None:
    writer.write("regions", sorted((code, r["nom"]) for code, r in reference.regions.items()))
    writer.write(
        "departements",
        sorted((code, d["nom"], d.get("region")) for code, d in reference.departements.items()),
    )
    resolver = reference.communes
    writer.write(
        "communes",
        sorted(
            (
                c.insee,
                c.name,
                " ".join(c.postcodes),
                c.departement,
                resolver.region_of(c.departement),
                c.latitude,
                c.longitude,
            )
            for c in resolver.communes.values()
        ),
    )


def load_directory(
    writer: BuildWriter,
    decls: Sequence[Declaration],
    groups: Sequence[Group],
    rejected: Sequence[Rejected],
    reference: Reference,
    locations: Sequence[tuple] = (),
) -> None:
    _check(writer, "organismes", ORGANISMES)
    write_geography(writer, reference)
    writer.write("portees", [(code, label) for code, _, label in SCOPES])

    organisme_of: list[int] = [0] * len(decls)
    organisations = []
    certifications = []
    keyed = sorted((organisation_identifier(g, decls), g) for g in groups)
    for number, (identifier, group) in enumerate(keyed, start=1):
        shown = decls[group.members[0]]
        for i in group.members:
            organisme_of[i] = number
            d = decls[i]
            c = d.certifications
            if c[0] or c[1] or c[2] or c[3]:
                certifications.extend(
                    (number, code, d.nda) for code, f in zip(SCOPE_CODES, c, strict=True) if f
                )
        organisations.append(
            (
                number,
                identifier,
                group.siret,
                group.siret[:9] if group.siret else shown.siren,
                shown.denomination,
                shown.nom_comparaison,
                shown.nda,
                shown.voie,
                shown.code_postal,
                shown.ville,
                shown.code_commune_insee,
                shown.commune,
                shown.code_departement,
                shown.code_region,
                shown.type_adresse,
                shown.date_derniere_declaration,
                len(group.members),
                group.how,
                "actif",
            )
        )
    writer.write("organismes", organisations)
    # Rows go in key order: SQLite appends to its b-trees instead of splitting pages all over.
    order = sorted(range(len(decls)), key=lambda i: decls[i].nda)
    writer.write("declarations", (declaration_row(decls[i], organisme_of[i]) for i in order))
    writer.write(
        "empreintes", ((decls[i].nda, raw_fingerprint(decls[i].raw), decls[i].nom_comparaison) for i in order)
    )
    writer.write("certifications", certifications)
    writer.write("ndas_precedents", sorted({(p, d.nda) for d in decls for p in d.ndas_precedents}))

    labels: dict[str, str] = {}
    links = []
    for i in order:
        d = decls[i]
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
