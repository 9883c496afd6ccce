#!/usr/bin/env python3
"""Time `annuaire build` on the benchmark snapshot against `sqlite3 .import` of the same file.

    python bench/build.py [--source ../shared/data/of/liste-publique-of-M.csv.gz] [--repeat 3]

Prints the raw import time, the build time, their ratio (target: ≤ 8) and the build's peak RSS
(target: < 1 GiB). The baseline is the sqlite3 command-line shell importing the decompressed CSV
into one table, in the same run, on the same machine.

A reading figure times the build's reader alone (every physical line accounted for, each record
decoded on its own, quotes never closed repaired) against the standard library's csv.reader over
the same decompressed text: what reading costs beyond parsing CSV in C.

A further figure tells what of the build is SQLite's own work: the directory the build wrote is
written again into a fresh file by SQL statements alone, rows read from the built file with no
Python per row (tables with their keys, the full-text index with its prefix indexes and `optimize`,
the R*Tree, the secondary indexes, ANALYZE). No loader could hand SQLite its rows for less; the
rest of the build is reading, cleaning, de-duplicating and computing rows in Python.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from annuaire.sources.reader import ListePubliqueReader
from annuaire.store.sqlite import BUILD_PRAGMAS
from common import annuaire_command  # bench/common.py

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("ANNUAIRE_SHARED_DIR", ROOT.parent / "shared"))


def run_child(cmd: list[str]) -> tuple[float, int]:
    """Run a command; return (wall seconds, its peak RSS in bytes)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    if status != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stderr.read().decode()}")
    return elapsed, usage.ru_maxrss * 1024


def sqlite_alone(built: Path, fresh: Path) -> dict[str, float]:
    """Write `built`'s directory again into `fresh` with SQL statements only; seconds per part."""
    source = sqlite3.connect(built)
    # Tables as SQLite lists them: a virtual table's shadow tables are its own, filled through it.
    kinds = dict(source.execute("SELECT name, type FROM pragma_table_list WHERE schema = 'main'"))
    schema = source.execute(
        "SELECT name, type, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"
        " ORDER BY rowid"
    ).fetchall()
    source.close()
    virtual = {name for name, kind in kinds.items() if kind == "virtual"}
    tables = [(name, sql) for name, kind, sql in schema if kind == "table" and kinds[name] != "shadow"]
    conn = sqlite3.connect(fresh, isolation_level=None)
    conn.executescript(BUILD_PRAGMAS)  # as the build's own connection
    conn.execute("ATTACH DATABASE ? AS built", (str(built),))
    parts: dict[str, float] = {"tables": 0.0}
    started = time.perf_counter()
    conn.execute("BEGIN")
    for _, sql in tables:
        conn.execute(sql)
    for name, sql in tables:
        mark = time.perf_counter()
        if name not in virtual:
            # `WHERE 1`: rows go through SQLite's insert one by one, as a loader's would (without a
            # WHERE clause, SQLite copies a table's records whole between files of one schema).
            conn.execute(f'INSERT INTO main."{name}" SELECT * FROM built."{name}" WHERE 1')
            parts["tables"] += time.perf_counter() - mark
            continue
        columns = [row[1] for row in conn.execute(f'PRAGMA main.table_info("{name}")')]
        if "USING FTS5" in sql.upper():
            listed = ", ".join(["rowid", *columns])
            conn.execute(f'INSERT INTO main."{name}"({listed}) SELECT {listed} FROM built."{name}"')
            conn.execute(f'INSERT INTO main."{name}"("{name}") VALUES (\'optimize\')')
        else:
            conn.execute(f'INSERT INTO main."{name}" SELECT * FROM built."{name}"')
        parts[name] = time.perf_counter() - mark
    mark = time.perf_counter()
    for _, kind, sql in schema:
        if kind == "index":
            conn.execute(sql)
    parts["indexes"] = time.perf_counter() - mark
    mark = time.perf_counter()
    conn.execute("ANALYZE")
    parts["analyze"] = time.perf_counter() - mark
    conn.execute("COMMIT")
    conn.close()
    parts["total"] = time.perf_counter() - started
    return parts


