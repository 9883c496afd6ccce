"""README.md documents every setting and every exit code, and nothing that no longer exists.

Settings are the application's (`annuaire.settings.Settings`, each `ANNUAIRE_` + its name) and the
`ANNUAIRE_*` variables the tests, benchmarks and demo read for themselves, which README's table also
lists; exit codes are `annuaire.errors`'s `EXIT_*` and the literal codes the command line exits with.
The application reads the environment in settings.py only."""

from __future__ import annotations

import re
from pathlib import Path

from annuaire import errors, settings

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")
SETTING = re.compile(r"\bANNUAIRE_[A-Z0-9_]*[A-Z0-9]\b")
SRC = REPO / "src" / "annuaire"


def _section(title: str) -> str:
    """The text of README's section `### title` (up to the next heading)."""
    match = re.search(rf"^#+ {re.escape(title)}\n(.*?)(?=^#)", README, re.MULTILINE | re.DOTALL)
    assert match, f"README.md has no section {title!r}"
    return match.group(1)


def _tools_files() -> list[Path]:
    """What reads settings of its own: the tests, benchmarks, scripts, Makefile and CI."""
    files = [*(REPO / "bench").glob("*.py"), *(REPO / "scripts").glob("*")]
    files += [p for p in (REPO / "tests").glob("*.py") if p.name != Path(__file__).name]
    return files + [REPO / "Makefile", REPO / ".ci" / "run"]


def _documented() -> set[str]:
    first_cells = re.findall(r"^\| ([^|]*) \|", _section("Configuration"), re.MULTILINE)
    return {name for cell in first_cells for name in re.findall(r"`(ANNUAIRE_[A-Z0-9_]+)`", cell)}


def test_every_setting_is_documented():
    application = {settings.variable(f.name) for f in settings.SETTINGS}
    tools: dict[str, set[str]] = {}
    for path in _tools_files():
        for name in SETTING.findall(path.read_text(encoding="utf-8")):
            tools.setdefault(name, set()).add(str(path.relative_to(REPO)))
    assert len(application) > 30 and len(tools) > 10, (application, sorted(tools))  # found them
    used = application | set(tools)
    documented = _documented()
    missing = {name: sorted(tools.get(name, {"src/annuaire/settings.py"})) for name in used - documented}
    assert not missing, f"settings missing from README's Configuration table: {missing}"
    assert not documented - used, f"README documents settings nothing reads: {documented - used}"


def test_the_application_reads_its_settings_in_one_place():
    """Only settings.py reads the environment; every `ANNUAIRE_*` the code names is a setting (an
    error message, a help text), so that a variable read elsewhere cannot escape the table."""
    known = {settings.variable(f.name) for f in settings.SETTINGS}
    for path in SRC.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        where = path.relative_to(REPO)
        assert not set(SETTING.findall(text)) - known, f"{where} names a variable that is no setting"
        if path.name != "settings.py":
            assert not re.search(r"os\.environ|os\.getenv|environ\.get", text), (
                f"{where} reads the environment"
            )


def test_settings_are_typed_and_refused_with_their_name():
    from annuaire.errors import InputError

    read = settings.read(
        {"ANNUAIRE_RATE_LIMIT": "0", "ANNUAIRE_GEOCODE": "non", "ANNUAIRE_CORS_ORIGINS": "a.example, b"}
    )
    assert (read.rate_limit, read.geocode, read.cors_origins) == (0, False, ("a.example", "b"))
    assert read.cache_dir.name == "annuaire" and read.pg_pool_size == 8  # defaults
    assert settings.read({"ANNUAIRE_CACHE_DIR": "/x"}, cache_dir=None).cache_dir == Path("/x")
    assert settings.read({}, rate_limit=5).rate_limit == 5  # an option over the environment
    try:
        settings.read({"ANNUAIRE_PG_POOL_SIZE": "huit"})
    except InputError as exc:
        assert exc.exit_code == 2 and str(exc).startswith("ANNUAIRE_PG_POOL_SIZE: 'huit'")
    else:  # pragma: no cover
        raise AssertionError("a setting that is no number was accepted")
    for f in settings.SETTINGS:
        assert f.metadata["doc"] and f.type, f.name


def _exit_codes_in_code() -> set[int]:
    codes = {value for name, value in vars(errors).items() if name.startswith("EXIT_")}
    for path in (REPO / "src").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        codes |= {int(c) for c in re.findall(r"\b(?:sys\.exit|typer\.Exit|SystemExit)\((\d+)\)", text)}
    return codes


def test_every_exit_code_is_documented():
    codes = _exit_codes_in_code()
    assert {0, 1, 2, errors.EXIT_MISSING, 130} <= codes, codes  # the scan found them
    documented = {int(c) for c in re.findall(r"^\| (\d+) \|", _section("Exit codes"), re.MULTILINE)}
    assert codes - documented == set(), "exit codes missing from README's table"
    assert documented - codes == set(), "README documents exit codes nothing returns"


def test_every_error_has_a_distinct_documented_code():
    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, Exception)]
    assert errors.DirectoryMissing in classes
    assert {c.exit_code for c in classes} <= _exit_codes_in_code()
    specific = [c for c in classes if c is not errors.AnnuaireError]
    assert len({c.exit_code for c in specific}) == len(specific), {c.__name__: c.exit_code for c in specific}
