#!/usr/bin/env python3
"""PostgreSQL against SQLite on the 150,000-row snapshot: the same answers, and the time each takes.

    python bench/parity.py [--sqlite annuaire.db] [--postgres postgresql://…] [--requests 1000]

1. Parity: --requests random search requests (bench/search.py's workload: text as typed, text +
   filters, filters only, radius around a place sorted by distance, facets, identifiers, later
   pages and sorts; every one asking for facets) run on both backends. Prints how many give the
   same result ids in the same order, the same ids once ties are set aside (same set, and the same
   ids at every distinct sort key), the same totals and the same facet counts; lists the first
   requests that differ.
2. Speed: the same requests timed in process on each backend, p50/p95/p99 per kind, side by side.

Without --sqlite, the snapshot is built (no geocoding: commune centroids) into a temporary file;
without --postgres, a private PostgreSQL is started (tests/postgres_server.py) and the snapshot is
built into it with `annuaire build --db postgresql://…`. The build times are printed too.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from annuaire.search import SearchQuery, open_searcher  # noqa: E402
from search import percentile, workload  # noqa: E402  (bench/search.py)

SHARED = Path(os.environ.get("ANNUAIRE_SHARED_DIR", ROOT.parent / "shared"))
SEED = 20261124


def build(source: Path, reference: Path, db: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [str(Path(sys.executable).with_name("annuaire")), "build", "--source", str(source), "--db", db,
         "--reference", str(reference), "--no-progress", "--no-geocode"],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return time.perf_counter() - started


def ask(searcher, query: SearchQuery) -> tuple[dict, float]:
    started = time.perf_counter()
    try:
        found = searcher.search(query.checked())
    except Exception as exc:  # a refusal must be the same on both sides
        found = {"error": f"{type(exc).__name__}: {exc}"}
    return found, (time.perf_counter() - started) * 1000


def sort_key(result: dict, tri: str):
    return {
        "distance": result["distance_km"],
        "nom": result["denomination"],
        "date": result["date_derniere_declaration"],
    }.get(tri)


def same_ties_aside(a: dict, b: dict, tri: str) -> bool:
    """Same ids as a set and, where the order has a visible key, the same ids per key value."""
    ra, rb = a.get("resultats", []), b.get("resultats", [])
    if {r["id_organisme"] for r in ra} != {r["id_organisme"] for r in rb}:
        return False
    if tri in ("distance", "nom", "date"):
        return [sort_key(r, tri) for r in ra] == [sort_key(r, tri) for r in rb]
    return True


def compare(sqlite_db: str, url: str, queries: list[tuple[str, SearchQuery]]) -> dict[str, dict[str, list]]:
    sqlite_side, postgres_side = open_searcher(sqlite_db), open_searcher(url)
    for searcher in (sqlite_side, postgres_side):
        started = time.perf_counter()
        searcher.warm_up()
        print(f"{type(searcher).__name__}: search columns loaded in {time.perf_counter() - started:.2f} s")
    for _, q in queries[:100]:  # warm caches and connections on both sides alike
        ask(sqlite_side, q)
        ask(postgres_side, q)
    counts = {"same order": 0, "same ids (ties aside)": 0, "same totals": 0, "same facets": 0, "errors": 0}
    differing = []
    times: dict[str, dict[str, list[float]]] = {"sqlite": {}, "postgresql": {}}
    for kind, q in queries:
        a, ta = ask(sqlite_side, q)
        b, tb = ask(postgres_side, q)
        times["sqlite"].setdefault(kind, []).append(ta)
        times["postgresql"].setdefault(kind, []).append(tb)
        counts["errors"] += "error" in a
        ids_a = [r["id_organisme"] for r in a.get("resultats", [])]
        ids_b = [r["id_organisme"] for r in b.get("resultats", [])]
        counts["same order"] += ids_a == ids_b and a.get("error") == b.get("error")
        counts["same ids (ties aside)"] += same_ties_aside(a, b, q.tri) and a.get("error") == b.get("error")
        counts["same totals"] += a.get("total") == b.get("total")
        counts["same facets"] += a.get("facettes") == b.get("facettes")
        if a != b:
            differing.append((kind, q, a.get("total"), b.get("total")))
    postgres_side.close()
    sqlite_side.close()
    n = len(queries)
    print(f"\nParity on {n:,} requests (errors = refusals, e.g. an unknown place, on the SQLite side):")
    for name, value in counts.items():
        print(f"  {name:<24}{value:>7,} / {n:,}")
    print(f"  {'identical answers':<24}{n - len(differing):>7,} / {n:,}")
    for kind, q, ta, tb in differing[:10]:
        print(f"  differs ({kind}): totals {ta} / {tb}: {q}")
    return times


def print_times(times: dict[str, dict[str, list[float]]]) -> None:
    print("\nIn process, ms (SQLite | PostgreSQL):")
    print(f"{'kind':<16}{'n':>6}  {'p50':>13}  {'p95':>13}  {'p99':>13}")
    kinds = sorted(times["sqlite"])
    for kind in [*kinds, "ALL"]:
        values = {
            side: ([t for v in times[side].values() for t in v] if kind == "ALL" else times[side][kind])
            for side in times
        }
        cells = [
            f"{percentile(values['sqlite'], p):>6.1f}|{percentile(values['postgresql'], p):<6.1f}"
            for p in (50, 95, 99)
        ]
        print(f"{kind:<16}{len(values['sqlite']):>6}  " + "  ".join(f"{c:>13}" for c in cells))


def run(
    sqlite_db: str | None, url: str | None, source: Path, reference: Path, requests: int, seed: int = SEED
):
    """Build what is missing, then compare and time both backends."""
    with tempfile.TemporaryDirectory(prefix="annuaire-parity-") as tmp:
        if not sqlite_db:
            sqlite_db = str(Path(tmp) / "annuaire.db")
            print(f"SQLite build: {build(source, reference, sqlite_db):.1f} s")
        server = None
        if not url:
            from postgres_server import PostgresServer

            server = PostgresServer().start()
            url = server.create_database("annuaire")
            print(f"PostgreSQL build: {build(source, reference, url):.1f} s")
        try:
            queries = [(kind, SearchQuery(q.filters, tri=q.tri, page=q.page, par_page=20, facettes=True))
                       for kind, q in workload(Path(sqlite_db), requests, seed)]  # fmt: skip
            print_times(compare(sqlite_db, url, queries))
        finally:
            if server is not None:
                server.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sqlite", help="a built SQLite directory (default: build the snapshot)")
    ap.add_argument("--postgres", help="a built PostgreSQL directory's URL (default: private server + build)")
    ap.add_argument("--source", type=Path, default=SHARED / "data/of/liste-publique-of-M.csv.gz")
    ap.add_argument("--reference", type=Path, default=SHARED / "data/reference")
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args()
    run(args.sqlite, args.postgres, args.source, args.reference, args.requests, args.seed)


if __name__ == "__main__":
    main()
