"""Secondary sources: certifier lists, network lists… read through a small declarative mapping.

A source is a file (CSV in any usual encoding and separator, an XLSX workbook, or a PDF holding a
table) and a mapping
(TOML, `sources/mappings/*.toml` or a file of the user's) that says which of its columns hold our
fields and how their values read. Mapping format:

    [source]
    name = "datadock"                  # how the build, the report and the provenance name it
    label = "Datadock …"               # shown on the website
    certificateur = "Datadock"         # optional constant certifier, when no column names it
    portees = ["apprentissage"]        # optional: what a Qualiopi flag certifies, when no column says
    sheet = "Feuil1"                   # optional, XLSX: the sheet (default: the first)

    [columns]                          # our field = the source's column (header, exact)
    siret = "siret"                    # or { column = "Adresse", pattern = 'regex', last = true }
    …

    [values.qualiopi]                  # how a flag's values read (case and accents ignored)
    true = ["OUI"]
    false = ["NON"]

    [values.portees]                   # scope labels → our scope codes
    vae = ["VAE"]

Parsing is pure: `read_table` gives rows of text, `map_rows` gives `SecondaryRecord`s.
"""

from __future__ import annotations

import csv
import io
import re
import tomllib
import zipfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ..clean.dates import parse_date
from ..clean.identifiers import check_nda, check_siret, compact
from ..clean.names import comparison_name, fold
from ..clean.text import normalise_space, repair_mojibake
from ..errors import InputError
from ..fields import SCOPE_CODES
from .reader import detect_encoding

FIELDS = (
    "siret",
    "siren",
    "nda",
    "denomination",
    "adresse",
    "code_postal",
    "certificateur",
    "portees",
    "date_certification",
    "date_expiration",
    "qualiopi",
    "referencable",
    "etat_administratif",
    "date_observation",
)
FLAGS = ("qualiopi", "referencable")
# Pre-2015 NDAs: region (2 digits), département (2 or 3 characters), "P", serial number.
OLD_NDA = re.compile(r"^\d{2}[0-9AB]{2,3}P\d{4,7}$")
SEPARATORS = ",;\t|"
MAX_FIELD = 1 << 20


# `="00123"`: how spreadsheets are told to keep a cell as text (leading zeros): the text is inside.
_EXCEL_TEXT = re.compile(r'^="(.*)"$', re.S)


def clean_text(value: str) -> str:
    value = normalise_space(repair_mojibake(value or ""))
    if value.startswith('="') and (m := _EXCEL_TEXT.match(value)):
        value = m[1].strip()
    return value


@dataclass(frozen=True)
class ColumnRule:
    column: str
    pattern: re.Pattern | None = None
    last: bool = False

    def value(self, row: dict[str, str]) -> str:
        raw = row.get(self.column) or ""
        if self.pattern is None:
            return raw
        found = self.pattern.findall(raw)
        if not found:
            return ""
        hit = found[-1] if self.last else found[0]
        return hit if isinstance(hit, str) else hit[0]


@dataclass(frozen=True)
class Mapping:
    name: str
    label: str
    columns: dict[str, ColumnRule]
    values: dict[str, dict[str, str]]  # field → folded source value → our value
    certificateur: str | None = None
    portees: tuple[str, ...] = ()
    sheet: str | None = None
    origin: str = ""


def _mapping_error(origin: str, message: str) -> InputError:
    return InputError(origin, f"mapping: {message}")


