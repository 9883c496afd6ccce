#!/usr/bin/env python3
"""What SIRENE's stock costs: the build with and without `--sirene-stock`, and a stock of millions of
rows streamed.

    python bench/sirene.py [--source …/liste-publique-of-sans-adresse-M.csv.gz]
                           [--stock …/liste-publique-of-sans-adresse-sirene-etablissements.csv.gz]
                           [--rows 5000000] [--repeat 3] [--skip-build] [--skip-stream]

1. The build of the snapshot without addresses (150,364 rows, no geocoding), without the stock
   (the baseline) and with it, in the same run, best of `--repeat` each: the stock's share of the
   build (target: ≤ 30 % added) and both peak RSS.
2. A stock of `--rows` generated establishments (INSEE's StockEtablissement header and shapes,
   gzipped as data.gouv.fr ships it, the directory's SIRETs spread among strangers, sorted by SIRET
   as INSEE sorts it) streamed by the code `--sirene-stock` runs, in a process of its own: rows/s,
   peak RSS (target: ≤ 1 GiB), and both extrapolated to the real stock's 40 million rows (time
   grows with the rows; memory only with the directory's establishments, which is what it keeps).
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
from pathlib import Path

from common import annuaire_command  # bench/common.py

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("ANNUAIRE_SHARED_DIR", ROOT.parent / "shared"))
REAL_STOCK_ROWS = 40_000_000
HEADER = (
    "siren,nic,siret,statutDiffusionEtablissement,dateCreationEtablissement,trancheEffectifsEtablissement,"
    "anneeEffectifsEtablissement,activitePrincipaleRegistreMetiersEtablissement,"
    "dateDernierTraitementEtablissement,etablissementSiege,nombrePeriodesEtablissement,"
    "complementAdresseEtablissement,numeroVoieEtablissement,indiceRepetitionEtablissement,"
    "dernierNumeroVoieEtablissement,indiceRepetitionDernierNumeroVoieEtablissement,typeVoieEtablissement,"
    "libelleVoieEtablissement,codePostalEtablissement,libelleCommuneEtablissement,"
    "libelleCommuneEtrangerEtablissement,distributionSpecialeEtablissement,codeCommuneEtablissement,"
    "codeCedexEtablissement,libelleCedexEtablissement,codePaysEtrangerEtablissement,"
    "libellePaysEtrangerEtablissement,identifiantAdresseEtablissement,coordonneeLambertAbscisseEtablissement,"
    "coordonneeLambertOrdonneeEtablissement,complementAdresse2Etablissement,numeroVoie2Etablissement,"
    "indiceRepetition2Etablissement,typeVoie2Etablissement,libelleVoie2Etablissement,codePostal2Etablissement,"
    "libelleCommune2Etablissement,libelleCommuneEtranger2Etablissement,distributionSpeciale2Etablissement,"
    "codeCommune2Etablissement,codeCedex2Etablissement,libelleCedex2Etablissement,"
    "codePaysEtranger2Etablissement,libellePaysEtranger2Etablissement,dateDebut,etatAdministratifEtablissement,"
    "enseigne1Etablissement,enseigne2Etablissement,enseigne3Etablissement,denominationUsuelleEtablissement,"
    "activitePrincipaleEtablissement,nomenclatureActivitePrincipaleEtablissement,caractereEmployeurEtablissement"
)
STREETS = ("DE LA REPUBLIQUE", "JEAN JAURES", "DU GENERAL DE GAULLE", "DES ECOLES", "PASTEUR", "VICTOR HUGO")
TYPES = ("RUE", "AV", "BD", "CHE", "PL", "IMP", "ALL", "RTE")


def run_child(cmd: list[str]) -> tuple[float, int, str]:
    """Run a command; (wall seconds, its peak RSS in bytes, its standard output)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    if status != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stderr.read().decode()}")
    return elapsed, usage.ru_maxrss * 1024, out


