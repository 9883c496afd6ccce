"""`annuaire build` and `annuaire update` on damaged sources and hostile file systems (issue 19):
every physical line accounted for, records in mixed encodings, files that keep what the operator set,
updates that refuse a partial source."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import time
from pathlib import Path

import pytest

from conftest import sha256


def _report(db: Path, suffix: str = ".report.json") -> dict:
    return json.loads(db.with_name(db.name + suffix).read_text(encoding="utf-8"))


# --- item 0: a quote opened and never closed ---------------------------------------------------


def test_a_name_opening_a_quote_loses_no_row(tmp_path, run_build, real_extract_csv):
    """The real 2022 extract with one name changed to `"UFORCA NANTES` (a quote never closed): the
    old build swallowed the next 189 lines into that name and exited 0 with 311 declarations."""
    lines = real_extract_csv.read_text(encoding="utf-8").split("\n")
    cells = lines[50].split(";")
    cells[2] = '"UFORCA NANTES'
    lines[50] = ";".join(cells)
    source = tmp_path / "uforca.csv"
    source.write_text("\n".join(lines), encoding="utf-8")
    db = tmp_path / "annuaire.db"
    result = run_build(source, db)
    assert result.returncode == 0, result.stderr
    report = _report(db)
    assert report["rows"]["records"] == 500
    assert report["rows"]["declarations"] + report["rows"]["quarantined"] == 500
    assert report["lines"]["physical"] == 501
    assert (
        report["lines"]["header"] + report["lines"]["in_declarations"] + report["lines"]["in_quarantine"]
        == 501
    )
    assert report["lines"]["unclosed_quotes"] == {"repaired_lines": [51], "quarantined_lines": []}
    assert report["repairs"]["guillemet_non_ferme"] == 1
    with sqlite3.connect(db) as conn:
        (name,) = conn.execute("SELECT denomination FROM declarations WHERE nda = ?", (cells[0],)).fetchone()
        assert "UFORCA NANTES" in name
        (count,) = conn.execute("SELECT count(*) FROM declarations").fetchone()
    assert count == report["rows"]["declarations"]


def test_an_unreadable_line_is_quarantined_with_its_line_number(
    tmp_path, run_build, real_extract_csv, run_annuaire
):
    lines = real_extract_csv.read_text(encoding="utf-8").split("\n")
    lines[20] = lines[20].split(";", 3)[0] + ';;"NOM SANS FIN;trop court'
    source = tmp_path / "broken.csv"
    source.write_text("\n".join(lines), encoding="utf-8")
    db = tmp_path / "annuaire.db"
    result = run_build(source, db)
    assert result.returncode == 0, result.stderr
    report = _report(db)
    assert report["quarantine"].get("guillemet_non_ferme") == 1
    assert report["lines"]["unclosed_quotes"]["quarantined_lines"] == [21]
    assert report["rows"]["records"] == 500
    out = tmp_path / "out"
    assert run_annuaire("export", "--db", db, "--out", out, "--formats", "csv").returncode == 0
    with (out / "quarantaine.csv").open(encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["motif"] == "guillemet_non_ferme"]
    assert [(r["ligne"], r["enregistrement"]) for r in rows] == [("21", "20")]


# --- item 6: a file mixing UTF-8 and Windows-1252 ---------------------------------------------------


def test_a_record_in_windows_1252_among_utf8_ones(tmp_path, run_build, real_extract_csv):
    lines = real_extract_csv.read_bytes().split(b"\n")
    header, body = lines[0], [line for line in lines[1:] if line]
    accented = [i for i, line in enumerate(body) if not line.split(b";")[5].isascii()]  # the street
    assert len(accented) > 5
    target = accented[3]
    text = body[target].decode("utf-8")
    body[target] = text.encode("cp1252")
    source = tmp_path / "mixed.csv"
    source.write_bytes(b"\n".join([header, *body]) + b"\n")
    db = tmp_path / "annuaire.db"
    result = run_build(source, db)
    assert result.returncode == 0, result.stderr
    report = _report(db)
    assert report["source"]["encoding"] == "utf-8"
    assert report["source"]["records_read_as_windows_1252"] == 1
    nda = text.split(";")[0]
    expected_words = {w for w in text.split(";")[5].split() if not w.isascii()}
    assert expected_words
    with sqlite3.connect(db) as conn:
        cities = [r[0] for r in conn.execute("SELECT voie FROM declarations")]
        (city,) = conn.execute("SELECT voie FROM declarations WHERE nda = ?", (nda,)).fetchone()
    assert not [c for c in cities if "Ã" in c or "\ufffd" in c]
    assert all(w in city for w in expected_words)


# --- item 2: files keep what the operator set --------------------------------------------------------

NOGROUP = 65534


def _run(
    annuaire_bin, env, *args, umask: int | None = None, unprivileged: bool = False, timeout: float = 300
):
    """The command, under a umask; `unprivileged`: without root's power to write anywhere (when the
    tests run as root, its file-permission capabilities are dropped, as for an ordinary user)."""
    command = [str(annuaire_bin), *map(str, args)]
    if unprivileged and os.geteuid() == 0:
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--", *command]
    return subprocess.run(
        command,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=(lambda: os.umask(umask)) if umask is not None else None,
    )


@pytest.fixture(scope="module")
def pair(shared_dir):
    of = shared_dir / "data" / "of"
    return of / "sample-M.csv", of / "sample-M+1.csv"


@pytest.fixture(scope="module")
def built_m(run_build, pair, mini_reference_dir, tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("m") / "annuaire.db"
    done = run_build(pair[0], db, mini_reference_dir)
    assert done.returncode == 0, done.stderr
    return db


def _copy(db: Path, folder: Path, name: str = "annuaire.db") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    shutil.copyfile(db, target)
    return target


def _owner_and_group() -> tuple[int, int]:
    """An owner and group other than the defaults, that this user may give: root gives nobody's group;
    another user one of its other groups, if it has one."""
    if os.geteuid() == 0:
        return 0, NOGROUP
    groups = [g for g in os.getgroups() if g != os.getegid()]
    return os.geteuid(), groups[0] if groups else os.getegid()


def test_update_and_build_keep_the_mode_owner_and_group(
    built_m, pair, annuaire_bin, annuaire_env, mini_reference_dir, tmp_path
):
    """A 0640 root:nogroup file came back 0644 root:root; under umask 077, 0600 (and a server running as
    another user answered 500 on every request)."""
    db = _copy(built_m, tmp_path)
    uid, gid = _owner_and_group()
    os.chown(db, uid, gid)
    os.chmod(db, 0o640)
    done = _run(
        annuaire_bin, annuaire_env, "update", "--source", pair[1], "--db", db,
        "--reference", mini_reference_dir, umask=0o077,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert _report(db, ".update.json")["changed"]
    st = db.stat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, uid, gid)
    done = _run(
        annuaire_bin, annuaire_env, "build", "--source", pair[0], "--db", db,
        "--reference", mini_reference_dir, "--no-progress", umask=0o077,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    st = db.stat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, uid, gid)


def test_a_new_directory_follows_the_umask(pair, annuaire_bin, annuaire_env, mini_reference_dir, tmp_path):
    db = tmp_path / "new.db"
    done = _run(
        annuaire_bin, annuaire_env, "build", "--source", pair[0], "--db", db,
        "--reference", mini_reference_dir, "--no-progress", umask=0o027,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(db.stat().st_mode) == 0o640


def test_a_symlinked_db_is_replaced_at_its_target(
    built_m, pair, annuaire_bin, annuaire_env, mini_reference_dir, tmp_path
):
    """The link stays a link; the swap, the lock, the reports and the corrections file are the target's."""
    target = _copy(built_m, tmp_path / "real")
    link = tmp_path / "served" / "annuaire.db"
    link.parent.mkdir()
    link.symlink_to(target)
    for command in (
        ("build", "--source", pair[0], "--db", link, "--reference", mini_reference_dir, "--no-progress"),
        ("update", "--source", pair[1], "--db", link, "--reference", mini_reference_dir),
    ):
        done = _run(annuaire_bin, annuaire_env, *command)
        assert done.returncode == 0, done.stderr
        assert link.is_symlink() and link.resolve() == target and target.is_file()
    assert (tmp_path / "real" / "annuaire.db.lock").exists()
    assert (tmp_path / "real" / "annuaire.db.update.json").exists()
    assert not list(link.parent.glob("annuaire.db.*"))
    with sqlite3.connect(target) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'updated_at'").fetchone()
    # `admin add-user` through the link writes the corrections file the server reads.
    done = subprocess.run(
        [str(annuaire_bin), "admin", "add-user", "--db", str(link), "--password-stdin", "paul"],
        env=annuaire_env, input="un mot de passe assez long\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "real" / "annuaire.db.corrections.sqlite").is_file()
    assert not (link.parent / "annuaire.db.corrections.sqlite").exists()
    from annuaire.corrections import CorrectionSettings

    served = CorrectionSettings.for_directory(str(link.resolve())).path  # what `serve` uses
    assert served == str(tmp_path / "real" / "annuaire.db.corrections.sqlite")


def test_the_lock_cannot_be_bypassed_through_a_link(
    built_m, pair, annuaire_bin, annuaire_env, mini_reference_dir, tmp_path
):
    from annuaire.store import open_store

    target = _copy(built_m, tmp_path / "real")
    link = tmp_path / "link.db"
    link.symlink_to(target)
    with open_store(str(target)).lock():
        for command in (
            ("update", "--source", pair[1], "--db", link, "--reference", mini_reference_dir),
            ("build", "--source", pair[0], "--db", link, "--reference", mini_reference_dir, "--no-progress"),
        ):
            done = _run(annuaire_bin, annuaire_env, *command)
            assert done.returncode == 5, (command[0], done.stdout, done.stderr)
    assert link.is_symlink()


def test_a_read_only_database_is_refused_before_any_work(
    built_m, pair, annuaire_bin, annuaire_env, mini_reference_dir, tmp_path
):
    db = _copy(built_m, tmp_path)
    os.chmod(db, 0o444)
    before = sha256(db)
    for command in (
        ("build", "--source", pair[0], "--db", db, "--reference", mini_reference_dir, "--no-progress"),
        ("update", "--source", pair[1], "--db", db, "--reference", mini_reference_dir),
        ("build", "--source", tmp_path / "absent.csv", "--db", db, "--reference", tmp_path / "none"),
    ):
        done = _run(annuaire_bin, annuaire_env, *command)
        assert done.returncode == 2, (command[0], done.stderr)
        assert "read-only" in done.stderr and str(db) in " ".join(done.stderr.split()).replace("\n", "")
        assert "Traceback" not in done.stderr
    assert sha256(db) == before and stat.S_IMODE(db.stat().st_mode) == 0o444


def test_a_folder_that_cannot_be_written_is_refused_before_any_work(
    built_m, pair, annuaire_bin, annuaire_env, mini_reference_dir, tmp_path
):
    folder = tmp_path / "locked"
    db = _copy(built_m, folder)
    os.chmod(folder, 0o555)
    try:
        for command in (
            ("build", "--source", pair[0], "--db", db, "--reference", mini_reference_dir, "--no-progress"),
            ("update", "--source", pair[1], "--db", db, "--reference", mini_reference_dir),
            ("build", "--source", pair[0], "--db", folder / "new.db", "--reference", mini_reference_dir),
        ):
            done = _run(annuaire_bin, annuaire_env, *command, unprivileged=True)
            assert done.returncode == 2, (command[0], done.stderr)
            assert "cannot be written" in done.stderr and "Traceback" not in done.stderr
    finally:
        os.chmod(folder, 0o755)


def test_leftovers_of_killed_runs_are_removed_by_the_next_run(
    built_m, pair, annuaire_bin, annuaire_env, mini_reference_dir, tmp_path
):
    """A killed build left `.building-PID` files (up to 76 MB) that no later run removed."""
    db = _copy(built_m, tmp_path)
    process = subprocess.Popen(
        [str(annuaire_bin), "build", "--source", str(pair[0]), "--db", str(db),
         "--reference", str(mini_reference_dir), "--no-progress"],
        env=annuaire_env | {"ANNUAIRE_BUILD_SIDE_PROCESS": "0"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob(".annuaire.db.building-*")):
            assert process.poll() is None, "the build ended before it wrote its file"
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)
    (tmp_path / ".annuaire.db.updating-99999").write_bytes(b"x" * 1000)  # and a killed update's
    assert list(tmp_path.glob(".annuaire.db.building-*"))
    done = _run(
        annuaire_bin,
        annuaire_env,
        "update",
        "--source",
        pair[1],
        "--db",
        db,
        "--reference",
        mini_reference_dir,
    )
    assert done.returncode == 0, done.stderr
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".annuaire.db.")]


