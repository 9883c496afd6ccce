"""Response shapes, for the OpenAPI description (responses are built as dicts by the search layer;
tests check that they match these models). Field names are those of the CSV exports."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from .. import fields
from ..fields import SCOPE_CODES, scope_flag
from ..fields import Field as RecordField


class Erreur(BaseModel):
    detail: str


class Centre(BaseModel):
    """The centre of a search: the place `autour` named (gazetteer.py), or the position given."""

    type: str  # commune, arrondissement, ville, code_postal, or position (lat/lon given)
    code: str | None  # INSEE code, or postal code
    nom: str | None  # official name (a postal code: the communes it serves)
    code_commune_insee: str | None
    code_postal: str | None
    code_departement: str | None
    latitude: float
    longitude: float


class CorrectionVerifiee(BaseModel):
    """A correction sent by a visitor and approved by a moderator, shown over the published value."""

    champ: str  # denomination, adresse, code_postal, commune, siret
    libelle: str
    valeur: str
    valeur_source: str | None  # the value the directory holds from the Liste publique
    date: str  # ISO 8601 date of the approval


class OrganismeResume(BaseModel):
    id_organisme: str
    siret: str | None
    siren: str | None
    denomination: str
    numero_declaration_activite: str
    nb_declarations: int
    adresse: str | None
    code_postal: str | None
    commune: str | None
    code_commune_insee: str | None
    code_departement: str | None
    code_region: str | None
    type_adresse: str
    __annotations__.update({scope_flag(code): bool for code in SCOPE_CODES})  # the scopes it holds
    date_derniere_declaration: str | None
    latitude: float | None
    longitude: float | None
    geo_methode: str | None
    statut: str
    distance_km: float | None
    corrections: list[CorrectionVerifiee] | None = None  # only when approved corrections apply


class CompteCertifie(BaseModel):
    oui: int
    non: int


class FacetteDepartement(BaseModel):
    code: str | None
    nom: str | None
    nombre: int


class FacetteSpecialite(BaseModel):
    code: str
    libelle: str | None
    nombre: int


class Facettes(BaseModel):
    portees: dict[str, int]
    certifie: CompteCertifie
    departements: list[FacetteDepartement]
    specialites: list[FacetteSpecialite]


class Correction(BaseModel):
    mot: str  # as typed
    correction: str  # the word searched instead


class PartieComprise(BaseModel):
    mots: str  # the words of the query it covers
    sans: str  # the query without them: the same search without this condition


class SpecialiteComprise(PartieComprise):
    codes: list[str]  # NSF codes: an organisation with any of them matches, the first ranks first
    libelle: str
    libelle_court: str


class PorteeComprise(PartieComprise):
    portee: str


class AutreLieu(BaseModel):
    """Another place of the same name, and the query that means it."""

    type: str
    code: str
    nom: str
    code_departement: str | None
    libelle: str
    q: str


class LieuCompris(PartieComprise):
    type: str  # commune, arrondissement, ville, code_postal, departement
    code: str
    nom: str
    libelle: str
    code_commune_insee: str | None
    code_postal: str | None
    code_departement: str | None
    latitude: float | None
    longitude: float | None
    autres: list[AutreLieu]  # namesakes (the name was ambiguous: the one with most organisations taken)


class Identifiant(BaseModel):
    type: str  # nda, siret, siren
    valeur: str


class Interpretation(BaseModel):
    """What the text `q` was understood as (search/understanding.py)."""

    texte: str
    texte_corrige: str | None = Field(description="La requête telle que cherchée, si un mot a été corrigé.")
    corrections: list[Correction]
    lecture: str = Field(
        description="identifiant ; criteres (besoin, portée, certification, lieu) ; nom ; "
        "nom_et_criteres (les mots d'un nom parmi les organismes que le reste désigne) ; "
        "criteres_sans_mots_inconnus (des mots qu'aucun organisme n'emploie laissés de côté)."
    )
    identifiant: Identifiant | None = None
    specialites: list[SpecialiteComprise]
    portees: list[PorteeComprise]
    certifie: PartieComprise | None
    lieu: LieuCompris | None
    mots_nom: str | None
    mots_ignores: list[str]


class Suggestion(BaseModel):
    """A search to try when nothing is found, and how many it finds."""

    raison: str  # sans_lieu, sans_portee, sans_certification, sans_specialite, commune_proche, orthographe
    texte: str
    q: str
    total: int


class ResultatRecherche(BaseModel):
    total: int
    page: int
    par_page: int
    pages: int
    tri: str
    centre: Centre | None
    resultats: list[OrganismeResume]
    facettes: Facettes | None = None
    interpretation: Interpretation | None = None
    suggestions: list[Suggestion] = []


class Specialite(BaseModel):
    code: str
    libelle: str | None


_TYPES: dict[str, type] = {"string": str, "date": str, "integer": int, "number": float, "boolean": bool}


def _annotation(f: RecordField) -> Any:
    """A published field's type in the API."""
    if f.name == "specialites":  # their codes with their labels
        return list[Specialite]
    base = _TYPES[f.type]
    if f.many:
        return list[base]  # type: ignore[valid-type]
    return base if f.constraints.get("required") or f.default is not None else base | None


