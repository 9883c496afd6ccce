"""The `annuaire` command line.

Exit codes: 0 success; 1 unexpected failure; 2 unusable input (file, format, columns);
3 reference data missing or unreadable; 4 download failed.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from . import logs
from .errors import EXIT_FAILURE, AnnuaireError

app = typer.Typer(
    name="annuaire",
    help="Annuaire des organismes de formation: a directory built from data.gouv.fr open data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
out = Console()
log = logging.getLogger("annuaire")

ReferenceOption = Annotated[
    Path | None,
    typer.Option(
        "--reference",
        help="Folder with laposte_hexasmal.csv, departements.json, regions.json "
        "[env ANNUAIRE_REFERENCE_DIR; default: downloaded from data.gouv.fr and cached]",
        file_okay=False,
    ),
]


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logs.")] = False) -> None:
    logs.setup(verbose)


def _report_table(report: dict) -> Table:
    table = Table(title="Build report", show_header=True, header_style="bold")
    table.add_column("what")
    table.add_column("count", justify="right")
    for key, value in report["rows"].items():
        table.add_row(f"rows: {key}", f"{value:,}")
    for key, value in report["quarantine"].items():
        table.add_row(f"quarantine: {key}", f"{value:,}")
    labels = {"commune.": "commune found by: ", "address.": "address kind: "}
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
    table.add_row("duration (s)", f"{report['duration_seconds']}")
    return table


@app.command()
def build(
    source: Annotated[str, typer.Option("--source", help="Liste publique CSV (path or URL, plain or .gz).")],
    db: Annotated[Path, typer.Option("--db", help="SQLite file to create or replace.", dir_okay=False)],
    reference: ReferenceOption = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Build the directory from the Liste publique des organismes de formation."""
    from .pipeline.build import build as run_build
    from .sources.reference import load_reference
    from .sources.reference_files import reference_folder

    ref = load_reference(reference_folder(reference))
    bar = Progress(
        TextColumn("[bold]reading[/bold] {task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=not progress,
        transient=True,
    )
    with bar:
        task = bar.add_task(Path(source).name if "://" not in source else source, total=None)

        def on_progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total or None)

        report = run_build(source, str(db), ref, on_progress=on_progress)
    out.print(_report_table(report))
    out.print(f"Directory written to [bold]{db}[/bold]; report in {db}.report.json")


@app.command("export")
def export_(
    db: Annotated[Path, typer.Option("--db", help="The directory's SQLite file.", dir_okay=False)],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the files into.", file_okay=False)],
) -> None:
    """Export declarations, organisations and quarantine as CSV (data.gouv.fr conventions)."""
    from .exports.csv_files import export_csv
    from .store import open_store

    store = open_store(str(db))
    if not store.exists():
        raise AnnuaireError(f"{db}: no such database (run `annuaire build` first)")
    counts = export_csv(store, out_dir)
    for name, count in counts.items():
        out.print(f"{out_dir / name}: {count:,} rows")


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
