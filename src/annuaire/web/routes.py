"""The website's pages: home, search, organisation, département, commune and région pages,
suggestions for the search box, sitemap and robots.txt."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response

from ..gazetteer import CENTRE_KINDS, centre_error
from ..search import QueryError, Searcher, SearchQuery
from ..search.params import SCOPES, Filters
from . import slugs, text
from .contours import directory_contours, simplified_contours
from .errors import PageError
from .jsonld import organisation_jsonld, script_json
from .pages import Renderer
from .sitemap import file_count, index_xml, robots_txt, site_paths, urlset_xml
from .understood import empty_hints, search_link, suggestion_links, understood_view

PER_PAGE = 20
MAX_LISTED_PAGE = 500  # territory pages list at most this many pages of organisations
IDENTIFIER = re.compile(r"^(NDA)?[0-9]{9,14}$", re.IGNORECASE)


class NotFound(PageError):
    """A page that does not exist: rendered as the site's 404 page."""


def moved(path: str, query: str = "") -> RedirectResponse:
    return RedirectResponse(path + (f"?{query}" if query else ""), status_code=301)


def page_number(request: Request) -> int:
    """The page asked for (1 when absent or unreadable); a page past the end is `past_the_end`'s."""
    value = request.query_params.get("page", "1").strip()
    if not (value.isascii() and value.isdigit()):  # "²" is a digit to str.isdigit, not to int()
        return 1
    page = int(value) if len(value) < 10 else 1_000_000
    return min(max(page, 1), 1_000_000)  # bounded: a page number never reaches SQL as a huge integer


def last_page(pages: int) -> int:
    return max(1, min(pages, MAX_LISTED_PAGE))


def past_the_end(path: str, params: dict[str, Any], page: int, pages: int) -> NotFound | None:
    """A page past the last one (or past the pages listed) answers 404, with a link to the last page."""
    last = last_page(pages)
    if page <= last:
        return None
    return NotFound(
        str(page),
        message=f"La page {text.number(page)} n'existe pas : cette liste compte "
        f"{text.plural(last, 'page', 'pages')}.",
        links=[
            (pagination(path, params, last, last)["last"], f"Aller à la dernière page ({text.number(last)})")
        ],
    )


def pagination(path: str, params: dict[str, Any], page: int, pages: int) -> dict[str, Any]:
    """Links to the first, previous, nearby, next and last pages."""

    def link(n: int) -> str:
        kept = {k: v for k, v in params.items() if k != "page" and v not in (None, "", [])}
        if n > 1:
            kept["page"] = n
        return path + ("?" + urlencode(kept, doseq=True) if kept else "")

    pages = min(pages, MAX_LISTED_PAGE)
    nearby = [n for n in range(page - 2, page + 3) if 1 <= n <= pages]
    return {
        "page": page,
        "pages": pages,
        "previous": link(page - 1) if page > 1 else None,
        "next": link(page + 1) if page < pages else None,
        "first": link(1),
        "last": link(pages),
        "nearby": [(n, link(n)) for n in nearby],
    }