# --- item 3: an update from a partial source ----------------------------------------------------------


def _partial(source: Path, folder: Path, rows: int) -> Path:
    lines = source.read_text(encoding="utf-8").split("\n")
    partial = folder / "partial.csv"
    partial.write_text("\n".join(lines[: rows + 1]) + "\n", encoding="utf-8")
    return partial


def test_an_update_from_a_partial_source_is_refused(
    built_m, pair, annuaire_bin, annuaire_env, mini_reference_dir, tmp_path
):
    """A valid but truncated file (199 rows) marked 1,803 declarations deleted, exit 0."""
    db = _copy(built_m, tmp_path)
    before = sha256(db)
    partial = _partial(pair[1], tmp_path, 199)
    done = _run(
        annuaire_bin,
        annuaire_env,
        "update",
        "--source",
        partial,
        "--db",
        db,
        "--reference",
        mini_reference_dir,
    )
    assert done.returncode == 2, done.stderr
    message = " ".join(done.stderr.split())
    guard = _report(db, ".update.json")["garde"]
    assert guard["decision"] == "refused" and set(guard["reasons"]) == {"max_removed", "min_rows"}
    assert guard["rows"] == 199 and guard["removed"] > 1500
    for figure in (guard["removed"], guard["max_removed"], guard["rows"], guard["min_rows"]):
        assert f"{figure:,}" in message, (figure, message)
    assert "--force" in message and "untouched" in message
    assert "update refused" in done.stderr  # the log line too
    assert sha256(db) == before
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM declarations WHERE statut = 'supprime'").fetchone() == (0,)