def luhn_siret(rng: random.Random) -> str:
    """A SIRET passing the Luhn check, as INSEE's are."""
    while True:
        body = f"{rng.randrange(10**12, 10**13):013d}"
        for last in "0123456789":
            digits = [int(c) for c in body + last]
            total = sum(d if i % 2 else (d * 2 - 9 if d * 2 > 9 else d * 2) for i, d in enumerate(digits))
            if total % 10 == 0:
                return body + last


def stock_row(siret: str, rng: random.Random) -> str:
    """One establishment in INSEE's shape: about one in six with partial diffusion ([ND]), one in ten
    closed, positions in Lambert-93."""
    cells = [""] * 53
    cells[0], cells[1], cells[2] = siret[:9], siret[9:], siret
    masked = rng.random() < 0.16
    cells[3] = "P" if masked else "O"
    cells[4], cells[8], cells[9], cells[10] = "2012-04-01", "2025-10-14T03:12:45", "true", "2"
    commune = f"{rng.randrange(1, 96):02d}{rng.randrange(1, 700):03d}"
    if masked:
        for i in (11, 12, 13, 16, 17, 18, 27, 28, 29):
            cells[i] = "[ND]"
    else:
        cells[12], cells[16], cells[17] = str(rng.randrange(1, 300)), rng.choice(TYPES), rng.choice(STREETS)
        cells[18] = f"{commune[:2]}{rng.randrange(0, 999):03d}"
        cells[28] = f"{rng.uniform(100_000, 1_200_000):.1f}"
        cells[29] = f"{rng.uniform(6_050_000, 7_100_000):.1f}"
    cells[19], cells[22] = "COMMUNE", commune
    cells[44] = "2019-01-01"
    cells[45] = "F" if rng.random() < 0.1 else "A"
    cells[49], cells[50], cells[51], cells[52] = "", "85.59A", "NAFRev2", "N"
    return ",".join(cells)


def generate(path: Path, rows: int, wanted: list[str], seed: int = 17) -> None:
    """`rows` establishments, the directory's SIRETs among them, sorted by SIRET, gzipped."""
    rng = random.Random(seed)
    strangers = rows - len(wanted)
    sirets = sorted({luhn_siret(rng) for _ in range(strangers)} | set(wanted))
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=1, newline="") as out:
        out.write(HEADER + "\n")
        batch = []
        for siret in sirets:
            batch.append(stock_row(siret, rng))
            if len(batch) == 10_000:
                out.write("\n".join(batch) + "\n")
                batch = []
        if batch:
            out.write("\n".join(batch) + "\n")


