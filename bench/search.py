#!/usr/bin/env python3
"""Search speed on the 150,000-organisation directory, in process and over HTTP.

    python bench/search.py [--db annuaire.db] [--queries 10000] [--duration 20] [--connections 64]

1. In process: a mixed workload of --queries searches (text as typed, text + filters, filters
   only, radius around a place sorted by distance, facets, identifiers, later pages and sorts,
   and a fifth of what people type: needs, needs and scopes with a place, places alone, needs
   and names with a typing mistake, as bench/relevance.py's kinds), drawn at random (seeded) from
   the directory's own names, places and codes. Prints p50, p95, p99 and max per kind and overall
   (target: p95 ≤ 20 ms).
2. Over HTTP on loopback: `annuaire serve --workers 2` under wrk with --connections clients
   replaying the same workload as URLs (targets: ≥ 500 requests/s, p99 ≤ 150 ms, 0 errors).
3. In the same run, the same full-text queries against `annuaire serve --workers 1` and against
   Datasette serving the same file (one process, its table search through our FTS5 index), side by
   side with their ratio.

With --db postgresql://…, the same workload runs in process on that PostgreSQL directory and on a
SQLite build of --source, side by side, answers compared (bench/parity.py).

Without --db, the benchmark snapshot is built first (without geocoding: coordinates are commune
centroids, which is enough to time radius searches). Needs wrk (apt-get install wrk); Datasette is
installed from PyPI into .cache/datasette-venv on first use.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

from annuaire.search import SearchQuery, open_searcher
from annuaire.search.params import SCOPES, Filters
from annuaire.search.text import STOPWORDS
from common import annuaire_command, build_without_geocoding  # bench/common.py
from relevance import NEEDS, typo  # bench/relevance.py
from relevance import SCOPES as SCOPE_WORDS

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("ANNUAIRE_SHARED_DIR", ROOT.parent / "shared"))
DATASETTE = "datasette==0.65.5"
PEOPLE_SHARE = 0.2  # of the workload: what people type (needs, places, typos)
NEED_PHRASES = sorted({p for phrases in NEEDS.values() for p in phrases})
SCOPE_PHRASES = sorted({p for phrases in SCOPE_WORDS.values() for p in phrases})


# -- workload ----------------------------------------------------------------------------------


def workload(db: Path, count: int, seed: int = 20261123) -> list[tuple[str, SearchQuery]]:
    """(kind, query) pairs drawn from the directory's content."""
    rng = random.Random(seed)
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)

    def column(sql: str) -> list:
        return [row[0] for row in conn.execute(sql)]

    def distinct(name: str, table: str = "recherche") -> list:
        return column(f"SELECT DISTINCT {name} FROM {table} WHERE {name} IS NOT NULL")

    names = column("SELECT nom FROM recherche WHERE statut = 'actif'")
    communes = distinct("commune", "organismes")
    departements = distinct("code_departement")
    regions = distinct("code_region")
    places = distinct("code_commune_insee")
    postcodes = column(
        """SELECT DISTINCT p.code_postal FROM codes_postaux p
           JOIN communes c ON c.code_insee = p.code_insee WHERE c.latitude IS NOT NULL"""
    )
    specialities = column("SELECT code FROM specialites")
    identifiers = [
        r for r in conn.execute("SELECT nda_principal, siret FROM organismes WHERE siret IS NOT NULL")
    ]
    conn.close()
    # Words to type alone: not a stop word, which alone is no search (the API answers 422).
    words = [w for n in names for w in n.split() if len(w) >= 3 and w not in STOPWORDS]

    def typed() -> str:
        """A name as someone types it: one to three of its words, the last one cut short."""
        parts = rng.choice(names).split()[: rng.randint(1, 3)] if rng.random() < 0.6 else [rng.choice(words)]
        if all(p in STOPWORDS for p in parts):
            parts = [rng.choice(words)]
        last = parts[-1]
        parts[-1] = last[: rng.randint(min(len(last), 3), len(last))]
        text = " ".join(parts)
        return text.lower() if rng.random() < 0.5 else text

    def filters() -> dict:
        pick = rng.random()
        if pick < 0.35:
            return {"departement": rng.choice(departements)}
        if pick < 0.55:
            return {"portees": tuple(rng.sample(SCOPES, rng.randint(1, 2)))}
        if pick < 0.7:
            return {"region": rng.choice(regions)}
        if pick < 0.85:
            return {"specialite": rng.choice(specialities)}
        return {"certifie": rng.random() < 0.7, "departement": rng.choice(departements)}

    place_names = [c for c in communes if c]

    def typed_by_people() -> tuple[str, dict]:
        """What people type (bench/relevance.py's kinds): a need, a need or a scope with a place, a
        place alone, a need or a name with a typing mistake."""
        pick = rng.random()
        need = rng.choice(NEED_PHRASES)
        if pick < 0.25:
            return "besoin", {"q": need}
        if pick < 0.5:
            place = rng.choice(place_names) if rng.random() < 0.8 else rng.choice(postcodes)
            return "besoin+lieu", {"q": f"{need} {'à ' if rng.random() < 0.2 else ''}{place}"}
        if pick < 0.65:
            return "portee+lieu", {"q": f"{rng.choice(SCOPE_PHRASES)} {rng.choice(place_names)}"}
        if pick < 0.8:
            return "lieu", {"q": rng.choice(place_names)}
        if pick < 0.9:
            return "besoin-faute", {"q": typo(rng, need) or need}
        name = rng.choice(names)
        return "nom-faute", {"q": typo(rng, name.lower() if rng.random() < 0.5 else name) or name}

    out = []
    for _ in range(count):
        r = rng.random()
        if r < PEOPLE_SHARE:
            kind, f = typed_by_people()
            out.append((kind, SearchQuery(Filters(**f))))
            continue
        r = (r - PEOPLE_SHARE) / (1 - PEOPLE_SHARE)
        if r < 0.30:
            kind, f, extra = "texte", {"q": typed()}, {}
        elif r < 0.45:
            kind, f, extra = "texte+filtres", {"q": typed(), **filters()}, {}
        elif r < 0.55:
            kind, f, extra = "texte+commune", {"q": f"{rng.choice(words)} {rng.choice(communes)}"}, {}
        elif r < 0.68:
            kind, f, extra = "filtres", filters(), {"tri": rng.choice(["pertinence", "nom", "date"])}
        elif r < 0.83:
            centre = {"autour": rng.choice(places if rng.random() < 0.5 else postcodes)}
            f = {**centre, "rayon_km": rng.choice([2.0, 5.0, 10.0, 20.0, 50.0])}
            if rng.random() < 0.4:
                f.update(filters())
                f.pop("departement", None)
                f.pop("region", None)
            kind, extra = "rayon", {"tri": "distance"}
        elif r < 0.93:
            kind = "facettes"
            f = rng.choice([{"q": typed()}, filters(), {}, {"q": typed(), **filters()}])
            extra = {"facettes": True}
        elif r < 0.97:
            nda, siret = rng.choice(identifiers)
            value = nda if rng.random() < 0.5 else siret
            spaced = " ".join(value[i : i + 3] for i in range(0, len(value), 3))
            kind, f, extra = "identifiant", {"q": spaced}, {}
        else:
            kind, f, extra = (
                "pages",
                filters(),
                {"page": rng.randint(2, 50), "tri": rng.choice(["nom", "date"])},
            )
        out.append((kind, SearchQuery(Filters(**f), **extra)))
    return out


