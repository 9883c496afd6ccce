"""`annuaire admin`: moderators of the corrections (the accounts of the admin area at /admin/)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated

import typer

from ..errors import EXIT_INPUT, AnnuaireError
from ..options import CorrectionsOption, DirectoryOption
from .passwords import password_problem
from .settings import CorrectionSettings

NAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
admin = typer.Typer(help="Moderators of the corrections (the admin area at /admin/).", no_args_is_help=True)


class AdminInputError(AnnuaireError):
    exit_code = EXIT_INPUT


def open_shared(db: str, corrections: Path | None):
    """The directory's corrections (its side file, or its PostgreSQL database), and where they are."""
    from ..errors import shown
    from ..store import open_store

    path = corrections or CorrectionSettings.for_directory(str(db)).path
    store = open_store(str(db)).open_corrections(path)
    return store, str(path) if path else f"{shown(db)} (schema annuaire_partage)"


@admin.command("add-user")
def add_user(
    name: Annotated[str, typer.Argument(help="The moderator's login name (letters, digits, . _ @ -).")],
    db: DirectoryOption,
    corrections: CorrectionsOption = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input's first line.")
    ] = False,
) -> None:
    """Create a moderator, or set the password of an existing one (which ends their sessions)."""
    if not NAME.match(name):
        raise AdminInputError(f"{name!r}: a name has 1 to 64 letters, digits or . _ @ -")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    problem = password_problem(password)
    if problem:
        raise AdminInputError(problem)
    store, path = open_shared(db, corrections)
    created = store.add_moderator(name, password)
    store.log(None, "moderateur_cree" if created else "mot_de_passe_change", {"nom": name})
    store.close()
    typer.echo(f"{'created' if created else 'password changed for'} moderator {name} in {path}")


@admin.command("list-users")
def list_users(db: DirectoryOption, corrections: CorrectionsOption = None) -> None:
    """List the moderators."""
    store, path = open_shared(db, corrections)
    if not store.exists():
        raise AdminInputError(
            f"{path}: no corrections file (create a moderator with `annuaire admin add-user`)"
        )
    for row in store.moderators():
        typer.echo(f"{row['nom']}\tcreated {row['cree_le']}")
    store.close()


@admin.command("remove-user")
def remove_user(
    name: Annotated[str, typer.Argument(help="The moderator's login name.")],
    db: DirectoryOption,
    corrections: CorrectionsOption = None,
) -> None:
    """Remove a moderator and end their sessions (their past decisions keep their name)."""
    store, path = open_shared(db, corrections)
    removed = store.remove_moderator(name)
    if removed:
        store.log(None, "moderateur_supprime", {"nom": name})
    store.close()
    if not removed:
        raise AdminInputError(f"{name!r}: no such moderator in {path}")
    typer.echo(f"removed moderator {name} from {path}")


@admin.command("forget-email")
def forget_email(
    address: Annotated[str, typer.Argument(help="The e-mail address to erase from every correction.")],
    db: DirectoryOption,
    corrections: CorrectionsOption = None,
) -> None:
    """Erase an e-mail address from the corrections that hold it (a sender's request, as the
    website's personal-data page promises); the corrections themselves stay."""
    store, path = open_shared(db, corrections)
    if not store.exists():
        raise AdminInputError(f"{path}: no corrections file")
    erased = store.forget_email(address)
    store.close()
    typer.echo(f"{address}: erased from {erased} correction{'s' if erased != 1 else ''} in {path}")
