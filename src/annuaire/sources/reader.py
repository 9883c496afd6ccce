"""Stream the records of a `;`-separated Liste publique file, whatever its encoding and compression.

- plain or gzip (told by the magic bytes, not the name);
- UTF-8 with or without BOM, or Windows-1252, decided record by record: a record whose bytes are not
  valid UTF-8 is read as Windows-1252, that record alone (a file mixing both reads right), and counted;
- LF, CRLF or CR line ends; quoted fields holding `;` or line breaks;
- columns found by header name, in any order; extra columns kept aside.

Every physical line is accounted for: it is the header, or part of exactly one record. A record spans
several lines only through a properly quoted field. A quote that opens and is never closed (or whose
field would swallow the next lines) is read as a literal character when that gives the line the
header's number of fields (the record is counted as repaired, `guillemet_non_ferme`); otherwise the
line alone becomes a record marked with that defect (quarantined by the cleaner) and reading goes on
at the next line.

Every problem that makes the file unusable raises InputError naming the file, the line and, where
it applies, the column.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import zlib
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import overload

from ..errors import InputError
from .liste_publique import COLUMNS, FIELDS, OFFICIAL_BY_KEY, REQUIRED, header_key

SNIFF_BYTES = 1 << 20
MAX_FIELD_CHARS = 1_000_000  # a field longer than this is not a field of the Liste publique
MAX_LINE_CHARS = MAX_FIELD_CHARS  # nor is a physical line longer than this one of its lines
MAX_RECORD_LINES = 100  # a quoted field spanning more lines than this is a quote left open
UNCLOSED_QUOTE = "guillemet_non_ferme"  # repair (counted) and quarantine reason
_GZIP_MAGIC = b"\x1f\x8b"
_LISTED_LINES = 1000  # line numbers listed per kind of unclosed quote in the report


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


def _latin1_for_undefined(error: UnicodeError) -> tuple[str, int]:
    """The five bytes Windows-1252 leaves undefined are read as Latin-1."""
    assert isinstance(error, UnicodeDecodeError)  # the handler of a decoding
    return error.object[error.start : error.end].decode("latin-1"), error.end


codecs.register_error("annuaire-latin1", _latin1_for_undefined)


def _decoded(raw: str) -> tuple[str, bool]:
    """A line read byte for byte (Latin-1) as text: UTF-8 when its bytes are, else Windows-1252 (True)."""
    data = raw.encode("latin-1")
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="annuaire-latin1"), True


def _as_cp1252(raw: str) -> str:
    return raw.encode("latin-1").decode("cp1252", errors="annuaire-latin1")


@dataclass(slots=True)
class Record:
    number: int  # 1-based record number, header excluded
    line: int  # physical line where the record starts (the header is line 1)
    values: list[str]  # in liste_publique.FIELDS order; "" for optional columns the file lacks
    raw: list[str]  # the fields as read, in the file's order
    extras: dict[str, str] | None  # columns we do not know, by header name (non-empty values)
    width_ok: bool  # as many fields as the header
    overflow: bool  # non-empty fields beyond the header's width
    lines: int = 1  # physical lines the record spans
    defect: str | None = None  # a line that could not be read as a record (quarantine reason)


def record_fingerprint(raw: Iterable[str]) -> str:
    """A short hash of a record's fields exactly as read: equal fingerprints, the same record (an
    update does not clean again a record the directory holds, pipeline/update.py)."""
    return hashlib.blake2b("\x1f".join(raw).encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


def _line_fingerprint(body: str) -> str:
    """record_fingerprint of a line without quotes, from the line as read (Latin-1 text, without its
    end), without decoding or splitting it: its fields are its bytes between `;`. For a UTF-8 line
    (the only kind whose bytes are their own UTF-8 encoding) it is the record's fingerprint; a line
    in Windows-1252 gives one no record has, and is read in full."""
    return hashlib.blake2b(body.replace(";", "\x1f").encode("latin-1"), digest_size=12).hexdigest()


@dataclass(slots=True)
class KnownRecord:
    """A one-line record whose fingerprint is a key of the `known` mapping given to `records()`:
    not decoded nor split (`record()` gives it in full, should it be needed)."""

    number: int  # as Record's
    line: int
    body: str  # the line as read (Latin-1 text), without its end
    known: str  # the value `known` holds for its fingerprint

    @property
    def raw(self) -> list[str]:
        return _decoded(self.body)[0].split(";") if self.body else []


def detect_encoding(sample: bytes) -> str:
    """`utf-8-sig` (BOM), `utf-8` or `cp1252`, from the first bytes of a file: the encoding of most of
    its lines that are not plain ASCII (each record is still decoded on its own)."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    utf8 = other = 0
    lines = sample.splitlines()
    for number, line in enumerate(lines, start=1):
        if line.isascii():
            continue
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:  # the last line may be cut by the sample's end, a character with it
            decoder.decode(line, final=number < len(lines))
            utf8 += 1
        except UnicodeDecodeError:
            other += 1
    return "utf-8" if utf8 >= other else "cp1252"


