"""SIRENE: is an establishment still open, under which legal name and NAF code, and where it is.

Two APIs speak for SIRENE:
- recherche-entreprises (`GET {url}/search?q={siret}`, no token, about 7 requests a second): the
  answer's `results[]` hold legal units (`siren`, `nom_complet`, `nom_raison_sociale`,
  `etat_administratif` A/C, `activite_principale`, `siege` and `matching_etablissements[]`, each with
  `siret`, `etat_administratif` A/F, `date_fermeture`, `activite_principale`);
- INSEE's Sirene API 3.11 (`GET {url}/siret/{siret}`, a bearer token, 30 requests a minute): the answer's
  `etablissement` has `uniteLegale` (`denominationUniteLegale`, `etatAdministratifUniteLegale`…) and
  `periodesEtablissement[]` (the current one first: `etatAdministratifEtablissement` A/F,
  `dateDebut`, `activitePrincipaleEtablissement`) and `adresseEtablissement`; 404 for an unknown SIRET.

Both give the establishment's address (street, postal code, commune's INSEE code) and position:
recherche-entreprises in latitude/longitude, INSEE in Lambert-93 or UTM (geocoding/projection.py).
Under partial diffusion (`statutDiffusionEtablissement` P) the street and the position are masked
(`[ND]`, `[NON-DIFFUSIBLE]`): only the commune is known.

Requests are throttled by a token bucket (requests per minute), retried with exponential backoff on
429, 5xx and broken connections (honouring `Retry-After`), and every answer is kept in a SQLite cache
keyed by SIRET with its date: an interrupted run, run again, asks only what it lacks.
"""

from __future__ import annotations

import email.utils
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

import httpx

from ..errors import DownloadError
from .download import HEADERS

log = logging.getLogger("annuaire.sirene")

RECHERCHE_ENTREPRISES_URL = "https://recherche-entreprises.api.gouv.fr"
INSEE_URL = "https://api.insee.fr/entreprises/sirene/V3.11"
RETRIED = {429, 500, 502, 503, 504}


