"""Reference data: La Poste's postal-code base and the COG's communes, départements and régions.

Read from a folder holding:
- `laposte_hexasmal.csv`: La Poste's base (`;`-separated; UTF-8 or Windows-1252; with or without GPS):
  the postal codes of each commune and its position;
- `departements.json` and `regions.json` (as in `@etalab/decoupage-administratif`), or INSEE's COG
  files `v_departement_*.csv` and `v_region_*.csv`: names and the article each takes (`typeLiaison`,
  INSEE's TNCC);
- `communes.json` (the same package's: official names with accents, arrondissements of Paris, Lyon
  and Marseille, postal codes, former codes of merged communes, population), or INSEE's
  `v_commune_*.csv`: the communes as they are named and drawn today. Without either, communes keep
  La Poste's spelling (a warning says so).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import marshal
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from ..clean.commune import CommuneResolver
from ..errors import ReferenceError_
from ..memory import gc_paused
from ..settings import current as current_settings

log = logging.getLogger("annuaire.reference")

LAPOSTE_FILE = "laposte_hexasmal.csv"
DEPARTEMENTS_FILE = "departements.json"
REGIONS_FILE = "regions.json"
CONTOURS_FILE = "departements-contours.geojson"  # optional: outlines drawn under the maps
COMMUNES_FILE = "communes.json"
COG_COMMUNES_CSV = "v_commune_*.csv"


@dataclass
class Reference:
    communes: CommuneResolver
    departements: dict[str, dict]  # code → {nom, region, type_liaison}
    regions: dict[str, dict]  # code → {nom, type_liaison}
    source_dir: Path


def _text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252")


def _pick(header: list[str], *candidates: str) -> int | None:
    keys = [h.strip().lstrip("#").lower() for h in header]
    for c in candidates:
        if c.lower() in keys:
            return keys.index(c.lower())
    return None


def read_laposte(path: Path) -> list[tuple[str, str, str, str, str, float | None, float | None]]:
    try:
        text = _text(path)
    except OSError as exc:
        raise ReferenceError_(f"{path}: cannot read La Poste's base ({exc.strerror})") from None
    reader = csv.reader(io.StringIO(text), delimiter=";")
    header = next(reader, [])
    insee = _pick(header, "Code_commune_INSEE")
    name = _pick(header, "Nom_commune", "Nom_de_la_commune")
    cp = _pick(header, "Code_postal")
    ligne5 = _pick(header, "Ligne_5")
    libelle = _pick(header, "Libellé_d_acheminement", "Libelle_d_acheminement")
    gps = _pick(header, "coordonnees_gps", "coordonnees_geographiques")
    lat_col, lon_col = _pick(header, "latitude"), _pick(header, "longitude")
    if insee is None or name is None or cp is None:
        raise ReferenceError_(
            f"{path}: not La Poste's postal-code base (expected columns Code_commune_INSEE, "
            f"Nom_commune, Code_postal; found {';'.join(header)[:200]})"
        )
    rows = []
    for line in reader:
        if len(line) <= max(insee, name, cp):
            continue
        lat = lon = None
        if gps is not None and gps < len(line) and "," in line[gps]:
            a, b = line[gps].split(",", 1)
            lat, lon = _float(a), _float(b)
        elif lat_col is not None and lon_col is not None and max(lat_col, lon_col) < len(line):
            lat, lon = _float(line[lat_col]), _float(line[lon_col])
        rows.append(
            (
                line[insee].strip().zfill(5),
                line[name].strip(),
                line[cp].strip().zfill(5),
                line[ligne5].strip() if ligne5 is not None and ligne5 < len(line) else "",
                line[libelle].strip() if libelle is not None and libelle < len(line) else "",
                lat,
                lon,
            )
        )
    if not rows:
        raise ReferenceError_(f"{path}: La Poste's base holds no rows")
    return rows


def _float(value: str) -> float | None:
    try:
        return float(value.strip())
    except ValueError:
        return None


def read_cog(folder: Path) -> tuple[dict[str, dict], dict[str, dict]]:
    dep_json, reg_json = folder / DEPARTEMENTS_FILE, folder / REGIONS_FILE
    if dep_json.exists() and reg_json.exists():
        try:
            deps = json.loads(dep_json.read_text(encoding="utf-8"))
            regs = json.loads(reg_json.read_text(encoding="utf-8"))
            return (
                {
                    d["code"]: {
                        "nom": d["nom"],
                        "region": d.get("region"),
                        "type_liaison": d.get("typeLiaison"),
                    }
                    for d in deps
                },
                {r["code"]: {"nom": r["nom"], "type_liaison": r.get("typeLiaison")} for r in regs},
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ReferenceError_(f"{folder}: unreadable COG JSON files ({exc})") from None
    dep_csv = sorted(folder.glob("v_departement_*.csv"))
    reg_csv = sorted(folder.glob("v_region_*.csv"))
    if dep_csv and reg_csv:
        deps = {
            r["DEP"]: {"nom": r["LIBELLE"], "region": r["REG"], "type_liaison": _int(r.get("TNCC"))}
            for r in csv.DictReader(io.StringIO(_text(dep_csv[-1])))
        }
        regs = {
            r["REG"]: {"nom": r["LIBELLE"], "type_liaison": _int(r.get("TNCC"))}
            for r in csv.DictReader(io.StringIO(_text(reg_csv[-1])))
        }
        return deps, regs
    raise ReferenceError_(
        f"{folder}: missing {DEPARTEMENTS_FILE} and {REGIONS_FILE} "
        "(or INSEE's v_departement_*.csv and v_region_*.csv)"
    )


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


# communes.json's kinds, and INSEE's (TYPECOM), as the resolver names them.
_JSON_KINDS = {
    "commune-actuelle": "commune",
    "arrondissement-municipal": "arrondissement",
    "commune-deleguee": "deleguee",
    "commune-associee": "associee",
}
_CSV_KINDS = {"COM": "commune", "ARM": "arrondissement", "COMD": "deleguee", "COMA": "associee"}


def read_cog_communes(folder: Path) -> list[tuple] | None:
    """The COG's communes as `CogCommune` tuples (clean/commune.py), from `communes.json` or INSEE's
    `v_commune_*.csv`; None when the folder has neither."""
    path = folder / COMMUNES_FILE
    if path.exists():
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
            return [
                (
                    e["code"],
                    e["nom"],
                    _JSON_KINDS.get(e.get("type", "commune-actuelle"), "commune"),
                    e.get("commune") or e.get("chefLieu"),
                    e.get("departement"),
                    e.get("region"),
                    tuple(e.get("codesPostaux") or ()),
                    tuple(e.get("anciensCodes") or ()),
                    e.get("population"),
                )
                for e in entries
                if e.get("type", "commune-actuelle") in _JSON_KINDS
            ]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ReferenceError_(f"{path}: unreadable COG communes ({exc})") from None
    found = sorted(folder.glob(COG_COMMUNES_CSV))
    if not found:
        return None
    try:
        rows = list(csv.DictReader(io.StringIO(_text(found[-1]))))
        return [
            (
                r["COM"],
                r["LIBELLE"],
                _CSV_KINDS[r["TYPECOM"]],
                r.get("COMPARENT") or None,
                r.get("DEP") or None,
                r.get("REG") or None,
                (),
                (),
                None,
            )
            for r in rows
            if r.get("TYPECOM") in _CSV_KINDS
        ]
    except (OSError, KeyError, csv.Error) as exc:
        raise ReferenceError_(f"{found[-1]}: unreadable COG communes ({exc})") from None


# The code that turns the files into the indexes: a change to it must not reuse indexes it made before.
_INDEXING_CODE = ("clean/commune.py", "clean/names.py", "clean/postal.py", "sources/reference.py")
_CACHED_REFERENCES = 3


def _cache_file(folder: Path) -> Path:
    """Where the parsed reference of `folder` is cached: named after a digest of the folder's files
    (their content, not their dates), of the indexing code and of the Python version (marshal's
    format is Python's own)."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{sys.version_info[:2]} {marshal.version}".encode())
    package = Path(__file__).resolve().parent.parent
    for name in _INDEXING_CODE:
        digest.update((package / name).read_bytes())
    read = [
        LAPOSTE_FILE,
        DEPARTEMENTS_FILE,
        REGIONS_FILE,
        COMMUNES_FILE,
        "v_departement_*.csv",
        "v_region_*.csv",
        COG_COMMUNES_CSV,
    ]
    for path in sorted({p for pattern in read for p in folder.glob(pattern)}):
        if path.is_file():
            digest.update(path.name.encode() + b"\0")
            with path.open("rb") as fh:
                digest.update(hashlib.file_digest(fh, "blake2b").digest())
    return current_settings().cache_dir / "reference-index" / f"{digest.hexdigest()}.marshal"


def _from_mirror(folder: Path) -> bool:
    """A mirror serves offline runs that leave the cache alone: its reference is not cached."""
    mirror = current_settings().mirror
    return mirror is not None and folder.resolve().is_relative_to(mirror.resolve())


def _read_cached(cache: Path, folder: Path) -> Reference | None:
    try:
        state = marshal.loads(cache.read_bytes())
        return Reference(
            CommuneResolver.from_state(state["communes"]), state["departements"], state["regions"], folder
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, EOFError, TypeError, KeyError) as exc:  # damaged: parse the files again
        log.warning("unreadable reference cache, ignored", extra={"file": str(cache), "error": str(exc)})
        return None


def _write_cached(cache: Path, reference: Reference) -> None:
    """Best effort: a cache that cannot be written costs the next build a second, nothing more."""
    state = {
        "communes": reference.communes.to_state(),
        "departements": reference.departements,
        "regions": reference.regions,
    }
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        # A few references at a time (the tests use several): the oldest are stale.
        older = sorted(cache.parent.glob("*.marshal"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in older[_CACHED_REFERENCES - 1 :]:
            old.unlink(missing_ok=True)
        temp = cache.with_name(f".{cache.name}.{os.getpid()}")
        temp.write_bytes(marshal.dumps(state))
        os.replace(temp, cache)
    except OSError as exc:
        log.debug("reference cache not written", extra={"file": str(cache), "error": str(exc)})


def load_reference(folder: Path) -> Reference:
    """Read the reference folder, or the indexes built from the same files by an earlier run."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ReferenceError_(f"{folder}: reference folder not found")
    laposte = folder / LAPOSTE_FILE
    if not laposte.exists():
        raise ReferenceError_(f"{folder}: missing {LAPOSTE_FILE} (La Poste's postal-code base)")
    try:
        cache = None if _from_mirror(folder) else _cache_file(folder)
    except OSError:
        cache = None
    with gc_paused():
        cached = _read_cached(cache, folder) if cache else None
        if cached is not None:
            return cached
        departements, regions = read_cog(folder)
        dep_region = {code: d["region"] for code, d in departements.items() if d.get("region")}
        cog = read_cog_communes(folder)
        if cog is None:
            log.warning(
                "no COG communes in the reference folder: communes keep La Poste's spelling",
                extra={"folder": str(folder), "expected": f"{COMMUNES_FILE} or {COG_COMMUNES_CSV}"},
            )
        reference = Reference(
            CommuneResolver(read_laposte(laposte), dep_region, cog or ()), departements, regions, folder
        )
    if cache:
        _write_cached(cache, reference)
    return reference