def parse_mapping(text: str, origin: str = "<mapping>") -> Mapping:
    """A mapping from its TOML text; errors name the file and what was expected."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _mapping_error(origin, f"not valid TOML ({exc})") from None
    source = data.get("source") or {}
    name = source.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,39}", name):
        raise _mapping_error(origin, "[source] name must be 1-40 lower-case letters, digits, - or _")
    columns: dict[str, ColumnRule] = {}
    for key, spec in (data.get("columns") or {}).items():
        if key not in FIELDS:
            raise _mapping_error(
                origin, f"[columns] {key!r} is not a field (expected one of {', '.join(FIELDS)})"
            )
        if isinstance(spec, str):
            columns[key] = ColumnRule(spec)
        elif isinstance(spec, dict) and isinstance(spec.get("column"), str):
            try:
                pattern = re.compile(spec["pattern"]) if spec.get("pattern") else None
            except re.error as exc:
                raise _mapping_error(origin, f"[columns] {key}: bad pattern ({exc})") from None
            columns[key] = ColumnRule(spec["column"], pattern, bool(spec.get("last", False)))
        else:
            raise _mapping_error(origin, f"[columns] {key}: expected a column name or {{ column = … }}")
    if not ({"siret", "nda", "denomination"} & columns.keys()):
        raise _mapping_error(origin, "[columns] needs at least one of siret, nda, denomination")
    values: dict[str, dict[str, str]] = {}
    for key, table in (data.get("values") or {}).items():
        if not isinstance(table, dict):
            raise _mapping_error(origin, f"[values.{key}] must be a table")
        if key in FLAGS and not set(table) <= {"true", "false"}:
            raise _mapping_error(origin, f"[values.{key}] takes `true` and `false` lists")
        if key == "portees" and not set(table) <= set(SCOPE_CODES):
            raise _mapping_error(
                origin, f"[values.portees] keys must be scope codes: {', '.join(SCOPE_CODES)}"
            )
        values[key] = {fold(v): ours for ours, listed in table.items() for v in listed}
    scopes = tuple(source.get("portees") or ())
    if not set(scopes) <= set(SCOPE_CODES):
        raise _mapping_error(origin, f"[source] portees must be scope codes: {', '.join(SCOPE_CODES)}")
    return Mapping(
        name=name,
        label=str(source.get("label") or name),
        columns=columns,
        values=values,
        certificateur=source.get("certificateur"),
        portees=scopes,
        sheet=source.get("sheet"),
        origin=origin,
    )


def builtin_mappings() -> list[str]:
    folder = resources.files(__package__).joinpath("mappings")
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def load_mapping(name_or_path: str | Path) -> Mapping:
    """A mapping shipped with the package (`datadock`, `cfa-reseaux`, `certificateur`) or a TOML file."""
    text_name = str(name_or_path)
    if text_name in builtin_mappings():
        resource = resources.files(__package__).joinpath("mappings", f"{text_name}.toml")
        return parse_mapping(resource.read_text(encoding="utf-8"), f"mappings/{text_name}.toml")
    path = Path(name_or_path)
    if not path.is_file():
        raise InputError(
            text_name, f"no such mapping file (built-in mappings: {', '.join(builtin_mappings())})"
        )
    return parse_mapping(path.read_text(encoding="utf-8"), str(path))


# -- reading a table -----------------------------------------------------------------------------------


def is_xlsx(data: bytes) -> bool:
    if not data.startswith(b"PK\x03\x04"):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return "xl/workbook.xml" in z.namelist()
    except zipfile.BadZipFile:
        return False


def _header(cells: list, origin: str) -> list[str]:
    header = [clean_text(str(c)) if c is not None else "" for c in cells]
    while header and not header[-1]:
        header.pop()
    if not any(header):
        raise InputError(origin, "no header row", line=1)
    return header


def _read_xlsx(data: bytes, origin: str, sheet: str | None) -> tuple[list[str], list[dict[str, str]]]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged workbook
        raise InputError(origin, f"not a readable XLSX workbook ({exc})") from None
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise InputError(origin, f"no sheet {sheet!r} (sheets: {', '.join(book.sheetnames)})")
        rows = (
            book[sheet].iter_rows(values_only=True)
            if sheet
            else book.worksheets[0].iter_rows(values_only=True)
        )
        first = next(rows, None)
        if first is None:
            raise InputError(origin, "empty sheet")
        header = _header(list(first), origin)
        out = []
        for values in rows:
            cells = ["" if v is None else _cell_text(v) for v in values]
            if any(cells):
                out.append(dict(zip(header, cells, strict=False)))
        return header, out
    finally:
        book.close()


def is_pdf(data: bytes) -> bool:
    """PDF's magic number; readers accept it anywhere in the first kilobyte (after a mail header, say)."""
    return b"%PDF-" in data[:1024]


def _pdf_cell(value: str | None) -> str:
    """A table cell as pdfplumber reads it: its lines (a long cell wraps) joined with a space."""
    return " ".join(part.strip() for part in (value or "").splitlines() if part.strip())


