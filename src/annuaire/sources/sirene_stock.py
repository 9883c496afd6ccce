"""SIRENE's stock files, for checking and placing a whole directory at once without an API.

INSEE publishes the *Base Sirene des entreprises et de leurs établissements* each month:
`StockEtablissement_utf8.csv` (one row per establishment, about 40 million, several GB; shipped as a
zip) and `StockUniteLegale_utf8.csv` (one row per legal unit). Both are UTF-8, comma-separated, with
a header of INSEE's variable names. The columns read here:

- establishments: `siret` (`siren` first, `nic`), `etatAdministratifEtablissement` (`A` open, `F`
  closed), `dateDebut` (start of the current period: the closing date of a closed establishment),
  `activitePrincipaleEtablissement` (NAF code, `85.59A`), and the address: `codeCommuneEtablissement`
  (INSEE code), `codePostalEtablissement`, `numeroVoieEtablissement`, `indiceRepetitionEtablissement`,
  `typeVoieEtablissement` (abbreviated: `RUE`, `AV`, `CHE`…), `libelleVoieEtablissement`, the position
  `coordonneeLambertAbscisseEtablissement`/`coordonneeLambertOrdonneeEtablissement` (Lambert-93, or
  INSEE's UTM systems overseas: geocoding/projection.py) and `statutDiffusionEtablissement` (`P`:
  partial diffusion, the street and position read `[ND]`);
- legal units: `siren`, `denominationUniteLegale` (a company's name) or, for a person,
  `prenomUsuelUniteLegale`/`prenom1UniteLegale` with `nomUsageUniteLegale`/`nomUniteLegale`, and
  `etatAdministratifUniteLegale` (`A` active, `C` ceased).

The files are streamed, line by line, from the file or from inside its zip (or gzip): only the rows
whose SIREN (the line's first 9 bytes, when the header starts with `siren` as INSEE's does) belongs to
a wanted establishment are parsed as CSV, so memory holds only the directory's establishments. A
record spread over several lines (a quoted field with a line break) is read whole. Columns are found
by name, in any order; `;` is accepted as separator; a line that is not UTF-8 is read as Windows-1252.
A file cut short (a truncated zip or gzip) is an input error, like a missing column.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from operator import itemgetter
from pathlib import Path
from typing import BinaryIO

from ..errors import InputError
from ..geocoding.projection import to_wgs84
from .sirene import Etablissement, joined_street

ESTABLISHMENT_COLUMNS = (
    "siret",
    "etatAdministratifEtablissement",
    "dateDebut",
    "activitePrincipaleEtablissement",
    "codeCommuneEtablissement",
    "codePostalEtablissement",
    "numeroVoieEtablissement",
    "typeVoieEtablissement",
    "libelleVoieEtablissement",
    "coordonneeLambertAbscisseEtablissement",
    "coordonneeLambertOrdonneeEtablissement",
)
OPTIONAL_COLUMNS = ("indiceRepetitionEtablissement", "statutDiffusionEtablissement")
UNIT_COLUMNS = ("siren", "etatAdministratifUniteLegale", "denominationUniteLegale", "nomUniteLegale")
BUFFER = 1 << 20


@contextlib.contextmanager
def open_stock(path: Path) -> Iterator[tuple[BinaryIO, date]]:
    """The CSV's bytes, from the file itself or from the CSV inside a zip (as INSEE ships it) or a gzip,
    with the date of the file (the zip member's own date, the date a gzip records, else the file's
    modification date)."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            magic = fh.read(8)
        modified = datetime.fromtimestamp(path.stat().st_mtime).date()
    except OSError as exc:
        raise InputError(str(path), f"cannot read the SIRENE stock file ({exc.strerror or exc})") from None
    if magic[:4] == b"PK\x03\x04":
        try:
            archive = zipfile.ZipFile(path)
        except zipfile.BadZipFile as exc:
            raise InputError(str(path), f"a damaged zip ({exc})") from None
        with archive:
            members = [i for i in archive.infolist() if i.filename.lower().endswith(".csv")]
            if not members:
                raise InputError(str(path), "the zip holds no .csv file")
            member = members[0]
            with archive.open(member) as raw:
                yield io.BufferedReader(raw, BUFFER), date(*member.date_time[:3])  # type: ignore[type-var]
    elif magic[:2] == b"\x1f\x8b":
        recorded = int.from_bytes(magic[4:8], "little")  # the compressed file's own date, if kept
        if recorded:
            modified = datetime.fromtimestamp(recorded).date()
        with gzip.open(path, "rb") as raw:
            yield io.BufferedReader(raw, BUFFER), modified
    else:
        with path.open("rb", buffering=BUFFER) as raw:
            yield raw, modified