def search_form(request: Request, searcher: Searcher) -> tuple[dict[str, Any], Filters, str | None]:
    """The search form's values as typed, the filters they mean, and an error message if any.
    `autour` takes what the gazetteer resolves (a commune's name, "Paris 11e", a postal code, an INSEE
    code); a name several communes bear gives the candidates to choose from (`form["choix"]`)."""
    qp = request.query_params
    form: dict[str, Any] = {
        "q": qp.get("q", "").strip(),
        "portee": [p for p in qp.getlist("portee") if p],
        "departement": qp.get("departement", "").strip(),
        "specialite": qp.get("specialite", "").strip(),
        "autour": qp.get("autour", "").strip(),
        "rayon": qp.get("rayon", "").strip(),
        "lat": qp.get("lat", "").strip(),
        "lon": qp.get("lon", "").strip(),
        # The box "Certifié Qualiopi" (oui) wins over the "Non certifiés" facet kept in a hidden field.
        "certifie": next((c for c in ("oui", "non") if c in (v.strip() for v in qp.getlist("certifie"))), ""),
        "tri": qp.get("tri", "").strip(),
        "correction": qp.get("correction", "").strip() != "non",  # non: the words as typed
    }
    error = None
    autour, place = None, None
    form["choix"] = []
    if form["autour"]:
        found = searcher.gazetteer().resolve(form["autour"], CENTRE_KINDS)
        if centre_error(found) is None and found.place is not None:
            autour, place = form["autour"], found.place.label()
        elif found.ambiguous:
            error = f"Plusieurs lieux s'appellent « {form['autour']} » : lequel ?"
            form["choix"] = [(p.choice_label(), p.choice()) for p in found.places[:10]]
        elif found.place is not None:
            error = f"Position inconnue pour « {found.place.label()} »."
        else:
            error = f"Commune inconnue : « {form['autour']} »."
    try:
        rayon = float(form["rayon"].replace(",", ".")) if form["rayon"] else 10.0
        lat = float(form["lat"]) if form["lat"] and not autour else None
        lon = float(form["lon"]) if form["lon"] and not autour else None
    except ValueError:
        rayon, lat, lon = 10.0, None, None
        error = "Rayon ou position invalide."
    filters = Filters(
        q=form["q"],
        portees=tuple(p for p in form["portee"] if p in SCOPES),
        certifie={"oui": True, "non": False}.get(form["certifie"]),
        departement=form["departement"] or None,
        specialite=form["specialite"] or None,
        autour=autour,
        lat=lat,
        lon=lon,
        rayon_km=rayon,
        correction=form["correction"],
    )
    form["lieu"] = place
    return form, filters, error


def active_filters(
    form: dict[str, Any], current: list[tuple[str, str]], s: Searcher, understood: bool = False
) -> list[tuple[str, str]]:
    """The conditions of a search as (words, the same search without it): the removable summary
    shown above the results on a phone (the search box's text aside when its parts are shown as
    chips of their own, `understood`)."""

    def without(*removed: tuple[str, str | None]) -> str:
        kept = [
            (k, v)
            for k, v in current
            if not any(k == name and (value is None or v == value) for name, value in removed)
        ]
        return "/recherche" + ("?" + urlencode(kept) if kept else "")

    found: list[tuple[str, str]] = []
    if form["q"] and not understood:
        found.append((f"« {form['q']} »", without(("q", None))))
    for code in form["portee"]:
        if code in text.SCOPE_SHORT:
            found.append((f"Qualiopi · {text.SCOPE_SHORT[code]}", without(("portee", code))))
    if form["certifie"] in ("oui", "non"):
        words = "Certifiés Qualiopi" if form["certifie"] == "oui" else "Non certifiés Qualiopi"
        found.append((words, without(("certifie", None))))
    if form["departement"]:
        code = form["departement"].upper()
        name = next((d["nom"] for d in s.departements() if d["code"] == code), None)
        found.append((f"{name} ({code})" if name else f"Département {code}", without(("departement", None))))
    if form["specialite"]:
        label = next((sp["libelle"] for sp in s.specialites() if sp["code"] == form["specialite"]), None)
        found.append((f"Spécialité : {label or form['specialite']}", without(("specialite", None))))
    radius = (form["rayon"] or "10").replace(".", ",")
    if form["autour"]:
        place = text.nice_name(form["lieu"]) if form.get("lieu") else form["autour"]
        found.append((f"Autour de {place} ({radius} km)", without(("autour", None), ("rayon", None))))
    elif form["lat"] and form["lon"]:
        found.append(
            (f"Autour de ma position ({radius} km)", without(("lat", None), ("lon", None), ("rayon", None)))
        )
    return found


def filter_params(f: Filters) -> dict[str, Any]:
    """The checked filters as /api/v1/ query parameters (what the map asks the clusters with)."""
    params: dict[str, Any] = {
        "q": f.q,
        "portee": list(f.portees),
        "departement": f.departement,
        "specialite": f.specialite,
        "certifie": None if f.certifie is None else str(f.certifie).lower(),
        "autour": f.autour,
        "lat": f.lat,
        "lon": f.lon,
        "rayon": f.rayon_km if f.has_centre else None,
        "correction": None if f.correction else "false",
    }
    return {k: v for k, v in params.items() if v not in (None, "", [])}


