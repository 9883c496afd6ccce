#!/usr/bin/env python3
"""Website page times on the 150,000-organisation directory, server side, in process.

    python bench/pages.py [--db annuaire.db] [--organisations 2000] [--seed 20261123]

Requests go through the ASGI app itself (httpx's ASGI transport: no socket, no client parsing), so
the figures are the server's time to route, query and render a page. Timed, with p50, p95, p99 and
max each: organisation pages (a seeded random sample, at their canonical URLs), département pages
(every département, its first page and one later page of its list), commune pages, search pages;
and, as baselines in the same run, the /api/v1/stats endpoint (a cached JSON answer) and a static
file. Target: organisation and département pages p95 ≤ 50 ms.

Without --db, the benchmark snapshot is built first (without geocoding).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from annuaire.api import ApiSettings, create_app
from annuaire.web.slugs import commune_path, departement_path, organisation_path
from common import build_without_geocoding  # bench/common.py

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("ANNUAIRE_SHARED_DIR", ROOT.parent / "shared"))
TARGET_MS = 50.0


def urls(app, organisations: int, seed: int) -> dict[str, list[str]]:
    rng = random.Random(seed)
    searcher = app.state.searcher
    entries = searcher.sitemap_entries()
    picked = rng.sample(entries, min(organisations, len(entries)))
    orgs = [
        organisation_path(
            {
                "id_organisme": e[0],
                "denomination": e[1],
                "code_departement": e[2],
                "code_commune_insee": e[3],
                "commune": e[4],
            }
        )
        for e in picked
    ]
    departements = []
    for d in searcher.departements():
        if d["nb_organismes"]:
            departements.append(departement_path(d["code"]))
            pages = -(-d["nb_organismes"] // 20)
            if pages > 1:
                departements.append(departement_path(d["code"]) + f"?page={rng.randint(2, min(pages, 500))}")
    communes = sorted({(e[2], e[4], e[3]) for e in picked if e[2] and e[3]})
    words = [e[1].split()[0] for e in rng.sample(entries, 300)]
    return {
        "baseline: /api/v1/stats": ["/api/v1/stats"] * 500,
        "baseline: static file": ["/static/site/site.css"] * 500,
        "organisation page": orgs,
        "département page": departements,
        "commune page": [commune_path(*c) for c in communes[:500]],
        "search page": [f"/recherche?q={w}" for w in words],
    }


async def measure(app, groups: dict[str, list[str]]) -> dict[str, np.ndarray]:
    transport = httpx.ASGITransport(app=app)
    timings: dict[str, np.ndarray] = {}
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for url in [u for group in groups.values() for u in group[:5]]:  # warm the code paths
            await client.get(url)
        for kind, paths in groups.items():
            times = []
            for path in paths:
                start = time.perf_counter()
                response = await client.get(path)
                times.append((time.perf_counter() - start) * 1000)
                if response.status_code != 200:
                    raise SystemExit(f"{path}: HTTP {response.status_code}")
            timings[kind] = np.array(times)
    return timings


def report(timings: dict[str, np.ndarray]) -> bool:
    print(f"{'kind':<28}{'requests':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    ok = True
    for kind, t in timings.items():
        p50, p95, p99 = np.percentile(t, [50, 95, 99])
        line = f"{kind:<28}{len(t):>9}{p50:>9.2f}{p95:>9.2f}{p99:>9.2f}{t.max():>9.2f}"
        if kind in ("organisation page", "département page"):
            met = p95 <= TARGET_MS
            ok &= met
            line += f"   target p95 ≤ {TARGET_MS:g} ms: {'met' if met else 'MISSED'}"
        print(line)
    base = np.percentile(timings["baseline: /api/v1/stats"], 95)
    for kind in ("organisation page", "département page"):
        ratio = np.percentile(timings[kind], 95) / base
        print(f"{kind} p95 = {ratio:.1f} × the /api/v1/stats p95")
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", type=Path, help="a built directory (default: build the benchmark snapshot)")
    ap.add_argument("--source", type=Path, default=SHARED / "data/of/liste-publique-of-M.csv.gz")
    ap.add_argument("--reference", type=Path, default=SHARED / "data/reference")
    ap.add_argument("--organisations", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=20261123)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="annuaire-bench-pages-") as tmp:
        db = args.db
        if db is None:
            db = Path(tmp) / "annuaire.db"
            build_without_geocoding(args.source, db, args.reference)
        app = create_app(ApiSettings(db=str(db), rate_limit_per_minute=0))
        app.state.searcher.warm_up()
        groups = urls(app, args.organisations, args.seed)
        print(f"directory: {db}; {sum(len(g) for g in groups.values()):,} requests in process")
        ok = report(asyncio.run(measure(app, groups)))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