STREAM = """
import json, sys, time
from annuaire.sources.sirene_stock import stock_answers
wanted = json.load(open(sys.argv[2]))
started = time.perf_counter()
answers, report = stock_answers(sys.argv[1], wanted)
report["seconds"] = time.perf_counter() - started
report["kept"] = sum(1 for a in answers if a.etat_administratif)
# The process's own high-water mark (VmHWM, reset at exec): ru_maxrss would count the pages of the
# large parent it was forked from.
status = open("/proc/self/status").read()
report["peak_rss"] = int(status.split("VmHWM:")[1].split()[0]) * 1024
print(json.dumps(report))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", type=Path, default=SHARED / "data/of/liste-publique-of-sans-adresse-M.csv.gz")
    ap.add_argument(
        "--stock",
        type=Path,
        default=SHARED / "data/of/liste-publique-of-sans-adresse-sirene-etablissements.csv.gz",
    )
    ap.add_argument("--reference", type=Path, default=SHARED / "data/reference")
    ap.add_argument("--rows", type=int, default=5_000_000, help="rows of the generated stock")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-build", action="store_true", help="only the generated stock")
    ap.add_argument("--skip-stream", action="store_true", help="only the builds")
    args = ap.parse_args()
    for path in (args.source, args.stock, args.reference):
        if not path.exists():
            sys.exit(f"{path}: not found (set ANNUAIRE_SHARED_DIR)")
    annuaire = annuaire_command()
    with tempfile.TemporaryDirectory(prefix="annuaire-bench-sirene-") as tmp:
        tmp = Path(tmp)
        env_cache = {"ANNUAIRE_CACHE_DIR": str(tmp / "cache")}  # no SIRENE cache: the stock or nothing
        os.environ.update(env_cache)
        db = tmp / "annuaire.db"
        if not args.skip_build:
            base = [annuaire, "build", "--no-progress", "--no-geocode", "--source", str(args.source),
                    "--db", str(db), "--reference", str(args.reference)]  # fmt: skip
            run_child(base)  # warm: the reference's parsed indexes cached, files in the page cache
            without, with_stock = [], []
            for _ in range(args.repeat):
                without.append(run_child(base)[:2])
                with_stock.append(run_child([*base, "--sirene-stock", str(args.stock)])[:2])
                report = json.loads(db.with_name(db.name + ".report.json").read_text(encoding="utf-8"))
            plain, stocked = min(t for t, _ in without), min(t for t, _ in with_stock)
            sirene = report["sirene"]
            print(
                f"snapshot: {args.source.name}; stock: {args.stock.name} ({sirene['stock_rows_read']:,} rows)"
            )
            print(f"build without the stock (baseline): best {plain:.2f} s of {args.repeat}")
            print(
                f"build with --sirene-stock: best {stocked:.2f} s of {args.repeat}: "
                f"+{100 * (stocked / plain - 1):.1f} % (target ≤ 30 %); its SIRENE phase "
                f"{report['timings_seconds']['sirene']:.2f} s (reading the stock {sirene['seconds']:.2f} s)"
            )
            print(
                f"placed by SIRENE: {sirene['placed_by_sirene']:,} declarations, "
                f"{sirene['with_sirene_position']:,} at SIRENE's position"
            )
            print(
                f"peak RSS: {max(p for _, p in without) / 2**20:.0f} MiB without, "
                f"{max(p for _, p in with_stock) / 2**20:.0f} MiB with the stock"
            )
        if not args.skip_stream:
            import csv

            with gzip.open(args.source, "rt", encoding="utf-8", errors="replace", newline="") as fh:
                reader = csv.reader(fh, delimiter=";")
                at = next(reader).index("siretEtablissementDeclarant")
                wanted = sorted({r[at].strip() for r in reader if len(r) > at and len(r[at].strip()) == 14})
            (tmp / "wanted.json").write_text(json.dumps(wanted), encoding="utf-8")
            stock = tmp / "StockEtablissement_utf8.csv.gz"
            started = time.perf_counter()
            generate(stock, args.rows, wanted)
            print(
                f"generated stock: {args.rows:,} rows ({len(wanted):,} of the directory's SIRETs among "
                f"them), {stock.stat().st_size / 2**20:.0f} MiB gzipped, "
                f"in {time.perf_counter() - started:.0f} s"
            )
            seconds, _, out = run_child([sys.executable, "-c", STREAM, str(stock), str(tmp / "wanted.json")])
            report = json.loads(out)
            peak = report["peak_rss"]
            rate = report["stock_rows_read"] / report["seconds"]
            print(
                f"streamed: {report['stock_rows_read']:,} rows in {report['seconds']:.1f} s "
                f"({rate:,.0f} rows/s), {report['kept']:,} establishments kept, "
                f"{report['with_position']:,} with a position; "
                f"process {seconds:.1f} s, peak RSS {peak / 2**20:.0f} MiB (target ≤ 1024 MiB)"
            )
            print(
                f"extrapolated to the real stock ({REAL_STOCK_ROWS / 1e6:.0f} million rows): "
                f"{REAL_STOCK_ROWS / rate / 60:.1f} min; memory the same ({peak / 2**20:.0f} MiB): it "
                "holds the directory's establishments, not the stock's rows"
            )


if __name__ == "__main__":
    main()
