"""The pages a public site owes its visitors: the legal notice (`/mentions-legales`), the
accessibility statement (`/accessibilite`) and the personal-data page (`/donnees-personnelles`),
linked from every page's footer. What only the operator knows (the publisher, the host, a contact)
comes from the settings (`Publisher`) and reads "à compléter" until it is set."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Request

from .. import __version__
from ..corrections.settings import CorrectionSettings
from .pages import Renderer

PAGES = {
    "/mentions-legales": "mentions_legales.html",
    "/accessibilite": "accessibilite.html",
    "/donnees-personnelles": "donnees_personnelles.html",
}


def build_legal_router(renderer: Renderer) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def context(request: Request) -> dict:
        guard = getattr(request.app.state, "guard", None)
        settings: CorrectionSettings | None = getattr(guard, "settings", None)
        tiles = urlsplit(renderer.settings.tile_url.replace("{s}", "a")).hostname
        return {
            "publisher": renderer.settings.publisher,
            "version": __version__,
            "email_days": settings.email_days if settings else 365,
            "session_hours": settings.session_hours if settings else 8,
            "tile_host": tiles,
        }

    def page(template: str):
        async def show(request: Request):
            return renderer.page(request, template, context(request))

        return show

    for path, template in PAGES.items():
        router.add_api_route(path, page(template), methods=["GET"])
    return router