class TokenBucket:
    """At most `rate_per_minute` acquisitions a minute, `burst` at once. The clock and the sleep are
    injectable (tests)."""

    def __init__(
        self,
        rate_per_minute: float,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if rate_per_minute <= 0:
            raise ValueError("the rate must be positive")
        self.interval = 60.0 / rate_per_minute
        self.burst = max(1, burst)
        self.clock = clock
        self.sleep = sleep
        self.tokens = float(self.burst)
        self.updated = clock()
        self.lock = threading.Lock()

    def acquire(self) -> None:
        with self.lock:
            while True:
                now = self.clock()
                self.tokens = min(self.burst, self.tokens + (now - self.updated) / self.interval)
                self.updated = now
                if self.tokens >= 1 - 1e-9:  # (rounding must not leave it waiting for 1e-17 s forever)
                    self.tokens = max(0.0, self.tokens - 1)
                    return
                self.sleep((1 - self.tokens) * self.interval)


@dataclass(slots=True)
class Etablissement:
    siret: str
    etat_administratif: str | None  # A, F; None: unknown to SIRENE
    date_fermeture: str | None = None
    denomination: str | None = None
    activite_principale: str | None = None
    etat_unite_legale: str | None = None
    # Where it is (None when SIRENE does not say, or masks it):
    adresse: str | None = None  # the street line: "12 BIS RUE DE LA PAIX"
    code_postal: str | None = None
    code_commune: str | None = None  # INSEE code
    latitude: float | None = None  # WGS 84
    longitude: float | None = None
    diffusion: str | None = None  # O, or P (partial: street and position masked)


MASKED = ("[ND]", "[NON-DIFFUSIBLE]")  # what the stock and the APIs write for a masked value
# INSEE's abbreviations of street types (`typeVoieEtablissement`), spelled out as the BAN knows them.
STREET_TYPES = {
    "ALL": "ALLEE",
    "AV": "AVENUE",
    "BD": "BOULEVARD",
    "CAR": "CARREFOUR",
    "CHE": "CHEMIN",
    "CHS": "CHAUSSEE",
    "CITE": "CITE",
    "COR": "CORNICHE",
    "CRS": "COURS",
    "DOM": "DOMAINE",
    "DSC": "DESCENTE",
    "ECA": "ECART",
    "ESP": "ESPLANADE",
    "FG": "FAUBOURG",
    "GR": "GRANDE RUE",
    "HAM": "HAMEAU",
    "HLE": "HALLE",
    "IMP": "IMPASSE",
    "LD": "LIEU DIT",
    "LOT": "LOTISSEMENT",
    "MAR": "MARCHE",
    "MTE": "MONTEE",
    "PARC": "PARC",
    "PAS": "PASSAGE",
    "PL": "PLACE",
    "PLN": "PLAINE",
    "PLT": "PLATEAU",
    "PRO": "PROMENADE",
    "PRV": "PARVIS",
    "QUA": "QUARTIER",
    "QUAI": "QUAI",
    "RES": "RESIDENCE",
    "RLE": "RUELLE",
    "ROC": "ROCADE",
    "RPT": "ROND POINT",
    "RTE": "ROUTE",
    "RUE": "RUE",
    "SEN": "SENTIER",
    "SQ": "SQUARE",
    "TPL": "TERRE PLEIN",
    "TRA": "TRAVERSE",
    "VLA": "VILLA",
    "VLGE": "VILLAGE",
    "VOIE": "VOIE",
}
REPETITIONS = {"B": "BIS", "T": "TER", "Q": "QUATER", "C": "QUINQUIES"}


def given(value) -> str | None:
    """A value as SIRENE gives it, or None: empty or masked."""
    if value is None:
        return None
    text = str(value).strip()
    return None if not text or text in MASKED else text


def street_line(number, repetition, kind, label) -> str | None:
    """INSEE's split street ("12", "B", "RUE", "DE LA PAIX") as one line: "12 BIS RUE DE LA PAIX";
    None when the street is masked or missing."""
    label = given(label)
    if not label:
        return None
    return joined_street(given(number), given(repetition), given(kind), label)


def joined_street(number: str | None, repetition: str | None, kind: str | None, label: str) -> str:
    """`street_line` for values already read (stripped, None when empty or masked)."""
    if kind:
        kind = STREET_TYPES.get(kind.upper(), kind)
    if repetition:
        repetition = REPETITIONS.get(repetition.upper(), repetition)
    return " ".join(p for p in (number, repetition, kind, label) if p)


def _coordinate(value) -> float | None:
    text = given(value)
    try:
        return float(text) if text else None
    except ValueError:
        return None


def parse_recherche_entreprises(siret: str, body: dict) -> Etablissement:
    for unit in body.get("results") or []:
        if unit.get("siren") != siret[:9]:
            continue
        candidates = list(unit.get("matching_etablissements") or [])
        if unit.get("siege"):
            candidates.append(unit["siege"])
        for etab in candidates:
            if etab.get("siret") == siret:
                return Etablissement(
                    siret,
                    etab.get("etat_administratif"),
                    etab.get("date_fermeture"),
                    unit.get("nom_raison_sociale") or unit.get("nom_complet"),
                    etab.get("activite_principale") or unit.get("activite_principale"),
                    unit.get("etat_administratif"),
                    *_recherche_entreprises_address(etab),
                )
    return Etablissement(siret, None)


def _recherche_entreprises_address(etab: dict) -> tuple:
    """(street, postal code, commune, latitude, longitude, diffusion) of a recherche-entreprises
    establishment: the street from its parts, else from `adresse` without its postal code and city."""
    postcode = given(etab.get("code_postal"))
    street = street_line(
        etab.get("numero_voie"),
        etab.get("indice_repetition"),
        etab.get("type_voie"),
        etab.get("libelle_voie"),
    )
    if street is None and (whole := given(etab.get("adresse"))):
        street = (whole.split(f" {postcode} ", 1)[0] if postcode else whole).strip() or None
        if street and postcode and street.endswith(postcode):
            street = None  # only the postal code and the city
    latitude, longitude = _coordinate(etab.get("latitude")), _coordinate(etab.get("longitude"))
    if latitude is None or longitude is None or not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        latitude = longitude = None
    return (
        street,
        postcode,
        given(etab.get("commune")),
        latitude,
        longitude,
        given(etab.get("statut_diffusion_etablissement")),
    )


def parse_insee(siret: str, body: dict) -> Etablissement:
    etab = body.get("etablissement") or {}
    if etab.get("siret") != siret:
        return Etablissement(siret, None)
    unit = etab.get("uniteLegale") or {}
    periods = etab.get("periodesEtablissement") or []
    current = next((p for p in periods if not p.get("dateFin")), periods[0] if periods else {})
    state = current.get("etatAdministratifEtablissement")
    name = unit.get("denominationUniteLegale") or " ".join(
        filter(None, (unit.get("prenomUsuelUniteLegale"), unit.get("nomUniteLegale")))
    )
    address = etab.get("adresseEtablissement") or {}
    commune = given(address.get("codeCommuneEtablissement"))
    from ..geocoding.projection import to_wgs84

    (position,) = to_wgs84(
        [
            (
                given(address.get("coordonneeLambertAbscisseEtablissement")),
                given(address.get("coordonneeLambertOrdonneeEtablissement")),
                commune,
            )
        ]
    )
    return Etablissement(
        siret,
        state,
        current.get("dateDebut") if state == "F" else None,
        name or None,
        current.get("activitePrincipaleEtablissement") or unit.get("activitePrincipaleUniteLegale"),
        unit.get("etatAdministratifUniteLegale"),
        street_line(
            address.get("numeroVoieEtablissement"),
            address.get("indiceRepetitionEtablissement"),
            address.get("typeVoieEtablissement"),
            address.get("libelleVoieEtablissement"),
        ),
        given(address.get("codePostalEtablissement")),
        commune,
        position[0] if position else None,
        position[1] if position else None,
        given(etab.get("statutDiffusionEtablissement")),
    )


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


class SireneClient:
    """One of the two APIs, throttled and retried."""

    def __init__(
        self,
        api: str = "recherche-entreprises",
        url: str | None = None,
        token: str | None = None,
        rate_per_minute: float | None = None,
        *,
        attempts: int = 5,
        backoff: float = 1.0,
        max_wait: float = 60.0,
        timeout: float = 30.0,
        bucket: TokenBucket | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if api not in ("recherche-entreprises", "insee"):
            raise ValueError(f"unknown SIRENE API {api!r}")
        if api == "insee" and not token:
            raise ValueError("the INSEE API needs a token")
        self.api = api
        self.url = (url or (INSEE_URL if api == "insee" else RECHERCHE_ENTREPRISES_URL)).rstrip("/")
        rate = rate_per_minute or (30 if api == "insee" else 300)
        self.bucket = bucket or TokenBucket(rate)
        self.attempts = attempts
        self.backoff = backoff
        self.max_wait = max_wait
        self.sleep = sleep
        headers = dict(HEADERS, Accept="application/json")
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.http = httpx.Client(timeout=timeout, headers=headers, follow_redirects=True)
        self.requests = 0

    def close(self) -> None:
        self.http.close()

    def _request(self, siret: str) -> httpx.Response:
        if self.api == "insee":
            return self.http.get(f"{self.url}/siret/{siret}")
        return self.http.get(f"{self.url}/search", params={"q": siret, "page": 1, "per_page": 5})

    def lookup(self, siret: str) -> Etablissement:
        """SIRENE's answer for one SIRET; `DownloadError` when the API keeps failing."""
        for attempt in range(1, self.attempts + 1):
            self.bucket.acquire()
            self.requests += 1
            wait = None
            try:
                response = self._request(siret)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code == 200:
                    try:
                        body = response.json()
                    except ValueError:
                        problem = "the answer is not JSON"
                    else:
                        parse = parse_insee if self.api == "insee" else parse_recherche_entreprises
                        return parse(siret, body)
                elif response.status_code == 404 and self.api == "insee":
                    return Etablissement(siret, None)
                elif response.status_code in RETRIED:
                    problem = f"HTTP {response.status_code}"
                    wait = retry_after(response.headers.get("retry-after"))
                else:
                    raise DownloadError(f"{self.url}: SIRENE answered {response.status_code} for {siret}")
            if attempt == self.attempts:
                raise DownloadError(
                    f"{self.url}: SIRENE failed for {siret} after {attempt} attempts ({problem})"
                )
            delay = min(self.max_wait, wait if wait is not None else self.backoff * 2 ** (attempt - 1))
            log.info("SIRENE request retried", extra={"siret": siret, "problem": problem, "wait_s": delay})
            self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover


class SireneCache:
    """Answers kept by SIRET with the date they were given (SQLite, one commit per answer: a run
    interrupted at any point keeps everything it was told)."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        self.conn.execute(
            """CREATE TABLE IF NOT EXISTS reponses (
                   siret TEXT PRIMARY KEY, date TEXT NOT NULL, api TEXT NOT NULL, reponse TEXT NOT NULL
               ) WITHOUT ROWID"""
        )

    def close(self) -> None:
        self.conn.close()

    def fresh(self, since: date) -> set[str]:
        return {
            row[0]
            for row in self.conn.execute("SELECT siret FROM reponses WHERE date >= ?", (since.isoformat(),))
        }

    def put(self, answer: Etablissement, api: str, when: date) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO reponses VALUES (?, ?, ?, ?)",
            (answer.siret, when.isoformat(), api, json.dumps(asdict(answer), ensure_ascii=False)),
        )

    def put_many(self, answers: Iterable[Etablissement], api: str, when: date) -> None:
        """Many answers in one transaction (a stock file's)."""
        self.conn.execute("BEGIN")
        try:
            self.conn.executemany(
                "INSERT OR REPLACE INTO reponses VALUES (?, ?, ?, ?)",
                (
                    (a.siret, when.isoformat(), api, json.dumps(asdict(a), ensure_ascii=False))
                    for a in answers
                ),
            )
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def answers(self, sirets: Iterable[str]) -> list[tuple[Etablissement, str, str]]:
        wanted = sorted(set(sirets))
        out: list[tuple[Etablissement, str, str]] = []
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows = self.conn.execute(
                f"SELECT reponse, date, api FROM reponses WHERE siret IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            out.extend((Etablissement(**json.loads(r[0])), r[1], r[2]) for r in rows)
        return out


def check(
    sirets: Iterable[str],
    client: SireneClient,
    cache: SireneCache,
    *,
    max_age_days: int = 30,
    limit: int | None = None,
    today: date | None = None,
    on_answer: Callable[[int, int], None] | None = None,
) -> dict:
    """Ask SIRENE about the SIRETs (the first `limit` of them) whose cached answer is missing or older
    than `max_age_days`. Run again after an interruption, it asks only what it still lacks."""
    today = today or date.today()
    wanted = list(dict.fromkeys(sirets))
    if limit is not None:
        wanted = wanted[:limit]
    known = cache.fresh(today - timedelta(days=max_age_days))
    to_ask = [s for s in wanted if s not in known]
    asked = failed = 0
    started = time.monotonic()
    for siret in to_ask:
        try:
            answer = client.lookup(siret)
        except DownloadError as exc:
            failed += 1
            log.warning("SIRENE lookup failed", extra={"siret": siret, "error": str(exc)})
            continue
        cache.put(answer, client.api, today)
        asked += 1
        if on_answer:
            on_answer(asked, len(to_ask))
    return {
        "establishments": len(wanted),
        "from_cache": len(wanted) - len(to_ask),
        "asked": asked,
        "failed": failed,
        "requests": client.requests,
        "seconds": round(time.monotonic() - started, 2),
    }
