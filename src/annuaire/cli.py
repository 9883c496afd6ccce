"""The `annuaire` command line.

Exit codes (errors.py names them, README.md documents them): 0 success; 1 unexpected failure;
2 unusable input (file, format, columns); 3 reference data missing or unreadable; 4 download failed;
5 another build or update of the directory is running; 6 PostgreSQL unreachable; 7 no such directory.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from . import logs
from .corrections.commands import admin as admin_commands
from .errors import EXIT_FAILURE, AnnuaireError, DirectoryMissing

app = typer.Typer(
    name="annuaire",
    help="Annuaire des organismes de formation: a directory built from data.gouv.fr open data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(admin_commands, name="admin")
err = Console(stderr=True)
out = Console()
log = logging.getLogger("annuaire")

ReferenceOption = Annotated[
    Path | None,
    typer.Option(
        "--reference",
        help="Folder with laposte_hexasmal.csv, departements.json, regions.json "
        "(env ANNUAIRE_REFERENCE_DIR; default: downloaded from data.gouv.fr and cached)",
        file_okay=False,
    ),
]


GeocodeOption = Annotated[
    bool | None,
    typer.Option(
        "--geocode/--no-geocode",
        help="Geocode street addresses with the BAN geocoder (env ANNUAIRE_GEOCODE=0: off; default on)",
        show_default=False,
    ),
]
GeocoderUrlOption = Annotated[
    str | None,
    typer.Option(
        "--geocoder-url",
        help="BAN geocoder (Addok + CSV plugin) base URL "
        "(env ANNUAIRE_GEOCODER_URL; default: the public service)",
    ),
]
GeocodeCacheOption = Annotated[
    Path | None,
    typer.Option(
        "--geocode-cache",
        help="Geocoding cache file (default: ~/.cache/annuaire/geocode.sqlite)",
        dir_okay=False,
    ),
]
BatchSizeOption = Annotated[
    int | None,
    typer.Option(
        "--geocode-batch-size", min=1, max=50_000, help="Rows per geocoding request (default: 5000)."
    ),
]
ConcurrencyOption = Annotated[
    int | None,
    typer.Option("--geocode-concurrency", min=1, max=16, help="Geocoding requests in flight (default: 2)."),
]


def _geocode_settings(enabled, url, cache, batch_size, concurrency):
    from .pipeline.geocode import GeocodeSettings

    return GeocodeSettings.from_environment(
        enabled=enabled, url=url, cache_path=cache, batch_size=batch_size, concurrency=concurrency
    )


def _rows_progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]geocoding[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=not enabled,
        transient=True,
    )


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logs.")] = False) -> None:
    logs.setup(verbose)


def _geocode_table(report: dict) -> Table:
    table = Table(title="Geocoding", show_header=True, header_style="bold")
    table.add_column("what")
    table.add_column("count", justify="right")
    for key in ("addresses", "street_addresses", "distinct_addresses_sent", "answered_from_cache"):
        table.add_row(key.replace("_", " "), f"{report[key]:,}")
    for key, value in report["by_method"].items():
        table.add_row(f"located by: {key}", f"{value:,}")
    for key, value in report["by_type"].items():
        table.add_row(f"precision: {key or 'none'}", f"{value:,}")
    for key, value in report["reasons"].items():
        table.add_row(key.replace(".", ": "), f"{value:,}")
    for key, value in report.get("requests", {}).items():
        table.add_row(f"geocoder {key}", f"{value:,}")
    return table


def _report_table(report: dict) -> Table:
    table = Table(title="Build report", show_header=True, header_style="bold")
    table.add_column("what")
    table.add_column("count", justify="right")
    for key, value in report["rows"].items():
        table.add_row(f"rows: {key}", f"{value:,}")
    for key, value in report["quarantine"].items():
        table.add_row(f"quarantine: {key}", f"{value:,}")
    labels = {"commune.": "commune found by: ", "address.": "address kind: ", "place.": "place from: "}
    for key, value in report["repairs"].items():
        prefix = next((p for p in labels if key.startswith(p)), None)
        if prefix:
            table.add_row(labels[prefix] + key[len(prefix) :], f"{value:,}")
        elif "." not in key:
            table.add_row(f"repair: {key}", f"{value:,}")
    dedup = report["deduplication"]
    table.add_row(
        "organisations with several declarations", f"{dedup['organisations_with_several_declarations']:,}"
    )
    table.add_row("declarations merged", f"{dedup['declarations_merged']:,}")
    sirene = report.get("sirene") or {}
    if sirene.get("placed_by_sirene") or sirene.get("stock"):
        table.add_row("placed at their SIRENE address", f"{sirene['placed_by_sirene']:,}")
        table.add_row("  with SIRENE's position", f"{sirene['with_sirene_position']:,}")
    table.add_row("duration (s)", f"{report['duration_seconds']}")
    return table


def _sources_table(report: dict) -> Table:
    table = Table(title="Secondary sources", show_header=True, header_style="bold")
    for column in ("source", "status", "rows", "matched", "rate", "by SIRET / NDA / name", "conflicts"):
        table.add_column(column, justify="left" if column in ("source", "status") else "right")
    for name, s in report["sources"].items():
        by = s["by_method"]
        table.add_row(
            name,
            s["status"],
            f"{s['rows']:,}",
            f"{s['matched']:,}",
            f"{s['match_rate']:.1%}" if s["match_rate"] is not None else "–",
            f"{by['siret']:,} / {by['nda']:,} / {by['nom_code_postal']:,}",
            ", ".join(f"{k} {v:,}" for k, v in s["conflicts"].items()) or "0",
        )
    return table


ExtraSourceOption = Annotated[
    list[str] | None,
    typer.Option(
        "--extra-source",
        help="A secondary source, NAME=PATH_OR_URL (repeatable); NAME: a built-in mapping "
        "(datadock, cfa-reseaux, certificateur) or a mapping file (.toml).",
    ),
]
SourcesConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--sources-config",
        help="A TOML file listing secondary sources ([[source]] mapping = …, location = …); "
        "env ANNUAIRE_SOURCES_CONFIG.",
        dir_okay=False,
    ),
]

SireneStockOption = Annotated[
    Path | None,
    typer.Option(
        "--sirene-stock",
        help="INSEE's stock file of establishments (StockEtablissement_utf8.csv, .zip or .gz): places "
        "the declarations whose own address gives no commune at their establishment's address.",
        dir_okay=False,
    ),
]


def _extra_sources(options: list[str] | None, config_file: Path | None) -> list:
    """The secondary sources given by `--sources-config` (or ANNUAIRE_SOURCES_CONFIG) and `--extra-source`."""
    import os

    from .sources.extra import parse_extra_source, parse_sources_config

    config_file = config_file or os.environ.get("ANNUAIRE_SOURCES_CONFIG") or None
    extras = parse_sources_config(config_file) if config_file else []
    return extras + [parse_extra_source(option) for option in options or []]


@app.command()
def build(
    source: Annotated[str, typer.Option("--source", help="Liste publique CSV (path or URL, plain or .gz).")],
    db: Annotated[str, typer.Option("--db", help="SQLite file or postgresql:// URL to create or replace.")],
    reference: ReferenceOption = None,
    geocode: GeocodeOption = None,
    geocoder_url: GeocoderUrlOption = None,
    geocode_cache: GeocodeCacheOption = None,
    geocode_batch_size: BatchSizeOption = None,
    geocode_concurrency: ConcurrencyOption = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    extra_source: ExtraSourceOption = None,
    sources_config: SourcesConfigOption = None,
    sirene_stock: SireneStockOption = None,
) -> None:
    """Build the directory from the Liste publique des organismes de formation."""

    from .pipeline.build import build as run_build
    from .sources.download import is_url
    from .sources.reference import load_reference
    from .sources.reference_files import reference_folder

    store = _target(db)  # before any work: a file or folder that cannot be written is refused now
    extras = _extra_sources(extra_source, sources_config)
    ref = load_reference(reference_folder(reference))
    settings = _geocode_settings(
        geocode, geocoder_url, geocode_cache, geocode_batch_size, geocode_concurrency
    )
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=not progress,
        transient=True,
    )
    with bar:
        reading = bar.add_task(
            f"reading {source if is_url(source) else Path(source).name}", total=None, detail=""
        )
        geocoding = None

        def on_progress(done: int, total: int) -> None:
            bar.update(
                reading, completed=done, total=total or None, detail=f"{done / 1e6:.1f}/{total / 1e6:.1f} MB"
            )

        def on_geocode_progress(done: int, total: int) -> None:
            nonlocal geocoding
            if geocoding is None:
                geocoding = bar.add_task("geocoding", total=total, detail="")
            elapsed = bar.tasks[geocoding].elapsed or 0
            rate = f", {done / elapsed:,.0f} rows/s" if elapsed else ""
            bar.update(geocoding, completed=done, total=total, detail=f"{done:,}/{total:,} rows{rate}")

        with store.lock():
            report = run_build(
                source,
                store,
                ref,
                on_progress=on_progress,
                geocoding=settings if settings.enabled else None,
                on_geocode_progress=on_geocode_progress,
                extra_sources=extras,
                sirene_stock=sirene_stock,
            )
    out.print(_report_table(report))
    if "sources_secondaires" in report:
        out.print(_sources_table(report["sources_secondaires"]))
    if "geocoding" in report:
        out.print(_geocode_table(report["geocoding"]))
    out.print(
        f"Directory written to [bold]{store.shown}[/bold]; report in {store.report_path('.report.json')}"
    )


@app.command("geocode")
def geocode_(
    db: Annotated[str, typer.Option("--db", help="The directory: a SQLite file or a postgresql:// URL.")],
    reference: ReferenceOption = None,
    geocoder_url: GeocoderUrlOption = None,
    geocode_cache: GeocodeCacheOption = None,
    geocode_batch_size: BatchSizeOption = None,
    geocode_concurrency: ConcurrencyOption = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Geocode an existing directory's addresses again (only those the cache has never seen are sent)."""
    from .pipeline.geocode import addresses_from, geocode
    from .sources.reference import load_reference
    from .sources.reference_files import reference_folder
    from .store import open_store

    store = open_store(db)
    if not store.exists():
        raise DirectoryMissing(db)
    ref = load_reference(reference_folder(reference))
    settings = _geocode_settings(True, geocoder_url, geocode_cache, geocode_batch_size, geocode_concurrency)
    addresses = addresses_from(store.addresses(), ref.communes)
    with _rows_progress(progress) as bar:
        task = bar.add_task("geocoding", total=None)
        locations, report = geocode(
            addresses, settings, lambda done, total: bar.update(task, completed=done, total=total)
        )
    store.replace_locations(loc.row() for loc in locations)
    out.print(_geocode_table(report))


