"""`annuaire build` on unusable inputs: a clear one-line error, exit code 2, and the previous directory
left byte for byte as it was.

Each bad input is run once, all at the same time (module-scoped fixture); several tests look at the same
run. The builds use a small reference folder (fixture `mini_reference_dir`): the subject here is the
source file, and loading the whole La Poste base would make each run four times slower.
"""

from __future__ import annotations

import gzip
import json
import random
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from annuaire.errors import EXIT_INPUT, EXIT_REFERENCE


def _sample_lines(sample_csv: Path, n: int) -> list[bytes]:
    return sample_csv.read_bytes().split(b"\n")[:n]


def _header(sample_csv: Path) -> bytes:
    return _sample_lines(sample_csv, 1)[0]


def _html(sample_csv: Path) -> bytes:
    return (
        b'<!DOCTYPE html>\n<html lang="fr"><head><title>502 Bad Gateway</title></head>\n'
        b"<body><h1>Erreur</h1><p>Le service est indisponible.</p></body></html>\n"
    )


def _json(sample_csv: Path) -> bytes:
    return json.dumps({"message": "Not found", "data": [{"id": 1, "title": "liste"}]}).encode() + b"\n"


def _empty(sample_csv: Path) -> bytes:
    return b""


def _header_only(sample_csv: Path) -> bytes:
    return _header(sample_csv) + b"\n"


def _missing_denomination(sample_csv: Path) -> bytes:
    lines = [line.split(b";") for line in _sample_lines(sample_csv, 21)]
    position = lines[0].index(b"denomination")
    return b"\n".join(b";".join(cells[:position] + cells[position + 1 :]) for cells in lines) + b"\n"


def _comma_separated(sample_csv: Path) -> bytes:
    return b"\n".join(line.replace(b";", b",") for line in _sample_lines(sample_csv, 21)) + b"\n"


