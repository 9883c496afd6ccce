"""From one raw record of the Liste publique to a clean declaration, or to quarantine with a reason.

`RecordCleaner.clean` is pure apart from its memo tables: the same input gives the same output.
Each repair and each warning is counted in the `counts` given, for the build report.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

from ..sources.liste_publique import FIELDS, INDEX, SCOPES
from .address import address_kind
from .commune import CommuneResolver
from .dates import parse_date
from .identifiers import check_identifiers, check_nda, split_ndas
from .names import comparison_name
from .postal import pad_postcode, pad_region
from .text import TextCleaner

TEXT_FIELDS = (
    "denomination",
    "voie",
    "ville",
    "etranger_denomination",
    "etranger_voie",
    "etranger_ville",
    "etranger_pays",
    "specialite_libelle_1",
    "specialite_libelle_2",
    "specialite_libelle_3",
)
IDENTITY_FIELDS = {"nda", "ndas_precedents", "siren", "siret"}
# Fields beyond identifiers, the usual ones first so that `any` stops early.
_USUAL = ("denomination", "voie", "code_postal", "ville")
_CONTENT_INDEXES = tuple(INDEX[f] for f in _USUAL) + tuple(
    i for i, f in enumerate(FIELDS) if f not in IDENTITY_FIELDS and f not in _USUAL
)
_TEXT_INDEXES = tuple((name, INDEX[name]) for name in TEXT_FIELDS)
_TRUE = {"true", "vrai", "oui", "1", "yes", "o", "x"}
_FALSE = {"false", "faux", "non", "0", "no", "n"}

# Quarantine reasons (the `motif` column of quarantaine.csv).
EMPTY_ROW = "ligne_vide"
IDENTIFIER_ONLY = "identifiant_seul"
NDA_MISSING = "nda_absent"
NDA_INVALID = "nda_invalide"
TOO_MANY_FIELDS = "champs_en_trop"
EXACT_DUPLICATE = "doublon_exact"
NDA_DUPLICATE = "nda_en_double"


@dataclass(slots=True)
class Declaration:
    enregistrement: int
    ligne: int
    nda: str
    ndas_precedents: list[str]
    denomination: str
    nom_comparaison: str
    siret: str | None
    siret_brut: str
    siret_statut: str
    siren: str | None
    siren_brut: str
    siren_incoherent: bool
    voie: str
    code_postal: str | None
    ville: str
    code_commune_insee: str | None
    commune: str | None
    code_departement: str | None
    code_region: str | None
    code_region_declare: str | None
    methode_commune: str
    type_adresse: str
    certifications: tuple[bool | None, bool | None, bool | None, bool | None]
    etranger: tuple[str, str, str, str, str]
    date_derniere_declaration: str | None
    debut_exercice: str | None
    fin_exercice: str | None
    specialites: list[tuple[str, str]]
    nb_stagiaires: int | None
    nb_stagiaires_confies: int | None
    effectif_formateurs: int | None
    extras: str | None
    raw: list[str] = field(default_factory=list, repr=False)  # as read: tells exact duplicates apart

    @property
    def scopes(self) -> list[str]:
        return [code for (code, _, _), flag in zip(SCOPES, self.certifications, strict=True) if flag]


@dataclass(slots=True)
class Rejected:
    enregistrement: int
    ligne: int
    nda: str
    motif: str
    detail: str
    raw: list[str]

    def raw_json(self) -> str:
        return json.dumps(self.raw, ensure_ascii=False)


def parse_flag(raw: str) -> tuple[bool | None, bool]:
    """Return (flag, whether the value was unreadable). A blank means "not certified"."""
    value = raw.strip().lower()
    if not value:
        return None, False
    if value in _TRUE:
        return True, False
    if value in _FALSE:
        return False, False
    return None, True


MAX_COUNT = 10_000_000  # more trainees or trainers than that is a typing error, not a count


def parse_count(raw: str) -> tuple[int | None, bool]:
    """A head count: (value or None, whether the value was present but unreadable)."""
    value = raw.strip().replace(" ", "").replace("\u00a0", "")
    if not value:
        return None, False
    if value.isdigit() and value.isascii() and len(value) <= 9:
        number = int(value)
    else:
        try:
            as_float = float(value.replace(",", "."))
            number = int(as_float)
        except (ValueError, OverflowError):
            return None, True
        if number != as_float:
            return None, True
    return (number, False) if 0 <= number <= MAX_COUNT else (None, True)


class RecordCleaner:
    def __init__(self, communes: CommuneResolver, counts: Counter):
        self.communes = communes
        self.counts = counts
        self.text = TextCleaner()

    def clean(
        self,
        number: int,
        line: int,
        values: list[str],
        raw: list[str],
        extras: dict | None,
        width_ok: bool,
        overflow: bool = False,
    ) -> Declaration | Rejected:
        counts = self.counts
        v = values
        if not any(x.strip() for x in raw):
            return Rejected(number, line, "", EMPTY_ROW, "every field is empty", raw)
        nda_raw = v[INDEX["nda"]].strip()
        if overflow:
            return Rejected(
                number,
                line,
                nda_raw,
                TOO_MANY_FIELDS,
                f"{len(raw)} fields where the header has fewer: a separator inside an unquoted field?",
                raw,
            )
        if not any(v[i].strip() for i in _CONTENT_INDEXES) and not extras:
            return Rejected(
                number, line, nda_raw, IDENTIFIER_ONLY, "only identifiers, no name nor address", raw
            )
        nda, nda_padded = check_nda(nda_raw)
        if not nda_raw:
            return Rejected(number, line, "", NDA_MISSING, "no numeroDeclarationActivite", raw)
        if nda is None:
            return Rejected(
                number,
                line,
                nda_raw,
                NDA_INVALID,
                f"numeroDeclarationActivite {nda_raw!r} is not 11 digits",
                raw,
            )
        if nda_padded:
            counts["nda_leading_zero_restored"] += 1
        if not width_ok:
            counts["record_field_count_differs_from_header"] += 1

        text = {}
        text_cleaner = self.text
        for name, index in _TEXT_INDEXES:
            original = v[index]
            if not original:
                text[name] = ""
                continue
            if original.isascii():  # inlined fast path of TextCleaner: spaces at most
                cleaned = " ".join(original.split())
                repaired = False
            else:
                cleaned, repaired = text_cleaner(original)
            if repaired:
                counts["mojibake_repaired." + name] += 1
                counts["mojibake_repaired"] += 1
            elif cleaned != original:
                counts["whitespace_normalised"] += 1
            text[name] = cleaned

        ids = check_identifiers(v[INDEX["siret"]], v[INDEX["siren"]])
        if ids.siret_status == "zero_restaure":
            counts["siret_leading_zero_restored"] += 1
        elif ids.siret_status == "invalide":
            counts["siret_invalid_withheld"] += 1
        elif ids.siret_status == "absent":
            counts["siret_missing"] += 1
        if ids.siren_mismatch:
            counts["siren_disagrees_with_siret"] += 1

        postcode, padded = pad_postcode(v[INDEX["code_postal"]])
        if padded:
            counts["postcode_leading_zero_restored"] += 1
        elif postcode is None and v[INDEX["code_postal"]].strip():
            counts["postcode_invalid"] += 1
        region_declared = pad_region(v[INDEX["code_region"]])
        if region_declared and region_declared != v[INDEX["code_region"]].strip():
            counts["region_leading_zero_restored"] += 1
        resolution = self.communes.resolve(postcode, text["ville"], region_declared)
        region = self.communes.region_of(resolution.departement)
        if region and region_declared and region != region_declared:
            counts["region_declared_disagrees"] += 1
        commune = self.communes.communes.get(resolution.insee) if resolution.insee else None

        flags = []
        for code, column, _ in SCOPES:
            flag, bad = parse_flag(v[INDEX[column]])
            if bad:
                counts["certification_unreadable"] += 1
            elif flag:
                counts[f"scope.{code}"] += 1
            flags.append(flag)

        dates = []
        for name in ("date_derniere_declaration", "debut_exercice", "fin_exercice"):
            iso, impossible = parse_date(v[INDEX[name]])
            if impossible:
                counts["date_impossible_emptied"] += 1
            dates.append(iso)

        specialites = []
        for i in (1, 2, 3):
            code = v[INDEX[f"specialite_code_{i}"]].strip()
            label = text[f"specialite_libelle_{i}"]
            if code or label:
                specialites.append((code, label))

        numbers = []
        for name in ("nb_stagiaires", "nb_stagiaires_confies", "effectif_formateurs"):
            number_value, bad = parse_count(v[INDEX[name]])
            if bad:
                counts["count_unreadable"] += 1
            numbers.append(number_value)

        kind = address_kind(text["voie"], text["ville"], postcode)
        return Declaration(
            enregistrement=number,
            ligne=line,
            nda=nda,
            ndas_precedents=[n for n in split_ndas(v[INDEX["ndas_precedents"]]) if n != nda],
            denomination=text["denomination"],
            nom_comparaison=comparison_name(text["denomination"]),
            siret=ids.siret,
            siret_brut=ids.siret_raw,
            siret_statut=ids.siret_status,
            siren=ids.siren,
            siren_brut=ids.siren_raw,
            siren_incoherent=ids.siren_mismatch,
            voie=text["voie"],
            code_postal=postcode,
            ville=text["ville"],
            code_commune_insee=resolution.insee,
            commune=commune.name if commune else None,
            code_departement=resolution.departement,
            code_region=region,
            code_region_declare=region_declared,
            methode_commune=resolution.method,
            type_adresse=kind,
            certifications=tuple(flags),
            etranger=(
                text["etranger_denomination"],
                text["etranger_voie"],
                v[INDEX["etranger_code_postal"]].strip(),
                text["etranger_ville"],
                text["etranger_pays"],
            ),
            date_derniere_declaration=dates[0],
            debut_exercice=dates[1],
            fin_exercice=dates[2],
            specialites=specialites,
            nb_stagiaires=numbers[0],
            nb_stagiaires_confies=numbers[1],
            effectif_formateurs=numbers[2],
            extras=json.dumps(extras, ensure_ascii=False) if extras else None,
            raw=raw,
        )
