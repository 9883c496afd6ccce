"""The API's errors in French: validation errors (pydantic's, which speak English) said again naming
the parameter and what was expected, and HTTP errors' details.

A validation error keeps pydantic's `loc` and `type` (machine-readable, as FastAPI gives them) and gets
a French `msg`, for instance « departement » : « zz » n'a pas le format attendu (code de département :
01, 2A, 974…)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel

# What an HTTP error says when the code that raised it gave no French detail of its own.
HTTP_DETAILS = {
    400: "Requête invalide",
    401: "Authentification nécessaire",
    403: "Accès refusé",
    404: "Introuvable : aucune ressource à cette adresse",
    405: "Méthode non permise sur cette adresse",
    406: "Format de réponse non disponible",
    410: "Ressource retirée",
    413: "Requête trop volumineuse",
    415: "Type de contenu non pris en charge",
    422: "Paramètre invalide",
    429: "Trop de requêtes : réessayez après le délai indiqué par Retry-After",
    500: "Erreur interne du serveur",
    503: "Service momentanément indisponible : réessayez après le délai indiqué par Retry-After",
}
_ENGLISH_PHRASES = frozenset(status.phrase for status in HTTPStatus)


def http_detail(status_code: int, detail: Any) -> Any:
    """The detail to send: the raiser's own (ours are French), or, for Starlette's English reason
    phrase ("Not Found"…) or none, the French one."""
    if not detail or (isinstance(detail, str) and detail in _ENGLISH_PHRASES):
        return HTTP_DETAILS.get(status_code, HTTP_DETAILS[500] if status_code >= 500 else HTTP_DETAILS[400])
    return detail


def parameter_descriptions(*models: type[BaseModel]) -> dict[str, str]:
    """Each parameter's description (the one OpenAPI shows), to say what a wrong value should be."""
    found: dict[str, str] = {}
    for model in models:
        for name, f in model.model_fields.items():
            if f.description:
                found.setdefault(name, f.description.rstrip("."))
    return found


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        return f"{value:,}".replace(",", "\u202f")
    return str(value).replace(".", ",")


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _choices(expected: str) -> str:
    """pydantic's "'a', 'b' or 'c'" → "a, b ou c"."""
    return expected.replace("'", "").replace(" or ", " ou ")


def french_message(error: Mapping[str, Any], described: Mapping[str, str] | None = None) -> str:
    """One pydantic error as a French sentence naming its parameter."""
    loc = [part for part in error.get("loc", ()) if isinstance(part, str)]
    name = loc[-1] if loc and loc[-1] not in ("query", "path", "body") else "paramètre"
    param = f"« {name} »"
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    given = error.get("input")
    received = f" (reçu : « {_shown(given)} »)" if isinstance(given, (str, int, float)) else ""
    about = (described or {}).get(name)
    if kind == "missing":
        return f"{param} : paramètre obligatoire manquant"
    if kind == "string_pattern_mismatch":
        expected = f" ({about[:1].lower()}{about[1:]})" if about else ""
        return f"{param} : « {_shown(given)} » n'a pas le format attendu{expected}"
    if kind == "string_too_long":
        return f"{param} : {_number(ctx.get('max_length'))} caractères au plus"
    if kind == "string_too_short":
        return f"{param} : {_number(ctx.get('min_length'))} caractère(s) au moins"
    bounds = {
        "greater_than_equal": ("supérieur ou égal à", "ge"),
        "greater_than": ("strictement supérieur à", "gt"),
        "less_than_equal": ("inférieur ou égal à", "le"),
        "less_than": ("strictement inférieur à", "lt"),
    }
    if kind in bounds:
        words, key = bounds[kind]
        return f"{param} doit être {words} {_number(ctx.get(key))}{received}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{param} : nombre entier attendu{received}"
    if kind in ("float_parsing", "float_type", "finite_number"):
        return f"{param} : nombre attendu (avec un point décimal){received}"
    if kind in ("bool_parsing", "bool_type"):
        return f"{param} : true ou false attendu{received}"
    if kind in ("literal_error", "enum"):
        return f"{param} : « {_shown(given)} » n'est pas une valeur permise ; valeurs permises : " + _choices(
            str(ctx.get("expected", ""))
        )
    if kind in ("list_type", "tuple_type"):
        return f"{param} : liste de valeurs attendue"
    if kind in ("string_type", "string_unicode"):
        return f"{param} : texte attendu"
    if kind == "value_error" and error.get("msg"):
        return f"{param} : {str(error['msg']).removeprefix('Value error, ')}"
    return f"{param} : valeur invalide{received}"


def french_errors(
    errors: Iterable[Mapping[str, Any]], described: Mapping[str, str] | None = None
) -> list[dict]:
    """FastAPI's validation errors as the API answers them: `loc`, French `msg`, `type`."""
    return [
        {
            "loc": list(e.get("loc", ())),
            "msg": french_message(e, described),
            "type": str(e.get("type", "value_error")),
        }
        for e in errors
    ]