def as_url(query: SearchQuery) -> str:
    f = query.filters
    params: list[tuple[str, str]] = []
    for name in ("q", "departement", "region", "commune", "code_postal", "specialite", "autour"):
        value = getattr(f, name)
        if value:
            params.append((name, value))
    params += [("portee", p) for p in f.portees]
    if f.certifie is not None:
        params.append(("certifie", "true" if f.certifie else "false"))
    if f.autour or f.lat is not None:
        params.append(("rayon", f"{f.rayon_km:g}"))
    if query.tri != "pertinence":
        params.append(("tri", query.tri))
    if query.page != 1:
        params.append(("page", str(query.page)))
    if query.facettes:
        params.append(("facettes", "true"))
    return "/api/v1/organismes?" + urlencode(params)


# -- in process --------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def in_process(db: Path, queries: list[tuple[str, SearchQuery]]) -> None:
    searcher = open_searcher(str(db))
    started = time.perf_counter()
    searcher.warm_up()
    print(f"search columns loaded in {time.perf_counter() - started:.2f} s")
    for _, q in queries[:200]:  # warm the page cache and the connection
        searcher.search(q.checked())
    times: dict[str, list[float]] = {}
    errors = 0
    for kind, q in queries:
        t0 = time.perf_counter()
        try:
            searcher.search(q.checked())
        except Exception as exc:  # counted and shown: a benchmark must not hide failures
            errors += 1
            print(f"  error on {q}: {exc}")
        times.setdefault(kind, []).append((time.perf_counter() - t0) * 1000)
    everything = [t for v in times.values() for t in v]
    print(f"\nIn process: {len(everything):,} queries, {errors} errors")
    print(f"{'kind':<16}{'n':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for kind, values in sorted(times.items()) + [("ALL", everything)]:
        print(
            f"{kind:<16}{len(values):>7}{percentile(values, 50):>9.2f}{percentile(values, 95):>9.2f}"
            f"{percentile(values, 99):>9.2f}{max(values):>9.2f}"
        )
    p95 = percentile(everything, 95)
    print(f"p95 overall: {p95:.2f} ms (target ≤ 20 ms): {'OK' if p95 <= 20 else 'MISSED'}")
    searcher.close()


# -- over HTTP ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout:.0f} s")


class Server:
    def __init__(self, cmd: list[str], url: str, env: dict | None = None):
        self.cmd, self.url, self.env = cmd, url, env

    def __enter__(self):
        self.proc = subprocess.Popen(
            self.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=self.env
        )
        try:
            wait_for(self.url)
        except SystemExit:
            self.proc.kill()
            raise SystemExit(
                f"{' '.join(self.cmd)} did not start:\n{self.proc.stderr.read().decode()[-2000:]}"
            ) from None
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


WRK_SCRIPT = """
local paths = {}
for line in io.lines("%s") do paths[#paths + 1] = line end
local counter = 0
local id = 0
setup = function(thread) thread:set("id", id); id = id + 1 end
init = function(args) counter = id * 7919 end
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end
"""


def to_ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(base: str, paths: list[str], connections: int, duration: int, tmp: Path) -> dict:
    listing = tmp / f"paths-{len(paths)}-{abs(hash(base))}.txt"
    listing.write_text("\n".join(paths) + "\n", encoding="utf-8")
    script = tmp / "replay.lua"
    script.write_text(WRK_SCRIPT % listing, encoding="utf-8")
    done = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{duration}s",
            "--timeout",
            "10s",
            "--latency",
            "-s",
            str(script),
            base,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    latency = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", done, re.M))
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", done))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", done)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", done).group(1)),
        "requests": int(re.search(r"(\d+) requests in", done).group(1)),
        "p50": to_ms(latency["50"]),
        "p99": to_ms(latency["99"]),
        "errors": errors + (int(non2xx.group(1)) if non2xx else 0),
    }


