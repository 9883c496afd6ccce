"""The columns of the Liste publique des organismes de formation (L.6351-7-1 du Code du travail)."""

from __future__ import annotations

# Official header, in the published order. Short names are ours, used in the code.
COLUMNS: list[tuple[str, str]] = [
    ("nda", "numeroDeclarationActivite"),
    ("ndas_precedents", "numerosDeclarationActivitePrecedent"),
    ("denomination", "denomination"),
    ("siren", "siren"),
    ("siret", "siretEtablissementDeclarant"),
    ("voie", "adressePhysiqueOrganismeFormation.voie"),
    ("code_postal", "adressePhysiqueOrganismeFormation.codePostal"),
    ("ville", "adressePhysiqueOrganismeFormation.ville"),
    ("code_region", "adressePhysiqueOrganismeFormation.codeRegion"),
    ("cert_actions", "certifications.actionsDeFormation"),
    ("cert_bilans", "certifications.bilansDeCompetences"),
    ("cert_vae", "certifications.VAE"),
    ("cert_apprentissage", "certifications.actionsDeFormationParApprentissage"),
    ("etranger_denomination", "organismeEtrangerRepresente.denomination"),
    ("etranger_voie", "organismeEtrangerRepresente.voie"),
    ("etranger_code_postal", "organismeEtrangerRepresente.codePostal"),
    ("etranger_ville", "organismeEtrangerRepresente.ville"),
    ("etranger_pays", "organismeEtrangerRepresente.pays"),
    ("date_derniere_declaration", "informationsDeclarees.dateDerniereDeclaration"),
    ("debut_exercice", "informationsDeclarees.debutExercice"),
    ("fin_exercice", "informationsDeclarees.finExercice"),
    ("specialite_code_1", "informationsDeclarees.specialitesDeFormation.codeSpecialite1"),
    ("specialite_libelle_1", "informationsDeclarees.specialitesDeFormation.libelleSpecialite1"),
    ("specialite_code_2", "informationsDeclarees.specialitesDeFormation.codeSpecialite2"),
    ("specialite_libelle_2", "informationsDeclarees.specialitesDeFormation.libelleSpecialite2"),
    ("specialite_code_3", "informationsDeclarees.specialitesDeFormation.codeSpecialite3"),
    ("specialite_libelle_3", "informationsDeclarees.specialitesDeFormation.libelleSpecialite3"),
    ("nb_stagiaires", "informationsDeclarees.nbStagiaires"),
    ("nb_stagiaires_confies", "informationsDeclarees.nbStagiairesConfiesParUnAutreOF"),
    ("effectif_formateurs", "informationsDeclarees.effectifFormateurs"),
]
FIELDS = [short for short, _ in COLUMNS]
INDEX = {short: i for i, short in enumerate(FIELDS)}
OFFICIAL = {official: short for short, official in COLUMNS}

# Without these a row cannot be placed in the directory: a file lacking one is refused.
REQUIRED = [
    "nda",
    "denomination",
    "siret",
    "voie",
    "code_postal",
    "ville",
    "cert_actions",
    "cert_bilans",
    "cert_vae",
    "cert_apprentissage",
    "date_derniere_declaration",
]

# The four certification columns are the Qualiopi scopes' (annuaire/fields.py, SCOPES).


def header_key(name: str) -> str:
    """How a header cell is compared: case, spaces, quotes and a BOM do not matter."""
    return name.strip().strip('"').lstrip("\ufeff").strip().lower()


OFFICIAL_BY_KEY = {header_key(official): short for short, official in COLUMNS}