def _read_pdf(data: bytes, origin: str) -> tuple[list[str], list[dict[str, str]]]:
    """The table of a PDF (certifiers publish their lists so): the tables of every page, drawn with
    ruling lines, read with pdfplumber; the first row is the header, the same header repeated at the top
    of later pages is dropped, a title line above the table is not part of it."""
    import pdfplumber

    try:
        document = pdfplumber.open(io.BytesIO(data))
    except Exception as exc:  # pdfminer raises many kinds for a damaged file
        raise InputError(origin, f"not a readable PDF ({type(exc).__name__}: {exc})") from None
    header: list[str] | None = None
    out: list[dict[str, str]] = []
    try:
        with document:
            for number, page in enumerate(document.pages, start=1):
                try:
                    tables = page.extract_tables()
                except Exception as exc:
                    raise InputError(
                        origin, f"page {number}: not a readable PDF ({type(exc).__name__}: {exc})"
                    ) from None
                finally:
                    page.close()  # a long list: what was parsed of a page is not kept
                for table in tables:
                    for values in table:
                        cells = [_pdf_cell(v) for v in values]
                        if not any(cells):
                            continue
                        if header is None:
                            header = _header(cells, origin)
                        elif cells[: len(header)] == header:
                            continue  # the header repeated at the top of a page
                        else:
                            out.append(dict(zip(header, cells, strict=False)))
    except InputError:
        raise
    except Exception as exc:
        raise InputError(origin, f"not a readable PDF ({type(exc).__name__}: {exc})") from None
    if header is None:
        raise InputError(origin, "no table found in the PDF (a table with ruling lines is expected)")
    return header, out


def _cell_text(value) -> str:
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def sniff_separator(text: str) -> str:
    """The separator of a CSV: the candidate that splits the header into the most columns and every one
    of the next lines into as many."""
    lines = [line for line in text.splitlines()[:20] if line.strip()]
    if not lines:
        return ","
    best, best_width = ",", 1
    for sep in SEPARATORS:
        rows = list(csv.reader(lines, delimiter=sep))
        width = len(rows[0])
        if width > best_width and all(len(r) == width for r in rows[1:-1] or rows[1:]):
            best, best_width = sep, width
    return best


