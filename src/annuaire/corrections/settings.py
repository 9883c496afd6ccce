"""Where corrections live and how the forms and the admin area are protected (from settings.py's)."""

from __future__ import annotations

from dataclasses import dataclass

from ..settings import Settings
from ..settings import current as current_settings

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
    def for_directory(cls, db: str, settings: Settings | None = None) -> CorrectionSettings:
        """Defaults for a directory, then the settings' (settings.py)."""
        s = settings or current_settings()
        return cls(
            path=str(s.corrections_db) if s.corrections_db else default_path(db),
            secret_key=s.secret_key,
            secure_cookies=s.secure_cookies,
            corrections_per_hour=s.corrections_per_hour,
            logins_per_quarter=s.logins_per_quarter,
            email_days=s.corrections_email_days,
        )