class Declaration(BaseModel):
    """A declaration (NDA) as the API gives it: the fields of the record (fields.py) it publishes."""

    __annotations__ = {str(f.export_name): _annotation(f) for f in fields.api_fields()}


class Evenement(BaseModel):
    date: str
    evenement: str  # ajout, modification, suppression, organisme_supprime, organisme_regroupe,
    # correction_verifiee (an approved correction; `champs`: the fields corrected)
    numero_declaration_activite: str | None
    champs: (
        list[str] | dict[str, str | None] | None
    )  # groups of fields changed, or the organisation merged into


class ChampSource(BaseModel):
    champ: str  # denomination, siret, nda, certificateur, qualiopi, portees, date_certification, …
    valeur: str
    date_observation: str | None  # when the source said it (ISO 8601 date)
    conflit: bool  # contradicts the Liste publique (which stays authoritative)
    ligne: int | None  # the row in the secondary source


class SourceProvenance(BaseModel):
    source: str  # liste_publique, or a secondary source's name (datadock, cfa-reseaux…)
    libelle: str
    statut: str | None  # frais, dernier_instantane (last good snapshot), indisponible
    champs: list[ChampSource]


class Provenance(BaseModel):
    sources: list[SourceProvenance]
    conflits: int


class Sirene(BaseModel):
    etat_administratif: str | None  # A: active, F: closed; None: unknown to SIRENE
    ferme: bool
    date_fermeture: str | None
    denomination: str | None
    activite_principale: str | None  # NAF code
    activite_principale_libelle: str | None = None  # its NAF rév. 2 label (INSEE), when it is one
    etat_unite_legale: str | None  # A: active, C: ceased
    date_verification: str
    api: str  # recherche-entreprises, insee or stock
    adresse: str | None = None  # the establishment's street in SIRENE (None: masked or unknown)
    code_postal: str | None = None
    code_commune: str | None = None  # INSEE code
    latitude: float | None = None
    longitude: float | None = None
    diffusion: str | None = None  # O, or P (partial diffusion: street and position masked)


class Lieu(BaseModel):
    """Where the organisation's place (commune, département, région) comes from."""

    origine: str  # liste_publique, sirene (its own address gives no commune), region_declaree, aucune
    date: str | None  # sirene: the date of SIRENE's answer (its stock file's)
    adresse: str | None  # the address shown: the Liste publique's, or SIRENE's
    code_postal: str | None
    diffusion_partielle: bool  # SIRENE masks the street and position: the commune only


class Organisme(OrganismeResume):
    numeros_declaration_activite: list[str]
    # The declared activity of the most recent declaration (the one shown), never a sum over the NDAs;
    # each declaration's own figures are in `declarations`.
    debut_exercice: str | None = None
    fin_exercice: str | None = None
    nb_stagiaires: int | None = None
    nb_stagiaires_confies: int | None = None
    effectif_formateurs: int | None = None
    # Defaults: a store or directory without secondary sources or SIRENE answers has nothing to say.
    provenance: Provenance = Field(default_factory=lambda: Provenance(sources=[], conflits=0))
    sirene: Sirene | None = None
    lieu: Lieu | None = None
    historique: list[Evenement]
    departement: str | None
    region: str | None
    regroupement: str
    geo_score: float | None
    geo_type: str | None
    geo_label: str | None
    specialites: list[Specialite]
    declarations: list[Declaration]


class Limites(BaseModel):
    sud: float
    nord: float
    ouest: float
    est: float


class Grappe(BaseModel):
    nombre: int
    latitude: float
    longitude: float
    limites: Limites


class Point(BaseModel):
    id_organisme: str
    denomination: str
    commune: str | None
    latitude: float | None
    longitude: float | None


class Grappes(BaseModel):
    zoom: int
    total: int
    grappes: list[Grappe]
    organismes: list[Point]


class DepartementResume(BaseModel):
    code: str
    nom: str
    type_liaison: int | None = None  # the COG's TNCC: the article the name takes (2: "du Rhône")
    code_region: str | None
    nb_organismes: int
    nb_certifies: int


