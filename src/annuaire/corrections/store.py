"""The corrections file: corrections with their status, moderators, sessions, the audit log.

A SQLite file of its own in WAL mode, so that every web worker can write to it while the others read,
and so that `annuaire build` and `annuaire update`, which replace the directory's file, never touch it.
Every statement takes its values as parameters: nothing typed by a visitor is ever part of SQL text.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from .fields import Submission
from .passwords import dummy_hash, hash_password, verify_password

STATUSES = ("en_attente", "approuvee", "rejetee")
PAGE = 50


def listing_clauses(
    statut: str | None, champ: str | None, organisme: str | None, mark: str
) -> tuple[str, list[str], str]:
    """The WHERE clause, its parameters and the ORDER BY of a page of corrections, parameters
    written `mark` (`?` for SQLite, `%s` for PostgreSQL)."""
    conditions, params = [], []
    if statut in STATUSES:
        conditions.append(f"statut = {mark}")
        params.append(statut)
    if champ:
        conditions.append(f"champ = {mark}")
        params.append(champ)
    if organisme:
        conditions.append(f"(organisme = {mark} OR nda = {mark})")
        params += [organisme, organisme]
    where = ("WHERE " + " AND ".join(conditions)) if conditions else ""
    order = "cree_le, id" if statut == "en_attente" else "cree_le DESC, id DESC"
    return where, params, order


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class CorrectionStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._local = threading.local()
        self._ready = False
        self._lock = threading.Lock()
        self._decisions = 0  # decisions taken through this object (see _approved_keys)

    # -- connection ---------------------------------------------------------------------------------

    def exists(self) -> bool:
        return self.path.is_file()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                # Password hashes, e-mail addresses and the signing key: readable by its owner only
                # (SQLite gives its -wal and -shm files the same permissions).
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            self._local.conn = conn
        if not self._ready:
            with self._lock:
                schema = resources.files(__package__).joinpath("schema.sql").read_text(encoding="utf-8")
                conn.executescript(schema)
                self._ready = True
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- settings -----------------------------------------------------------------------------------

    def secret_key(self) -> str:
        """The signing secret kept in the file: made once, then the same for every worker."""
        conn = self._conn()
        conn.execute(
            "INSERT OR IGNORE INTO reglages (cle, valeur) VALUES ('secret_key', ?)", (secrets.token_hex(32),)
        )
        return conn.execute("SELECT valeur FROM reglages WHERE cle = 'secret_key'").fetchone()[0]

    # -- corrections --------------------------------------------------------------------------------

    def add(self, org: dict[str, Any], submission: Submission) -> int:
        cursor = self._conn().execute(
            """INSERT INTO corrections (organisme, nda, denomination, champ, valeur_actuelle, valeur,
                                        message, email, cree_le)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                org["id_organisme"],
                org.get("numero_declaration_activite"),
                org.get("denomination"),
                submission.champ,
                org.get(submission.champ),
                submission.valeur,
                submission.message,
                submission.email,
                iso(now()),
            ),
        )
        return int(cursor.lastrowid or 0)  # an INSERT's: never None

    def forget_old_emails(self, days: int) -> int:
        """Erase the e-mail address of the corrections decided more than `days` days ago (0: never):
        the address serves to answer the sender about the moderation, nothing else. Returns how many."""
        if days <= 0:
            return 0
        cutoff = iso(now() - timedelta(days=days))
        cursor = self._conn().execute(
            "UPDATE corrections SET email = '' WHERE email != '' AND decide_le IS NOT NULL AND decide_le < ?",
            (cutoff,),
        )
        return cursor.rowcount

    def forget_email(self, address: str) -> int:
        """Erase an address from every correction that holds it (a sender's request); how many."""
        cursor = self._conn().execute(
            "UPDATE corrections SET email = '' WHERE lower(email) = lower(?) AND email != ''",
            (address.strip(),),
        )
        if cursor.rowcount:
            self.log(None, "adresse_effacee", {"corrections": cursor.rowcount})
        return cursor.rowcount

    def get(self, correction_id: int) -> dict[str, Any] | None:
        row = self._conn().execute("SELECT * FROM corrections WHERE id = ?", (correction_id,)).fetchone()
        return dict(row) if row else None

    def listing(
        self,
        statut: str | None = None,
        page: int = 1,
        *,
        champ: str | None = None,
        organisme: str | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of corrections (newest first, or oldest first for those awaiting a decision)
        and the total count; `organisme` matches the organisation's id or NDA."""
        conn = self._conn()
        where, params, order = listing_clauses(statut, champ, organisme, "?")
        total = conn.execute(f"SELECT count(*) FROM corrections {where}", params).fetchone()[0]
        rows = conn.execute(
            f"SELECT * FROM corrections {where} ORDER BY {order} LIMIT ? OFFSET ?",
            [*params, PAGE, (max(page, 1) - 1) * PAGE],
        ).fetchall()
        return [dict(r) for r in rows], total

    def counts(self) -> dict[str, int]:
        found = dict(self._conn().execute("SELECT statut, count(*) FROM corrections GROUP BY statut"))
        return {s: found.get(s, 0) for s in STATUSES}

    # action → (status required, new status, audit log entry)
    ACTIONS = {
        "approuver": ("en_attente", "approuvee", "approbation"),
        "rejeter": ("en_attente", "rejetee", "rejet"),
        "retirer": ("approuvee", "rejetee", "retrait"),  # an approved correction no longer shown
    }

    def decide(self, correction_id: int, action: str, moderateur: str, motif: str = "") -> bool:
        """Approve or reject a correction awaiting a decision, or withdraw an approved one, and log
        it; False when the correction is not in the status the action needs."""
        before, after, entry = self.ACTIONS[action]
        conn = self._conn()
        when = iso(now())
        conn.execute("BEGIN IMMEDIATE")
        try:
            changed = conn.execute(
                """UPDATE corrections SET statut = ?, decide_le = ?, decide_par = ?
                   WHERE id = ? AND statut = ?""",
                (after, when, moderateur, correction_id, before),
            ).rowcount
            if changed:
                self._log(conn, moderateur, entry, correction_id, {"motif": motif} if motif else None, when)
            conn.execute("COMMIT")
            self._decisions += 1
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return bool(changed)

    def approved_for(self, keys: list[tuple[str, str | None]]) -> dict[str, list[dict[str, Any]]]:
        """Approved corrections of organisations given as (id, main NDA), by organisation id, oldest
        first. An organisation is found by the id it had when the correction was sent, or else by its
        NDA then (an update can give an organisation a new id when its SIRET becomes known)."""
        if not keys or not self.exists():
            return {}
        ids = {k for k, _ in keys}
        ndas = {n: k for k, n in keys if n}
        corrected_ids, corrected_ndas = self._approved_keys()
        if ids.isdisjoint(corrected_ids) and corrected_ndas.isdisjoint(ndas):
            return {}  # most result pages: nothing to ask the file
        marks = ",".join("?" * len(ids))
        nda_marks = ",".join("?" * len(ndas)) or "NULL"
        rows = (
            self._conn()
            .execute(
                f"""SELECT * FROM corrections WHERE statut = 'approuvee'
                  AND (organisme IN ({marks}) OR nda IN ({nda_marks}))
                ORDER BY decide_le, id""",
                [*ids, *ndas],
            )
            .fetchall()
        )
        found: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            key = row["organisme"] if row["organisme"] in ids else ndas.get(row["nda"])
            if key is not None:
                found.setdefault(key, []).append(dict(row))
        return found

    def _approved_keys(self) -> tuple[frozenset[str], frozenset[str]]:
        """Organisation ids and NDAs that have an approved correction, kept per thread until the
        file changes: `PRAGMA data_version` moves when another connection commits, `_decisions`
        when this process decides."""
        conn = self._conn()
        version = (conn.execute("PRAGMA data_version").fetchone()[0], self._decisions)
        cached = getattr(self._local, "approved", None)
        if cached is None or cached[0] != version:
            rows = conn.execute(
                "SELECT organisme, nda FROM corrections WHERE statut = 'approuvee'"
            ).fetchall()
            cached = (version, frozenset(r[0] for r in rows), frozenset(r[1] for r in rows if r[1]))
            self._local.approved = cached
        return cached[1], cached[2]

    # -- moderators and sessions --------------------------------------------------------------------

    def add_moderator(self, name: str, password: str) -> bool:
        """Create a moderator or change their password; True when created."""
        conn = self._conn()
        existed = conn.execute("SELECT 1 FROM moderateurs WHERE nom = ?", (name,)).fetchone()
        conn.execute(
            """INSERT INTO moderateurs (nom, mot_de_passe, cree_le) VALUES (?, ?, ?)
               ON CONFLICT (nom) DO UPDATE SET mot_de_passe = excluded.mot_de_passe""",
            (name, hash_password(password), iso(now())),
        )
        if existed:
            conn.execute("DELETE FROM sessions WHERE moderateur = ?", (name,))
        return existed is None

    def moderators(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self._conn().execute("SELECT nom, cree_le FROM moderateurs ORDER BY nom")]

    def remove_moderator(self, name: str) -> bool:
        """Remove a moderator and end their sessions (their decisions stay, with their name)."""
        conn = self._conn()
        conn.execute("DELETE FROM sessions WHERE moderateur = ?", (name,))
        return conn.execute("DELETE FROM moderateurs WHERE nom = ?", (name,)).rowcount > 0

    def check_login(self, name: str, password: str) -> bool:
        row = self._conn().execute("SELECT mot_de_passe FROM moderateurs WHERE nom = ?", (name,)).fetchone()
        ok = verify_password(password, row[0] if row else dummy_hash())
        return ok and row is not None

    def open_session(self, name: str, hours: int) -> str:
        token = secrets.token_urlsafe(32)
        start = now()
        conn = self._conn()
        conn.execute("DELETE FROM sessions WHERE expire_le < ?", (iso(start),))
        conn.execute(
            "INSERT INTO sessions (jeton_hash, moderateur, cree_le, expire_le) VALUES (?, ?, ?, ?)",
            (_token_hash(token), name, iso(start), iso(start + timedelta(hours=hours))),
        )
        return token

    def session_user(self, token: str) -> str | None:
        row = (
            self._conn()
            .execute(
                "SELECT moderateur FROM sessions WHERE jeton_hash = ? AND expire_le > ?",
                (_token_hash(token), iso(now())),
            )
            .fetchone()
        )
        return row[0] if row else None

    def close_session(self, token: str) -> None:
        self._conn().execute("DELETE FROM sessions WHERE jeton_hash = ?", (_token_hash(token),))

    # -- audit log ----------------------------------------------------------------------------------

    def _log(self, conn, moderateur, action, correction_id, detail, when=None) -> None:
        conn.execute(
            "INSERT INTO journal (date, moderateur, action, correction_id, detail) VALUES (?, ?, ?, ?, ?)",
            (
                when or iso(now()),
                moderateur,
                action,
                correction_id,
                json.dumps(detail, ensure_ascii=False) if detail else None,
            ),
        )

    def log(self, moderateur: str | None, action: str, detail: dict | None = None) -> None:
        self._log(self._conn(), moderateur, action, None, detail)

    def journal(self, page: int = 1) -> tuple[list[dict[str, Any]], int]:
        conn = self._conn()
        total = conn.execute("SELECT count(*) FROM journal").fetchone()[0]
        rows = conn.execute(
            "SELECT * FROM journal ORDER BY id DESC LIMIT ? OFFSET ?", (PAGE, (max(page, 1) - 1) * PAGE)
        ).fetchall()
        return [dict(r) | {"detail": json.loads(r["detail"]) if r["detail"] else None} for r in rows], total
