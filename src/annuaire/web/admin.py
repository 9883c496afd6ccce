"""The admin area at /admin/: moderators log in, list corrections by status, approve or reject them,
and read the audit log. Pages without a session redirect to the login page (GET) or answer 401
(POST); a POST without a valid CSRF token answers 403."""

from __future__ import annotations

import math
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from ..corrections.fields import FIELDS
from ..corrections.store import PAGE, STATUSES
from .pages import Renderer
from .security import CSRF_FIELD, NO_STORE, Guard, client_ip, read_form

STATUS_LABELS = {"en_attente": "En attente", "approuvee": "Approuvées", "rejetee": "Rejetées"}
LOGIN = "/admin/connexion"


def build_admin_router(renderer: Renderer) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def render(request: Request, template: str, context: dict, status: int = 200, moderator=None):
        guard: Guard = request.app.state.guard
        seed, new = guard.csrf_seed(request)
        response = renderer.page(
            request,
            template,
            {"csrf": guard.csrf_token(seed), "moderator": moderator, **context},
            status_code=status,
        )
        response.headers.update(NO_STORE)
        if new:
            guard.set_csrf_cookie(response, seed)
        return response

    def refusal(request: Request, status: int, message: str, moderator=None):
        return render(request, "admin/refus.html", {"status": status, "message": message}, status, moderator)

    def page_number(request: Request) -> int:
        value = request.query_params.get("page", "1")
        return int(value) if value.isascii() and value.isdigit() and 0 < int(value) < 100_000 else 1

    @router.get("/admin")
    async def admin_root():
        return RedirectResponse("/admin/", status_code=301)

    @router.get("/admin/")
    async def corrections_list(request: Request):
        guard: Guard = request.app.state.guard
        moderator = guard.moderator(request)
        if moderator is None:
            return RedirectResponse(f"{LOGIN}?suite={quote(request.url.path)}", status_code=303)
        statut = request.query_params.get("statut", "en_attente")
        if statut not in (*STATUSES, "toutes"):
            statut = "en_attente"
        champ = request.query_params.get("champ", "")
        champ = champ if champ in FIELDS else ""
        organisme = "".join(request.query_params.get("organisme", "").split())[:40]
        page = page_number(request)
        guard.store.forget_old_emails(guard.settings.email_days)  # retention, before anyone reads them
        rows, total = guard.store.listing(
            None if statut == "toutes" else statut, page, champ=champ or None, organisme=organisme or None
        )
        filters = {k: v for k, v in (("statut", statut), ("champ", champ), ("organisme", organisme)) if v}
        return render(
            request,
            "admin/corrections.html",
            {
                "rows": rows,
                "total": total,
                "page": page,
                "pages": max(1, math.ceil(total / PAGE)),
                "statut": statut,
                "champ": champ,
                "organisme": organisme,
                "query": urlencode(filters),
                "counts": guard.store.counts(),
                "labels": STATUS_LABELS,
                "fields": FIELDS,
            },
            moderator=moderator,
        )

    @router.get("/admin/journal")
    async def audit_log(request: Request):
        guard: Guard = request.app.state.guard
        moderator = guard.moderator(request)
        if moderator is None:
            return RedirectResponse(f"{LOGIN}?suite={quote(request.url.path)}", status_code=303)
        page = page_number(request)
        rows, total = guard.store.journal(page)
        return render(
            request,
            "admin/journal.html",
            {"rows": rows, "total": total, "page": page, "pages": max(1, math.ceil(total / PAGE))},
            moderator=moderator,
        )

    @router.get(LOGIN)
    async def login_form(request: Request):
        return render(
            request, "admin/connexion.html", {"suite": safe_next(request.query_params.get("suite"))}
        )

    @router.post(LOGIN)
    async def login(request: Request):
        guard: Guard = request.app.state.guard
        form = await read_form(request)
        if form is None:
            return refusal(request, 400, "Formulaire illisible ou trop long.")
        if not guard.csrf_ok(request, form.get(CSRF_FIELD)):
            return refusal(request, 403, "Jeton de sécurité absent ou expiré : rechargez la page.")
        wait = guard.wait(guard.logins, request)
        if wait:
            response = refusal(request, 429, "Trop de tentatives : réessayez dans quelques minutes.")
            response.headers["Retry-After"] = str(wait)
            return response
        name = form.get("nom", "").strip()[:100]
        password = form.get("mot_de_passe", "")[:1000]
        if not name or not password or not guard.store.check_login(name, password):
            guard.store.log(name or None, "connexion_refusee", {"ip": client_ip(request)})
            return render(
                request,
                "admin/connexion.html",
                {
                    "error": "Nom ou mot de passe incorrect.",
                    "nom": name,
                    "suite": safe_next(form.get("suite")),
                },
                status=401,
            )
        guard.store.log(name, "connexion", {"ip": client_ip(request)})
        response = RedirectResponse(safe_next(form.get("suite")), status_code=303)
        guard.open_session(response, name)
        return response

    @router.post("/admin/deconnexion")
    async def logout(request: Request):
        guard: Guard = request.app.state.guard
        moderator = guard.moderator(request)
        if moderator is None:
            return refusal(request, 401, "Vous n'êtes pas connecté.")
        form = await read_form(request)
        if form is None or not guard.csrf_ok(request, form.get(CSRF_FIELD)):
            return refusal(request, 403, "Jeton de sécurité absent ou expiré.", moderator)
        guard.store.log(moderator, "deconnexion")
        response = RedirectResponse(LOGIN, status_code=303)
        guard.close_session(request, response)
        return response

    @router.post("/admin/corrections/{correction_id}/{action}")
    async def decide(request: Request, correction_id: str, action: str):
        guard: Guard = request.app.state.guard
        moderator = guard.moderator(request)
        if moderator is None:
            return refusal(request, 401, "Connectez-vous pour modérer les corrections.")
        form = await read_form(request)
        if form is None or not guard.csrf_ok(request, form.get(CSRF_FIELD)):
            return refusal(request, 403, "Jeton de sécurité absent ou expiré : rechargez la page.", moderator)
        if action not in guard.store.ACTIONS:
            return refusal(request, 404, "Action inconnue.", moderator)
        if not (correction_id.isascii() and correction_id.isdigit() and len(correction_id) <= 18):
            return refusal(request, 404, "Cette correction n'existe pas.", moderator)
        motif = " ".join(form.get("motif", "").split())[:500]
        if not guard.store.decide(int(correction_id), action, moderator, motif):
            return refusal(request, 409, "Cette correction n'existe pas ou a déjà été traitée.", moderator)
        back = form.get("retour", "")
        return RedirectResponse(safe_next(back), status_code=303)

    return router


def safe_next(target: str | None) -> str:
    """Where to go after a login or a decision: a path inside /admin/, never another site."""
    if target and target.startswith("/admin/") and "//" not in target and "\\" not in target:
        return target
    return "/admin/"
