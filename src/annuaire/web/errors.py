"""Error pages: every error a visitor can reach (404, 405, 410, 422, 429, 500, 503…) is the one
template `error.html`, in French, with a way back (home, search, and the links the error gives).

`error_page(request, status)` is the one function that renders it: the exception handlers call it,
and so can any code that must answer an error page (a missing database's 503 with `Retry-After`, a
past-the-end page's 404 with a link to the last page). A page handler may also raise `PageError`.
The API's errors stay JSON (`api/`), never this page."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from html import escape

from fastapi import Request
from fastapi.responses import HTMLResponse

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ErrorText:
    title: str
    message: str


ERROR_TEXTS = {
    400: ErrorText("Demande invalide", "Cette adresse contient une demande que l'annuaire ne sait pas lire."),
    401: ErrorText("Connexion nécessaire", "Cette page est réservée aux personnes connectées."),
    403: ErrorText("Accès refusé", "Vous n'avez pas accès à cette page, ou le formulaire a expiré."),
    404: ErrorText(
        "Page introuvable",
        "Cette adresse ne correspond à aucune page de l'annuaire. L'organisme a peut-être changé "
        "d'identifiant ou quitté la Liste publique.",
    ),
    405: ErrorText("Action impossible", "Cette page ne permet pas cette action."),
    410: ErrorText("Page retirée", "Cette page a existé mais elle a été retirée de l'annuaire."),
    422: ErrorText("Demande invalide", "Les paramètres de cette adresse ne sont pas valides."),
    429: ErrorText(
        "Trop de demandes",
        "Vous avez envoyé beaucoup de demandes en peu de temps : réessayez dans un instant.",
    ),
    500: ErrorText(
        "Erreur du serveur",
        "Une erreur inattendue empêche d'afficher cette page. Elle a été enregistrée ; "
        "réessayez dans quelques instants.",
    ),
    503: ErrorText(
        "Service momentanément indisponible",
        "L'annuaire est en cours de mise à jour ou de maintenance. Réessayez dans quelques minutes.",
    ),
}
GENERIC = ErrorText("Erreur", "Cette page ne peut pas être affichée.")


def error_text(status_code: int) -> ErrorText:
    if status_code in ERROR_TEXTS:
        return ERROR_TEXTS[status_code]
    return ERROR_TEXTS[500] if status_code >= 500 else ERROR_TEXTS.get(status_code // 100 * 100, GENERIC)


class PageError(Exception):
    """Raised by a page handler: answered with the error page (`message` replaces the status's
    standard sentence; `links` are (href, words) shown first; `headers` are sent with it)."""

    status_code = 404

    def __init__(
        self,
        detail: str = "",
        *,
        status_code: int | None = None,
        message: str | None = None,
        links: list[tuple[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(detail)
        if status_code is not None:
            self.status_code = status_code
        self.message = message
        self.links = links or []
        self.headers = headers or {}


def error_page(
    request: Request,
    status_code: int,
    message: str | None = None,
    *,
    links: list[tuple[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The site's error page for `status_code`, in French. Never raises: if the page cannot be
    rendered (templates unreadable…), a plain page says the same."""
    text = error_text(status_code)
    context = {
        "status": status_code,
        "error_title": text.title,
        "error_message": message or text.message,
        "links": links or [],
        "canonical_path": request.url.path,
    }
    renderer = getattr(request.app.state, "renderer", None)
    response: HTMLResponse
    try:
        if renderer is None:
            raise RuntimeError("no renderer")
        response = renderer.page(request, "error.html", context, status_code=status_code)
    except Exception:  # an error page must answer whatever went wrong
        log.exception("error page rendered without its template")
        response = HTMLResponse(_plain(text.title, message or text.message), status_code=status_code)
    response.headers["Cache-Control"] = "no-store" if status_code >= 500 else "public, max-age=60"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _plain(title: str, message: str) -> str:
    return (
        '<!doctype html><html lang="fr"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} – Annuaire des organismes de formation</title>"
        '<link rel="stylesheet" href="/static/site/site.css"></head><body>'
        f'<main id="contenu" class="wrap"><h1>{escape(title)}</h1><p>{escape(message)}</p>'
        '<p><a href="/">Revenir à l\'accueil</a> · <a href="/recherche">Rechercher un organisme</a></p>'
        "</main></body></html>"
    )
