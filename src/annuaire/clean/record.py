"""From one raw record of the Liste publique to a clean declaration, or to quarantine with a reason.

`RecordCleaner.clean` is pure apart from its memo tables: the same input gives the same output.
Each repair and each warning is counted in the `counts` given, for the build report.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import TypeVar

from ..fields import SCOPES
from ..sources.liste_publique import FIELDS, INDEX
from ..sources.reader import Record
from .address import address_kind
from .commune import CommuneResolver
from .dates import parse_date
from .identifiers import check_identifiers, check_nda, split_ndas
from .names import comparison_name
from .postal import pad_postcode, pad_region
from .text import TextCleaner, accent_capitals

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

# Where a declaration's place (commune, département, région) comes from.
FROM_LISTE_PUBLIQUE = "liste_publique"  # its own address: a commune, or a département at least
FROM_SIRENE = "sirene"  # the establishment's address in SIRENE (clean/places.py)
FROM_DECLARED_REGION = "region_declaree"  # only the région it declared
NOWHERE = "aucune"
PLACE_ORIGINS = (FROM_LISTE_PUBLIQUE, FROM_SIRENE, FROM_DECLARED_REGION, NOWHERE)

# Quarantine reasons (the `motif` column of quarantaine.csv).
EMPTY_ROW = "ligne_vide"
IDENTIFIER_ONLY = "identifiant_seul"
NDA_MISSING = "nda_absent"
NDA_INVALID = "nda_invalide"
TOO_MANY_FIELDS = "champs_en_trop"
EXACT_DUPLICATE = "doublon_exact"
NDA_DUPLICATE = "nda_en_double"
# And the reader's own: sources.reader.UNCLOSED_QUOTE ("guillemet_non_ferme"), a line it could not read.


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
    certifications: tuple[bool | None, ...]  # the Qualiopi scopes' flags, in fields.SCOPES order
    etranger_denomination: str  # a foreign body it represents
    etranger_voie: str
    etranger_code_postal: str
    etranger_ville: str
    etranger_pays: str
    date_derniere_declaration: str | None
    debut_exercice: str | None
    fin_exercice: str | None
    specialites: list[tuple[str, str]]
    nb_stagiaires: int | None
    nb_stagiaires_confies: int | None
    effectif_formateurs: int | None
    extras: str | None
    origine_lieu: str  # where the place comes from: see PLACE_ORIGINS
    date_origine_lieu: str | None  # SIRENE's: the date of its answer
    organisme_id: int = 0  # the organisation it belongs to, once declarations are grouped
    statut: str = "actif"
    raw: list[str] = field(default_factory=list, repr=False)  # as read: tells exact duplicates apart

    @property
    def scopes(self) -> list[str]:
        return [s.code for s, flag in zip(SCOPES, self.certifications, strict=True) if flag]


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


# A declaration's field values, in order: `Declaration(*declaration_fields(d))` makes it again. Worker
# processes send declarations as such tuples, which pickle in C.
declaration_fields = attrgetter(*(f.name for f in fields(Declaration)))


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


K = TypeVar("K")
V = TypeVar("V")


class _Memo(dict[K, V]):
    """A bounded memo table: the same few thousand values come back on most rows, and a wild file
    must not grow it without end."""

    __slots__ = ("limit",)

    def __init__(self, limit: int = 200_000):
        super().__init__()
        self.limit = limit

    def keep(self, key: K, value: V) -> V:
        if len(self) < self.limit:
            self[key] = value
        return value


_NO_COUNTS: tuple[str, ...] = ()
_CP, _REGION, _VILLE = INDEX["code_postal"], INDEX["code_region"], INDEX["ville"]
_FLAG_INDEXES = tuple(INDEX[s.column] for s in SCOPES)
_DATE_INDEXES = tuple(INDEX[f] for f in ("date_derniere_declaration", "debut_exercice", "fin_exercice"))
_COUNT_INDEXES = tuple(INDEX[f] for f in ("nb_stagiaires", "nb_stagiaires_confies", "effectif_formateurs"))
_SPECIALITES = tuple(
    (INDEX[f"specialite_code_{i}"], TEXT_FIELDS.index(f"specialite_libelle_{i}")) for i in (1, 2, 3)
)
_ETRANGER_CP = INDEX["etranger_code_postal"]
_NDAS_PRECEDENTS, _SIRET, _SIREN = INDEX["ndas_precedents"], INDEX["siret"], INDEX["siren"]


@dataclass(frozen=True, slots=True)
class _Place:
    """What a (postal code, city, région) triple resolves to, and the repairs it counts."""

    postcode: str | None
    region_declared: str | None
    insee: str | None
    commune: str | None
    departement: str | None
    region: str | None
    method: str
    origin: str
    counts: tuple[str, ...]


class RecordCleaner:
    """Cleans records one by one. Groups of fields whose values repeat from row to row (postal code,
    city and région; the four scope flags; head counts) are resolved once per distinct value and
    remembered, with the repairs they count: a tenth of the rows carry a value not seen before."""

    def __init__(self, communes: CommuneResolver, counts: Counter[str]):
        self.communes = communes
        self.counts = counts
        self.text = TextCleaner()
        self.regions = frozenset(communes.departement_region.values())
        self._places: _Memo[tuple[str, str, str], _Place] = _Memo()
        self._flags: _Memo[tuple[str, ...], tuple[tuple[bool | None, ...], tuple[str, ...]]] = _Memo(10_000)
        self._counts: _Memo[str, tuple[int | None, bool]] = _Memo(50_000)

    def _place(self, postcode_raw: str, ville: str, region_raw: str) -> _Place:
        key = (postcode_raw, ville, region_raw)
        hit = self._places.get(key)
        if hit is not None:
            return hit
        counts = []
        postcode, padded = pad_postcode(postcode_raw)
        if padded:
            counts.append("postcode_leading_zero_restored")
        elif postcode is None and postcode_raw.strip():
            counts.append("postcode_invalid")
        region_declared = pad_region(region_raw)
        if region_declared and region_declared != region_raw.strip():
            counts.append("region_leading_zero_restored")
        communes = self.communes
        resolution = communes.resolve(postcode, ville, region_declared)
        region = communes.region_of(resolution.departement)
        if region and region_declared and region != region_declared:
            counts.append("region_declared_disagrees")
        commune = communes.communes.get(resolution.insee) if resolution.insee else None
        if resolution.departement:
            origin = FROM_LISTE_PUBLIQUE
        elif region_declared in self.regions:  # no commune: the région declared, a known one
            origin, region = FROM_DECLARED_REGION, region_declared
        else:
            origin = NOWHERE
            if region_declared:
                counts.append("region_declared_unknown")
        place = _Place(
            postcode=postcode,
            region_declared=region_declared,
            insee=resolution.insee,
            commune=commune.name if commune else None,
            departement=resolution.departement,
            region=region,
            method=resolution.method,
            origin=origin,
            counts=tuple(counts),
        )
        return self._places.keep(key, place)

    def _scope_flags(self, raws: tuple[str, ...]) -> tuple[tuple[bool | None, ...], tuple[str, ...]]:
        hit = self._flags.get(raws)
        if hit is not None:
            return hit
        flags = []
        counts = []
        for scope, raw in zip(SCOPES, raws, strict=True):
            flag, bad = parse_flag(raw)
            if bad:
                counts.append("certification_unreadable")
            elif flag:
                counts.append(f"scope.{scope.code}")
            flags.append(flag)
        return self._flags.keep(raws, (tuple(flags), tuple(counts)))

    def _count(self, raw: str) -> tuple[int | None, bool]:
        hit = self._counts.get(raw)
        if hit is None:
            hit = self._counts.keep(raw, parse_count(raw))
        return hit

    def clean(
        self,
        number: int,
        line: int,
        values: list[str],
        raw: list[str],
        extras: dict[str, str] | None,
        width_ok: bool,
        overflow: bool = False,
        defect: str | None = None,
    ) -> Declaration | Rejected:
        counts = self.counts
        v = values
        if defect is not None:
            return Rejected(
                number,
                line,
                v[INDEX["nda"]].strip(),
                defect,
                "a quote opened and never closed: the line does not read as one record "
                "(its fields as read with the quote taken literally)",
                raw,
            )
        if not any(map(str.strip, raw)):
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

        text = []  # in TEXT_FIELDS order
        text_cleaner = self.text
        for name, index in _TEXT_INDEXES:
            original = v[index]
            if not original:
                text.append("")
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
            text.append(cleaned)
        denomination, voie, ville = text[0], text[1], text[2]

        ids = check_identifiers(v[_SIRET], v[_SIREN])
        if ids.siret_status == "zero_restaure":
            counts["siret_leading_zero_restored"] += 1
        elif ids.siret_status == "invalide":
            counts["siret_invalid_withheld"] += 1
        elif ids.siret_status == "absent":
            counts["siret_missing"] += 1
        if ids.siren_mismatch:
            counts["siren_disagrees_with_siret"] += 1

        place = self._place(v[_CP], ville, v[_REGION])
        flags, flag_counts = self._scope_flags(tuple([v[i] for i in _FLAG_INDEXES]))
        for key in place.counts or _NO_COUNTS:
            counts[key] += 1
        for key in flag_counts:
            counts[key] += 1

        dates = []
        for i in _DATE_INDEXES:
            iso, impossible = parse_date(v[i])
            if impossible:
                counts["date_impossible_emptied"] += 1
            dates.append(iso)

        specialites = []
        for code_index, label_index in _SPECIALITES:
            code = v[code_index].strip()
            label = accent_capitals(text[label_index])  # "Economie" → "Économie"
            if code or label:
                specialites.append((code, label))

        numbers = []
        for i in _COUNT_INDEXES:
            number_value, bad = self._count(v[i])
            if bad:
                counts["count_unreadable"] += 1
            numbers.append(number_value)

        previous = v[_NDAS_PRECEDENTS]
        return Declaration(
            enregistrement=number,
            ligne=line,
            nda=nda,
            ndas_precedents=[n for n in split_ndas(previous) if n != nda] if previous else [],
            denomination=denomination,
            nom_comparaison=comparison_name(denomination),
            siret=ids.siret,
            siret_brut=ids.siret_raw,
            siret_statut=ids.siret_status,
            siren=ids.siren,
            siren_brut=ids.siren_raw,
            siren_incoherent=ids.siren_mismatch,
            voie=voie,
            code_postal=place.postcode,
            ville=ville,
            code_commune_insee=place.insee,
            commune=place.commune,
            code_departement=place.departement,
            code_region=place.region,
            code_region_declare=place.region_declared,
            methode_commune=place.method,
            type_adresse=address_kind(voie, ville, place.postcode),
            certifications=flags,
            etranger_denomination=text[3],
            etranger_voie=text[4],
            etranger_code_postal=v[_ETRANGER_CP].strip(),
            etranger_ville=text[5],
            etranger_pays=text[6],
            date_derniere_declaration=dates[0],
            debut_exercice=dates[1],
            fin_exercice=dates[2],
            specialites=specialites,
            nb_stagiaires=numbers[0],
            nb_stagiaires_confies=numbers[1],
            effectif_formateurs=numbers[2],
            extras=json.dumps(extras, ensure_ascii=False) if extras else None,
            origine_lieu=place.origin,
            date_origine_lieu=None,
            raw=raw,
        )

    def clean_record(self, record: Record) -> Declaration | Rejected:
        """`clean` for a record as the reader gives it."""
        return self.clean(
            record.number,
            record.line,
            record.values,
            record.raw,
            record.extras,
            record.width_ok,
            record.overflow,
            record.defect,
        )


def settle_twice(kept: Declaration, out: Declaration) -> tuple[Declaration, Rejected]:
    """An NDA read twice: the declaration to keep and the record to quarantine.

    The same record twice is an exact duplicate (the first stays); different content under one NDA
    keeps the most recent declaration (the first read on a tie)."""
    if kept.raw == out.raw:
        reason = f"same as record {kept.enregistrement}"
        return kept, Rejected(out.enregistrement, out.ligne, out.nda, EXACT_DUPLICATE, reason, out.raw)
    newer = (out.date_derniere_declaration or "") > (kept.date_derniere_declaration or "")
    winner, loser = (out, kept) if newer else (kept, out)
    reason = f"NDA declared twice; the most recent declaration is kept (record {winner.enregistrement})"
    return winner, Rejected(loser.enregistrement, loser.ligne, loser.nda, NDA_DUPLICATE, reason, loser.raw)
