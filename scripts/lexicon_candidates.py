#!/usr/bin/env python3
"""Candidate entries for the search lexicon (src/annuaire/search/data/lexique.toml), from the RNCP's
open data, for a person to review. Nothing here is loaded by the product.

    python scripts/lexicon_candidates.py [--titles rncp-intitules-nsf.csv] [--nsf rncp-nsf-v1.4-cp1252.csv]
                                         [--min-titles 4] [--min-share 0.6]

Reads the RNCP certification titles with their NSF codes (`code_rncp,intitule,niveau,abrege,
codes_nsf`, UTF-8) and, if given, France compétences' RNCP → NSF table (`CodeRNCP;code;Libelle`,
Windows-1252), and prints, for every word and two- or three-word phrase of the titles (compared
on the lexicon's keys: folded, singular, linking words dropped), how many titles hold it and the
NSF group (three digits) most of them belong to, with its share. Phrases whose group is clear
(--min-share) and frequent enough (--min-titles) are candidates; each line says whether the
lexicon already has the phrase, and flags the lexicon's terms that the titles place elsewhere.

By default the files are read from $ANNUAIRE_SHARED_DIR/data/real (../shared/data/real).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import re
from collections import Counter, defaultdict
from pathlib import Path

from annuaire.search.lexicon import default_lexicon, term_key

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("ANNUAIRE_SHARED_DIR", ROOT.parent / "shared"))
# Words of certification titles that name a diploma, a level or a job in general, not a field.
GENERIC = frozenset(
    """METIER TECHNICIEN TECHNICIENNE DIPLOME DIPLOMEE INGENIEUR MASTER LICENCE LP BTS CAP BP BAC PRO
    BT DUT BUT DEUST CQP TP TITRE SPECIALITE OPTION MENTION NIVEAU SUPERIEUR SUPERIEURE ECOLE INSTITUT
    UNIVERSITE NATIONAL NATIONALE CHARGE CHARGEE RESPONSABLE ASSISTANT ASSISTANTE MANAGER CHEF PROJET
    AGENT OPERATEUR OPERATRICE CONSEILLER CONSEILLERE GESTIONNAIRE PROFESSIONNEL PROFESSIONNELLE
    ADJOINT EXPERT SPECIALISTE DIRECTEUR DIRECTRICE CADRE GENERAL GENERALE ET DE DES DU LA LE LES""".split()  # noqa: SIM905
)
_CERTIFIER = re.compile(r"\([^()]*\)\s*$")


def groups_of(codes: str) -> set[str]:
    """NSF groups (three digits) of a list like "326|326n|114b"."""
    return {c[:3] for c in codes.replace(";", "|").split("|") if len(c) >= 3 and c[:3].isdigit()}


def read_titles(path: Path) -> list[tuple[str, set[str]]]:
    with path.open(encoding="utf-8", newline="") as f:
        return [
            (_CERTIFIER.sub("", row["intitule"]), groups_of(row["codes_nsf"]))
            for row in csv.DictReader(f)
            if groups_of(row["codes_nsf"])
        ]


def read_nsf_labels(path: Path) -> dict[str, str]:
    """NSF group code → label, as France compétences' table spells it."""
    labels: dict[str, str] = {}
    text = path.read_bytes().decode("cp1252")
    for row in csv.reader(io.StringIO(text), delimiter=";"):
        if len(row) >= 3 and len(row[1]) == 3 and row[1].isdigit():
            labels.setdefault(row[1], row[2].strip().strip('"'))
    return labels


def phrases(title: str) -> set[tuple[str, ...]]:
    key = [w for w in term_key(title) if w not in GENERIC and not w.isdigit()]
    return {tuple(key[i : i + n]) for n in (1, 2, 3) for i in range(len(key) - n + 1)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--titles", type=Path, default=SHARED / "data/real/rncp-intitules-nsf.csv")
    parser.add_argument("--nsf", type=Path, default=SHARED / "data/real/rncp-nsf-v1.4-cp1252.csv")
    parser.add_argument("--min-titles", type=int, default=4)
    parser.add_argument("--min-share", type=float, default=0.6)
    args = parser.parse_args()

    titles = read_titles(args.titles)
    labels = read_nsf_labels(args.nsf) if args.nsf.is_file() else {}
    seen: dict[tuple[str, ...], Counter] = defaultdict(Counter)
    count: Counter = Counter()
    for title, groups in titles:
        for phrase in phrases(title):
            count[phrase] += 1
            seen[phrase].update(groups)
    lexicon = default_lexicon()
    print(f"# {len(titles):,} titles with an NSF group; {len(seen):,} phrases")
    print("# count  share  group  phrase  [lexicon: its codes | new]  (group label)")
    for phrase, n in sorted(count.items(), key=lambda kv: (-kv[1], kv[0])):
        if n < args.min_titles:
            continue
        group, hits = seen[phrase].most_common(1)[0]
        share = hits / n
        if share < args.min_share:
            continue
        entry = lexicon.by_key.get(phrase)
        status = "new" if entry is None else ",".join(entry.codes) or entry.kind
        flag = "  <-- disagrees" if entry is not None and entry.codes and group not in entry.codes else ""
        print(
            f"{n:6} {share:6.2f}  {group}  {' '.join(phrase):<40} [{status}]  ({labels.get(group, '')}){flag}"
        )
    print("\n# lexicon terms the titles place in another group")
    for key, entry in sorted(lexicon.by_key.items()):
        if entry.codes and count[key] >= args.min_titles:
            group, hits = seen[key].most_common(1)[0]
            if group not in entry.codes:
                words, codes = " ".join(key), ",".join(entry.codes)
                print(f"{words:<40} lexicon {codes}  titles {group} ({hits}/{count[key]})")


if __name__ == "__main__":
    main()