def _truncated_gzip(sample_csv: Path) -> bytes:
    data = gzip.compress(sample_csv.read_bytes())
    return data[: len(data) // 2]


def _truncated_large_gzip(sample_csv: Path) -> bytes:
    """Cut past the first megabyte of text: the damage is met while reading records, not when sniffing."""
    lines = sample_csv.read_bytes().split(b"\n")
    body = b"\n".join(lines[1:]).strip(b"\n") + b"\n"
    data = gzip.compress(lines[0] + b"\n" + body * 6)
    return data[: len(data) * 3 // 4]


def _ten_megabyte_field(sample_csv: Path) -> bytes:
    header, first = _sample_lines(sample_csv, 2)
    cells = first.split(b";")
    cells[2] = b"A" * (10 * 1024 * 1024)
    return header + b"\n" + b";".join(cells) + b"\n"


def _random_bytes(sample_csv: Path) -> bytes:
    data = bytearray(random.Random(20240501).randbytes(200_000))
    data[100:110] = b"\x00" * 10
    return bytes(data)


def _binary_after_header(sample_csv: Path) -> bytes:
    rng = random.Random(7)
    return b"\n".join(_sample_lines(sample_csv, 5)) + b"\n" + rng.randbytes(50_000) + b"\x00" * 20


def _nul_after_first_megabyte(sample_csv: Path) -> bytes:
    lines = sample_csv.read_bytes().split(b"\n")
    body = b"\n".join(lines[1:]).strip(b"\n") + b"\n"
    return lines[0] + b"\n" + body * 3 + b"\x00\x00\x00" * 100 + b"\n"


@dataclass(frozen=True)
class BadInput:
    name: str
    filename: str
    make: object
    expected_words: tuple[str, ...]  # the message must hold one of them (case-insensitive)


BAD_INPUTS = [
    BadInput("html", "liste.csv", _html, ("not a liste publique", "header")),
    BadInput("json", "liste.csv", _json, ("not a liste publique", "header")),
    BadInput("empty", "liste.csv", _empty, ("empty",)),
    BadInput("header_only", "liste.csv", _header_only, ("no records",)),
    BadInput("missing_column", "liste.csv", _missing_denomination, ("denomination",)),
    BadInput("comma_separator", "liste.csv", _comma_separated, ("separator",)),
    BadInput("truncated_gzip", "liste.csv.gz", _truncated_gzip, ("gzip",)),
    BadInput("truncated_large_gzip", "liste.csv.gz", _truncated_large_gzip, ("gzip",)),
    BadInput("ten_megabyte_field", "liste.csv", _ten_megabyte_field, ("field",)),
    BadInput("random_bytes", "liste.csv", _random_bytes, ("binary",)),
    BadInput("binary_after_header", "liste.csv", _binary_after_header, ("binary", "nul")),
    BadInput("nul_after_first_megabyte", "liste.csv", _nul_after_first_megabyte, ("binary", "nul")),
]


@dataclass
class Outcome:
    source: Path
    db: Path
    result: subprocess.CompletedProcess
    db_sha_before: str
    db_sha_after: str | None
    report_sha_before: str
    report_sha_after: str | None
    leftovers: list[str]


@pytest.fixture(scope="module")
def previous_db(tmp_path_factory, run_build, sample_csv, mini_reference_dir) -> Path:
    """A directory built from a small valid file: every failed build must leave it as it is."""
    folder = tmp_path_factory.mktemp("previous")
    small = folder / "small.csv"
    small.write_bytes(b"\n".join(_sample_lines(sample_csv, 31)) + b"\n")
    db = folder / "annuaire.db"
    result = run_build(small, db, mini_reference_dir)
    assert result.returncode == 0, result.stderr
    return db


@pytest.fixture(scope="module")
def outcomes(
    tmp_path_factory, annuaire_bin, annuaire_env, sample_csv, previous_db, mini_reference_dir, file_sha256
):
    """Every bad input built at once (the runs are independent), against a copy of the previous db."""
    runs = {}
    for case in BAD_INPUTS:
        folder = tmp_path_factory.mktemp(f"bad-{case.name}")
        source = folder / case.filename
        source.write_bytes(case.make(sample_csv))
        db = folder / "annuaire.db"
        shutil.copyfile(previous_db, db)
        report = folder / "annuaire.db.report.json"
        shutil.copyfile(previous_db.with_name(previous_db.name + ".report.json"), report)
        before = (file_sha256(db), file_sha256(report))
        process = subprocess.Popen(
            [
                str(annuaire_bin),
                "build",
                "--source",
                str(source),
                "--db",
                str(db),
                "--reference",
                str(mini_reference_dir),
                "--no-progress",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=annuaire_env,
        )
        runs[case.name] = (folder, source, db, report, before, process)
    results: dict[str, Outcome] = {}
    for name, (folder, source, db, report, before, process) in runs.items():
        stdout, stderr = process.communicate(timeout=120)
        result = subprocess.CompletedProcess(
            process.args,
            process.returncode,
            stdout.decode("utf-8", "replace"),
            stderr.decode("utf-8", "replace"),
        )
        results[name] = Outcome(
            source,
            db,
            result,
            before[0],
            file_sha256(db) if db.exists() else None,
            before[1],
            file_sha256(report) if report.exists() else None,
            sorted(p.name for p in folder.iterdir() if ".building-" in p.name or p.name.startswith(".")),
        )
    return lambda case: results[case.name]


CASES = pytest.mark.parametrize("case", BAD_INPUTS, ids=[c.name for c in BAD_INPUTS])


@CASES
def test_bad_input_exits_with_input_error(outcomes, case):
    outcome = outcomes(case)
    assert outcome.result.returncode == EXIT_INPUT, (outcome.result.stdout, outcome.result.stderr)


@CASES
def test_bad_input_has_no_traceback(outcomes, case):
    outcome = outcomes(case)
    assert "Traceback" not in outcome.result.stdout
    assert "Traceback" not in outcome.result.stderr


@CASES
def test_bad_input_leaves_previous_directory_untouched(outcomes, case):
    outcome = outcomes(case)
    assert outcome.db_sha_after == outcome.db_sha_before
    assert outcome.report_sha_after == outcome.report_sha_before
    assert outcome.leftovers == []


@CASES
def test_bad_input_message_names_the_file_and_the_problem(outcomes, case):
    outcome = outcomes(case)
    stderr = outcome.result.stderr
    unwrapped = "".join(stderr.splitlines())  # tolerate a terminal-width wrap here: see the next test
    assert str(outcome.source) in unwrapped, stderr
    assert "error" in stderr.lower()
    assert any(word in " ".join(stderr.lower().split()) for word in case.expected_words), stderr


def test_bad_input_messages_are_one_line(outcomes):
    """One line, `error: <file>…: <what is wrong>`, however long the path: scripts grep for it.
    (One test for all the inputs: they share the one way the message is printed.)"""
    wrong = {}
    for case in BAD_INPUTS:
        outcome = outcomes(case)
        lines = [line for line in outcome.result.stderr.splitlines() if line.strip()]
        if len(lines) != 1 or not lines[0].startswith("error: ") or str(outcome.source) not in lines[0]:
            wrong[case.name] = lines
    assert wrong == {}, "messages not on one line:\n" + "\n".join(f"{k}: {v}" for k, v in wrong.items())


def test_missing_reference_folder_exits_3(tmp_path, run_annuaire, previous_db, sample_csv, file_sha256):
    db = tmp_path / "annuaire.db"
    shutil.copyfile(previous_db, db)
    before = file_sha256(db)
    missing = tmp_path / "no-such-reference"
    result = run_annuaire(
        "build", "--source", sample_csv, "--db", db, "--reference", missing, "--no-progress"
    )
    assert result.returncode == EXIT_REFERENCE, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    assert str(missing) in "".join(result.stderr.splitlines())
    assert file_sha256(db) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["annuaire.db"]


def test_incomplete_reference_folder_exits_3(tmp_path, run_annuaire, sample_csv):
    reference = tmp_path / "reference"
    reference.mkdir()
    (reference / "departements.json").write_text("[]", encoding="utf-8")
    result = run_annuaire(
        "build", "--source", sample_csv, "--db", tmp_path / "a.db", "--reference", reference, "--no-progress"
    )
    assert result.returncode == EXIT_REFERENCE, (result.stdout, result.stderr)
    assert "laposte_hexasmal.csv" in "".join(result.stderr.splitlines())
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "a.db").exists()


def test_missing_source_file_exits_2(tmp_path, run_build, previous_db, mini_reference_dir, file_sha256):
    db = tmp_path / "annuaire.db"
    shutil.copyfile(previous_db, db)
    before = file_sha256(db)
    missing = tmp_path / "absent.csv"
    result = run_build(missing, db, mini_reference_dir)
    assert result.returncode == EXIT_INPUT, (result.stdout, result.stderr)
    assert str(missing) in "".join(result.stderr.splitlines())
    assert "Traceback" not in result.stdout + result.stderr
    assert file_sha256(db) == before


def test_failed_first_build_creates_nothing(tmp_path, run_build, mini_reference_dir):
    source = tmp_path / "page.csv"
    source.write_bytes(_html(Path()))
    result = run_build(source, tmp_path / "new.db", mini_reference_dir)
    assert result.returncode == EXIT_INPUT
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.csv"]
