"""Public corrections and their moderation.

`fields` says what may be corrected and checks a submission (pure), `passwords` hashes the
moderators' passwords (scrypt), `store` keeps corrections, moderators, sessions and the audit log in
a SQLite file of their own beside the directory (builds and updates replace the directory's file, not
this one), `overlay` applies approved corrections to what the directory says when it is read.
"""

from .settings import CorrectionSettings
from .store import CorrectionStore

__all__ = ["CorrectionSettings", "CorrectionStore"]
