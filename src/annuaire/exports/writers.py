"""One table written in several formats at once, each file atomically (written aside, renamed into place).

Rows arrive as lists of typed values (str, int, float, bool, None) in the table's schema order:
- CSV: empty for unknown, `true`/`false`, cells a spreadsheet would run as formulas neutralised;
- JSON: an array of objects, `null` for unknown, codes as strings;
- GeoJSON (RFC 7946): a FeatureCollection, one Point per row at (longitude, latitude), a `null`
  geometry for a row without a position;
- Parquet: typed columns (string, boolean, int64, double, date32), zstd-compressed, in row groups.
"""

from __future__ import annotations

import csv
import os
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from .csv_files import csv_cell

PARQUET_BATCH = 20_000


class TableFile:
    suffix = ""

    def __init__(self, path: Path, fields: list[dict[str, Any]]):
        self.path = path
        self.fields = fields
        self.names = [f["name"] for f in fields]
        self.temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        self.rows = 0

    def open(self) -> None: ...

    def add(self, row: list) -> None: ...

    def close(self) -> None: ...

    def commit(self) -> None:
        self.close()
        os.replace(self.temp, self.path)

    def abort(self) -> None:
        try:
            self.close()
        finally:
            self.temp.unlink(missing_ok=True)


class CsvFile(TableFile):
    def open(self) -> None:
        self.fh = self.temp.open("w", encoding="utf-8", newline="")
        self.writer = csv.writer(self.fh, lineterminator="\n")
        self.writer.writerow(self.names)

    def add(self, row: list) -> None:
        self.writer.writerow([csv_cell(v) for v in row])
        self.rows += 1

    def close(self) -> None:
        if not self.fh.closed:
            self.fh.close()


def _clean(value: Any) -> Any:
    return None if value == "" else value


class JsonFile(TableFile):
    def open(self) -> None:
        self.fh = self.temp.open("wb")
        self.fh.write(b"[")

    def add(self, row: list) -> None:
        self.fh.write(b"\n" if self.rows == 0 else b",\n")
        self.fh.write(orjson.dumps(dict(zip(self.names, map(_clean, row), strict=True))))
        self.rows += 1

    def close(self) -> None:
        if not self.fh.closed:
            self.fh.write(b"\n]\n")
            self.fh.close()


class GeoJsonFile(JsonFile):
    def open(self) -> None:
        self.fh = self.temp.open("wb")
        self.fh.write(b'{"type":"FeatureCollection","features":[')
        self.lat = self.names.index("latitude")
        self.lon = self.names.index("longitude")

    def add(self, row: list) -> None:
        lat, lon = row[self.lat], row[self.lon]
        geometry = None if lat is None or lon is None else {"type": "Point", "coordinates": [lon, lat]}
        feature = {
            "type": "Feature",
            "geometry": geometry,
            "properties": dict(zip(self.names, map(_clean, row), strict=True)),
        }
        self.fh.write(b"\n" if self.rows == 0 else b",\n")
        self.fh.write(orjson.dumps(feature))
        self.rows += 1

    def close(self) -> None:
        if not self.fh.closed:
            self.fh.write(b"\n]}\n")
            self.fh.close()


class ParquetFile(TableFile):
    def open(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        types = {
            "string": pa.string(),
            "boolean": pa.bool_(),
            "integer": pa.int64(),
            "number": pa.float64(),
            "date": pa.date32(),
        }
        self.pa = pa
        self.schema = pa.schema(
            [
                pa.field(f["name"], types[f["type"]], metadata={"description": f["description"]})
                for f in self.fields
            ]
        )
        self.dates = [i for i, f in enumerate(self.fields) if f["type"] == "date"]
        self.numbers = [i for i, f in enumerate(self.fields) if f["type"] == "number"]
        self.writer = pq.ParquetWriter(self.temp, self.schema, compression="zstd")
        self.batch: list[list] = []

    def add(self, row: list) -> None:
        row = [_clean(v) for v in row]
        for i in self.dates:
            if row[i] is not None:
                row[i] = date.fromisoformat(row[i])
        for i in self.numbers:
            if row[i] is not None:
                row[i] = float(row[i])
        self.batch.append(row)
        self.rows += 1
        if len(self.batch) >= PARQUET_BATCH:
            self._flush()

    def _flush(self) -> None:
        if self.batch:
            columns = zip(*self.batch, strict=True)
            arrays = [self.pa.array(c, type=f.type) for c, f in zip(columns, self.schema, strict=True)]
            self.writer.write_table(self.pa.Table.from_arrays(arrays, schema=self.schema))
            self.batch = []

    def close(self) -> None:
        if self.writer is not None:
            self._flush()
            self.writer.close()
            self.writer = None


FORMATS: dict[str, type[TableFile]] = {
    "csv": CsvFile,
    "json": JsonFile,
    "geojson": GeoJsonFile,
    "parquet": ParquetFile,
}