def test_each_limit_alone_refuses_and_force_applies(
    built_m, pair, annuaire_bin, annuaire_env, mini_reference_dir, tmp_path
):
    db = _copy(built_m, tmp_path)
    partial = _partial(pair[1], tmp_path, 1700)
    common = ("update", "--source", partial, "--db", db, "--reference", mini_reference_dir)
    # 1,700 rows: about 15 % removed, and fewer than 90 % of the 2,006 rows of the build.
    done = _run(annuaire_bin, annuaire_env, *common, "--max-removed", "100%")
    assert done.returncode == 2 and _report(db, ".update.json")["garde"]["reasons"] == ["min_rows"]
    done = _run(annuaire_bin, annuaire_env, *common, "--min-rows", "1000")
    assert done.returncode == 2 and _report(db, ".update.json")["garde"]["reasons"] == ["max_removed"]
    done = _run(annuaire_bin, annuaire_env, *common, "--max-removed", "400", "--min-rows", "80%")
    assert done.returncode == 0, done.stderr
    assert _report(db, ".update.json")["garde"]["decision"] == "accepted"
    db = _copy(built_m, tmp_path / "forced")
    partial = _partial(pair[1], tmp_path, 199)
    done = _run(
        annuaire_bin, annuaire_env, "update", "--source", partial, "--db", db,
        "--reference", mini_reference_dir, "--force",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = _report(db, ".update.json")
    assert report["garde"]["decision"] == "forced" and report["changed"]
    assert report["counts"]["removed"] == report["garde"]["removed"] > 1500


def test_a_normal_update_is_accepted_and_says_so(
    built_m, pair, annuaire_bin, annuaire_env, mini_reference_dir, tmp_path
):
    db = _copy(built_m, tmp_path)
    command = ("update", "--source", pair[1], "--db", db, "--reference", mini_reference_dir)
    done = _run(annuaire_bin, annuaire_env, *command)
    assert done.returncode == 0, done.stderr
    report = _report(db, ".update.json")
    guard = report["garde"]
    assert guard["decision"] == "accepted" and guard["last_accepted_rows"] == 2006  # the build's rows
    assert guard["max_removed"] == guard["active"] * 5 // 100
    assert guard["min_rows"] == -(-2006 * 90 // 100)
    # The next update compares with the rows this one accepted.
    done = _run(annuaire_bin, annuaire_env, *command)
    assert done.returncode == 0
    assert _report(db, ".update.json")["garde"]["last_accepted_rows"] == report["source"]["records"]


@pytest.mark.parametrize(
    "option", [("--max-removed", "beaucoup"), ("--min-rows", "-3"), ("--max-removed", "150%")]
)
def test_wrong_guard_options_are_refused_at_once(built_m, annuaire_bin, annuaire_env, tmp_path, option):
    db = _copy(built_m, tmp_path)
    done = _run(annuaire_bin, annuaire_env, "update", "--source", tmp_path / "none.csv", "--db", db, *option)
    assert done.returncode == 2 and option[0] in done.stderr and "Traceback" not in done.stderr
