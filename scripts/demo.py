#!/usr/bin/env python3
"""The directory end to end, offline: a local BAN geocoder (Redis + Addok, see tests/addok_server.py)
loaded with the snapshot's BAN import file, `annuaire build` through it, `annuaire export`, then
`annuaire serve` until Ctrl-C.

    python scripts/demo.py --source SNAPSHOT --reference DIR --ban BAN.ndjson.gz --out out
    python scripts/demo.py ... --no-geocode        # commune centroids only, no Addok
    python scripts/demo.py ... --port 0            # build and export, do not serve
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def run(*args: str) -> None:
    annuaire = str(Path(sys.executable).with_name("annuaire"))
    done = subprocess.run([annuaire, *args])
    if done.returncode:
        sys.exit(done.returncode)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", required=True)
    ap.add_argument("--reference", required=True)
    ap.add_argument("--ban", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=ROOT / "out")
    ap.add_argument("--no-geocode", action="store_true")
    ap.add_argument("--port", type=int, default=8000, help="port to serve on (0: do not serve)")
    ap.add_argument(
        "--metadata",
        type=Path,
        action="append",
        default=[],
        help="a data.gouv.fr dataset description (JSON) for the Sources page, as `annuaire fetch` records",
    )
    args = ap.parse_args()
    db = args.out / "annuaire.db"
    build = ["build", "--source", args.source, "--reference", args.reference, "--db", str(db)]
    if args.no_geocode:
        run(*build, "--no-geocode")
    else:
        import shutil

        from addok_server import AddokServer

        if not shutil.which("redis-server"):
            sys.exit("the local geocoder needs Redis: apt-get install redis-server (or run with GEOCODE=0)")
        print(f"Starting a local BAN geocoder loaded with {args.ban.name} (about a minute)…", flush=True)
        with AddokServer(args.ban, workers=2) as addok:
            run(*build, "--geocoder-url", addok.url, "--geocode-cache", str(args.out / "geocode.sqlite"))
    run("export", "--db", str(db), "--out", str(args.out / "export"))
    described = [arg for path in args.metadata for arg in ("--metadata", str(path))]
    run(
        "profile",
        "--db",
        str(db),
        "--source",
        str(args.source),
        "--reference",
        str(args.reference),
        *described,
    )
    os.environ["ANNUAIRE_EXPORT_DIR"] = str(args.out / "export")  # the files /donnees/ offers
    if args.port:
        base = f"http://127.0.0.1:{args.port}"
        print(f"\nServing the directory: {base}/ (website), {base}/api/docs (API)")
        print("Ctrl-C to stop.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            run("serve", "--db", str(db), "--port", str(args.port), "--workers", "2")


if __name__ == "__main__":
    main()