def searches_meant(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """What the search box's suggestions offer as searches: the corrected spelling, or what the
    text was understood as ("Langues vivantes · Lyon"), with the count it finds."""
    meant = answer.get("interpretation") or {}
    if not meant or meant["lecture"] in ("identifiant", "nom"):
        corrected = meant.get("texte_corrige")
        if not corrected:
            return []
        return [
            {
                "nom": corrected,
                "detail": "orthographe corrigée · " + text.plural(answer["total"], "organisme", "organismes"),
                "url": search_link([], q=corrected),
            }
        ]
    parts = [s["libelle_court"] for s in meant["specialites"]]
    parts += [f"Qualiopi · {text.SCOPE_SHORT.get(p['portee'], p['portee'])}" for p in meant["portees"]]
    parts += ["Certifiés Qualiopi"] if meant["certifie"] else []
    parts += [text.nice_name(meant["lieu"]["libelle"])] if meant["lieu"] else []
    if not parts:
        return []
    searched = meant["texte_corrige"] or meant["texte"]
    detail = text.plural(answer["total"], "organisme", "organismes")
    if meant["texte_corrige"]:
        detail = "orthographe corrigée · " + detail
    return [{"nom": " · ".join(parts), "detail": detail, "url": search_link([], q=searched)}]


def build_router(renderer: Renderer, more_paths: Callable[[], list] = list) -> APIRouter:
    """The pages; `more_paths` gives other pages for the sitemap (path, last modification), listed
    after the home page."""
    router = APIRouter(include_in_schema=False)

    def searcher(request: Request) -> Searcher:
        return request.app.state.searcher

    sitemap_cache: dict[tuple, list] = {}

    def cached_paths(s: Searcher) -> list:
        more = more_paths()
        key = (s.version(), tuple(more))
        if key not in sitemap_cache:
            sitemap_cache.clear()
            paths = site_paths(s)
            sitemap_cache[key] = paths[:1] + more + paths[1:]
        return sitemap_cache[key]

    def listing(s: Searcher, filters: Filters, page: int, path: str) -> dict[str, Any]:
        """A territory's organisations by name, one page; past the last page: 404."""
        query = SearchQuery(filters, tri="nom", page=min(page, MAX_LISTED_PAGE), par_page=PER_PAGE).checked()
        found = s.search(query)
        if error := past_the_end(path, {}, page, found["pages"]):
            raise error
        return found

    # -- home and search ----------------------------------------------------------------------------

    @router.get("/")
    async def home(request: Request):
        s = searcher(request)
        regions = [r for r in s.regions() if r["nb_organismes"]]
        departements = {d["code"]: d for d in s.departements()}
        return renderer.page(
            request,
            "home.html",
            {"stats": s.stats(), "regions": regions, "departements": departements},
        )

    @router.get("/recherche")
    async def search(request: Request):
        s = searcher(request)
        form, filters, error = search_form(request, s)
        results: dict[str, Any] | None = None
        status, error_links = 200, []
        tri = form["tri"] or ("distance" if filters.has_centre else "pertinence")
        page = page_number(request)
        if error is None:
            try:
                query = SearchQuery(
                    filters, tri=tri, page=min(page, MAX_LISTED_PAGE), par_page=PER_PAGE, facettes=True
                ).checked()
                results = s.search(query)
                filters = query.filters
            except QueryError as exc:
                error = exc.message
        if error:
            status = 422
        elif results is not None and (
            gone := past_the_end(
                "/recherche",
                dict(request.query_params.multi_items()) | {"portee": form["portee"]},
                page,
                results["pages"],
            )
        ):
            # Past the last page: 404, the form kept, and a link to the last page.
            error, error_links, status, results = gone.message, gone.links, 404, None
        context: dict[str, Any] = {
            "form": form,
            "error": error,
            "error_links": error_links,
            "results": results,
            "tri": tri,
            "filtres_carte": urlencode(filter_params(filters), doseq=True) if not error else "",
            "pager": pagination(
                "/recherche",
                dict(request.query_params.multi_items()) | {"portee": form["portee"]},
                results["page"],
                results["pages"],
            )
            if results and results["pages"] > 1
            else None,
            "departements": s.departements(),
            "specialites": [sp for sp in s.specialites() if sp["nb_organismes"]],
            "canonical_path": "/recherche",
        }
        current = [(k, v) for k, v in request.query_params.multi_items() if k != "page" and v != ""]

        def refine(param: str, value: str) -> str:
            """This search with one condition set (a facet's link)."""
            return "/recherche?" + urlencode([(k, v) for k, v in current if k != param] + [(param, value)])

        context["refine"] = refine
        context["understood"] = understood_view((results or {}).get("interpretation"), current)
        context["empty_hints"] = empty_hints(form)
        context["suggested"] = suggestion_links((results or {}).get("suggestions", []), current)
        context["active_filters"] = active_filters(
            form, current, s, understood=bool(context["understood"] and context["understood"]["chips"])
        )
        context["choix"] = [(label, refine("autour", value)) for label, value in form["choix"]]
        partial = request.headers.get("x-partial") == "1"
        context["partial"] = partial  # the fragment shows an error itself; the page shows it above the form
        response = renderer.page(
            request, "_results.html" if partial else "search.html", context, status_code=status
        )
        response.headers["Vary"] = "X-Partial"  # one URL, two bodies: caches must keep them apart
        return response

    @router.get("/suggestions")
    async def suggestions(request: Request):
        s = searcher(request)
        q = request.query_params.get("q", "").strip()[:100]
        found: dict[str, list] = {"recherches": [], "organismes": [], "communes": []}
        if len(q) >= 2:
            try:
                answer = s.search(SearchQuery(Filters(q=q), par_page=5).checked())
            except QueryError:
                answer = {"resultats": [], "interpretation": None, "total": 0}
            results = answer["resultats"]
            found["recherches"] = searches_meant(answer)
            found["organismes"] = [
                {
                    "nom": r["denomination"],
                    "commune": text.nice_name(r["commune"]),
                    "url": slugs.organisation_path(r),
                }
                for r in results
            ]
            found["communes"] = [
                {
                    "nom": text.nice_name(c["nom"]),
                    "type": c["type"],
                    "code_departement": c["code_departement"],
                    "nb_organismes": c["nb_organismes"],
                    "url": slugs.commune_path(c["code_departement"], c["nom"], c["code_insee"]),
                }
                for c in s.suggest_communes(q, limit=5)
            ]
        return JSONResponse(found, headers={"Cache-Control": "public, max-age=300"})

    # -- organisations ------------------------------------------------------------------------------

    def organisation_page(request: Request, key: str):
        s = searcher(request)
        org = s.organisation(key)
        if org is None:
            raise NotFound(key)
        path = slugs.organisation_path(org)
        if request.url.path != path:
            return moved(path)
        description = text.describe(org)
        url = renderer.base_url(request) + path
        return renderer.page(
            request,
            "organisation.html",
            {
                "org": org,
                "description": description,
                "meta_description": text.meta_description(org),
                "jsonld": script_json(organisation_jsonld(org, url, description)),
                "stale": text.is_stale(org["date_derniere_declaration"], date.today()),
                "canonical_path": path,
                "removed_on": next(
                    (
                        e["date"]
                        for e in org.get("historique", [])
                        if e["evenement"] in ("organisme_supprime", "organisme_regroupe", "suppression")
                    ),
                    None,
                ),
            },
            # Removed from the Liste publique: the page stays, says so, and answers 410 Gone.
            status_code=410 if org["statut"] == "supprime" else 200,
        )

    @router.get("/formation/{departement}/{commune}/{slug}")
    async def organisation(request: Request, departement: str, commune: str, slug: str):
        return organisation_page(request, slugs.organisation_key(slug))

    @router.get("/organisme/{key}")
    async def organisation_by_key(request: Request, key: str):
        """A bare id, SIRET or NDA: redirects to the organisation's page."""
        return organisation_page(request, key)

    # /organismes/{key}/correction: the correction form, in corrections.py

    # -- territories --------------------------------------------------------------------------------

    @router.get("/formation/{departement}")
    async def departement_or_identifier(request: Request, departement: str):
        if slugs.DEPARTEMENT.match(departement):
            return moved(slugs.departement_path(departement.upper()))
        if IDENTIFIER.match(departement):
            return organisation_page(request, departement)
        raise NotFound(departement)

    @router.get("/formation/{departement}/")
    async def departement_page(request: Request, departement: str):
        if not slugs.DEPARTEMENT.match(departement):
            raise NotFound(departement)
        if departement != departement.lower():
            return moved(slugs.departement_path(departement))
        s = searcher(request)
        code = departement.upper()
        found = s.departement(code)
        if found is None:
            raise NotFound(departement)
        page = page_number(request)
        path = slugs.departement_path(code)
        listed = listing(s, Filters(departement=code), page, path)
        return renderer.page(
            request,
            "departement.html",
            {
                "dep": found,
                "listed": listed,
                "pager": pagination(path, {}, page, listed["pages"]) if listed["pages"] > 1 else None,
                "region_page": next((r for r in s.regions() if r["code"] == found["code_region"]), None),
                "canonical_path": path + (f"?page={page}" if page > 1 else ""),
            },
        )

    @router.get("/formation/{departement}/{commune}")
    async def commune_without_slash(request: Request, departement: str, commune: str):
        if slugs.commune_code(commune) is None:
            raise NotFound(commune)
        return moved(f"/formation/{departement.lower()}/{commune.lower()}/")

    @router.get("/formation/{departement}/{commune}/")
    async def commune_page(request: Request, departement: str, commune: str):
        s = searcher(request)
        code = slugs.commune_code(commune)
        found = s.commune(code) if code else None
        if found is None:
            raise NotFound(commune)
        path = slugs.commune_path(found["code_departement"], found["nom"], found["code_insee"])
        if request.url.path != path:
            return moved(path, request.url.query)
        page = page_number(request)
        listed = listing(s, Filters(commune=found["code_insee"]), page, path)
        return renderer.page(
            request,
            "commune.html",
            {
                "commune": found,
                "dep": s.departement(found["code_departement"]),
                "listed": listed,
                "pager": pagination(path, {}, page, listed["pages"]) if listed["pages"] > 1 else None,
                "canonical_path": path + (f"?page={page}" if page > 1 else ""),
            },
        )

    @router.get("/region/{slug}/")
    async def region_page(request: Request, slug: str):
        s = searcher(request)
        match = next((r for r in s.regions() if slugs.slugify(r["nom"], "region") == slug), None)
        if match is None:
            raise NotFound(slug)
        found = s.region(match["code"])
        page = page_number(request)
        path = slugs.region_path(match["nom"])
        listed = listing(s, Filters(region=match["code"]), page, path)
        return renderer.page(
            request,
            "region.html",
            {
                "region": found,
                "listed": listed,
                "pager": pagination(path, {}, page, listed["pages"]) if listed["pages"] > 1 else None,
                "canonical_path": path + (f"?page={page}" if page > 1 else ""),
            },
        )

    @router.get("/region/{slug}")
    async def region_without_slash(request: Request, slug: str):
        return moved(f"/region/{slug}/")

    # -- map background -----------------------------------------------------------------------------

    @router.get("/carte/departements.geojson")
    async def departement_outlines(request: Request):
        """The départements' outlines drawn under the maps (contours.py); 404 when there are none."""
        path = await run_in_threadpool(
            directory_contours,
            request.app.state.db,
            searcher(request).version(),
            renderer.settings.reference_dir,
        )
        found = await run_in_threadpool(simplified_contours, path) if path else None
        if found is None:
            raise NotFound("contours")
        body, etag = found
        headers = {"ETag": etag, "Cache-Control": "public, max-age=86400"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/geo+json", headers=headers)

    # -- for robots ---------------------------------------------------------------------------------

    @router.get("/robots.txt")
    async def robots(request: Request):
        return Response(robots_txt(renderer.base_url(request)), media_type="text/plain; charset=utf-8")

    @router.get("/sitemap.xml")
    async def sitemap_index(request: Request):
        s = searcher(request)
        paths = cached_paths(s)
        files = file_count(len(paths), renderer.settings.sitemap_max_urls)
        built = (s.stats().get("date_construction") or "")[:10] or None
        return Response(index_xml(renderer.base_url(request), files, built), media_type="application/xml")

    @router.get("/sitemaps/{number}.xml")
    async def sitemap_file(request: Request, number: str):
        paths = cached_paths(searcher(request))
        size = renderer.settings.sitemap_max_urls
        if not (number.isascii() and number.isdigit() and len(number) < 10) or not (
            1 <= int(number) <= file_count(len(paths), size)
        ):
            raise NotFound(number)
        index = int(number)
        chunk = paths[(index - 1) * size : index * size]
        return Response(urlset_xml(renderer.base_url(request), chunk), media_type="application/xml")

    return router
