"""Query parameters of the search and the map: Pydantic models, each validated in one pydantic-core call.

FastAPI can read such a model itself (`Annotated[Model, Query()]`), but its per-field Python glue costs
about a sixth of a search request's CPU. `query_model` reads the query string straight into the model,
answers 422 the way FastAPI does (`loc` = ["query", name]) and documents the same parameters in
OpenAPI from the model's JSON schema (`openapi_parameters`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar, get_origin

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..fields import SCOPE_CODES
from ..search import Searcher
from ..search.params import MAX_PAGE, MAX_PAGE_SIZE, MAX_PLACE_TEXT, MAX_RADIUS_KM, MAX_TEXT, Filters

# Patterns as documented in OpenAPI (lower-case 2a/2b accepted); params.py checks the same codes.
DEPARTEMENT = r"^(0[1-9]|[1-8][0-9]|9[0-5]|2[AaBb]|97[1-8]|98[4-9])$"
REGION = r"^[0-9]{2}$"
COMMUNE = r"^([0-9]{5}|2[AaBb][0-9]{3})$"
CODE_POSTAL = r"^[0-9]{5}$"
SPECIALITE = r"^[0-9A-Za-z]{1,10}$"

M = TypeVar("M", bound=BaseModel)

Portee = Literal[SCOPE_CODES]  # type: ignore[valid-type]  # the Qualiopi scopes (fields.py)


async def searcher(request: Request) -> Searcher:
    return request.app.state.searcher


class Conditions(BaseModel):
    """Conditions shared by the search and the map. One model validated in one call: much cheaper per
    request than a dependency with a dozen separate parameters, and documented the same in OpenAPI."""

    model_config = ConfigDict(frozen=True)

    q: str = Field(
        "",
        max_length=MAX_TEXT,
        description="Texte comme on le tape : un besoin (« anglais », « cariste », « habilitation "
        "électrique »), une portée (« VAE », « bilan de compétences », « apprentissage »), "
        "« qualiopi », un lieu (« anglais Lyon », « comptabilité 33000 », « VAE à Marseille »), "
        "un nom, ou un identifiant (NDA, SIRET, SIREN, espaces permis, jamais corrigé). Insensible "
        "à la casse et aux accents ; un mot que personne n'emploie est corrigé (une ou deux "
        "lettres) ; `interpretation` dit ce qui a été compris.",
        examples=["anglais Lyon"],
    )
    correction: bool = Field(
        True, description="false : chercher les mots tels qu'écrits, sans correction d'orthographe."
    )
    portee: list[Portee] = Field(
        [], description="Portée(s) Qualiopi : organismes certifiés pour l'une au moins."
    )
    certifie: bool | None = Field(None, description="Certifié Qualiopi (au moins une portée) ou non.")
    departement: str | None = Field(
        None, pattern=DEPARTEMENT, description="Code de département : 01, 2A, 974…"
    )
    region: str | None = Field(None, pattern=REGION, description="Code de région (COG) : 11, 84…")
    commune: str | None = Field(
        None,
        pattern=COMMUNE,
        description="Code INSEE de la commune (Paris 75056, Lyon 69123, Marseille 13055 : avec leurs "
        "arrondissements ; l'ancien code d'une commune fusionnée : la commune d'aujourd'hui).",
    )
    code_postal: str | None = Field(None, pattern=CODE_POSTAL, description="Code postal.")
    specialite: str | None = Field(None, pattern=SPECIALITE, description="Code NSF de spécialité.")
    statut: Literal["actif", "supprime", "tous"] = Field(
        "actif", description="actif (défaut), supprime, ou tous."
    )
    lat: float | None = Field(None, ge=-90, le=90, description="Latitude du centre (avec lon).")
    lon: float | None = Field(None, ge=-180, le=180, description="Longitude du centre (avec lat).")
    autour: str | None = Field(
        None,
        max_length=MAX_PLACE_TEXT,
        description="Centre (exclut lat/lon) : nom de commune (« Aix-en-Provence », « st etienne », "
        "« Paris 11e », « Saint-Denis (93) »), code postal, ou code INSEE. Cinq chiffres sont un code "
        "postal quand La Poste en connaît un, sinon un code INSEE. Un nom porté par plusieurs communes "
        "répond 422 en nommant les candidates ; `centre` dit le lieu retenu.",
        examples=["Aix-en-Provence"],
    )
    rayon: float = Field(10.0, gt=0, le=MAX_RADIUS_KM, description="Rayon autour du centre, en km.")

    def filters(self) -> Filters:
        return Filters(
            q=self.q,
            portees=tuple(self.portee),
            certifie=self.certifie,
            departement=self.departement,
            region=self.region,
            commune=self.commune,
            code_postal=self.code_postal,
            specialite=self.specialite,
            statut=self.statut,
            lat=self.lat,
            lon=self.lon,
            autour=self.autour,
            rayon_km=self.rayon,
            correction=self.correction,
        )


class Recherche(Conditions):
    tri: Literal["pertinence", "distance", "nom", "date"] = Field(
        "pertinence", description="pertinence (défaut), distance (avec un centre), nom, date."
    )
    page: int = Field(1, ge=1, le=MAX_PAGE, description="Numéro de page, à partir de 1.")
    par_page: int = Field(20, ge=1, le=MAX_PAGE_SIZE, description="Résultats par page (100 au plus).")
    facettes: bool = Field(False, description="Compter par portée, département et spécialité.")


class Carte(Conditions):
    bbox: str = Field(
        max_length=100,
        description="Emprise ouest,sud,est,nord en degrés (WGS 84).",
        examples=["-5,41,10,51.5"],
    )
    zoom: int = Field(ge=0, le=20, description="Niveau de zoom de la carte (0 à 20).")


def query_model(model: type[M]) -> Callable[[Request], Any]:
    """A dependency giving the request's query string validated as `model` (unknown parameters are
    ignored, as FastAPI ignores them; repeated ones are lists where the field is a list)."""
    fields = model.model_fields
    lists = frozenset(name for name, f in fields.items() if get_origin(f.annotation) is list)

    async def parse(request: Request) -> M:
        params = request.query_params
        data = {
            name: params.getlist(name) if name in lists else params[name] for name in params if name in fields
        }
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise RequestValidationError(
                [{**e, "loc": ("query", *e["loc"])} for e in exc.errors(include_url=False)]
            ) from None

    return parse


def openapi_parameters(model: type[BaseModel]) -> dict[str, Any]:
    """The model's fields as OpenAPI query parameters (for a route's `openapi_extra`)."""
    schema = model.model_json_schema()
    required = set(schema.get("required", ()))
    parameters = []
    for name, prop in schema["properties"].items():
        prop = dict(prop)
        description = prop.pop("description", None)
        examples = prop.pop("examples", None)
        parameter = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if description:
            parameter["description"] = description
        if examples:
            parameter["example"] = examples[0]
        if prop.get("type") == "array":
            parameter.update(style="form", explode=True)
        parameters.append(parameter)
    return {"parameters": parameters}