_NOTHING = frozenset(("", "[ND]", "[NON-DIFFUSIBLE]"))


def _value(text: str) -> str | None:
    """A cell, or None: empty or masked (`[ND]`). (sources/sirene.py's `given`, for plain strings.)"""
    text = text.strip()
    return None if text in _NOTHING else text


_STREAM_ERRORS = (EOFError, zlib.error, zipfile.BadZipFile, gzip.BadGzipFile, OSError)


def _decoded(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return line.decode("cp1252", errors="replace")


class _Stock:
    """A stock file's header and the rows whose SIREN is wanted."""

    def __init__(self, stream: BinaryIO, origin: str, required: tuple[str, ...]):
        self.stream = stream
        self.origin = origin
        first = self._readline()
        if not first.strip():
            raise InputError(origin, "empty file: expected a SIRENE stock file with its header", line=1)
        try:
            text = first.decode("utf-8-sig")
            self.delimiter = ";" if text.count(";") > text.count(",") else ","
            header = next(csv.reader([text], delimiter=self.delimiter))
        except (UnicodeDecodeError, csv.Error) as exc:
            raise InputError(origin, f"not a SIRENE stock file ({exc})", line=1) from None
        self.header = [h.strip().strip('"') for h in header]
        missing = [c for c in required if c not in self.header]
        if missing:
            raise InputError(
                origin,
                f"missing column(s) {', '.join(missing)}: not a SIRENE stock file of this kind "
                f"(its header: {', '.join(self.header[:12])}…)",
                line=1,
            )
        self.index = {name: n for n, name in enumerate(self.header)}
        self.rows_read = 0

    def _readline(self) -> bytes:
        try:
            return self.stream.readline()
        except _STREAM_ERRORS as exc:
            raise InputError(
                self.origin, f"the file is damaged or cut short ({type(exc).__name__}: {exc})"
            ) from None

    def rows(self, sirens: set[bytes]) -> Iterator[list[str]]:
        """Rows (lists of cells) whose SIREN is in `sirens`; every line counted in `rows_read`."""
        try:
            yield from self._rows(sirens)
        except _STREAM_ERRORS as exc:
            raise InputError(
                self.origin,
                f"the file is damaged or cut short after {self.rows_read:,} rows "
                f"({type(exc).__name__}: {exc})",
            ) from None

    def _rows(self, sirens: set[bytes]) -> Iterator[list[str]]:
        width = len(self.header)
        by_prefix = self.header[0] == "siren"
        # Without the prefix test, the SIREN is read from its column, else from the SIRET's first 9.
        siren_at = self.index.get("siren", self.index.get("siret"))
        delimiter = self.delimiter
        line_number = 1
        readline = self.stream.readline
        for line in iter(readline, b""):
            line_number += 1
            self.rows_read += 1
            if by_prefix and line[:9] not in sirens and not (line[:1] == b'"' and line[1:10] in sirens):
                continue
            text = _decoded(line)
            if not text.strip():
                continue
            if '"' not in text:  # most lines: nothing quoted, the cells are between the separators
                cells = text.rstrip("\r\n").split(delimiter)
            else:
                while text.count('"') % 2:  # a quoted field goes on on the next line
                    more = readline()
                    if not more:
                        break
                    line_number += 1
                    text += _decoded(more)
                try:
                    cells = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])
                except csv.Error as exc:
                    raise InputError(
                        self.origin, f"not a readable CSV record ({exc})", line=line_number
                    ) from None
                if not cells:
                    continue
            if not by_prefix and not _wanted(cells, siren_at, sirens):
                continue
            if len(cells) < width:
                raise InputError(
                    self.origin, f"{len(cells)} fields where the header has {width}", line=line_number
                )
            yield cells


def _wanted(cells: list[str], siren_at: int | None, sirens: set[bytes]) -> bool:
    return siren_at is not None and siren_at < len(cells) and cells[siren_at].strip()[:9].encode() in sirens


