"""Where corrections live and how the forms and the admin area are protected (from the environment)."""

from __future__ import annotations

import os
from dataclasses import dataclass

SUFFIX = ".corrections.sqlite"


def default_path(db: str) -> str | None:
    """The directory's side file (`<directory file>.corrections.sqlite` beside a SQLite directory, a
    link's target: where `serve` looks for it), or None when its database keeps the corrections
    (PostgreSQL); see Store.corrections_file."""
    from ..store import open_store

    found = open_store(db).corrections_file()
    return None if found is None else str(found)


@dataclass(frozen=True)
class CorrectionSettings:
    path: str | None  # the corrections file (SQLite, WAL); None: in the directory's PostgreSQL database
    secret_key: str | None = None  # signs cookies and CSRF tokens; None: generated once, kept in the file
    secure_cookies: bool = False  # `Secure` cookies: set it when the site is served over HTTPS
    corrections_per_hour: int = 10  # per client IP and worker; 0: no limit
    logins_per_quarter: int = 10  # login attempts per client IP and worker in 15 minutes; 0: no limit
    session_hours: int = 8
    email_days: int = 365  # a decided correction's e-mail address is erased after this many days; 0: kept

    @classmethod
    def for_directory(cls, db: str) -> CorrectionSettings:
        """Defaults for a directory, then the environment's settings."""
        env = os.environ
        return cls(
            path=env.get("ANNUAIRE_CORRECTIONS_DB") or default_path(db),
            secret_key=env.get("ANNUAIRE_SECRET_KEY") or None,
            secure_cookies=env.get("ANNUAIRE_SECURE_COOKIES", "0") not in ("", "0", "false", "non"),
            corrections_per_hour=int(env.get("ANNUAIRE_CORRECTIONS_PER_HOUR", "10")),
            logins_per_quarter=int(env.get("ANNUAIRE_LOGINS_PER_QUARTER", "10")),
            email_days=int(env.get("ANNUAIRE_CORRECTIONS_EMAIL_DAYS", "365")),
        )