def datasette_bin() -> Path:
    venv = Path(os.environ.get("ANNUAIRE_DATASETTE_VENV", ROOT / ".cache" / "datasette-venv"))
    binary = venv / "bin" / "datasette"
    if not binary.exists():
        print(f"installing {DATASETTE} into {venv} …")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", DATASETTE], check=True)
    return binary


def over_http(db: Path, queries: list[tuple[str, SearchQuery]], args, tmp: Path) -> None:
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed for the HTTP benchmark (apt-get install wrk)")
    annuaire = annuaire_command()
    urls = [as_url(q) for _, q in queries]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve = [annuaire, "serve", "--db", str(db), "--port", str(port), "--rate-limit", "0"]
    with Server([*serve, "--workers", str(args.workers)], base + "/api/v1/stats"):
        for url in urls[:300]:
            urllib.request.urlopen(base + url).read()
        mixed = run_wrk(base, urls, args.connections, args.duration, tmp)
    print(
        f"\nOver HTTP, mixed workload, {args.connections} connections, {args.duration} s,"
        f" {args.workers} workers (wrk on the same machine):"
    )
    print(
        f"  {mixed['rps']:,.0f} requests/s (target ≥ 500), p50 {mixed['p50']:.1f} ms,"
        f" p99 {mixed['p99']:.1f} ms (target ≤ 150 ms), errors {mixed['errors']} (target 0),"
        f" {mixed['requests']:,} requests"
    )

    # The same full-text queries, one process each: annuaire's API against Datasette's table search.
    texts = [q.filters.q for kind, q in queries if kind == "texte"][:2000]
    ours = ["/api/v1/organismes?" + urlencode({"q": t, "par_page": 20}) for t in texts]
    theirs = [
        f"/{db.stem}/organismes.json?"
        + urlencode(
            {"_search": t, "_fts_table": "organismes_fts", "_fts_pk": "id", "_size": 20, "_shape": "objects"}
        )
        for t in texts
    ]
    results = {}
    with Server([*serve, "--workers", "1"], base + "/api/v1/stats"):
        results["annuaire"] = run_wrk(base, ours, args.connections, args.duration, tmp)
    port = free_port()
    other = f"http://127.0.0.1:{port}"
    datasette = [
        str(datasette_bin()),
        "serve",
        "-i",
        str(db),
        "-p",
        str(port),
        "--setting",
        "sql_time_limit_ms",
        "10000",
    ]
    with Server(datasette, other + "/-/versions.json"):
        results["datasette"] = run_wrk(other, theirs, args.connections, args.duration, tmp)
    print(f"\nFull-text search only ({len(texts):,} typed queries, 20 results a page), one process each:")
    print(f"{'server':<12}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for name, r in results.items():
        print(f"{name:<12}{r['rps']:>10,.0f}{r['p50']:>10.1f}{r['p99']:>10.1f}{r['errors']:>8}")
    ratio = results["annuaire"]["rps"] / max(results["datasette"]["rps"], 1e-9)
    print(f"annuaire / datasette throughput: {ratio:.2f}x")
    print(
        "(Datasette matches whole words through the same FTS5 index and returns rows; annuaire matches"
        " the last word as a prefix, ranks, and returns organisation summaries.)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--db",
        help="a built directory (default: build the benchmark snapshot); a postgresql:// URL runs the "
        "workload in process on it and on SQLite side by side, checking their answers (bench/parity.py)",
    )
    ap.add_argument("--source", type=Path, default=SHARED / "data/of/liste-publique-of-M.csv.gz")
    ap.add_argument("--reference", type=Path, default=SHARED / "data/reference")
    ap.add_argument("--queries", type=int, default=10_000)
    ap.add_argument("--duration", type=int, default=20, help="seconds per HTTP run")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2, help="annuaire serve workers for the mixed workload")
    ap.add_argument("--no-http", action="store_true", help="in-process figures only")
    args = ap.parse_args()
    if args.db and args.db.startswith(("postgresql://", "postgres://")):
        from parity import run as side_by_side

        side_by_side(None, args.db, args.source, args.reference, args.queries)
        return
    with tempfile.TemporaryDirectory(prefix="annuaire-bench-search-") as tmp:
        tmp = Path(tmp)
        db = Path(args.db) if args.db else None
        if db is None:
            db = tmp / "annuaire.db"
            build_without_geocoding(args.source, db, args.reference)
        queries = workload(db, args.queries)
        kinds = statistics.multimode([k for k, _ in queries])
        print(f"directory: {db}; workload: {len(queries):,} queries (most common kind: {', '.join(kinds)})")
        in_process(db, queries)
        if not args.no_http:
            over_http(db, queries, args, tmp)


if __name__ == "__main__":
    main()
