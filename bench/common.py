"""What the benchmark scripts share: the `annuaire` command beside this Python, and the build of the
benchmark snapshot without geocoding that several of them time their work on."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path


def annuaire_command() -> str:
    """The `annuaire` console script: on the PATH, else beside this Python (a venv not activated)."""
    return shutil.which("annuaire") or str(Path(sys.executable).with_name("annuaire"))


def build_without_geocoding(source: Path, db: Path, reference: Path) -> None:
    """`annuaire build --no-geocode` of `source` into `db`; a missing file stops the script."""
    if not source.exists():
        raise SystemExit(f"{source}: benchmark file not found (set ANNUAIRE_SHARED_DIR)")
    print(f"building {source} (no geocoding) …", flush=True)
    subprocess.run(
        [annuaire_command(), "build", "--no-progress", "--no-geocode", "--source", str(source)]
        + ["--db", str(db), "--reference", str(reference)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