def _looks_binary(sample: bytes) -> bool:
    if b"\x00" in sample:
        return True
    controls = sum(1 for b in sample[:65536] if b < 32 and b not in (9, 10, 13))
    return controls > max(8, len(sample[:65536]) // 100)


def split_literal(text: str) -> list[str]:
    """The fields of one line as a strict CSV reader reads them, except that a quote opening a field
    that is not properly closed on this line (no closing quote followed by `;` or the line's end) is
    a literal character. A well-formed line gives what `csv.reader` gives."""
    body = text.rstrip("\r\n")
    if not body:
        return []
    fields: list[str] = []
    size = len(body)
    pos = 0
    while True:
        if body.startswith('"', pos):
            quoted = _quoted_field(body, pos)
            if quoted is not None:
                value, end = quoted
                fields.append(value)
                if end >= size:
                    return fields
                pos = end + 1
                continue
        end = body.find(";", pos)
        if end < 0:
            fields.append(body[pos:])
            return fields
        fields.append(body[pos:end])
        pos = end + 1


def _quoted_field(body: str, start: int) -> tuple[str, int] | None:
    """The value of the quoted field opening at `start`, and where its closing quote ends; None when
    the field is not closed properly on this line."""
    size = len(body)
    parts = []
    pos = start + 1
    while True:
        quote = body.find('"', pos)
        if quote < 0:
            return None
        if quote + 1 < size and body[quote + 1] == '"':  # an escaped quote
            parts.append(body[pos : quote + 1])
            pos = quote + 2
            continue
        if quote + 1 == size or body[quote + 1] == ";":
            parts.append(body[pos:quote])
            return "".join(parts), quote + 1
        return None  # a quote followed by something else: not the end of a quoted field


class _Lines:
    """The file's physical lines (each as read byte for byte, Latin-1, with its line end), with
    lines put back, and the count of lines handed out."""

    __slots__ = ("back", "count", "read")

    def __init__(self, text: io.TextIOWrapper):
        self.read = text.readline
        self.back: deque[str] = deque()
        self.count = 0

    def next(self) -> str | None:
        if self.back:
            line = self.back.popleft()
        else:
            line = self.read(MAX_LINE_CHARS + 1)
            if not line:
                return None
            if len(line) > MAX_LINE_CHARS:
                raise _LineTooLong
        self.count += 1
        return line

    def put_back(self, lines: list[str]) -> None:
        self.back.extendleft(reversed(lines))
        self.count -= len(lines)


class _LineTooLong(Exception):
    pass


class ListePubliqueReader:
    """Iterate over the records of one file. `progress()` says how much of the file was read.

    After the iteration: `lines` (physical lines read), `header_lines`, `records_read`,
    `spans` (record number → lines, for records spanning several), `records_windows_1252`,
    `repairs` (counted repairs) and `unclosed_quotes` (line numbers repaired and quarantined)."""

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
        self.header: list[str] = []
        self.positions: dict[str, int] = {}
        self.extra_columns: list[tuple[int, str]] = []
        self.missing_optional: list[str] = []
        self._raw_fh: io.BufferedReader | None = None
        self.records_read = 0
        self.lines = 0
        self.header_lines = 0
        self.spans: dict[int, int] = {}
        self.records_windows_1252 = 0
        self.repairs: Counter = Counter()
        self.unclosed_quotes: dict[str, list[int]] = {"repaired": [], "quarantined": []}

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

    def lines_of(self, number: int) -> int:
        """Physical lines of record `number`."""
        return self.spans.get(number, 1)

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
        return self.records()

    @overload
    def records(self, known: None = None) -> Iterator[Record]: ...
    @overload
    def records(self, known: Mapping[str, str]) -> Iterator[Record | KnownRecord]: ...
    def records(self, known: Mapping[str, str] | None = None) -> Iterator[Record | KnownRecord]:
        """The records, in order. With `known` (fingerprint → a value), a one-line record without
        quotes whose fingerprint is known comes as a KnownRecord (not decoded nor split): most of a
        daily snapshot, that the update recognises and need not read further."""
        csv.field_size_limit(MAX_FIELD_CHARS)
        raw, stream = self._open_binary()
        self._raw_fh = raw
        guarded = io.BufferedReader(_NulGuard(stream), buffer_size=1 << 16)
        # Latin-1 maps each byte to one character: lines are split (LF, CRLF, CR) before any decoding,
        # and each record is decoded on its own.
        text = io.TextIOWrapper(guarded, encoding="latin-1", newline="")
        lines = _Lines(text)
        try:
            yield from self._records(lines, known)
        except csv.Error as exc:
            message = str(exc)
            if "field larger than field limit" in message:
                message = f"a field longer than {MAX_FIELD_CHARS:,} characters: not a Liste publique field"
            raise InputError(self.name, f"unreadable CSV ({message})", line=lines.count) from None
        except _LineTooLong:
            raise InputError(
                self.name,
                f"a line longer than {MAX_LINE_CHARS:,} characters: not a Liste publique record "
                "(no field of it is that long)",
                line=lines.count + 1,
            ) from None
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise InputError(
                self.name,
                f"the gzip file is truncated or damaged ({exc or 'unexpected end'})",
                line=lines.count + 1,
            ) from None
        except BinaryDataError:
            raise InputError(
                self.name, "binary data (NUL bytes) inside the file, not a text CSV", line=lines.count + 1
            ) from None
        finally:
            self.lines = lines.count
            text.close()
            raw.close()

    # -- records -----------------------------------------------------------------------------------

    def _header(self, lines: _Lines) -> list[str]:
        first = lines.next()
        if first is None:
            raise InputError(self.name, "the file is empty: expected a header line and records")
        text, _ = _decoded(first)
        header = next(csv.reader([text], delimiter=";", quotechar='"'), [])
        if header and header[0].startswith("\ufeff"):
            header[0] = header[0][1:]
        return header

    def _records(self, lines: _Lines, known: Mapping[str, str] | None) -> Iterator[Record | KnownRecord]:
        header = self._header(lines)
        self.header_lines = lines.count
        self._check_header(header)
        self._take = take = [(FIELDS.index(short), pos) for short, pos in self.positions.items()]
        width = len(header)
        self._width = width
        self._trailing_empty = bool(header) and not header[-1].strip()
        # The usual file has exactly the official columns in the official order: rows map as they are.
        self._identity = width == len(FIELDS) and all(fi == pos for fi, pos in take) and len(take) == width
        number = 0
        next_line = lines.next
        while True:
            line = next_line()
            if line is None:
                break
            number += 1
            start = lines.count
            if known is not None and '"' not in line:
                body = line.rstrip("\r\n")
                value = known.get(_line_fingerprint(body))
                if value is not None:
                    self.records_read = number
                    yield KnownRecord(number, start, body, value)
                    continue
            cp1252 = False
            if line.isascii():
                text = line
            else:
                text, cp1252 = _decoded(line)
            span, defect = 1, None
            if '"' not in text:
                body = text.rstrip("\r\n")
                row = body.split(";") if body else []
            else:
                row, span, defect, cp1252 = self._quoted(line, text, cp1252, lines, start)
                if span > 1:
                    self.spans[number] = span
            if cp1252:
                self.records_windows_1252 += 1
            self.records_read = number
            yield self._record(number, start, row, span, defect)
        if number == 0:
            raise InputError(self.name, "the file holds a header but no records", line=1)

    def _record(self, number: int, start: int, row: list[str], span: int, defect: str | None) -> Record:
        """The record of these fields as read: values in FIELDS order, unknown columns aside."""
        n, width = len(row), self._width
        if self._identity and n == width and defect is None:
            values = row
        else:
            values = [""] * len(FIELDS)
            for fi, pos in self._take:
                if pos < n:
                    values[fi] = row[pos]
        extra = None
        if self.extra_columns:
            extra = {name: row[pos] for pos, name in self.extra_columns if pos < n and row[pos]} or None
        overflow = n > width and any(row[width:])
        return Record(number, start, values, row, extra, n == width, overflow, span, defect)

    def record(self, known: KnownRecord) -> Record:
        """A known record read in full, as iterating without `known` gives it."""
        return self._record(known.number, known.line, known.raw, 1, None)

    def _fits(self, row: list[str]) -> bool:
        """Whether a record has the header's number of fields (a `;` more or less at the end, empty,
        allowed: headers and rows do not always agree on a trailing separator)."""
        n, width = len(row), self._width
        if n == width:
            return True
        if n == width - 1:
            return self._trailing_empty
        return n > width and not any(row[width:])

    def _quoted(
        self, raw: str, first: str, cp1252: bool, lines: _Lines, start: int
    ) -> tuple[list[str], int, str | None, bool]:
        """A record whose first line (`raw` as read, `first` decoded) holds a quote: its fields, the
        lines it spans, its defect, and whether it was read as Windows-1252."""
        row, still_open = _one_line(first)
        if not still_open:
            literal = split_literal(first)
            if literal != row and self._fits(literal):
                # A quoted field not closed properly (`"UFORCA;…;"12 rue; B";…`): csv.reader would
                # close it at the next field's opening quote and shift the fields.
                self._repaired(start)
                return literal, 1, None, cp1252
            return row, 1, None, cp1252
        # The line ends inside a quoted field: the record goes on when the field closes properly.
        multi, gathered, multi_cp1252 = self._several_lines(raw, first, cp1252, lines)
        literal = split_literal(first)
        literal_fits = self._fits(literal)
        if multi is not None and not (literal_fits and self._record_starts(gathered[1:], lines)):
            return multi, len(gathered), None, multi_cp1252
        lines.put_back(gathered[1:])
        if literal_fits:
            self._repaired(start)
            return literal, 1, None, cp1252
        self._listed("quarantined", start)
        return literal, 1, UNCLOSED_QUOTE, cp1252

    def _several_lines(
        self, raw: str, first: str, cp1252: bool, lines: _Lines
    ) -> tuple[list[str] | None, list[str], bool]:
        """The record read over the next lines while its quoted field stays open: its fields when the
        field closes properly within MAX_RECORD_LINES and the record fits the header, else None; the
        lines taken, as read; whether the record is read as Windows-1252."""
        gathered = [raw]
        decoded_as = [cp1252]
        ended = False

        def feed() -> Iterator[str]:
            nonlocal ended
            yield first
            while len(gathered) < MAX_RECORD_LINES:
                more = lines.next()
                if more is None:
                    break
                gathered.append(more)
                text, other = (more, False) if more.isascii() else _decoded(more)
                decoded_as.append(other)
                yield text
            ended = True

        row = _strict_record(feed())
        if row is None or ended or not self._fits(row):
            return None, gathered, cp1252
        if any(decoded_as) and not all(decoded_as):  # one line is not UTF-8: the whole record is not
            row = next(csv.reader([_as_cp1252(r) for r in gathered], delimiter=";", quotechar='"'))
        return row, gathered, any(decoded_as)

    def _record_starts(self, following: list[str], lines: _Lines) -> bool:
        """Whether the first of `following` (the lines after a line left inside a quote) begins a
        record: a whole one on its own line, or one whose quoted fields span the next lines (read
        from `lines` as needed and put back). Then the open quote was a stray one, not a quoted line
        break: the two records read as written rather than as one record of the header's width by
        chance."""
        if self._record_alone(following[0]):
            return True
        taken: list[str] = []

        def feed() -> Iterator[str]:
            yield from (line if line.isascii() else _decoded(line)[0] for line in following)
            while len(following) + len(taken) < MAX_RECORD_LINES:
                more = lines.next()
                if more is None:
                    return
                taken.append(more)
                yield more if more.isascii() else _decoded(more)[0]

        try:
            row = _strict_record(feed())
        finally:
            lines.put_back(taken)
        return row is not None and self._fits(row)

    def _record_alone(self, raw: str) -> bool:
        """Whether a line read on its own is a whole record (the header's number of fields)."""
        text = raw if raw.isascii() else _decoded(raw)[0]
        return self._fits(split_literal(text))

    def _repaired(self, line: int) -> None:
        self.repairs[UNCLOSED_QUOTE] += 1
        self._listed("repaired", line)

    def _listed(self, kind: str, line: int) -> None:
        listed = self.unclosed_quotes[kind]
        if len(listed) < _LISTED_LINES:
            listed.append(line)


def _strict_record(lines: Iterator[str]) -> list[str] | None:
    """The first record `csv.reader` reads strictly from these lines, or None when they hold none or
    a quote is out of place (a field over csv's size limit is raised: it is a line too long)."""
    try:
        return next(csv.reader(lines, delimiter=";", quotechar='"', strict=True), None)
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise
        return None


def _one_line(text: str) -> tuple[list[str], bool]:
    """A line's fields as `csv.reader` reads them, and whether the line ends inside a quoted field."""
    still_open = False

    def feed() -> Iterator[str]:
        nonlocal still_open
        yield text
        still_open = True

    return next(csv.reader(feed(), delimiter=";", quotechar='"'), []), still_open
