"""The profile of a source file, read as a stream: its columns (type and French format detected, share of
valid values, share empty, distinct count, examples), 5 sample records, its volume.

Columns are profiled on the first `max_rows` records (all of them when `max_rows` is None); the
records after them are only counted, so a 150,000-row file is profiled in a second or two. The
separator (`;`, `,`, tab, `|`), the encoding (UTF-8 with or without BOM, or Windows-1252) and gzip
are detected from the bytes."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..sources.reader import detect_encoding
from . import formats

DETECTION_SAMPLE = 2_000  # values per column used to choose its format
MAX_DISTINCT = 200_000  # distinct values counted exactly up to this many per column
EXAMPLES = 5
SAMPLE_RECORDS = 5


@dataclass
class ColumnProfile:
    name: str
    type: str  # Table Schema type: string, integer, number, boolean, date, geopoint
    format: str | None  # siret, siren, nda, code_postal, code_commune_insee, departement, region, date…
    format_label: str | None
    filled: int
    empty: int
    valid: int | None  # values valid for the format (None without a format)
    distinct: int
    distinct_capped: bool
    examples: list[str]

    @property
    def share_empty(self) -> float:
        total = self.filled + self.empty
        return round(self.empty / total, 4) if total else 0.0

    @property
    def share_valid(self) -> float | None:
        if self.valid is None:
            return None
        return round(self.valid / self.filled, 4) if self.filled else None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["share_empty"] = self.share_empty
        out["share_valid"] = self.share_valid
        return out


@dataclass
class FileProfile:
    path: str
    bytes: int
    compressed: bool
    encoding: str
    delimiter: str
    rows: int
    rows_profiled: int
    columns: list[ColumnProfile] = field(default_factory=list)
    sample: list[dict[str, str]] = field(default_factory=list)

    def column(self, name: str) -> ColumnProfile:
        return next(c for c in self.columns if c.name == name)

    def formats(self) -> dict[str, str | None]:
        return {c.name: c.format for c in self.columns}

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["columns"] = [c.as_dict() for c in self.columns]
        return out


class _Column:
    def __init__(self, name: str):
        self.name = name
        self.values: list[str] = []  # the first non-empty values, to detect the format
        self.filled = 0
        self.empty = 0
        self.distinct: set[str] = set()
        self.capped = False
        self.examples: list[str] = []
        self.check: Callable[[str], bool] | None = None
        self.valid = 0

    def add(self, value: str) -> None:
        value = value.strip()
        if not value:
            self.empty += 1
            return
        self.filled += 1
        if not self.capped:
            self.distinct.add(value)
            if len(self.distinct) >= MAX_DISTINCT:
                self.capped = True
        if len(self.examples) < EXAMPLES and value not in self.examples:
            self.examples.append(value[:80])
        if self.check is not None:
            self.valid += self.check(value)
        elif len(self.values) < DETECTION_SAMPLE:
            self.values.append(value)

    def settle(self) -> None:
        """Choose the format from the sample, and count the sampled values it accepts."""
        self.format, self.type = formats.detect(self.name, self.values)
        if self.format:
            self.check = formats.FORMATS[self.format][0]
            self.valid = sum(1 for v in self.values if self.check(v))

    def profile(self) -> ColumnProfile:
        if not hasattr(self, "format"):
            self.settle()
        return ColumnProfile(
            name=self.name,
            type=self.type,
            format=self.format,
            format_label=formats.LABELS.get(self.format) if self.format else None,
            filled=self.filled,
            empty=self.empty,
            valid=self.valid if self.format else None,
            distinct=len(self.distinct),
            distinct_capped=self.capped,
            examples=self.examples,
        )


def _open_text(path: Path) -> tuple[io.TextIOBase, bool, str]:
    with path.open("rb") as fh:
        compressed = fh.read(2) == b"\x1f\x8b"
    opener = gzip.open if compressed else open
    with opener(path, "rb") as fh:
        try:
            sample = fh.read(1 << 20)
        except (OSError, EOFError) as exc:
            raise InputError(str(path), f"damaged gzip file ({exc})") from None
    encoding = detect_encoding(sample)
    raw = gzip.open(path, "rb") if compressed else path.open("rb")  # noqa: SIM115 - closed with the wrapper
    text = io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")
    return text, compressed, encoding


def _delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (";", ",", "\t", "|")}
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] else ","


def _records(text: io.TextIOBase, delimiter: str) -> Iterator[list[str]]:
    csv.field_size_limit(1_000_000)
    yield from csv.reader(text, delimiter=delimiter, quotechar='"')


def profile_file(path: str | Path, *, max_rows: int | None = 20_000) -> FileProfile:
    """Profile a CSV file (see the module's description)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "no such file")
    text, compressed, encoding = _open_text(path)
    with text:
        try:
            first = text.readline()
        except (OSError, EOFError) as exc:
            raise InputError(str(path), f"unreadable ({exc})") from None
        if not first.strip():
            raise InputError(str(path), "the file is empty: expected a header line", line=1)
        delimiter = _delimiter(first)
        header = next(csv.reader([first.lstrip("\ufeff")], delimiter=delimiter))
        columns = [_Column(name.strip()) for name in header]
        width = len(columns)
        sample: list[dict[str, str]] = []
        rows = profiled = 0
        try:
            for record in _records(text, delimiter):
                if not any(cell.strip() for cell in record):
                    rows += 1
                    continue
                rows += 1
                if max_rows is not None and profiled >= max_rows:
                    continue
                profiled += 1
                if len(sample) < SAMPLE_RECORDS:
                    sample.append(
                        {c.name: (record[i] if i < len(record) else "") for i, c in enumerate(columns)}
                    )
                for i in range(width):
                    columns[i].add(record[i] if i < len(record) else "")
                if profiled == DETECTION_SAMPLE:
                    for c in columns:
                        c.settle()
        except (csv.Error, OSError, EOFError) as exc:
            raise InputError(str(path), f"unreadable CSV ({exc})", line=rows + 2) from None
    return FileProfile(
        path=str(path),
        bytes=path.stat().st_size,
        compressed=compressed,
        encoding=encoding,
        delimiter=delimiter,
        rows=rows,
        rows_profiled=profiled,
        columns=[c.profile() for c in columns],
        sample=sample,
    )
