#!/usr/bin/env python3
"""Relevance of the search box on the benchmark snapshot, judged against the snapshot's truth.

    python bench/relevance.py [--db annuaire.db] [--source liste-publique-of-M.csv.gz]
                              [--truth liste-publique-of-truth.csv.gz] [--reference DIR]
                              [--per-kind 100] [--seed 20261204] [--misses 5]

The judged queries are generated at run time (nothing derived from the snapshot is kept in the
repository), in six kinds, as people type them:

- `besoin`: a need ("secourisme", "cours d'anglais", "cariste"): relevant when the organisation has
  the NSF speciality it means (one of the codeSpecialite1..3 of one of its rows);
- `besoin+lieu`: a need and a place ("anglais Lyon", "comptabilité 33000", "cuisine à Rennes");
- `portee+lieu`: a Qualiopi scope and a place ("VAE à Marseille", "bilan de compétences Nantes"):
  relevant when one of the organisation's rows is certified for that scope;
- `lieu`: a commune under its official name ("Saint-Étienne", "Lyon 3e Arrondissement");
- `besoin-faute`: a need with one typing mistake ("secourisem", "comptabilté");
- `nom-faute`: an organisation's name with one typing mistake ("bivoskilgi formation"): a hit
  when the organisation (its truth group) is among the first five results.

An organisation is the truth's `group` (rows of one establishment); its place is its rows'
`commune_insee`, Paris, Lyon and Marseille counting as one city with their arrondissements (a
postal code: the communes it serves). The places asked for are drawn among the communes that hold
relevant organisations, weighted by their number. Every query goes through the API's `q` alone.

Precision@10 is the share of relevant organisations among the first ten results, out of the ten
or of all the relevant organisations when there are fewer. Printed per kind against the
acceptance targets, beside two baselines from the same run: the share of relevant organisations
among all those of the place (what a random order would give), and the typo kinds searched with
`correction=false` (the spelling as typed).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from fastapi.testclient import TestClient

from annuaire.api.app import ApiSettings, create_app
from annuaire.clean.names import CIVILITIES, LEGAL_FORMS, comparison_name, fold
from annuaire.sources.reader import ListePubliqueReader
from common import build_without_geocoding  # bench/common.py

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("ANNUAIRE_SHARED_DIR", ROOT.parent / "shared"))
CITIES = {"75": "75056", "69": "69123", "13": "13055"}  # Paris, Lyon, Marseille
TARGETS = {
    "besoin": 0.9,
    "besoin+lieu": 0.8,
    "portee+lieu": 0.9,
    "lieu": 0.95,
    "besoin-faute": 0.8,
    "nom-faute": 0.9,
}

# What people type for a need, per NSF speciality: common training words, written here as a person
# would type them (not taken from the snapshot, nor from the search lexicon's file).
NEEDS: dict[str, list[str]] = {
    "344": [
        "secourisme",
        "formation secourisme",
        "SST",
        "sauveteur secouriste du travail",
        "incendie",
        "formation incendie",
        "premiers secours",
        "SSIAP",
        "agent de sécurité",
    ],
    "136": [
        "anglais",
        "cours d'anglais",
        "espagnol",
        "FLE",
        "langues",
        "formation anglais",
        "allemand",
        "italien",
        "apprendre l'anglais",
    ],
    "324": ["excel", "bureautique", "formation excel", "secrétariat", "word", "secrétaire"],
    "311": ["cariste", "CACES", "logistique", "permis de conduire", "magasinier", "FIMO", "transport"],
    "255": ["habilitation électrique", "électricité", "électricien"],
    "331": ["aide-soignant", "aide soignante", "infirmier", "santé", "formation aide-soignant"],
    "314": ["comptabilité", "comptable", "formation comptabilité", "gestion comptable"],
    "336": ["coiffure", "esthétique", "coiffeur", "esthéticienne", "onglerie"],
    "221": ["cuisine", "pâtisserie", "boulangerie", "HACCP", "cuisinier"],
    "312": ["vente", "commerce", "marketing", "formation commerciale", "vendeur"],
    "326": ["informatique", "développeur web", "cybersécurité", "programmation", "formation informatique"],
    "315": ["ressources humaines", "recrutement", "formation RH", "paie"],
    "333": ["formation de formateurs", "formateur", "pédagogie"],
    "334": ["hôtellerie", "tourisme", "serveur", "restauration"],
    "335": ["BAFA", "animateur", "BPJEPS"],
    "332": ["petite enfance", "éducateur spécialisé", "travail social"],
    "413": ["développement personnel", "gestion du stress", "prise de parole en public"],
    "415": ["recherche d'emploi", "reconversion professionnelle", "insertion professionnelle"],
    "227": ["photovoltaïque", "climatisation", "génie climatique", "énergie"],
    "232": ["maçonnerie", "maçon", "couvreur"],
    "233": ["plomberie", "peinture en bâtiment", "plaquiste", "carrelage"],
    "234": ["menuiserie", "ébénisterie"],
    "254": ["soudure", "chaudronnerie"],
    "252": ["mécanique auto", "mécanique automobile"],
    "251": ["usinage"],
    "214": ["paysagiste", "espaces verts"],
    "212": ["toilettage", "élevage"],
    "211": ["viticulture", "maraîchage"],
    "343": ["nettoyage", "propreté", "agent d'entretien"],
    "313": ["immobilier", "assurance", "banque"],
    "310": ["création d'entreprise", "management"],
    "128": ["droit", "formation juridique"],
    "124": ["psychologie"],
    "122": ["économie"],
    "133": ["musique", "théâtre", "danse"],
    "411": ["yoga", "sport"],
    "412": ["remise à niveau", "savoirs de base"],
    "321": ["communication", "community manager"],
    "323": ["photographie", "audiovisuel", "montage vidéo"],
    "322": ["graphisme", "imprimerie"],
    "230": ["BTP", "génie civil"],
    "341": ["urbanisme"],
    "423": ["parentalité"],
}
SCOPES: dict[str, list[str]] = {
    "bilans_competences": ["bilan de compétences", "bilans de compétences"],
    "vae": ["VAE", "validation des acquis de l'expérience"],
    "apprentissage": ["apprentissage", "alternance", "CFA", "formation en alternance"],
}
SCOPE_COLUMNS = {
    "actions_formation": "cert_actions",
    "bilans_competences": "cert_bilans",
    "vae": "cert_vae",
    "apprentissage": "cert_apprentissage",
}
AZERTY = ["azertyuiop", "qsdfghjklm", "wxcvbn"]


# -- the truth -----------------------------------------------------------------------------------------


@dataclass
class Group:
    nsf: set[str] = field(default_factory=set)
    scopes: set[str] = field(default_factory=set)
    places: set[str] = field(default_factory=set)  # INSEE codes, arrondissements as their city
    names: list[str] = field(default_factory=list)  # clean rows' names


@dataclass
class Truth:
    groups: dict[str, Group]
    group_of_nda: dict[str, str]
    communes: dict[str, dict]  # INSEE code → the COG's commune (communes.json)
    postcodes: dict[str, set[str]]  # postal code → INSEE codes it serves

    def city(self, code: str) -> str:
        c = self.communes.get(code)
        if c and c.get("type") == "arrondissement-municipal" and c.get("commune"):
            return c["commune"]
        return code


def read_truth(source: Path, truth_path: Path, reference: Path) -> Truth:
    communes = {
        c["code"]: c
        for c in json.loads((reference / "communes.json").read_text(encoding="utf-8"))
        if c.get("type") in ("commune-actuelle", "arrondissement-municipal")
    }
    postcodes: dict[str, set[str]] = defaultdict(set)
    for c in communes.values():
        for cp in c.get("codesPostaux", ()):
            postcodes[cp].add(c["code"])
    truth = Truth({}, {}, communes, postcodes)
    with gzip.open(truth_path, "rt", encoding="utf-8", newline="") as f:
        import csv

        rows = {int(r["row"]): r for r in csv.DictReader(f)}
    seen = 0
    for record in ListePubliqueReader(source):
        seen += 1
        t = rows.get(record.number)
        if t is None or t["kind"] in ("empty", "id_only") or not t["group"]:
            continue
        values = dict(zip(_fields(), record.values, strict=False))
        g = truth.groups.setdefault(t["group"], Group())
        for i in (1, 2, 3):
            code = values.get(f"specialite_code_{i}", "").strip()
            if code:
                g.nsf.add(code[:3])
        for scope, column in SCOPE_COLUMNS.items():
            if values.get(column, "").strip().lower() in ("true", "1", "oui", "vrai"):
                g.scopes.add(scope)
        if t["commune_insee"]:
            g.places.add(truth.city(t["commune_insee"]))
        if not t["tags"]:
            g.names.append(values.get("denomination", ""))
        truth.group_of_nda[t["nda"]] = t["group"]
    if seen != len(rows):
        raise SystemExit(f"{source}: {seen} records but {len(rows)} truth rows: not the same snapshot")
    return truth


def _fields() -> list[str]:
    from annuaire.sources.liste_publique import FIELDS

    return FIELDS


# -- typing mistakes -----------------------------------------------------------------------------------


def neighbours(letter: str) -> str:
    for row in AZERTY:
        i = row.find(letter)
        if i >= 0:
            return row[max(0, i - 1) : i] + row[i + 1 : i + 2]
    return "e"


def typo(rng: random.Random, text: str) -> str | None:
    """The text with one typing mistake in one of its words of five letters or more (a letter
    dropped, doubled, swapped with the next, or hit beside on an AZERTY keyboard); None when it has
    no such word."""
    words = text.split(" ")
    long = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    if not long:
        return None
    i = rng.choice(long)
    w = words[i]
    for _ in range(10):
        k = rng.randrange(1, len(w) - 1)
        op = rng.choice(("drop", "double", "swap", "beside"))
        if op == "drop":
            new = w[:k] + w[k + 1 :]
        elif op == "double":
            new = w[:k] + w[k] + w[k:]
        elif op == "swap":
            new = w[:k] + w[k + 1] + w[k] + w[k + 2 :]
        else:
            lower = w[k].lower()
            near = neighbours(lower)
            repl = rng.choice(near) if near else "e"
            new = w[:k] + (repl.upper() if w[k].isupper() else repl) + w[k + 1 :]
        if fold(new) != fold(w):
            words[i] = new
            return " ".join(words)
    return None


# -- judged queries ------------------------------------------------------------------------------------


@dataclass
class Judged:
    kind: str
    q: str
    relevant: Callable[[Group], bool] | None = None  # precision kinds
    target_group: str | None = None  # name kind
    relevant_total: int = 0
    place_total: int = 0  # organisations in the place (the random baseline's denominator)


def place_name(truth: Truth, code: str, rng: random.Random) -> str:
    c = truth.communes[code]
    return c["nom"]


def judged_queries(truth: Truth, rng: random.Random, per_kind: int) -> list[Judged]:
    groups = truth.groups
    by_place: dict[str, list[str]] = defaultdict(list)
    for gid, g in groups.items():
        for p in g.places:
            by_place[p].append(gid)
    codes = sorted(c for c in NEEDS if sum(c in g.nsf for g in groups.values()) >= 20)
    out: list[Judged] = []

    def need_judged(kind: str, code: str, phrase: str) -> Judged:
        total = sum(code in g.nsf for g in groups.values())
        return Judged(
            kind, phrase, lambda g, c=code: c in g.nsf, relevant_total=total, place_total=len(groups)
        )

    for _ in range(per_kind):
        code = rng.choice(codes)
        out.append(need_judged("besoin", code, rng.choice(NEEDS[code])))
    made = 0
    while made < per_kind:
        code = rng.choice(codes)
        phrase = rng.choice(NEEDS[code])
        if (typed := typo(rng, phrase)) is not None:
            out.append(need_judged("besoin-faute", code, typed))
            made += 1

    def with_place(kind: str, wanted: Callable[[Group], bool], phrase: str) -> Judged | None:
        weights = Counter({p: sum(wanted(groups[g]) for g in gids) for p, gids in by_place.items()})
        places = [p for p, n in weights.items() if n >= 2 and p in truth.communes]
        if not places:
            return None
        place = rng.choices(places, weights=[weights[p] for p in places])[0]
        form = rng.random()
        allowed = {place}
        if form < 0.2:
            served = [cp for cp in truth.communes[place].get("codesPostaux", ())]
            members = [a for a, c in truth.communes.items() if c.get("commune") == place]
            for m in members:
                served += truth.communes[m].get("codesPostaux", ())
            if not served:
                return None
            cp = rng.choice(sorted(set(served)))
            allowed = {truth.city(x) for x in truth.postcodes[cp]}
            q = f"{phrase} {cp}"
        elif form < 0.4:
            q = f"{phrase} à {truth.communes[place]['nom']}"
        else:
            q = f"{phrase} {truth.communes[place]['nom']}"
        in_place = {g for p in allowed for g in by_place.get(p, ())}
        total = sum(wanted(groups[g]) for g in in_place)
        return Judged(
            kind,
            q,
            lambda g, a=frozenset(allowed), w=wanted: bool(g.places & a) and w(g),
            relevant_total=total,
            place_total=len(in_place),
        )

    made = 0
    while made < per_kind:
        code = rng.choice(codes)
        found = with_place("besoin+lieu", lambda g, c=code: c in g.nsf, rng.choice(NEEDS[code]))
        if found is not None:
            out.append(found)
            made += 1
    made = 0
    while made < per_kind:
        scope = rng.choice(sorted(SCOPES))
        found = with_place("portee+lieu", lambda g, s=scope: s in g.scopes, rng.choice(SCOPES[scope]))
        if found is not None:
            out.append(found)
            made += 1
    # Places alone, under their official names, drawn by their organisations.
    places = [p for p in by_place if p in truth.communes]
    weights = [len(by_place[p]) for p in places]
    for _ in range(per_kind):
        place = rng.choices(places, weights=weights)[0]
        arrondissements = [a for a, c in truth.communes.items() if c.get("commune") == place]
        name = (
            truth.communes[rng.choice(arrondissements)]["nom"]
            if arrondissements and rng.random() < 0.5
            else (truth.communes[place]["nom"])
        )
        total = len(by_place[place])
        out.append(
            Judged("lieu", name, lambda g, p=place: p in g.places, relevant_total=total, place_total=total)
        )
    # Names with a mistake: names that few establishments share, as typed (often in lower case).
    # Names that at most two establishments share (words in any order, legal forms aside): a name
    # typed must be able to say which.
    name_count = Counter(n for g in groups.values() for n in {comparison_name(x) for x in g.names})
    candidates = sorted(
        gid for gid, g in groups.items() if g.names and name_count[comparison_name(g.names[0])] <= 2
    )
    made = 0
    while made < per_kind:
        gid = rng.choice(candidates)
        name = " ".join(groups[gid].names[0].split())
        words = name.split()
        if rng.random() < 0.3:
            words = [w for w in words if fold(w) not in LEGAL_FORMS and fold(w) not in CIVILITIES] or words
        name = " ".join(words)
        if rng.random() < 0.5:
            name = name.lower()
        typed = typo(rng, name)
        if typed is not None:
            out.append(Judged("nom-faute", typed, target_group=gid))
            made += 1
    return out


# -- running them --------------------------------------------------------------------------------------


def run(client: TestClient, truth: Truth, judged: Iterable[Judged], correction: bool = True) -> dict:
    scores: dict[str, list[float]] = defaultdict(list)
    misses: dict[str, list[tuple[float, str, dict]]] = defaultdict(list)
    for j in judged:
        params = {"q": j.q, "par_page": 10}
        if not correction:
            params["correction"] = "false"
        answer = client.get("/api/v1/organismes", params=params)
        if answer.status_code != 200:
            scores[j.kind].append(0.0)
            misses[j.kind].append((0.0, j.q, {"status": answer.status_code, "detail": answer.text[:200]}))
            continue
        body = answer.json()
        found = [truth.group_of_nda.get(r["numero_declaration_activite"]) for r in body["resultats"]]
        if j.kind == "nom-faute":
            score = float(j.target_group in found[:5])
        else:
            hits = sum(1 for g in found[:10] if g is not None and j.relevant(truth.groups[g]))
            score = hits / max(1, min(10, j.relevant_total))
        scores[j.kind].append(score)
        if score < 1:
            misses[j.kind].append((score, j.q, body.get("interpretation") or {}))
    return {"scores": scores, "misses": misses}


def baseline_random(judged: list[Judged]) -> dict[str, float]:
    """The precision a random order of the place's organisations would have."""
    out: dict[str, list[float]] = defaultdict(list)
    for j in judged:
        if j.kind != "nom-faute" and j.place_total:
            out[j.kind].append(
                min(1.0, j.relevant_total / j.place_total * 10 / max(1, min(10, j.relevant_total)))
            )
    return {k: sum(v) / len(v) for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", help="a built directory (default: build the snapshot without geocoding)")
    ap.add_argument("--source", type=Path, default=SHARED / "data/of/liste-publique-of-M.csv.gz")
    ap.add_argument("--truth", type=Path, default=SHARED / "data/of/liste-publique-of-truth.csv.gz")
    ap.add_argument("--reference", type=Path, default=SHARED / "data/reference")
    ap.add_argument("--per-kind", type=int, default=100)
    ap.add_argument("--seed", type=int, default=20261204)
    ap.add_argument("--misses", type=int, default=5, help="misses shown per kind")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="annuaire-bench-relevance-") as tmp:
        db = Path(args.db) if args.db else Path(tmp) / "annuaire.db"
        if not args.db:
            build_without_geocoding(args.source, db, args.reference)
        truth = read_truth(args.source, args.truth, args.reference)
        judged = judged_queries(truth, random.Random(args.seed), args.per_kind)
        print(f"{len(truth.groups):,} establishments; {len(judged):,} judged queries (seed {args.seed})")
        app = create_app(ApiSettings(db=str(db), rate_limit_per_minute=0))
        with TestClient(app) as client:
            ours = run(client, truth, judged)
            typos = [j for j in judged if j.kind in ("besoin-faute", "nom-faute")]
            exact = run(client, truth, typos, correction=False)
    random_order = baseline_random(judged)
    print(
        f"\n{'kind':<14}{'queries':>8}{'score':>8}{'target':>8}  {'':6}{'random order':>14}{'as typed':>10}"
    )
    ok = True
    for kind, target in TARGETS.items():
        values = ours["scores"][kind]
        score = sum(values) / len(values)
        metric = "hit@5" if kind == "nom-faute" else "p@10"
        typed = exact["scores"].get(kind)
        met = score >= target
        ok &= met
        print(
            f"{kind:<14}{len(values):>8}{score:>8.3f}{target:>8.2f}  {metric:<6}"
            f"{random_order.get(kind, float('nan')):>14.3f}"
            f"{(sum(typed) / len(typed)) if typed else float('nan'):>10.3f}  {'OK' if met else 'MISSED'}"
        )
    if args.misses:
        print("\nWorst queries per kind (score, query, what was understood):")
        for kind in TARGETS:
            for score, q, seen in sorted(ours["misses"][kind], key=lambda m: m[0])[: args.misses]:
                said = {k: v for k, v in seen.items() if v and k not in ("texte",)}
                print(f"  {kind:<13} {score:.2f}  {q!r:<45} {json.dumps(said, ensure_ascii=False)[:300]}")
    print(json.dumps({k: round(sum(v) / len(v), 4) for k, v in ours["scores"].items()}))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
