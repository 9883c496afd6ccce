"""Turn cleaned declarations and their groups into the store's tables."""

from __future__ import annotations

from collections.abc import Sequence

from ..clean.record import Declaration, Rejected
from ..sources.liste_publique import SCOPES
from ..sources.reference import Reference
from ..store.base import BuildWriter
from .dedup import Group

ORGANISMES = ["id", "identifiant", "siret", "siren", "denomination", "nom_comparaison", "nda_principal", "voie",
              "code_postal", "ville", "code_commune_insee", "commune", "code_departement", "code_region",
              "type_adresse", "date_derniere_declaration", "nb_declarations", "regroupement", "statut"]
CENTROID = "centroide_commune"


def _check(writer: BuildWriter, table: str, expected: list[str]) -> None:
    actual = writer.columns(table)
    if actual[: len(expected)] != expected:  # pragma: no cover - a schema edit without this file
        raise RuntimeError(f"table {table}: schema columns {actual} differ from the loader's {expected}")


def _flag(value: bool | None) -> int | None:
    return None if value is None else int(value)


def declaration_row(d: Declaration, organisme_id: int) -> tuple:
    c = d.certifications
    return (d.nda, organisme_id, d.enregistrement, d.ligne, d.denomination, d.siret, d.siret_brut, d.siret_statut,
            d.siren, d.siren_brut, int(d.siren_incoherent), d.voie, d.code_postal, d.ville, d.code_commune_insee,
            d.commune, d.code_departement, d.code_region, d.code_region_declare, d.methode_commune, d.type_adresse,
            _flag(c[0]), _flag(c[1]), _flag(c[2]), _flag(c[3]), *d.etranger, d.date_derniere_declaration,
            d.debut_exercice, d.fin_exercice, d.nb_stagiaires, d.nb_stagiaires_confies, d.effectif_formateurs,
            d.extras, "actif")


def organisation_identifier(group: Group, decls: Sequence[Declaration]) -> str:
    """A stable pivot identifier: the SIRET, or "NDA" + the lowest NDA for those without one."""
    if group.siret:
        return group.siret
    return "NDA" + min(decls[i].nda for i in group.members)


def load_directory(writer: BuildWriter, decls: Sequence[Declaration], groups: Sequence[Group],
                   rejected: Sequence[Rejected], reference: Reference) -> None:
    _check(writer, "organismes", ORGANISMES)
    writer.write("portees", [(code, label) for code, _, label in SCOPES])

    organisme_of: list[int] = [0] * len(decls)
    organisations = []
    certifications = []
    for number, group in enumerate(sorted(groups, key=lambda g: organisation_identifier(g, decls)), start=1):
        shown = decls[group.members[0]]
        for i in group.members:
            organisme_of[i] = number
            d = decls[i]
            for (code, _, _), flag in zip(SCOPES, d.certifications, strict=True):
                if flag:
                    certifications.append((number, code, d.nda))
        organisations.append((
            number, organisation_identifier(group, decls), group.siret,
            group.siret[:9] if group.siret else shown.siren, shown.denomination, shown.nom_comparaison,
            shown.nda, shown.voie, shown.code_postal, shown.ville, shown.code_commune_insee, shown.commune,
            shown.code_departement, shown.code_region, shown.type_adresse, shown.date_derniere_declaration,
            len(group.members), group.how, "actif",
        ))
    writer.write("organismes", organisations)
    writer.write("declarations", (declaration_row(d, organisme_of[i]) for i, d in enumerate(decls)))
    writer.write("certifications", certifications)
    writer.write("ndas_precedents", {(p, d.nda) for d in decls for p in d.ndas_precedents})

    labels: dict[str, str] = {}
    links = []
    for d in decls:
        for rank, (code, label) in enumerate(d.specialites, start=1):
            key = code or label
            if label and (key not in labels or (labels[key] == "" and label)):
                labels[key] = label
            labels.setdefault(key, label)
            links.append((d.nda, rank, key))
    writer.write("specialites", sorted(labels.items()))
    writer.write("declaration_specialites", links)

    # Until an address is geocoded, its commune's centroid (La Poste's base) is all we know: say so.
    communes = reference.communes.communes
    locations = []
    for d in decls:
        commune = communes.get(d.code_commune_insee) if d.code_commune_insee else None
        if commune and commune.latitude is not None:
            locations.append((d.nda, commune.latitude, commune.longitude, None, "municipality", commune.name, CENTROID))
        else:
            locations.append((d.nda, None, None, None, None, None, "aucun"))
    writer.write("localisations", locations)
    writer.write("quarantaine", ((r.enregistrement, r.ligne, r.nda or None, r.motif, r.detail, r.raw_json())
                                 for r in rejected))
