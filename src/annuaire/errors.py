"""Errors meant for people, each with the exit code the command line returns for it."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

# Exit codes of the `annuaire` command. They are documented in README.md.
EXIT_OK = 0
EXIT_FAILURE = 1  # an unexpected failure (a bug): reported with its traceback in the log
EXIT_INPUT = 2  # the input cannot be used: wrong file, wrong format, missing column
EXIT_REFERENCE = 3  # reference data (La Poste base, COG) missing or unreadable
EXIT_NETWORK = 4  # a download failed
EXIT_BUSY = 5  # another build or update of the same directory is running
EXIT_DATABASE = 6  # the PostgreSQL server cannot be reached or refuses the connection
EXIT_MISSING = 7  # no directory at the location given (no such SQLite file, no schema in PostgreSQL)


class AnnuaireError(Exception):
    """An error whose message is written for the person running the command."""

    exit_code = EXIT_FAILURE


class InputError(AnnuaireError):
    """The source file cannot be read as a Liste publique des organismes de formation.

    The message names the file and, where it helps, the line and the column.
    """

    exit_code = EXIT_INPUT

    def __init__(self, path: str, message: str, *, line: int | None = None, column: str | None = None):
        self.path = path
        self.line = line
        self.column = column
        self.detail = message
        where = path
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {message}")


class ReferenceError_(AnnuaireError):
    """Reference data is missing or unreadable."""

    exit_code = EXIT_REFERENCE


class DownloadError(AnnuaireError):
    exit_code = EXIT_NETWORK


class DatabaseUnavailable(AnnuaireError):
    """The PostgreSQL server named by `--db` cannot be reached, or refuses the connection."""

    exit_code = EXIT_DATABASE


class DirectoryMissing(AnnuaireError, FileNotFoundError):
    """No directory at the location named by `--db`: no such SQLite file, or no directory in the
    PostgreSQL schema. The message shows the location without its password. Also a FileNotFoundError:
    what tells a vanished file by OSError (the website's 503 while a directory is swapped) still does."""

    exit_code = EXIT_MISSING

    def __init__(self, location: str, what: str = "no such database"):
        self.location = location
        self.what = what
        super().__init__(f"{shown(str(location))}: {what} (run `annuaire build` first)")

    def __reduce__(self):
        return type(self), (self.location, self.what)


class BusyError(AnnuaireError):
    """Another build or update of the same directory is running (its lock is taken)."""

    exit_code = EXIT_BUSY


def shown(location: str) -> str:
    """A location fit for messages and logs: a database URL without its password (a file path, or a
    URL without one, as it is)."""
    text = str(location)
    parts = urlsplit(text)
    if parts.password is None:
        return text
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)))
