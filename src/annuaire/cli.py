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
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from . import logs
from .corrections.commands import admin as admin_commands
from .errors import EXIT_FAILURE, AnnuaireError, DirectoryMissing
from .options import (
    GEOCODING,
    SECONDARY_SOURCES,
    CorrectionsOption,
    DirectoryOption,
    NewDirectoryOption,
    ProgressOption,
    ReferenceOption,
    SireneStockOption,
    option_group,
)
from .settings import current as current_settings
from .settings import read as read_settings
from .settings import use as use_settings

if TYPE_CHECKING:
    from .store.base import Store

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


def _geocoding(
    geocode: bool | None = True,
    geocoder_url: str | None = None,
    geocode_cache: Path | None = None,
    geocode_batch_size: int | None = None,
    geocode_concurrency: int | None = None,
):
    """The geocoding options over the settings (settings.py), as the pipeline takes them."""
    from .pipeline.geocode import GeocodeSettings

    settings = current_settings().but(geocode=geocode, geocoder_url=geocoder_url)
    return GeocodeSettings.from_settings(
        settings, cache_path=geocode_cache, batch_size=geocode_batch_size, concurrency=geocode_concurrency
    )


def _secondary_sources(extra_source: list[str] | None, sources_config: Path | None) -> list:
    """The secondary sources given by `--sources-config` (or ANNUAIRE_SOURCES_CONFIG) and `--extra-source`."""
    from .sources.extra import parse_extra_source, parse_sources_config

    config_file = current_settings().but(sources_config=sources_config).sources_config
    extras = parse_sources_config(config_file) if config_file else []
    return extras + [parse_extra_source(option) for option in extra_source or []]


with_geocoding = option_group("geocoding", GEOCODING, _geocoding)
with_secondary_sources = option_group("extra_sources", SECONDARY_SOURCES, _secondary_sources)


def _existing(db: str) -> Store:
    """The directory at `db`; DirectoryMissing (exit code 7) when there is none."""
    from .store import open_store

    store = open_store(db)
    if not store.exists():
        raise DirectoryMissing(db)
    return store


def _progress(enabled: bool, title: str, *counts: ProgressColumn) -> Progress:
    """A progress bar on stderr: the title, the bar, `counts`, the time elapsed and remaining."""
    return Progress(
        TextColumn(title),
        BarColumn(),
        *counts,
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=not enabled,
        transient=True,
    )


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logs.")] = False) -> None:
    settings = read_settings()  # once; a command's options go over them (settings.py)
    use_settings(settings)
    logs.setup(verbose, json_format=settings.log_format == "json")


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


