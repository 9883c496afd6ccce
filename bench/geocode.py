#!/usr/bin/env python3
"""Geocoding throughput through a local Addok, and the cache's effect on a second run.

    python bench/geocode.py [--rows 10000] [--ban ../shared/data/of/liste-publique-of-ban.ndjson.gz]

Starts Redis + Addok (see tests/addok_server.py) loaded with the BAN import file, takes the first
`--rows` street addresses of the snapshot, and prints rows/s for batch sizes 500, 2,000 and 5,000
with 1, 2 and 4 batches in flight; then geocodes them twice through the cache and prints the
rows the second run sent (expected: 0).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("ANNUAIRE_SHARED_DIR", ROOT.parent / "shared"))
sys.path.insert(0, str(ROOT / "tests"))

from addok_server import AddokServer  # noqa: E402
from annuaire.clean.record import Declaration, RecordCleaner  # noqa: E402
from annuaire.geocoding.ban import BanClient  # noqa: E402
from annuaire.geocoding.cache import GeocodeCache  # noqa: E402
from annuaire.geocoding.strategy import locate  # noqa: E402
from annuaire.pipeline.geocode import addresses_from, declaration_addresses  # noqa: E402
from annuaire.sources.reader import ListePubliqueReader  # noqa: E402
from annuaire.sources.reference import load_reference  # noqa: E402


def street_addresses(source: Path, reference, rows: int):
    cleaner = RecordCleaner(reference.communes, Counter())
    picked = []
    for r in ListePubliqueReader(source):
        d = cleaner.clean_record(r)
        if isinstance(d, Declaration) and d.type_adresse == "voie":
            picked.append(d)
            if len(picked) >= rows:
                break
    return addresses_from(declaration_addresses(picked), reference.communes)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", type=Path, default=SHARED / "data/of/liste-publique-of-M.csv.gz")
    ap.add_argument("--ban", type=Path, default=SHARED / "data/of/liste-publique-of-ban.ndjson.gz")
    ap.add_argument("--reference", type=Path, default=SHARED / "data/reference")
    ap.add_argument("--rows", type=int, default=10_000)
    args = ap.parse_args()
    reference = load_reference(args.reference)
    addresses = street_addresses(args.source, reference, args.rows)
    print(f"{len(addresses):,} street addresses from {args.source.name}")
    started = time.perf_counter()
    with AddokServer(args.ban, workers=4) as server:
        how = "index kept in .cache/addok-index" if server.index_loaded else "imported"
        loaded = time.perf_counter() - started
        print(f"Addok loaded with {args.ban.name} in {loaded:.0f} s ({how}), 4 workers")
        print(f"{'batch':>6} {'in flight':>9} {'seconds':>8} {'rows/s':>8}")
        for batch in (500, 2000, 5000):
            for flight in (1, 2, 4):
                with BanClient(server.url, batch_size=batch, concurrency=flight, rate=50) as client:
                    t = time.perf_counter()
                    locate(addresses, client, None)
                    elapsed = time.perf_counter() - t
                print(f"{batch:>6} {flight:>9} {elapsed:>8.1f} {len(addresses) / elapsed:>8.0f}")
        with tempfile.TemporaryDirectory() as tmp:
            for run in (1, 2):
                with (
                    BanClient(server.url, concurrency=2) as client,
                    GeocodeCache(Path(tmp) / "c.sqlite") as cache,
                ):
                    _, report = locate(addresses, client, cache)
                print(
                    f"cached run {run}: {report['distinct_addresses_sent']:,} addresses sent, "
                    f"{report['answered_from_cache']:,} answered from the cache"
                )


if __name__ == "__main__":
    main()
