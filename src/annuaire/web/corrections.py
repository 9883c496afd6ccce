"""The public correction form of an organisation: `/organismes/{id}/correction` (GET shows it, POST
checks and stores the correction awaiting moderation)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from ..corrections.fields import FIELDS, check_submission
from .pages import Renderer
from .routes import NotFound
from .security import CSRF_FIELD, NO_STORE, Guard, read_form

HONEYPOT = "site_web"  # hidden from people; bots fill it in
log = logging.getLogger(__name__)


def build_corrections_router(renderer: Renderer) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def form_page(request: Request, org, *, form=None, errors=None, sent=False, status=200, error=None):
        guard: Guard = request.app.state.guard
        seed, new = guard.csrf_seed(request)
        response = renderer.page(
            request,
            "correction.html",
            {
                "org": org,
                "fields": FIELDS,
                "form": form or {},
                "errors": errors or {},
                "error": error,
                "sent": sent,
                "csrf": guard.csrf_token(seed),
                "honeypot": HONEYPOT,
                "canonical_path": f"/organismes/{org['id_organisme']}/correction",
            },
            status_code=status,
        )
        response.headers.update(NO_STORE)
        if new:
            guard.set_csrf_cookie(response, seed)
        return response

    def find(request: Request, key: str):
        org = request.app.state.searcher.organisation(key)
        if org is None:
            raise NotFound(key)
        return org

    @router.get("/organismes/{key}/correction")
    async def correction_form(request: Request, key: str):
        org = find(request, key)
        return form_page(request, org, sent=request.query_params.get("envoye") == "1")

    @router.post("/organismes/{key}/correction")
    async def correction_post(request: Request, key: str):
        org = find(request, key)
        guard: Guard = request.app.state.guard
        form = await read_form(request)
        if form is None:
            return form_page(request, org, status=400, error="Formulaire illisible ou trop long.")
        if not guard.csrf_ok(request, form.get(CSRF_FIELD)):
            return form_page(
                request,
                org,
                form=form,
                status=403,
                error="Le formulaire a expiré ou ne vient pas de ce site : vérifiez vos saisies et "
                "envoyez-le à nouveau.",
            )
        wait = guard.wait(guard.corrections, request)
        if wait:
            response = form_page(
                request,
                org,
                form=form,
                status=429,
                error="Trop de signalements envoyés depuis votre connexion : réessayez plus tard.",
            )
            response.headers["Retry-After"] = str(wait)
            return response
        done = RedirectResponse(f"/organismes/{org['id_organisme']}/correction?envoye=1", status_code=303)
        if form.get(HONEYPOT):
            log.info("correction refused: honeypot field filled in (organisation %s)", org["id_organisme"])
            return done
        submission, errors = check_submission(form)
        if errors:
            return form_page(request, org, form=form, errors=errors, status=422)
        correction_id = guard.store.add(org, submission)
        guard.store.forget_old_emails(guard.settings.email_days)  # the retention the privacy page states
        log.info("correction %s received for organisation %s", correction_id, org["id_organisme"])
        return done

    return router