def reading_times(source: Path, repeat: int) -> tuple[float, float]:
    """Best seconds to read every record of `source`: the build's reader, and csv.reader (C) over the
    same text decoded as UTF-8 in one stream (the baseline)."""
    import csv

    ours, baseline = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        sum(1 for _ in ListePubliqueReader(source))
        ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        opener = gzip.open if source.suffix == ".gz" else open
        with opener(source, "rb") as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")
            sum(1 for _ in csv.reader(text, delimiter=";"))
        baseline.append(time.perf_counter() - started)
    return min(ours), min(baseline)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", type=Path, default=SHARED / "data/of/liste-publique-of-M.csv.gz")
    ap.add_argument("--reference", type=Path, default=SHARED / "data/reference")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if not args.source.exists():
        sys.exit(f"{args.source}: benchmark file not found (set ANNUAIRE_SHARED_DIR)")
    sqlite3 = shutil.which("sqlite3")
    if not sqlite3:
        sys.exit("the sqlite3 command-line shell is needed for the baseline (apt-get install sqlite3)")
    annuaire = annuaire_command()
    with tempfile.TemporaryDirectory(prefix="annuaire-bench-") as tmp:
        tmp = Path(tmp)
        plain = tmp / "source.csv"
        opener = gzip.open if args.source.suffix == ".gz" else open
        with opener(args.source, "rb") as src, plain.open("wb") as dst:
            shutil.copyfileobj(src, dst)
        rows = sum(1 for _ in plain.open("rb")) - 1
        imports, builds, peaks, phases, alone = [], [], [], [], []
        for i in range(args.repeat):
            raw_db = tmp / f"raw-{i}.db"
            t, _ = run_child(
                [sqlite3, str(raw_db), "-cmd", ".mode csv", "-cmd", ".separator ;", f".import {plain} raw"]
            )
            imports.append(t)
            t, peak = run_child(
                [
                    annuaire,
                    "build",
                    "--no-progress",
                    "--no-geocode",  # bench/geocode.py measures geocoding
                    "--source",
                    str(args.source),
                    "--db",
                    str(tmp / f"annuaire-{i}.db"),
                    "--reference",
                    str(args.reference),
                ]
            )
            builds.append(t)
            peaks.append(peak)
            alone.append(sqlite_alone(tmp / f"annuaire-{i}.db", tmp / f"alone-{i}.db"))
            report = tmp / f"annuaire-{i}.db.report.json"
            phases.append(json.loads(report.read_text(encoding="utf-8"))["timings_seconds"])
        imp, bld = min(imports), min(builds)
        print(f"source: {args.source} ({rows:,} lines, {plain.stat().st_size / 1e6:.1f} MB decompressed)")
        print(f"sqlite3 .import (baseline): best {imp:.2f} s of {args.repeat}")
        print(
            f"annuaire build (gz source, full pipeline): best {bld:.2f} s of {args.repeat}"
            f" ({rows / bld:,.0f} rows/s)"
        )
        best = builds.index(bld)
        print("phases of the best build (s): " + ", ".join(f"{k} {v}" for k, v in phases[best].items()))
        print(f"ratio build / import: {bld / imp:.1f}x (target ≤ 8x)")
        floor = min(alone, key=lambda parts: parts["total"])
        print(
            f"SQLite alone writing the same directory from ready rows: best {floor['total']:.2f} s of"
            f" {args.repeat}, {floor['total'] / imp:.1f}x the import ("
            + ", ".join(f"{k} {v:.2f}" for k, v in floor.items() if k != "total")
            + f"); the build takes {bld / floor['total']:.1f}x that"
        )
        print(f"peak RSS of the build: {max(peaks) / 2**20:.0f} MiB (target < 1024 MiB)")
        ours, baseline = reading_times(args.source, max(args.repeat, 3))
        print(
            f"reading alone (records decoded one by one, every line accounted for): best {ours:.2f} s;"
            f" csv.reader over the same text (baseline): {baseline:.2f} s ({ours / baseline:.2f}x)"
        )


if __name__ == "__main__":
    main()