def read_establishments(
    stream: BinaryIO, origin: str, sirets: Iterable[str]
) -> tuple[dict[str, Etablissement], int]:
    """The stock's establishments among `sirets`, SIRET → what SIRENE says (state, closing date, NAF,
    address, position in WGS 84; no legal name: that is the legal units' file); and rows read."""
    wanted = set(sirets)
    stock = _Stock(stream, origin, ESTABLISHMENT_COLUMNS)
    siret_at = stock.index["siret"]
    pick = itemgetter(*(stock.index[c] for c in ESTABLISHMENT_COLUMNS[1:]))
    repetition, diffusion = (stock.index.get(c) for c in OPTIONAL_COLUMNS)
    nothing = _NOTHING
    found: dict[str, Etablissement] = {}
    positions: list[tuple[str | None, str | None, str | None]] = []
    for cells in stock.rows({s[:9].encode() for s in wanted}):
        siret = cells[siret_at].strip()
        if siret not in wanted:
            continue
        state, since, naf, commune, postcode, number, kind, label, x, y = [
            None if (v := c.strip()) in nothing else v for c in pick(cells)
        ]
        found[siret] = Etablissement(
            siret,
            state,
            since if state == "F" else None,
            None,
            naf,
            None,
            joined_street(number, _value(cells[repetition]) if repetition is not None else None, kind, label)
            if label
            else None,
            postcode,
            commune,
            None,
            None,
            _value(cells[diffusion]) if diffusion is not None else None,
        )
        positions.append((x, y, commune))
    for etablissement, position in zip(found.values(), to_wgs84(positions), strict=True):
        if position is not None:
            etablissement.latitude, etablissement.longitude = position
    return found, stock.rows_read


def check_stock(path: Path) -> None:
    """Read only the header: InputError when the file is not an establishment stock (a missing column,
    a zip without CSV, a damaged file), before anything long starts."""
    with open_stock(path) as (stream, _):
        _Stock(stream, str(path), ESTABLISHMENT_COLUMNS)


def legal_name(row: dict[str, str]) -> str | None:
    """A company's name, or a person's: first name and (usage or birth) name."""
    if name := _value(row.get("denominationUniteLegale", "")):
        return name
    first = _value(row.get("prenomUsuelUniteLegale", "")) or _value(row.get("prenom1UniteLegale", ""))
    last = _value(row.get("nomUsageUniteLegale", "")) or _value(row.get("nomUniteLegale", ""))
    return " ".join(filter(None, (first, last))) or None


def read_units(stream: BinaryIO, origin: str, sirens: Iterable[str]) -> tuple[dict[str, tuple], int]:
    """The stock's legal units among `sirens`: SIREN → (legal name, state); and rows read."""
    wanted = set(sirens)
    stock = _Stock(stream, origin, UNIT_COLUMNS)
    found: dict[str, tuple] = {}
    siren_at = stock.index["siren"]
    for cells in stock.rows({s.encode() for s in wanted}):
        if (siren := cells[siren_at].strip()) in wanted:
            row = dict(zip(stock.header, cells, strict=False))
            found[siren] = (legal_name(row), _value(row["etatAdministratifUniteLegale"]))
    return found, stock.rows_read


def stock_answers(
    establishments: Path,
    sirets: Iterable[str],
    units: Path | None = None,
    *,
    on_file: Callable[[str], None] | None = None,
) -> tuple[list[Etablissement], dict]:
    """SIRENE's answer for each of `sirets` from the stock files (a SIRET the stock lacks is unknown to
    SIRENE, as the APIs say), and what was read."""
    wanted = list(dict.fromkeys(sirets))
    if on_file:
        on_file(str(establishments))
    with open_stock(establishments) as (stream, stock_date):
        found, rows = read_establishments(stream, str(establishments), wanted)
    names: dict[str, tuple] = {}
    unit_rows = 0
    if units is not None:
        if on_file:
            on_file(str(units))
        with open_stock(units) as (stream, _):
            names, unit_rows = read_units(stream, str(units), {s[:9] for s in found})
    answers = []
    for siret in wanted:
        answer = found.get(siret)
        if answer is None:
            answers.append(Etablissement(siret, None))
            continue
        answer.denomination, answer.etat_unite_legale = names.get(siret[:9], (None, None))
        answers.append(answer)
    report = {
        "stock_date": stock_date.isoformat(),
        "stock_rows_read": rows,
        "unit_rows_read": unit_rows,
        "found_in_stock": len(found),
        "with_position": sum(1 for a in found.values() if a.latitude is not None),
        "legal_names_found": sum(1 for v in names.values() if v[0]),
    }
    return answers, report