@app.command()
@with_geocoding
@with_secondary_sources
def build(
    source: Annotated[str, typer.Option("--source", help="Liste publique CSV (path or URL, plain or .gz).")],
    db: NewDirectoryOption,
    geocoding: Any,
    extra_sources: list,
    reference: ReferenceOption = None,
    progress: ProgressOption = True,
    sirene_stock: SireneStockOption = None,
) -> None:
    """Build the directory from the Liste publique des organismes de formation."""

    from .pipeline.build import build as run_build
    from .sources.download import is_url
    from .sources.reference import load_reference
    from .sources.reference_files import reference_folder

    store = _target(db)  # before any work: a file or folder that cannot be written is refused now
    ref = load_reference(reference_folder(reference))
    bar = _progress(
        progress, "[bold]{task.description}", TaskProgressColumn(), TextColumn("{task.fields[detail]}")
    )
    with bar:
        reading = bar.add_task(
            f"reading {source if is_url(source) else Path(source).name}", total=None, detail=""
        )
        geocode_task = None

        def on_progress(done: int, total: int) -> None:
            bar.update(
                reading, completed=done, total=total or None, detail=f"{done / 1e6:.1f}/{total / 1e6:.1f} MB"
            )

        def on_geocode_progress(done: int, total: int) -> None:
            nonlocal geocode_task
            if geocode_task is None:
                geocode_task = bar.add_task("geocoding", total=total, detail="")
            elapsed = bar.tasks[geocode_task].elapsed or 0
            rate = f", {done / elapsed:,.0f} rows/s" if elapsed else ""
            bar.update(geocode_task, completed=done, total=total, detail=f"{done:,}/{total:,} rows{rate}")

        with store.lock():
            report = run_build(
                source,
                store,
                ref,
                on_progress=on_progress,
                geocoding=geocoding if geocoding.enabled else None,
                on_geocode_progress=on_geocode_progress,
                extra_sources=extra_sources,
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
@option_group(
    "geocoding",
    {name: option for name, option in GEOCODING.items() if name != "geocode"},
    lambda **options: _geocoding(True, **options),
)
def geocode_(
    db: DirectoryOption,
    geocoding: Any,
    reference: ReferenceOption = None,
    progress: ProgressOption = True,
) -> None:
    """Geocode an existing directory's addresses again (only those the cache has never seen are sent)."""
    from .pipeline.geocode import addresses_from, geocode
    from .sources.reference import load_reference
    from .sources.reference_files import reference_folder

    store = _existing(db)
    ref = load_reference(reference_folder(reference))
    addresses = addresses_from(store.addresses(), ref.communes)
    with _progress(progress, "[bold]geocoding[/bold]", MofNCompleteColumn(), TextColumn("rows")) as bar:
        task = bar.add_task("geocoding", total=None)
        locations, report = geocode(
            addresses, geocoding, lambda done, total: bar.update(task, completed=done, total=total)
        )
    store.replace_locations(loc.row() for loc in locations)
    out.print(_geocode_table(report))


@app.command("export")
def export_(
    db: DirectoryOption,
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

    store = _existing(db)
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
    db: DirectoryOption,
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
    (DB.quality.json). The website and the API read both. They are written beside a SQLite
    directory, in the cache for a PostgreSQL one."""
    import json

    from .errors import InputError
    from .trust.quality import cached_quality_report
    from .trust.sources import default_files, profile_all, write_profiles

    store = _existing(db)
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
    assert result.snapshot is not None  # a fetch that fails raises
    out.print(f"Liste publique: {words[result.reason]}: {result.snapshot.path}")
    if laposte:
        poste = fetch_resource(LAPOSTE_DATASET, None, folder=folder)
        assert poste.snapshot is not None
        out.print(f"La Poste: {words[poste.reason]}: {poste.snapshot.path}")
        target = cache_folder() / LAPOSTE_FILE
        if poste.changed or not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(poste.snapshot.path, target)


@app.command()
@with_geocoding
@with_secondary_sources
def update(
    db: DirectoryOption,
    geocoding: Any,
    extra_sources: list,
    source: Annotated[
        str | None,
        typer.Option("--source", help="The new snapshot (path or URL; default: the latest fetched)."),
    ] = None,
    report_file: Annotated[
        Path | None, typer.Option("--report", help="Where to write the JSON report (default: beside the db).")
    ] = None,
    reference: ReferenceOption = None,
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
    import time

    from .pipeline.guard import Guard, PartialSource
    from .pipeline.update import update as run_update
    from .sources.reference import load_reference
    from .sources.reference_files import reference_folder
    from .sources.snapshots import LISTE_PUBLIQUE_RESOURCE, latest

    store = _target(db, must_exist=True)  # before any work, as for a build
    guard = Guard.from_options(max_removed, min_rows, force)
    if source is None:
        snapshot = latest(LISTE_PUBLIQUE_RESOURCE)
        if snapshot is None:
            raise AnnuaireError("no snapshot fetched yet: run `annuaire fetch` or give --source")
        source = snapshot.path
    ref = load_reference(reference_folder(reference))
    pause_at = current_settings().update_pause_at  # fault-injection hook for tests

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
            geocoding=geocoding if geocoding.enabled else None,
            pause=pause,
            extra_sources=extra_sources,
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
    db: DirectoryOption,
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
    progress: ProgressOption = True,
) -> None:
    """Check the directory's establishments against SIRENE (open or closed, legal name, NAF code).

    Throttled, retried, and resumable: answers are cached by SIRET, a run asks only what it lacks.
    With --stock, INSEE's monthly stock files are read instead (streamed), for a whole directory at once."""
    from .errors import InputError
    from .pipeline.sirene import check_directory, import_stock
    from .sources.sirene import SireneCache, SireneClient
    from .store import open_store

    settings = current_settings().but(sirene_url=url)
    cache = cache or settings.cache_dir / "sirene.sqlite"
    if stock_unites is not None and stock is None:
        raise InputError("--stock-unites", "needs --stock (the establishments' stock file)")
    if stock is not None:
        answers = SireneCache(cache)
        try:
            status = err.status("[bold]SIRENE[/bold] reading the stock files…")
            with status if progress else contextlib.nullcontext():
                report = import_stock(open_store(str(db)), stock, answers, units=stock_unites, limit=limit)
        finally:
            answers.close()
        _print_sirene_report(report)
        return
    token = settings.insee_token
    if api not in ("recherche-entreprises", "insee"):
        raise InputError("--api", f"{api!r}: expected recherche-entreprises or insee")
    if api == "insee" and not token:
        raise InputError("--api insee", "needs a token in ANNUAIRE_INSEE_TOKEN")
    client = SireneClient(api, settings.sirene_url, token, rate)
    answers = SireneCache(cache)
    bar = _progress(progress, "[bold]SIRENE[/bold]", MofNCompleteColumn())
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
    db: DirectoryOption,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (one per core is a good start).")] = 1,
    rate_limit: Annotated[
        int | None,
        typer.Option(
            help="Requests per minute per client IP and worker on /api/ (0: no limit; "
            "env ANNUAIRE_RATE_LIMIT; default 600).",
            show_default=False,
        ),
    ] = None,
    corrections: CorrectionsOption = None,
) -> None:
    """Serve the website (/) and the JSON API (/api/v1/, OpenAPI at /api/openapi.json, docs at /api/docs)."""
    import uvicorn

    store = _existing(db)
    settings = current_settings().but(
        db=store.location,  # a file's absolute path (a link's target), or the URL
        rate_limit=rate_limit,
        corrections_db=corrections.resolve() if corrections else None,
    )
    settings.hand_down("db", "rate_limit", "corrections_db")  # the workers are processes of their own
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


def _target(db: str, *, must_exist: bool = False) -> Store:
    """The directory a run replaces (its store): a link resolved once (the run works on its target),
    and a file or folder that cannot be written refused at once (exit code 2)."""
    from .store import open_store

    store = open_store(db)
    if must_exist and not store.exists():
        return store  # the command says there is no such database
    store.check_writable()
    return store


@app.command()
def migrate(db: DirectoryOption) -> None:
    """Bring a directory built by an older version to the current schema (numbered migrations)."""
    store = _existing(db)
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