class CommuneCompte(BaseModel):
    code_insee: str
    nom: str | None
    nombre: int


class Departement(BaseModel):
    code: str
    nom: str
    type_liaison: int | None = None  # the COG's TNCC: the article the name takes (3: "de la Somme")
    code_region: str | None
    region: str | None
    nb_organismes: int
    nb_certifies: int
    portees: dict[str, int]
    specialites: list[FacetteSpecialite]
    communes: list[CommuneCompte]


class Region(BaseModel):
    code: str
    nom: str
    type_liaison: int | None = None  # the COG's TNCC: the article the name takes (2: "du Grand Est")
    departements: list[str]
    nb_organismes: int
    nb_certifies: int


class CommuneLien(BaseModel):
    code_insee: str
    nom: str


class Arrondissement(BaseModel):
    code_insee: str
    nom: str
    nb_organismes: int
    nb_certifies: int
    portees: dict[str, int]


class Commune(BaseModel):
    code_insee: str
    nom: str  # the COG's official name
    type: str = "commune"  # commune, arrondissement (of Paris, Lyon, Marseille), ville (those three)
    ville: CommuneLien | None = None  # an arrondissement's city
    arrondissements: list[Arrondissement] = []  # a city's, with their counts
    codes_postaux: list[str]
    code_departement: str
    code_region: str | None
    latitude: float | None
    longitude: float | None
    nb_organismes: int
    nb_certifies: int
    portees: dict[str, int]


class SpecialiteCompte(BaseModel):
    code: str
    libelle: str
    nb_organismes: int


class Statistiques(BaseModel):
    nb_organismes: int
    nb_certifies: int
    portees: dict[str, int]
    nb_declarations: int
    nb_quarantaine: int
    localisation: dict[str, int]
    date_construction: str | None


# /api/v1/statistiques: the statistics page's figures (search/statistics.py).


class ClasseCarte(BaseModel):
    classe: int = Field(description="1 : la classe des taux les plus faibles")
    minimum: float = Field(description="Plus petit taux de la classe (organismes pour 10 000 habitants)")
    maximum: float = Field(description="Plus grand taux de la classe")
    nb_departements: int


class StatistiquesDepartement(BaseModel):
    code: str
    nom: str
    type_liaison: int | None = None
    code_region: str | None
    population: int | None = Field(
        description="Population du Code officiel géographique (somme de ses communes) ; null si inconnue"
    )
    nb_organismes: int = Field(description="Organismes actifs établis dans le département")
    nb_certifies: int = Field(description="Dont certifiés Qualiopi pour au moins une portée")
    certifies_pour_10000: float | None = Field(
        description="Organismes certifiés Qualiopi pour 10 000 habitants, à deux décimales"
    )
    classe: int | None = Field(
        description="Classe sur la carte (des classes d'autant de départements) ; null sans population"
    )


class EvolutionPortee(BaseModel):
    declarations_ajoutees: int = Field(description="Déclarations ajoutées à la Liste publique avec la portée")
    portee_obtenue: int = Field(description="Déclarations déjà publiées qui ont obtenu la portée")
    declarations_retirees: int = Field(description="Déclarations retirées de la Liste publique qui l'avaient")
    portee_retiree: int = Field(description="Déclarations toujours publiées qui l'ont perdue")
    solde: int = Field(description="Déclarations actives avec la portée : après moins avant la mise à jour")


class StatistiquesPortee(BaseModel):
    portee: str = Field(description="actions_formation, bilans_competences, vae, apprentissage")
    libelle: str
    nb_organismes: int = Field(description="Organismes actifs certifiés pour cette portée")
    nb_declarations: int = Field(description="Déclarations (NDA) actives certifiées pour cette portée")
    evolution: EvolutionPortee | None = Field(
        description="Ce qu'a changé la dernière mise à jour ; null avant la première"
    )


class PeriodeEvolution(BaseModel):
    date: str = Field(description="Date de la dernière mise à jour ayant changé des déclarations")
    date_precedente: str | None = Field(
        description="Date de l'état comparé : la mise à jour précédente, ou la construction"
    )


class StatistiquesFrance(BaseModel):
    population: int | None
    nb_organismes: int
    nb_certifies: int
    nb_certifies_sans_departement: int = Field(description="Certifiés dont le département est inconnu")
    certifies_pour_10000: float | None


class StatistiquesQualiopi(BaseModel):
    date_construction: str | None
    date_mise_a_jour: str | None
    evolution: PeriodeEvolution | None
    france: StatistiquesFrance
    classes: list[ClasseCarte]
    departements: list[StatistiquesDepartement]
    portees: list[StatistiquesPortee]
