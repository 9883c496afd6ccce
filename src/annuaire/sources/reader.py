"""Stream the records of a `;`-separated Liste publique file, whatever its encoding and compression.

- plain or gzip (told by the magic bytes, not the name);
- UTF-8 with or without BOM, or Windows-1252 (detected from the bytes); a UTF-8 file with a few
  Windows-1252 bytes is read anyway, those bytes counted;
- LF, CRLF or CR line ends; quoted fields holding `;` or line breaks;
- columns found by header name, in any order; extra columns kept aside.

Every problem that makes the file unusable raises InputError naming the file, the line and, where
it applies, the column.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from .liste_publique import COLUMNS, FIELDS, OFFICIAL_BY_KEY, REQUIRED, header_key

SNIFF_BYTES = 1 << 20
MAX_FIELD_CHARS = 1_000_000  # a field longer than this is not a field of the Liste publique
_GZIP_MAGIC = b"\x1f\x8b"


class BinaryDataError(ValueError):
    """NUL bytes in what should be text."""


class _NulGuard(io.RawIOBase):
    """Passes bytes through, refusing NUL bytes: a text CSV never holds one (checked in C, per chunk)."""

    def __init__(self, stream: io.BufferedIOBase):
        self.stream = stream
        self.poisoned = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.poisoned:
            raise BinaryDataError("NUL bytes")
        data = self.stream.read(len(buffer))
        nul = data.find(b"\x00")
        if nul == 0:
            raise BinaryDataError("NUL bytes")
        if nul > 0:  # hand over what precedes the NUL, so that line numbers are right when we refuse
            self.poisoned = True
            data = data[:nul]
        buffer[: len(data)] = data
        return len(data)


class _FallbackCounter:
    """Codec error handler: bytes that are not UTF-8 are read as Windows-1252 (Latin-1 for the five
    bytes Windows-1252 leaves undefined), and counted."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, error: UnicodeDecodeError) -> tuple[str, int]:
        chunk = error.object[error.start : error.end]
        self.count += 1
        text = "".join(_cp1252_byte(b) for b in chunk)
        return text, error.end


def _cp1252_byte(b: int) -> str:
    try:
        return bytes([b]).decode("cp1252")
    except UnicodeDecodeError:
        return bytes([b]).decode("latin-1")


@dataclass(slots=True)
class Record:
    number: int  # 1-based record number, header excluded
    line: int  # physical line where the record starts (the header is line 1)
    values: list[str]  # in liste_publique.FIELDS order; "" for optional columns the file lacks
    raw: list[str]  # the fields as read, in the file's order
    extras: dict[str, str] | None  # columns we do not know, by header name (non-empty values)
    width_ok: bool  # as many fields as the header
    overflow: bool  # non-empty fields beyond the header's width


