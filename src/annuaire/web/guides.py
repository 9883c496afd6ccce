"""Editorial guides: `/guides/` lists them, `/guides/{slug}` shows one, its mentions of départements
and organisations linked to their pages."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from ..guides import GuideLibrary
from ..guides.render import render_markdown
from . import slugs
from .pages import Renderer
from .routes import NotFound

CACHE_SIZE = 64


def build_guides_router(renderer: Renderer, library: GuideLibrary) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    rendered: dict[tuple, str] = {}

    def body_of(request: Request, slug: str) -> str:
        searcher = request.app.state.searcher
        guide = library.get(slug)
        assert guide is not None  # the route found it
        key = (slug, searcher.version(), guide.path.stat().st_mtime_ns)
        if key not in rendered:
            departements = {d["code"]: d["nom"] for d in searcher.departements()}
            names = {nom: code for code, nom in departements.items()}

            def resolve(kind: str, value: str) -> tuple[str, str] | None:
                if kind == "departement":
                    code = value.upper()
                    if code in departements:
                        return slugs.departement_path(code), f"{departements[code]} ({code})"
                    return None
                org = searcher.organisation(value)
                if org is None:
                    return None
                return slugs.organisation_path(org), org["denomination"]

            if len(rendered) >= CACHE_SIZE:
                rendered.clear()
            rendered[key] = render_markdown(guide.body, names, resolve)
        return rendered[key]

    @router.get("/guides")
    async def guides_without_slash():
        return RedirectResponse("/guides/", status_code=301)

    @router.get("/guides/")
    async def guides_list(request: Request):
        return renderer.page(request, "guides.html", {"guides": list(library.guides().values())})

    @router.get("/guides/{slug}")
    async def guide_page(request: Request, slug: str):
        guide = library.get(slug)
        if guide is None:
            raise NotFound(slug)
        searcher = request.app.state.searcher
        departements = [d for d in searcher.departements() if d["code"] in guide.departements]
        return renderer.page(
            request,
            "guide.html",
            {"guide": guide, "body": body_of(request, slug), "departements": departements},
        )

    return router