@app.command("export")
def export_(
    db: Annotated[str, typer.Option("--db", help="The directory: a SQLite file or a postgresql:// URL.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the files into.", file_okay=False)],
    formats: Annotated[
        str,
        typer.Option(
            "--formats", help="Comma-separated: csv, json, geojson, parquet (CSV is always written)."
        ),
    ] = "csv,json,geojson,parquet",
) -> None:
    """Export declarations, organisations and quarantine (CSV, JSON, GeoJSON, Parquet) with their Table
    Schemas (schema.json…) and publishing metadata (datapackage.json), following data.gouv.fr conventions."""
    from .errors import InputError
    from .exports.files import ALL_FORMATS, export_all
    from .store import open_store

    store = open_store(db)
    if not store.exists():
        raise DirectoryMissing(db)
    chosen = [f.strip().lower() for f in formats.split(",") if f.strip()]
    unknown = [f for f in chosen if f not in ALL_FORMATS]
    if unknown:
        raise InputError(
            "--formats", f"unknown format(s) {', '.join(unknown)}: expected {', '.join(ALL_FORMATS)}"
        )
    counts = export_all(store, out_dir, chosen)
    for name, count in counts.items():
        out.print(f"{out_dir / name}: {count:,} rows")
    out.print(f"Table Schemas and datapackage.json written to {out_dir}")


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="The CSV file to check.", dir_okay=False)],
    schema: Annotated[
        Path, typer.Option("--schema", help="Table Schema (JSON), e.g. schema.json.", dir_okay=False)
    ],
    max_errors: Annotated[
        int, typer.Option("--max-errors", min=1, help="Stop after this many errors.")
    ] = 1000,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Validate a CSV file against a Table Schema; errors in French (line, column, value, rule).
    Exit code 0 when valid, 2 when not."""
    import json

    from .errors import EXIT_INPUT
    from .exports.validate import validate_file

    result = validate_file(file, schema, max_errors=max_errors)
    if as_json:
        out.print_json(json.dumps(result.as_dict(), ensure_ascii=False))
    elif result.valid:
        rows = f"{result.rows:,}".replace(",", "\u202f")
        out.print(f"{file} : valide ({rows} lignes, schéma {schema})", markup=False, soft_wrap=True)
    else:
        for problem in result.problems:
            out.print(problem.text(), highlight=False, markup=False, soft_wrap=True)
        more = " (liste tronquée)" if result.truncated else ""
        out.print(
            f"{file} : invalide, {len(result.problems)} erreur(s){more} (schéma {schema})",
            markup=False,
            soft_wrap=True,
        )
    if not result.valid:
        raise typer.Exit(EXIT_INPUT)


@app.command()
def profile(
    db: Annotated[
        str,
        typer.Option(
            "--db",
            help="The directory: a SQLite file (profiles beside it) or a postgresql:// URL (in the cache).",
        ),
    ],
    source: Annotated[
        Path | None,
        typer.Option(
            "--source",
            help="Liste publique file (default: the latest snapshot, else the build's source).",
            dir_okay=False,
        ),
    ] = None,
    laposte: Annotated[
        Path | None,
        typer.Option(
            "--laposte",
            help="La Poste's base (default: the latest snapshot, else the reference folder).",
            dir_okay=False,
        ),
    ] = None,
    reference: ReferenceOption = None,
    metadata: Annotated[
        list[Path] | None,
        typer.Option(
            "--metadata",
            help="A data.gouv.fr dataset description (JSON), repeatable (default: as fetched).",
            dir_okay=False,
        ),
    ] = None,
    snapshots_dir: Annotated[
        Path | None,
        typer.Option(
            "--snapshots", help="Snapshot folder of `annuaire fetch` (default: the cache's).", file_okay=False
        ),
    ] = None,
    rows: Annotated[
        int, typer.Option("--rows", min=0, help="Records profiled per file (0: all; the rest are counted).")
    ] = 20_000,
) -> None:
    """Profile the source datasets (columns, formats, volume, freshness, licence, metadata, availability)
    and score their trust (DB.sources.json); compute the quality report of the directory
    (DB.quality.json). The website and the API read both."""
    import json

    from .errors import InputError
    from .store import open_store
    from .trust.quality import cached_quality_report
    from .trust.sources import default_files, profile_all, write_profiles

    store = open_store(db)
    if not store.exists():
        raise DirectoryMissing(db)
    given = []
    for path in metadata or []:
        try:
            given.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise InputError(
                str(path), f"not a readable data.gouv.fr dataset description (JSON): {exc}"
            ) from None
    build_report = store.meta().get("build_report")
    files = default_files(
        source, laposte, reference, build_report if isinstance(build_report, dict) else None, snapshots_dir
    )
    profiles = profile_all(files, given, snapshots_dir=snapshots_dir, max_rows=rows or None)
    path = write_profiles(db, profiles)
    cached_quality_report(store, db)  # the quality report of our own data, ready for the server
    table = Table(title="Sources", show_header=True, header_style="bold")
    for column in ("source", "rows", "columns", "formats found", "trust score"):
        table.add_column(column)
    for item in profiles["sources"]:
        found = [c["format"] for c in (item["fichier"] or {}).get("columns", []) if c["format"]]
        volume = item["volume"]
        table.add_row(
            item["cle"],
            f"{volume['lignes']:,}" if volume["lignes"] is not None else "no file",
            str(volume["colonnes"] or ""),
            ", ".join(sorted(set(found))),
            f"{item['score']['total']}/100",
        )
    out.print(table)
    out.print(f"Profiles written to {path}; quality report beside them")


@app.command()
def fetch(
    laposte: Annotated[bool, typer.Option(help="Also refresh La Poste's postal-code base.")] = True,
    folder: Annotated[
        Path | None, typer.Option("--folder", help="Where snapshots are kept (default: cache's snapshots/).")
    ] = None,
) -> None:
    """Download the Liste publique (and La Poste's base) from data.gouv.fr if they changed; keep dated
    snapshots. ANNUAIRE_PORTAL_URL names the portal, ANNUAIRE_MIRROR a local mirror folder."""
    import shutil

    from .sources.reference import LAPOSTE_FILE
    from .sources.reference_files import cache_folder
    from .sources.snapshots import LAPOSTE_DATASET, fetch_resource

    result = fetch_resource(folder=folder)
    words = {
        "downloaded": "new snapshot",
        "not_modified": "not modified (304)",
        "same_content": "same content",
    }
    out.print(f"Liste publique: {words[result.reason]}: {result.snapshot.path}")
    if laposte:
        poste = fetch_resource(LAPOSTE_DATASET, None, folder=folder)
        out.print(f"La Poste: {words[poste.reason]}: {poste.snapshot.path}")
        target = cache_folder() / LAPOSTE_FILE
        if poste.changed or not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(poste.snapshot.path, target)


@app.command()
def update(
    db: Annotated[
        str, typer.Option("--db", help="The directory to update: SQLite file or postgresql:// URL.")
    ],
    source: Annotated[
        str | None,
        typer.Option("--source", help="The new snapshot (path or URL; default: the latest fetched)."),
    ] = None,
    report_file: Annotated[
        Path | None, typer.Option("--report", help="Where to write the JSON report (default: beside the db).")
    ] = None,
    reference: ReferenceOption = None,
    geocode: GeocodeOption = None,
    geocoder_url: GeocoderUrlOption = None,
    geocode_cache: GeocodeCacheOption = None,
    geocode_batch_size: BatchSizeOption = None,
    geocode_concurrency: ConcurrencyOption = None,
    extra_source: ExtraSourceOption = None,
    sources_config: SourcesConfigOption = None,
    max_removed: Annotated[
        str,
        typer.Option(
            "--max-removed",
            help="Refuse a snapshot that removes more than this share (5%) or number of the active "
            "declarations.",
        ),
    ] = "5%",
    min_rows: Annotated[
        str,
        typer.Option(
            "--min-rows",
            help="Refuse a snapshot with fewer rows than this share of the last snapshot accepted (90%), "
            "or this number.",
        ),
    ] = "90%",
    force: Annotated[
        bool, typer.Option("--force", help="Apply a snapshot that --max-removed or --min-rows refuses.")
    ] = False,
    sirene_stock: SireneStockOption = None,
) -> None:
    """Apply a new snapshot: added, modified and removed declarations (removed ones are kept, marked
    `supprime`), only new or changed addresses geocoded, swapped in atomically. Secondary sources given
    are read again and reconciled with the updated directory in the same swap. A snapshot that looks
    partial (--max-removed, --min-rows) is refused, the directory untouched (exit code 2)."""
    import json
    import os
    import time

    from .pipeline.guard import Guard, PartialSource
    from .pipeline.update import update as run_update
    from .sources.reference import load_reference
    from .sources.reference_files import reference_folder
    from .sources.snapshots import LISTE_PUBLIQUE_RESOURCE, latest

    store = _target(db, must_exist=True)  # before any work, as for a build
    guard = Guard.from_options(max_removed, min_rows, force)
    extras = _extra_sources(extra_source, sources_config)
    if source is None:
        snapshot = latest(LISTE_PUBLIQUE_RESOURCE)
        if snapshot is None:
            raise AnnuaireError("no snapshot fetched yet: run `annuaire fetch` or give --source")
        source = snapshot.path
    ref = load_reference(reference_folder(reference))
    settings = _geocode_settings(
        geocode, geocoder_url, geocode_cache, geocode_batch_size, geocode_concurrency
    )
    pause_at = os.environ.get("ANNUAIRE_UPDATE_PAUSE_AT")  # fault-injection hook for tests

    def pause(stage: str) -> None:
        if stage == pause_at:
            err.print(f"paused at {stage}", highlight=False)
            time.sleep(600)

    path = report_file or store.report_path(".update.json")
    try:
        report = run_update(
            source,
            store,
            ref,
            geocoding=settings if settings.enabled else None,
            pause=pause,
            extra_sources=extras,
            guard=guard,
            sirene_stock=sirene_stock,
        )
    except PartialSource as refused:  # the report says so too
        path.write_text(json.dumps(refused.report, ensure_ascii=False, indent=2), encoding="utf-8")
        raise
    path.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    table = Table(title="Update", show_header=False)
    for key, value in report["counts"].items():
        table.add_row(key, f"{value:,}")
    table.add_row(
        "addresses sent to the geocoder", f"{report['geocoding'].get('distinct_addresses_sent', 0):,}"
    )
    table.add_row("organisations rewritten", f"{report.get('organisations_rewritten', 0):,}")
    table.add_row("duration (s)", f"{report['duration_seconds']:.2f}")
    out.print(table)
    if "sources_secondaires" in report:
        out.print(_sources_table(report["sources_secondaires"]))
    if report["garde"]["decision"] == "forced":
        out.print("The snapshot looked partial (--max-removed, --min-rows): applied because of --force.")
    if not report["changed"]:
        out.print("Nothing changed: the directory is left as it was.")
    out.print(f"Report in {path}")


@app.command()
def sirene(
    db: Annotated[str, typer.Option("--db", help="The directory: a SQLite file or a postgresql:// URL.")],
    api: Annotated[
        str,
        typer.Option(
            "--api", help="recherche-entreprises (no token) or insee (a token: env ANNUAIRE_INSEE_TOKEN)."
        ),
    ] = "recherche-entreprises",
    url: Annotated[
        str | None,
        typer.Option("--url", help="The API's base URL (env ANNUAIRE_SIRENE_URL; default: the public one)."),
    ] = None,
    rate: Annotated[
        float | None,
        typer.Option("--rate", min=0.1, help="Requests per minute (default: 300, insee: 30)."),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", min=0, help="Check only the first N establishments (by identifier)."),
    ] = None,
    max_age: Annotated[
        int, typer.Option("--max-age", min=0, help="Days an answer stays fresh in the cache.")
    ] = 30,
    cache: Annotated[
        Path | None,
        typer.Option(
            "--cache", help="Answers cache (default: ~/.cache/annuaire/sirene.sqlite).", dir_okay=False
        ),
    ] = None,
    stock: Annotated[
        Path | None,
        typer.Option(
            "--stock",
            help="Read INSEE's stock file of establishments (StockEtablissement_utf8.csv or its .zip) "
            "instead of asking an API.",
            dir_okay=False,
        ),
    ] = None,
    stock_unites: Annotated[
        Path | None,
        typer.Option(
            "--stock-unites",
            help="With --stock: INSEE's stock file of legal units (StockUniteLegale_utf8.csv or its .zip), "
            "for the legal names.",
            dir_okay=False,
        ),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Check the directory's establishments against SIRENE (open or closed, legal name, NAF code).

    Throttled, retried, and resumable: answers are cached by SIRET, a run asks only what it lacks.
    With --stock, INSEE's monthly stock files are read instead (streamed), for a whole directory at once."""
    import os

    from . import config
    from .errors import InputError
    from .pipeline.sirene import check_directory, import_stock
    from .sources.sirene import SireneCache, SireneClient
    from .store import open_store

    if stock_unites is not None and stock is None:
        raise InputError("--stock-unites", "needs --stock (the establishments' stock file)")
    if stock is not None:
        answers = SireneCache(cache or config.cache_dir() / "sirene.sqlite")
        try:
            status = err.status("[bold]SIRENE[/bold] reading the stock files…")
            with status if progress else contextlib.nullcontext():
                report = import_stock(open_store(str(db)), stock, answers, units=stock_unites, limit=limit)
        finally:
            answers.close()
        _print_sirene_report(report)
        return
    token = os.environ.get("ANNUAIRE_INSEE_TOKEN") or None
    if api not in ("recherche-entreprises", "insee"):
        raise InputError("--api", f"{api!r}: expected recherche-entreprises or insee")
    if api == "insee" and not token:
        raise InputError("--api insee", "needs a token in ANNUAIRE_INSEE_TOKEN")
    client = SireneClient(api, url or os.environ.get("ANNUAIRE_SIRENE_URL") or None, token, rate)
    answers = SireneCache(cache or config.cache_dir() / "sirene.sqlite")
    bar = Progress(
        TextColumn("[bold]SIRENE[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=not progress,
        transient=True,
    )
    try:
        with bar:
            task = bar.add_task("sirene", total=None)
            report = check_directory(
                open_store(str(db)),
                client,
                answers,
                max_age_days=max_age,
                limit=limit,
                on_answer=lambda done, total: bar.update(task, completed=done, total=total),
            )
    finally:
        client.close()
        answers.close()
    _print_sirene_report(report)


def _print_sirene_report(report: dict) -> None:
    table = Table(title="SIRENE", show_header=True, header_style="bold")
    table.add_column("what")
    table.add_column("count", justify="right")
    for key, value in report.items():
        if isinstance(value, dict):  # what placing did: one line each
            for sub, count in value.items():
                if isinstance(count, dict):
                    count = ", ".join(f"{k} {v:,}" for k, v in count.items()) or "–"
                table.add_row(
                    f"{key}: {sub}".replace("_", " "), f"{count:,}" if isinstance(count, int) else count
                )
            continue
        table.add_row(key.replace("_", " "), f"{value:,}" if isinstance(value, int) else str(value))
    out.print(table)


@app.command()
def serve(
    db: Annotated[str, typer.Option("--db", help="The directory: a SQLite file or a postgresql:// URL.")],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (one per core is a good start).")] = 1,
    rate_limit: Annotated[
        int, typer.Option(help="Requests per minute per client IP and worker on /api/ (0: no limit).")
    ] = 600,
    corrections: Annotated[
        Path | None,
        typer.Option(
            "--corrections",
            help="The corrections file (env ANNUAIRE_CORRECTIONS_DB; default: <db>.corrections.sqlite).",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Serve the website (/) and the JSON API (/api/v1/, OpenAPI at /api/openapi.json, docs at /api/docs)."""
    import os

    import uvicorn

    from .api.proxies import trusted_proxies_from_environment
    from .errors import InputError
    from .store import open_store

    store = open_store(db)
    if not store.exists():
        raise DirectoryMissing(db)
    try:
        trusted_proxies_from_environment()  # a mistake there stops here, not in every worker
    except ValueError as exc:
        raise InputError("ANNUAIRE_TRUSTED_PROXIES", str(exc)) from None
    # Workers are separate processes: they read their settings from the environment.
    os.environ["ANNUAIRE_DB"] = store.location  # a file's absolute path (a link's target), or the URL
    os.environ["ANNUAIRE_RATE_LIMIT"] = str(rate_limit)
    if corrections is not None:
        os.environ["ANNUAIRE_CORRECTIONS_DB"] = str(corrections.resolve())
    log.info("serving %s on http://%s:%d/ with %d worker(s)", _shown(db), host, port, workers)
    uvicorn.run(
        "annuaire.api.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # The standard asyncio loop, not uvloop: under saturation uvloop starts new requests ahead of
        # finishing answered ones (MagicStack/uvloop#123), and measured here it multiplied the 99th
        # percentile latency by 5 to 10 for the same throughput. httptools still parses HTTP in C.
        loop="asyncio",
        http="httptools",
        # Proxy headers are read by the app, from trusted proxies only (ANNUAIRE_TRUSTED_PROXIES);
        # uvicorn's own reading would trust 127.0.0.1 by default.
        proxy_headers=False,
        log_level="warning",
        access_log=False,
    )


def _shown(location: str) -> str:
    from .store import shown

    return shown(location)


def _target(db: str, *, must_exist: bool = False):
    """The directory a run replaces (its store): a link resolved once (the run works on its target),
    and a file or folder that cannot be written refused at once (exit code 2)."""
    from .store import open_store

    store = open_store(db)
    if must_exist and not store.exists():
        return store  # the command says there is no such database
    store.check_writable()
    return store


@app.command()
def migrate(
    db: Annotated[str, typer.Option("--db", help="The directory: a SQLite file or a postgresql:// URL.")],
) -> None:
    """Bring a directory built by an older version to the current schema (numbered migrations)."""
    from .store import open_store

    store = open_store(db)
    if not store.exists():
        raise DirectoryMissing(db)
    with store.lock():
        applied = store.migrate()
    for migration in applied:
        out.print(f"applied {migration.version:04d} {migration.name}")
    out.print(f"schema version {store.schema_version()} (latest {store.latest_version()})")


@app.command("copy")
def copy_(
    source: Annotated[str, typer.Option("--from", help="The directory to copy (SQLite file or URL).")],
    destination: Annotated[str, typer.Option("--to", help="Where to copy it (SQLite file or URL).")],
) -> None:
    """Copy a whole directory between SQLite and PostgreSQL (swapped in atomically at the destination)."""
    from .store import open_store
    from .store.copy import copy_directory

    target = _target(destination)
    with target.lock():
        counts = copy_directory(open_store(source), target)
    out.print(
        f"copied {counts['organismes']:,} organisations, {counts['declarations']:,} declarations "
        f"to {target.shown}"
    )


def main() -> None:
    try:
        app()  # usage errors are answered by Typer itself (exit code 2)
    except AnnuaireError as exc:
        err.print(f"[bold red]error:[/bold red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except Exception:
        log.exception("unexpected failure")
        sys.exit(EXIT_FAILURE)


if __name__ == "__main__":
    main()
