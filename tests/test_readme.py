"""README.md documents every setting and every exit code, and nothing that no longer exists.

Settings are the `ANNUAIRE_*` environment variables named anywhere in the code (src/, and the tests',
benchmarks' and demo's own, which README's table also lists); exit codes are `annuaire.errors`'s
`EXIT_*` and the literal codes the command line exits with."""

from __future__ import annotations

import re
from pathlib import Path

from annuaire import errors

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")
SETTING = re.compile(r"\bANNUAIRE_[A-Z0-9_]*[A-Z0-9]\b")


def _section(title: str) -> str:
    """The text of README's section `### title` (up to the next heading)."""
    match = re.search(rf"^#+ {re.escape(title)}\n(.*?)(?=^#)", README, re.MULTILINE | re.DOTALL)
    assert match, f"README.md has no section {title!r}"
    return match.group(1)


def _code_files() -> list[Path]:
    files = [*(REPO / "src").rglob("*.py"), *(REPO / "bench").glob("*.py"), *(REPO / "scripts").glob("*")]
    files += [p for p in (REPO / "tests").glob("*.py") if p.name != Path(__file__).name]
    return files + [REPO / "Makefile", REPO / ".ci" / "run"]


def test_every_setting_is_documented():
    used: dict[str, set[str]] = {}
    for path in _code_files():
        for name in SETTING.findall(path.read_text(encoding="utf-8")):
            used.setdefault(name, set()).add(str(path.relative_to(REPO)))
    assert len(used) > 20, sorted(used)  # the scan found the settings
    first_cells = re.findall(r"^\| ([^|]*) \|", _section("Configuration"), re.MULTILINE)
    documented = {name for cell in first_cells for name in re.findall(r"`(ANNUAIRE_[A-Z0-9_]+)`", cell)}
    missing = {name: sorted(where) for name, where in used.items() if name not in documented}
    assert not missing, f"settings missing from README's Configuration table: {missing}"
    assert not documented - set(used), f"README documents settings nothing reads: {documented - set(used)}"


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
