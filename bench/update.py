#!/usr/bin/env python3
"""Time `annuaire update` (M → M+1) against a full build of M+1, in the same run, on each store.

    python bench/update.py [--no-geocode] [--store sqlite|postgresql|both]

For each store (SQLite by default; `--store postgresql` starts a private PostgreSQL,
tests/postgres_server.py, or takes ANNUAIRE_TEST_POSTGRES_URL):
1. builds M (the starting directory; not timed);
2. updates it with M+1 — timed;
3. builds M+1 from scratch — timed, into the same store (another database on PostgreSQL);
and prints both, their ratio (target: the update takes at most 15% of the full build), the rows
the update wrote (organisations rewritten, next to the changes) and the number of addresses the
update sent to the geocoder, next to the number of distinct street addresses among the added
declarations and the changed addresses (they should be equal).

`--share 0.01` applies only that share of the pair's changes (NDAs added, removed or changed, drawn
at random with `--seed`) to M: the update then goes from M to that snapshot, and the full build is
of that snapshot. The daily Liste publique changes far less than the pair: this measures the update
at the size of change it usually meets, and what its cost owes to the size of the change.

With geocoding (the default), a local Addok loaded with the snapshot's BAN file is started (Redis
and Addok as in the tests); neither the update nor the full build of M+1 has a warm cache, so both
pay for what they send. With --no-geocode both skip geocoding (commune centroids).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, nullcontext
from pathlib import Path

from common import annuaire_command  # bench/common.py

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("ANNUAIRE_SHARED_DIR", ROOT.parent / "shared"))
sys.path.insert(0, str(ROOT / "tests"))  # the local Addok and PostgreSQL the tests use


def run(args: list[str]) -> float:
    annuaire = annuaire_command()
    started = time.perf_counter()
    done = subprocess.run([annuaire, *args], capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"annuaire {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def _records_by_nda(path: Path) -> tuple[str, dict[str, list[str]]]:
    """The file's header line and, per NDA in file order, its records exactly as read (their lines,
    Latin-1 text, line ends included; an NDA may have several records)."""
    from annuaire.sources.reader import ListePubliqueReader

    with gzip.open(path, "rt", encoding="latin-1", newline="") as fh:
        lines = fh.readlines()
    records: dict[str, list[str]] = {}
    for record in ListePubliqueReader(path):
        text = "".join(lines[record.line - 1 : record.line - 1 + record.lines])
        records.setdefault(record.values[0], []).append(text if text.endswith("\n") else text + "\n")
    return lines[0], records


def partial_snapshot(m: Path, m1: Path, share: float, seed: int, out: Path) -> tuple[Path, int, int]:
    """M with `share` of the NDAs that M+1 adds, removes or changes taken as M+1 has them: the
    snapshot written to `out`, the NDAs taken and the NDAs that differ in all."""
    _, before = _records_by_nda(m)
    header, after = _records_by_nda(m1)
    differ = sorted(n for n in before.keys() | after.keys() if before.get(n) != after.get(n))
    taken = set(random.Random(seed).sample(differ, round(share * len(differ))))
    with gzip.open(out, "wt", encoding="latin-1", newline="") as fh:
        fh.write(header)
        for nda in list(after) + [n for n in before if n not in after]:
            fh.writelines(after.get(nda, []) if nda in taken else before.get(nda, []))
    return out, len(taken), len(differ)


def measure(store: str, locations, m: Path, m1: Path, reference: Path, addok, tmp: Path) -> dict:
    """Build M, update it to M+1 (timed), build M+1 afresh (timed) on one store."""
    from annuaire.store import open_store

    def geo(cache: str) -> list[str]:
        if addok is None:
            return ["--no-geocode"]
        return ["--geocode", "--geocoder-url", addok.url, "--geocode-cache", str(tmp / f"{store}-{cache}")]

    common = ["--reference", str(reference)]
    db, full = locations
    print(f"[{store}] building M (the starting directory) …", flush=True)
    run(["build", "--no-progress", "--source", str(m), "--db", db, *common, *geo("build-m.sqlite")])
    report_file = tmp / f"{store}-update.json"
    print(f"[{store}] updating with M+1 …", flush=True)
    update_seconds = run(
        [
            "update",
            "--source",
            str(m1),
            "--db",
            db,
            "--report",
            str(report_file),
            *common,
            *geo("update.sqlite"),
        ]
    )
    print(f"[{store}] building M+1 from scratch …", flush=True)
    build_seconds = run(
        ["build", "--no-progress", "--source", str(m1), "--db", full, *common, *geo("m1.sqlite")]
    )
    report = json.loads(report_file.read_text(encoding="utf-8"))
    relocated = set(report["added"]) | {n for n, g in report["modified"].items() if "adresse" in g}
    relocated |= {n for n, f in report["corrected"].items() if "code_commune_insee" in f}
    streets = {
        (d["voie"].upper(), d["code_postal"], d["code_commune_insee"])
        for d in open_store(db).declarations()
        if d["type_adresse"] == "voie" and d["nda"] in relocated
    }
    return {
        "update": update_seconds,
        "build": build_seconds,
        "report": report,
        "relocated": relocated,
        "streets": len(streets),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--of", type=Path, default=SHARED / "data/of", help="folder of the snapshot pair")
    ap.add_argument("--reference", type=Path, default=SHARED / "data/reference")
    ap.add_argument("--no-geocode", action="store_true")
    ap.add_argument("--store", choices=("sqlite", "postgresql", "both"), default="sqlite")
    ap.add_argument("--share", type=float, default=1.0, help="share of the pair's changes to apply (0–1)")
    ap.add_argument("--seed", type=int, default=20261205)
    args = ap.parse_args()
    if not 0 < args.share <= 1:
        sys.exit("--share: a share of the changes, more than 0 and at most 1")
    m, m1 = args.of / "liste-publique-of-M.csv.gz", args.of / "liste-publique-of-M+1.csv.gz"
    ban = args.of / "liste-publique-of-ban.ndjson.gz"
    for f in (m, m1) + (() if args.no_geocode else (ban,)):
        if not f.exists():
            sys.exit(f"{f}: not found (set ANNUAIRE_SHARED_DIR)")
    stores = ("sqlite", "postgresql") if args.store == "both" else (args.store,)
    results = {}
    with tempfile.TemporaryDirectory(prefix="annuaire-bench-update-") as tmp, ExitStack() as stack:
        tmp = Path(tmp)
        addok = None
        if args.share < 1:
            m1, taken, differ = partial_snapshot(m, m1, args.share, args.seed, tmp / "partial-M+1.csv.gz")
            print(f"M+1 limited to {taken:,} of the {differ:,} NDAs the pair adds, removes or changes")
        if not args.no_geocode:
            from addok_server import AddokServer

            print(f"starting a local Addok loaded with {ban.name} …", flush=True)
            addok = stack.enter_context(AddokServer(ban, workers=2))
        for store in stores:
            if store == "sqlite":
                locations = (str(tmp / "annuaire.db"), str(tmp / "full.db"))
            else:
                pg = stack.enter_context(postgres())
                locations = (pg.create_database("bench_update"), pg.create_database("bench_full"))
            results[store] = measure(store, locations, m, m1, args.reference, addok, tmp)
    mode = "geocoding through a local Addok" if not args.no_geocode else "without geocoding"
    for store, r in results.items():
        report = r["report"]
        sent = report["geocoding"]["distinct_addresses_sent"]
        print()
        print(f"== {store} ({mode}; process start-up and reference loading included in both)")
        print(f"changes: {json.dumps(report['counts'])}")
        print(f"update M → M+1: {r['update']:.2f} s (phases: {report['timings_seconds']})")
        print(f"full build of M+1: {r['build']:.2f} s")
        ratio = r["update"] / r["build"]
        print(f"update / full build: {ratio:.1%} (target ≤ 15%): {'OK' if ratio <= 0.15 else 'MISSED'}")
        changed = sum(report["counts"][k] for k in ("added", "removed", "modified", "corrected"))
        print(
            f"rows written: {changed:,} declarations changed, {report['rows']['fingerprints_refreshed']:,} "
            f"fingerprints refreshed, {report.get('organisations_rewritten', 0):,} organisations rewritten "
            f"(of {report['rows']['declarations']:,} declarations)"
        )
        print(
            f"addresses sent to the geocoder by the update: {sent:,}; declarations relocated: "
            f"{report['geocoding'].get('declarations_relocated', 0):,} (added {len(report['added']):,}, "
            f"address changed or moved to another commune {len(r['relocated']) - len(report['added']):,})"
        )
        print(
            f"distinct street addresses among them: {r['streets']:,} (sent once each; PO boxes and city-only "
            "addresses are never sent)"
        )


def postgres():
    """A PostgreSQL server: ANNUAIRE_TEST_POSTGRES_URL's, or a private one (tests/postgres_server.py)."""
    from postgres_server import ExistingPostgres, PostgresServer

    url = os.environ.get("ANNUAIRE_TEST_POSTGRES_URL")
    return nullcontext(ExistingPostgres(url)) if url else PostgresServer()


if __name__ == "__main__":
    main()