def _read_csv(data: bytes, origin: str) -> tuple[list[str], list[dict[str, str]]]:
    if b"\x00" in data[:65536]:
        raise InputError(origin, "binary data, not a CSV, XLSX or PDF file")
    encoding = detect_encoding(data[: 1 << 20])
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    text = text.removeprefix("\ufeff")
    separator = sniff_separator(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    try:
        first = next(reader, None)
    except csv.Error as exc:
        raise InputError(origin, f"not a readable CSV ({exc})", line=1) from None
    if first is None:
        raise InputError(origin, "empty file")
    header = _header(first, origin)
    out = []
    try:
        for values in reader:
            if any(len(v) > MAX_FIELD for v in values):
                raise InputError(origin, "a field is absurdly long", line=reader.line_num)
            if any(v.strip() for v in values):
                out.append(dict(zip(header, values, strict=False)))
    except csv.Error as exc:
        raise InputError(origin, f"not a readable CSV ({exc})", line=reader.line_num) from None
    return header, out


def read_table(
    data: bytes, origin: str, sheet: str | None = None
) -> tuple[str, list[str], list[dict[str, str]]]:
    """A CSV, XLSX or PDF file (told by its bytes): its format, header and rows (dicts keyed by header)."""
    if not data.strip():
        raise InputError(origin, "empty file")
    if is_xlsx(data):
        return ("xlsx", *_read_xlsx(data, origin, sheet))
    if is_pdf(data):
        return ("pdf", *_read_pdf(data, origin))
    if origin.lower().split("?")[0].endswith(".pdf"):
        raise InputError(origin, "named .pdf but not a PDF file (no %PDF- header)")
    return ("csv", *_read_csv(data, origin))


# -- mapping rows to our fields ------------------------------------------------------------------------


@dataclass
class SecondaryRecord:
    source: str
    line: int  # 1-based data row number (header excluded)
    siret: str | None = None
    siret_brut: str = ""
    siren: str | None = None
    nda: str | None = None  # an 11-digit (12 overseas) NDA, or the pre-2015 form as written (upper case)
    nda_brut: str = ""
    nda_ancien: bool = False
    denomination: str | None = None
    nom_comparaison: str = ""
    adresse: str | None = None
    code_postal: str | None = None
    certificateur: str | None = None
    portees: tuple[str, ...] = ()
    date_certification: str | None = None
    date_expiration: str | None = None
    qualiopi: bool | None = None
    referencable: bool | None = None
    etat_administratif: str | None = None
    date_observation: str | None = None
    issues: list[str] = field(default_factory=list)


def normalise_nda(raw: str) -> tuple[str | None, bool]:
    """(NDA, is pre-2015 style) from a published value: 11 digits (a lost zero restored), or the old
    `RRDDPNNNNNN` form kept as written (upper case, without separators): it cannot be converted."""
    value = compact(raw or "").upper()
    if not value:
        return None, False
    nda, _ = check_nda(value)
    if nda:
        return nda, False
    if OLD_NDA.match(value):
        return value, True
    return None, False


def _flag(value: str, table: dict[str, str] | None) -> bool | None:
    key = fold(value)
    if not key:
        return None
    if table is not None and key in table:
        return table[key] == "true"
    return None


def _scopes(value: str, table: dict[str, str] | None) -> tuple[tuple[str, ...], list[str]]:
    found: list[str] = []
    unknown: list[str] = []
    for part in re.split(r"[,;|/+]", value or ""):
        key = fold(part)
        if not key:
            continue
        code = (table or {}).get(key) or (key.lower() if key.lower() in SCOPE_CODES else None)
        if code is None:
            unknown.append(part.strip())
        elif code not in found:
            found.append(code)
    return tuple(c for c in SCOPE_CODES if c in found), unknown


def check_columns(mapping: Mapping, header: list[str], origin: str) -> None:
    missing = sorted({r.column for r in mapping.columns.values()} - set(header))
    if missing:
        raise InputError(
            origin,
            f"missing column(s) {', '.join(map(repr, missing))} named by the mapping {mapping.origin} "
            f"(the file has: {', '.join(header[:30])})",
            line=1,
        )


def map_row(mapping: Mapping, number: int, row: dict[str, str]) -> SecondaryRecord:
    """One row → a `SecondaryRecord`; what cannot be read is left empty and noted in `issues`."""
    get = {key: clean_text(rule.value(row)) for key, rule in mapping.columns.items()}
    rec = SecondaryRecord(source=mapping.name, line=number)
    if raw := get.get("siret", ""):
        rec.siret_brut = raw
        rec.siret, status = check_siret(raw)
        if rec.siret is None:
            rec.issues.append("siret_invalide")
    rec.siren = rec.siret[:9] if rec.siret else (compact(get.get("siren", "")) or None)
    if raw := get.get("nda", ""):
        rec.nda_brut = raw
        rec.nda, rec.nda_ancien = normalise_nda(raw)
        if rec.nda is None:
            rec.issues.append("nda_invalide")
    rec.denomination = get.get("denomination") or None
    rec.nom_comparaison = comparison_name(rec.denomination) if rec.denomination else ""
    rec.adresse = get.get("adresse") or None
    if postcode := compact(get.get("code_postal", "")):
        if postcode.isdigit() and 4 <= len(postcode) <= 5:
            rec.code_postal = postcode.zfill(5)
        else:
            rec.issues.append("code_postal_invalide")
    rec.certificateur = get.get("certificateur") or mapping.certificateur
    if "portees" in mapping.columns:
        rec.portees, unknown = _scopes(get.get("portees", ""), mapping.values.get("portees"))
        if unknown:
            rec.issues.append("portee_inconnue")
    for key in FLAGS:
        if key in mapping.columns:
            setattr(rec, key, _flag(get.get(key, ""), mapping.values.get(key)))
    if rec.qualiopi and not rec.portees and mapping.portees:
        rec.portees = mapping.portees
    for key in ("date_certification", "date_expiration", "date_observation"):
        if raw := get.get(key, ""):
            value, bad = parse_date(raw)
            setattr(rec, key, value)
            if bad:
                rec.issues.append(f"{key}_invalide")
    rec.etat_administratif = get.get("etat_administratif") or None
    return rec


def map_rows(mapping: Mapping, rows: list[dict[str, str]]) -> list[SecondaryRecord]:
    return [map_row(mapping, number, row) for number, row in enumerate(rows, start=1)]


def parse_source(data: bytes, mapping: Mapping, origin: str) -> tuple[str, list[SecondaryRecord]]:
    """A file's bytes → its format and records, checking the mapping's columns are there."""
    kind, header, rows = read_table(data, origin, mapping.sheet)
    check_columns(mapping, header, origin)
    if not rows:
        raise InputError(origin, "no data row under the header")
    return kind, map_rows(mapping, rows)