def detect_encoding(sample: bytes) -> str:
    """`utf-8-sig` (BOM), `utf-8` or `cp1252`, from the first bytes of a file."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(sample, final=False)  # a character cut at the end of the sample is fine
        return "utf-8"
    except UnicodeDecodeError:
        return "cp1252"


def _looks_binary(sample: bytes) -> bool:
    if b"\x00" in sample:
        return True
    controls = sum(1 for b in sample[:65536] if b < 32 and b not in (9, 10, 13))
    return controls > max(8, len(sample[:65536]) // 100)


class ListePubliqueReader:
    """Iterate over the records of one file. `progress()` says how much of the file was read."""

    def __init__(self, path: str | Path, *, display_name: str | None = None):
        self.path = Path(path)
        self.name = display_name or str(path)
        self.size = self.path.stat().st_size if self.path.exists() else 0
        if not self.path.is_file():
            raise InputError(self.name, "no such file")
        with self.path.open("rb") as fh:
            self.compressed = fh.read(2) == _GZIP_MAGIC
        sample = self._sniff()
        if not sample.strip():
            raise InputError(self.name, "the file is empty: expected a header line and records")
        if _looks_binary(sample):
            raise InputError(self.name, "binary data, not a text CSV file")
        self.encoding = detect_encoding(sample)
        self.fallback = _FallbackCounter()
        self.header: list[str] = []
        self.positions: dict[str, int] = {}
        self.extra_columns: list[tuple[int, str]] = []
        self.missing_optional: list[str] = []
        self._raw_fh: io.BufferedReader | None = None
        self.records_read = 0

    def _open_binary(self) -> tuple[io.BufferedReader, io.BufferedIOBase]:
        raw = self.path.open("rb")
        return raw, (gzip.GzipFile(fileobj=raw, mode="rb") if self.compressed else raw)

    def _sniff(self) -> bytes:
        raw, stream = self._open_binary()
        try:
            return stream.read(SNIFF_BYTES)
        except (EOFError, OSError, zlib.error) as exc:
            raise InputError(self.name, f"damaged gzip file ({exc})") from None
        finally:
            raw.close()

    def progress(self) -> int:
        """Bytes of the file (compressed, if it is) consumed so far."""
        try:
            return self._raw_fh.tell() if self._raw_fh and not self._raw_fh.closed else self.size
        except (OSError, ValueError):
            return 0

    def _check_header(self, header: list[str]) -> None:
        self.header = header
        for pos, cell in enumerate(header):
            short = OFFICIAL_BY_KEY.get(header_key(cell))
            if short and short not in self.positions:
                self.positions[short] = pos
            else:
                self.extra_columns.append((pos, cell.strip()))
        if not self.positions:
            first = ";".join(header)[:120]
            for sep, label in ((",", "','"), ("\t", "tab"), ("|", "'|'")):
                cells = first.split(sep)
                if len(cells) > 3 and any(header_key(c) in OFFICIAL_BY_KEY for c in cells):
                    raise InputError(
                        self.name,
                        f"wrong separator: the header is separated by {label}, the Liste publique uses ';'",
                        line=1,
                    )
            raise InputError(
                self.name,
                "not a Liste publique CSV: the first line is not its header "
                f"(expected ';'-separated columns such as {COLUMNS[0][1]}; found {first!r})",
                line=1,
            )
        official = dict(COLUMNS)
        missing = [official[f] for f in REQUIRED if f not in self.positions]
        if missing:
            raise InputError(self.name, "missing required column(s): " + ", ".join(missing), line=1)
        self.missing_optional = [official[f] for f in FIELDS if f not in self.positions]

    def __iter__(self) -> Iterator[Record]:
        csv.field_size_limit(MAX_FIELD_CHARS)
        raw, stream = self._open_binary()
        self._raw_fh = raw
        encoding = "utf-8" if self.encoding == "utf-8-sig" else self.encoding
        codecs.register_error("annuaire-fallback", self.fallback)
        guarded = io.BufferedReader(_NulGuard(stream), buffer_size=1 << 16)
        text = io.TextIOWrapper(guarded, encoding=encoding, errors="annuaire-fallback", newline="")
        reader = csv.reader(text, delimiter=";", quotechar='"')
        try:
            yield from self._records(reader)
        except csv.Error as exc:
            message = str(exc)
            if "field larger than field limit" in message:
                message = f"a field longer than {MAX_FIELD_CHARS:,} characters: not a Liste publique field"
            raise InputError(self.name, f"unreadable CSV ({message})", line=reader.line_num) from None
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise InputError(
                self.name,
                f"the gzip file is truncated or damaged ({exc or 'unexpected end'})",
                line=reader.line_num,
            ) from None
        except BinaryDataError:
            raise InputError(
                self.name, "binary data (NUL bytes) inside the file, not a text CSV", line=reader.line_num + 1
            ) from None
        except UnicodeDecodeError as exc:  # pragma: no cover - the error handler decodes everything
            raise InputError(self.name, f"undecodable bytes ({exc})", line=reader.line_num) from None
        finally:
            text.close()
            raw.close()

    def _records(self, reader) -> Iterator[Record]:
        header = next(reader, None)
        if header is None:
            raise InputError(self.name, "the file is empty: expected a header line and records")
        if header and header[0].startswith("\ufeff"):
            header[0] = header[0][1:]
        self._check_header(header)
        take = [(FIELDS.index(short), pos) for short, pos in self.positions.items()]
        extras = self.extra_columns
        width = len(header)
        n_fields = len(FIELDS)
        # The usual file has exactly the official columns in the official order: rows map as they are.
        identity = width == n_fields and all(fi == pos for fi, pos in take) and len(take) == n_fields
        number = 0
        previous_line = reader.line_num
        for row in reader:
            number += 1
            start = previous_line + 1
            previous_line = reader.line_num
            n = len(row)
            if identity and n == width:
                values = row
            else:
                values = [""] * n_fields
                for fi, pos in take:
                    if pos < n:
                        values[fi] = row[pos]
            extra = None
            if extras:
                extra = {name: row[pos] for pos, name in extras if pos < n and row[pos]} or None
            overflow = n > width and any(row[width:])
            self.records_read = number
            yield Record(number, start, values, row, extra, n == width, overflow)
        if number == 0:
            raise InputError(self.name, "the file holds a header but no records", line=1)
