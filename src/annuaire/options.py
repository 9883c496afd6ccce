"""Command-line options that several commands take, each defined once (cli.py, corrections/commands.py),
and option groups: options a command takes together and receives as one value (`option_group`).

An option whose setting exists (settings.py) overrides it; its help names the variable.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

F = TypeVar("F", bound=Callable[..., Any])

DirectoryOption = Annotated[
    str, typer.Option("--db", help="The directory: a SQLite file or a postgresql:// URL.")
]
NewDirectoryOption = Annotated[
    str, typer.Option("--db", help="The directory: a SQLite file or postgresql:// URL to create or replace.")
]
CorrectionsOption = Annotated[
    Path | None,
    typer.Option(
        "--corrections",
        help="The corrections file (env ANNUAIRE_CORRECTIONS_DB; default: <db>.corrections.sqlite).",
        dir_okay=False,
    ),
]
ReferenceOption = Annotated[
    Path | None,
    typer.Option(
        "--reference",
        help="Folder with laposte_hexasmal.csv, departements.json, regions.json "
        "(env ANNUAIRE_REFERENCE_DIR; default: downloaded from data.gouv.fr and cached)",
        file_okay=False,
    ),
]
ProgressOption = Annotated[bool, typer.Option(help="Show progress.")]
SireneStockOption = Annotated[
    Path | None,
    typer.Option(
        "--sirene-stock",
        help="INSEE's stock file of establishments (StockEtablissement_utf8.csv, .zip or .gz): places "
        "the declarations whose own address gives no commune at their establishment's address.",
        dir_okay=False,
    ),
]

# Geocoding: `build`, `update` and `geocode` take these together (see `option_group`).
GEOCODING = {
    "geocode": (
        Annotated[
            bool | None,
            typer.Option(
                "--geocode/--no-geocode",
                help="Geocode street addresses with the BAN geocoder "
                "(env ANNUAIRE_GEOCODE=0: off; default on)",
                show_default=False,
            ),
        ],
        None,
    ),
    "geocoder_url": (
        Annotated[
            str | None,
            typer.Option(
                "--geocoder-url",
                help="BAN geocoder (Addok + CSV plugin) base URL "
                "(env ANNUAIRE_GEOCODER_URL; default: the public service)",
            ),
        ],
        None,
    ),
    "geocode_cache": (
        Annotated[
            Path | None,
            typer.Option(
                "--geocode-cache",
                help="Geocoding cache file (default: ~/.cache/annuaire/geocode.sqlite)",
                dir_okay=False,
            ),
        ],
        None,
    ),
    "geocode_batch_size": (
        Annotated[
            int | None,
            typer.Option(
                "--geocode-batch-size", min=1, max=50_000, help="Rows per geocoding request (default: 5000)."
            ),
        ],
        None,
    ),
    "geocode_concurrency": (
        Annotated[
            int | None,
            typer.Option(
                "--geocode-concurrency", min=1, max=16, help="Geocoding requests in flight (default: 2)."
            ),
        ],
        None,
    ),
}

# Secondary sources: `build` and `update` take these together.
SECONDARY_SOURCES = {
    "extra_source": (
        Annotated[
            list[str] | None,
            typer.Option(
                "--extra-source",
                help="A secondary source, NAME=PATH_OR_URL (repeatable); NAME: a built-in mapping "
                "(datadock, cfa-reseaux, certificateur) or a mapping file (.toml).",
            ),
        ],
        None,
    ),
    "sources_config": (
        Annotated[
            Path | None,
            typer.Option(
                "--sources-config",
                help="A TOML file listing secondary sources ([[source]] mapping = …, location = …); "
                "env ANNUAIRE_SOURCES_CONFIG.",
                dir_okay=False,
            ),
        ],
        None,
    ),
}


def option_group(
    parameter: str, options: dict[str, tuple[Any, Any]], make: Callable[..., Any]
) -> Callable[[F], F]:
    """A decorator: the command's `parameter` is replaced, on the command line, by `options` (name →
    (Annotated type, default)); the command receives `make(**their values)` in it. The options are
    declared once for every command that takes them."""

    def decorate(command: F) -> F:
        signature = inspect.signature(command)
        kept = [
            p.replace(annotation=_evaluated(p.annotation, command))
            for p in signature.parameters.values()
            if p.name != parameter
        ]
        added = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
            for name, (annotation, default) in options.items()
        ]

        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            values = {name: kwargs.pop(name) for name in options}
            return command(*args, **kwargs, **{parameter: make(**values)})

        # What Typer reads: the signature, and the annotations (without the group's parameter, whose
        # type the command's module may import only when it runs).
        run.__signature__ = signature.replace(parameters=[*kept, *added])  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in run.__signature__.parameters.values()}  # type: ignore[attr-defined]
        del run.__wrapped__
        return run  # type: ignore[return-value]

    return decorate


def _evaluated(annotation: Any, function: Callable[..., Any]) -> Any:
    """An annotation as an object (modules with `from __future__ import annotations` hold strings)."""
    return eval(annotation, function.__globals__) if isinstance(annotation, str) else annotation
