"""A local server speaking the two SIRENE APIs' documented shapes (stdlib only, loopback only).

- recherche-entreprises: `GET /search?q=<siren or siret>` → `{"results": [unit…], "total_results",
  "page", "per_page", "total_pages"}`, a unit with `siren`, `nom_complet`, `nom_raison_sociale`,
  `etat_administratif` (A/C), `activite_principale`, `siege` and `matching_etablissements[]` (`siret`,
  `etat_administratif` A/F, `date_fermeture`, `activite_principale`, …).
- INSEE Sirene 3.11: `GET /siret/<siret>` with `Authorization: Bearer <token>` →
  `{"header": {"statut": 200, "message": "OK"}, "etablissement": {"siret", "uniteLegale": {…},
  "periodesEtablissement": [{"dateFin": null, "dateDebut", "etatAdministratifEtablissement", …}]}}`;
  404 for an unknown SIRET, 401 without the token.

Every SIRET is known, with a state derived from its digits (closed when the number is a multiple of
7) unless `unknown` lists it. `fail_first` answers the first N requests 429 with `Retry-After: 0`
(or 503). Requests are counted per SIRET.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


def is_closed(siret: str) -> bool:
    return int(siret) % 7 == 0


def establishment(siret: str) -> dict:
    closed = is_closed(siret)
    return {
        "siret": siret,
        "etat_administratif": "F" if closed else "A",
        "date_fermeture": "2023-06-30" if closed else None,
        "activite_principale": "85.59A",
        "adresse": "1 RUE DE LA PAIX 75002 PARIS",
        "code_postal": "75002",
        "est_siege": True,
    }


def unit(siret: str) -> dict:
    return {
        "siren": siret[:9],
        "nom_complet": f"ORGANISME {siret[:9]}",
        "nom_raison_sociale": f"ORGANISME {siret[:9]}",
        "etat_administratif": "A",
        "activite_principale": "85.59A",
        "nombre_etablissements": 1,
        "siege": establishment(siret[:9] + "00018"),
        "matching_etablissements": [establishment(siret)],
    }


def insee(siret: str) -> dict:
    closed = is_closed(siret)
    return {
        "header": {"statut": 200, "message": "OK"},
        "etablissement": {
            "siren": siret[:9],
            "siret": siret,
            "uniteLegale": {
                "etatAdministratifUniteLegale": "A",
                "denominationUniteLegale": f"ORGANISME {siret[:9]}",
                "activitePrincipaleUniteLegale": "85.59A",
            },
            "periodesEtablissement": [
                {
                    "dateFin": None,
                    "dateDebut": "2023-06-30" if closed else "2015-01-01",
                    "etatAdministratifEtablissement": "F" if closed else "A",
                    "activitePrincipaleEtablissement": "85.59A",
                }
            ],
        },
    }


class SireneServer:
    def __init__(self, token: str | None = None, fail_first: int = 0, fail_status: int = 429):
        self.token = token
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.unknown: set[str] = set()
        self.requests = 0
        self.per_siret: Counter = Counter()
        self.lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> SireneServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


def _handler(server: SireneServer):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet
            pass

        def _send(self, status: int, value: dict, headers: dict | None = None) -> None:
            body = json.dumps(value).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path == "/search":
                key = (parse_qs(url.query).get("q") or [""])[0].replace(" ", "")
            elif url.path.startswith("/siret/"):
                key = url.path.removeprefix("/siret/")
            else:
                self._send(404, {"erreur": "not found"})
                return
            with server.lock:
                server.requests += 1
                server.per_siret[key] += 1
                failing = server.requests <= server.fail_first
            if failing:
                self._send(server.fail_status, {"erreur": "too many requests"}, {"Retry-After": "0"})
                return
            if url.path == "/search":
                found = [] if key in server.unknown or not key.isdigit() else [unit(key)]
                self._send(
                    200,
                    {
                        "results": found,
                        "total_results": len(found),
                        "page": 1,
                        "per_page": 10,
                        "total_pages": 1,
                    },
                )
                return
            if server.token and self.headers.get("Authorization") != f"Bearer {server.token}":
                self._send(401, {"fault": {"code": 900901, "message": "Invalid Credentials"}})
                return
            if key in server.unknown:
                self._send(404, {"header": {"statut": 404, "message": "Aucun élément trouvé pour le siret"}})
                return
            self._send(200, insee(key))

    return Handler
