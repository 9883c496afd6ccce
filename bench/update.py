#!/usr/bin/env python3
"""Time `annuaire update` (M → M+1) against a full build of M+1, in the same run.

    python bench/update.py [--no-geocode]

1. builds M (the starting directory; not timed);
2. updates it with M+1 — timed;
3. builds M+1 from scratch — timed;
and prints both, their ratio (target: the update takes at most 15% of the full build) and the
number of addresses the update sent to the geocoder, next to the number of distinct street
addresses among the added declarations and the changed addresses (they should be equal).

With geocoding (the default), a local Addok loaded with the snapshot's BAN file is started (Redis
and Addok as in the tests); neither the update nor the full build of M+1 has a warm cache, so both
pay for what they send. With --no-geocode both skip geocoding (commune centroids).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("ANNUAIRE_SHARED_DIR", ROOT.parent / "shared"))
sys.path.insert(0, str(ROOT / "tests"))  # the local Addok the tests use


def run(args: list[str]) -> float:
    annuaire = shutil.which("annuaire") or str(Path(sys.executable).with_name("annuaire"))
    started = time.perf_counter()
    done = subprocess.run([annuaire, *args], capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"annuaire {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--of", type=Path, default=SHARED / "data/of", help="folder of the snapshot pair")
    ap.add_argument("--reference", type=Path, default=SHARED / "data/reference")
    ap.add_argument("--no-geocode", action="store_true")
    args = ap.parse_args()
    m, m1 = args.of / "liste-publique-of-M.csv.gz", args.of / "liste-publique-of-M+1.csv.gz"
    ban = args.of / "liste-publique-of-ban.ndjson.gz"
    for f in (m, m1) + (() if args.no_geocode else (ban,)):
        if not f.exists():
            sys.exit(f"{f}: not found (set ANNUAIRE_SHARED_DIR)")
    with tempfile.TemporaryDirectory(prefix="annuaire-bench-update-") as tmp:
        tmp = Path(tmp)
        if args.no_geocode:
            server = nullcontext(None)
        else:
            from addok_server import AddokServer

            print(f"starting a local Addok loaded with {ban.name} …", flush=True)
            server = AddokServer(ban, workers=2)
        with server as addok:

            def geo(cache: str) -> list[str]:
                if addok is None:
                    return ["--no-geocode"]
                return ["--geocode", "--geocoder-url", addok.url, "--geocode-cache", str(tmp / cache)]

            common = ["--reference", str(args.reference)]
            db = tmp / "annuaire.db"
            print("building M (the starting directory) …", flush=True)
            run(
                [
                    "build",
                    "--no-progress",
                    "--source",
                    str(m),
                    "--db",
                    str(db),
                    *common,
                    *geo("build-m.sqlite"),
                ]
            )
            report_file = tmp / "update.json"
            print("updating with M+1 …", flush=True)
            update_seconds = run(
                [
                    "update",
                    "--source",
                    str(m1),
                    "--db",
                    str(db),
                    "--report",
                    str(report_file),
                    *common,
                    *geo("update.sqlite"),
                ]
            )
            print("building M+1 from scratch …", flush=True)
            build_seconds = run(
                [
                    "build",
                    "--no-progress",
                    "--source",
                    str(m1),
                    "--db",
                    str(tmp / "full.db"),
                    *common,
                    *geo("build-m1.sqlite"),
                ]
            )
            report = json.loads(report_file.read_text(encoding="utf-8"))
            relocated = set(report["added"]) | {n for n, g in report["modified"].items() if "adresse" in g}
            relocated |= {n for n, f in report["corrected"].items() if "code_commune_insee" in f}
            conn = sqlite3.connect(db)
            streets = conn.execute(
                """SELECT count(*) FROM (SELECT DISTINCT upper(voie), code_postal, code_commune_insee
                   FROM declarations WHERE type_adresse = 'voie'
                     AND nda IN (SELECT value FROM json_each(?)))""",
                (json.dumps(sorted(relocated)),),
            ).fetchone()[0]
            conn.close()
    sent = report["geocoding"]["distinct_addresses_sent"]
    print()
    print(f"changes: {json.dumps(report['counts'])}")
    print(f"update M → M+1: {update_seconds:.2f} s (phases: {report['timings_seconds']})")
    print(f"full build of M+1: {build_seconds:.2f} s")
    ratio = update_seconds / build_seconds
    print(f"update / full build: {ratio:.1%} (target ≤ 15%): {'OK' if ratio <= 0.15 else 'MISSED'}")
    mode = "geocoding through a local Addok" if not args.no_geocode else "without geocoding"
    print(f"({mode}; process start-up and reference loading included in both)")
    print(
        f"addresses sent to the geocoder by the update: {sent:,}; declarations relocated: "
        f"{report['geocoding'].get('declarations_relocated', 0):,} (added {len(report['added']):,}, address "
        f"changed or moved to another commune {len(relocated) - len(report['added']):,})"
    )
    print(
        f"distinct street addresses among them: {streets:,} (sent once each; PO boxes and city-only addresses"
        " are never sent)"
    )


if __name__ == "__main__":
    main()
