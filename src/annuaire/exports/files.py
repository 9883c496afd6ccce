"""`annuaire export`: every file of the open-data release, in one pass over each table.

- `declarations.{csv,json,geojson,parquet}`, `organismes.{csv,json,geojson,parquet}`, `quarantaine.csv`,
  `provenance.csv`;
- `schema.json` (Table Schema of declarations.csv), `organismes.schema.json`, `quarantaine.schema.json`,
  `provenance.schema.json`;
- `datapackage.json`: publishing metadata (title, description, licence, frequency, temporal and
  spatial coverage) and the list of files with their sizes and row counts.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..store.base import Store
from . import schema
from .csv_files import declaration_rows, organisation_rows, provenance_rows, quarantine_rows
from .writers import FORMATS, TableFile

ALL_FORMATS = ("csv", "json", "geojson", "parquet")
TABLE_FORMATS = {
    "declarations": ALL_FORMATS,
    "organismes": ALL_FORMATS,
    "quarantaine": ("csv",),
    "provenance": ("csv",),
}
DATA_PACKAGE = "datapackage.json"


class Coverage:
    """Temporal coverage (dates of last declaration) and bounding box of the active declarations."""

    def __init__(self, columns: list[str]):
        self.date = columns.index("date_derniere_declaration")
        self.lat, self.lon = columns.index("latitude"), columns.index("longitude")
        self.status = columns.index("statut")
        self.first: str | None = None
        self.last: str | None = None
        self.box: list[float] | None = None

    def add(self, row: list) -> None:
        if row[self.status] != "actif":
            return
        day = row[self.date]
        if day:
            self.first = day if self.first is None or day < self.first else self.first
            self.last = day if self.last is None or day > self.last else self.last
        lat, lon = row[self.lat], row[self.lon]
        if lat is not None and lon is not None:
            if self.box is None:
                self.box = [lon, lat, lon, lat]
            else:
                b = self.box
                b[0], b[1], b[2], b[3] = min(b[0], lon), min(b[1], lat), max(b[2], lon), max(b[3], lat)

    def as_dict(self) -> dict[str, Any]:
        return {
            "temporal": {
                "start": self.first,
                "end": self.last,
                "description": "dates de dernière déclaration des organismes actifs",
            },
            "spatial": {
                "zones": ["country:fr"],
                "description": "France entière (métropole et outre-mer), à la commune",
                "granularity": "fr:commune",
                "bbox": [round(v, 5) for v in self.box] if self.box else None,
            },
        }


def _write_table(
    out: Path, table: str, rows: Iterable[list], formats: Iterable[str], coverage: Coverage | None = None
) -> dict[str, int]:
    fields = schema.TABLES[table][0]
    files: list[TableFile] = [FORMATS[f](out / f"{table}.{f}", fields) for f in formats]
    opened: list[TableFile] = []
    try:
        for f in files:
            f.open()
            opened.append(f)
        for row in rows:
            for f in files:
                f.add(row)
            if coverage is not None:
                coverage.add(row)
        for f in files:
            f.commit()
    except BaseException:
        for f in opened:
            f.abort()
        raise
    return {f.path.name: f.rows for f in files}


def _write_json(path: Path, data: Any) -> None:
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temp.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(temp, path)


def export_all(store: Store, out: Path, formats: Iterable[str] = ALL_FORMATS) -> dict[str, int]:
    """Write the release into `out`; returns file name → rows."""
    wanted = set(formats)
    unknown = wanted - set(ALL_FORMATS)
    if unknown:
        raise ValueError(f"unknown format(s): {', '.join(sorted(unknown))}")
    out.mkdir(parents=True, exist_ok=True)
    coverage = Coverage(schema.columns("declarations"))
    counts: dict[str, int] = {}
    sources = {
        "declarations": lambda: declaration_rows(store),
        "organismes": lambda: organisation_rows(store),
        "quarantaine": lambda: quarantine_rows(store),
        "provenance": lambda: provenance_rows(store),
    }
    for table, rows in sources.items():
        chosen = [f for f in TABLE_FORMATS[table] if f in wanted or f == "csv"]
        counts |= _write_table(out, table, rows(), chosen, coverage if table == "declarations" else None)
    for table, name in schema.SCHEMA_FILES.items():
        _write_json(out / name, schema.table_schema(table))
    meta = store.meta()
    files = {
        name: {
            "table": name.split(".")[0],
            "format": name.rsplit(".", 1)[1],
            "rows": n,
            "bytes": (out / name).stat().st_size,
        }
        for name, n in counts.items()
    }
    built = meta.get("built_at")
    _write_json(out / DATA_PACKAGE, schema.data_package(files, coverage.as_dict(), built))
    return counts
