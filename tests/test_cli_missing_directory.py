"""Every command that reads a directory says so when there is none at `--db`: one line naming the
location, exit code 7 (`DirectoryMissing`), no traceback. The commands run at the same time."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from annuaire.errors import EXIT_MISSING, DirectoryMissing


def test_every_command_reports_a_missing_directory(run_annuaire, tmp_path, sample_csv, mini_reference_dir):
    none = tmp_path / "none.db"
    commands = {
        "geocode": ("geocode", "--db", none, "--reference", mini_reference_dir, "--no-progress"),
        "export": ("export", "--db", none, "--out", tmp_path / "out"),
        "profile": ("profile", "--db", none, "--reference", mini_reference_dir),
        "update": ("update", "--db", none, "--source", sample_csv, "--reference", mini_reference_dir),
        "sirene": ("sirene", "--db", none, "--url", "http://127.0.0.1:9"),
        "serve": ("serve", "--db", none),
        "migrate": ("migrate", "--db", none),
        "copy": ("copy", "--from", none, "--to", tmp_path / "copy.db"),
    }
    with ThreadPoolExecutor(4) as pool:
        done = dict(zip(commands, pool.map(lambda args: run_annuaire(*args), commands.values()), strict=True))
    for name, result in done.items():
        assert result.returncode == EXIT_MISSING, (name, result.returncode, result.stderr)
        assert str(none) in result.stderr and "annuaire build" in result.stderr, (name, result.stderr)
        assert "Traceback" not in result.stderr, name
    assert not (tmp_path / "out").exists() and not (tmp_path / "copy.db").exists()


@pytest.mark.parametrize(
    ("location", "shown"),
    [
        ("annuaire.db", "annuaire.db: no such database"),
        ("postgresql://u:s3cret@db.example/annuaire", "postgresql://u:***@db.example/annuaire: no such"),
    ],
)
def test_the_message_never_shows_a_password(location: str, shown: str):
    error = DirectoryMissing(location)
    assert str(error).startswith(shown) and "s3cret" not in str(error)
    assert error.exit_code == EXIT_MISSING


def test_the_error_survives_pickling():
    import pickle

    error = pickle.loads(pickle.dumps(DirectoryMissing(str(Path("x.db")), "no directory there")))
    assert str(error) == "x.db: no directory there (run `annuaire build` first)"
