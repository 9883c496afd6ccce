"""Protection of the website's forms and of the admin area: signed CSRF tokens tied to a cookie,
signed session cookies, per-IP rate limits.

CSRF: the first form a browser gets sets a random value in an HttpOnly cookie (`annuaire_csrf`); the
form carries that value signed with the secret key and dated (itsdangerous). A POST is accepted only
when the token's signature is good, it is less than two hours old and it signs the cookie's value: a
page elsewhere can neither read the cookie nor forge the signature.

Sessions: the admin cookie (`annuaire_session`, path /admin, HttpOnly, SameSite=Strict, Secure when
`ANNUAIRE_SECURE_COOKIES=1`) holds a random token, signed; the corrections file keeps the token's hash,
its moderator and its expiry, so that logging out or changing a password ends it server-side.
"""

from __future__ import annotations

import math
import secrets

from fastapi import Request, Response
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from ..corrections import CorrectionSettings, CorrectionStore
from ..limits import Buckets, buckets

CSRF_COOKIE = "annuaire_csrf"
CSRF_FIELD = "csrf"
CSRF_MAX_AGE = 2 * 3600
SESSION_COOKIE = "annuaire_session"
MAX_FORM_BYTES = 16_384
# Form and admin pages: never cached (they carry a token), never framed, and no script at all may run
# on them (they show what visitors typed: a second wall behind the templates' escaping).
NO_STORE = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
}


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class Guard:
    """What the forms and the admin area share: the store, the signer, the rate limits."""

    def __init__(self, settings: CorrectionSettings, store: CorrectionStore):
        self.settings = settings
        self.store = store
        self._serializer: URLSafeTimedSerializer | None = None
        per_hour = settings.corrections_per_hour
        self.corrections = buckets(store, "corrections", per_hour / 3600, per_hour) if per_hour > 0 else None
        logins = settings.logins_per_quarter
        self.logins = buckets(store, "logins", logins / 900, logins) if logins > 0 else None

    @property
    def serializer(self) -> URLSafeTimedSerializer:
        if self._serializer is None:
            secret = self.settings.secret_key or self.store.secret_key()
            self._serializer = URLSafeTimedSerializer(secret, salt="annuaire")
        return self._serializer

    # -- CSRF ---------------------------------------------------------------------------------------

    def csrf_seed(self, request: Request) -> tuple[str, bool]:
        """The browser's CSRF cookie value, or a new one (True: it must be set)."""
        seed = request.cookies.get(CSRF_COOKIE)
        if seed and 16 <= len(seed) <= 64:
            return seed, False
        return secrets.token_urlsafe(24), True

    def csrf_token(self, seed: str) -> str:
        return self.serializer.dumps(seed, salt="csrf")

    def set_csrf_cookie(self, response: Response, seed: str) -> None:
        response.set_cookie(
            CSRF_COOKIE,
            seed,
            httponly=True,
            samesite="lax",
            secure=self.settings.secure_cookies,
            path="/",
        )

    def csrf_ok(self, request: Request, token: str | None) -> bool:
        seed = request.cookies.get(CSRF_COOKIE)
        if not seed or not token:
            return False
        try:
            signed = self.serializer.loads(token, salt="csrf", max_age=CSRF_MAX_AGE)
        except (BadSignature, SignatureExpired):
            return False
        return isinstance(signed, str) and secrets.compare_digest(signed, seed)

    # -- sessions -----------------------------------------------------------------------------------

    def session_token(self, request: Request) -> str | None:
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        try:
            token = self.serializer.loads(cookie, salt="session", max_age=self.settings.session_hours * 3600)
        except (BadSignature, SignatureExpired):
            return None
        return token if isinstance(token, str) else None

    def moderator(self, request: Request) -> str | None:
        token = self.session_token(request)
        return self.store.session_user(token) if token else None

    def open_session(self, response: Response, name: str) -> None:
        token = self.store.open_session(name, self.settings.session_hours)
        response.set_cookie(
            SESSION_COOKIE,
            self.serializer.dumps(token, salt="session"),
            max_age=self.settings.session_hours * 3600,
            httponly=True,
            samesite="strict",
            secure=self.settings.secure_cookies,
            path="/admin",
        )

    def close_session(self, request: Request, response: Response) -> None:
        token = self.session_token(request)
        if token:
            self.store.close_session(token)
        response.delete_cookie(SESSION_COOKIE, path="/admin")

    # -- rate limits ----------------------------------------------------------------------------------

    @staticmethod
    def wait(buckets: Buckets | None, request: Request) -> int:
        """0 when the request may go on, else the seconds to wait (for Retry-After)."""
        if buckets is None:
            return 0
        return math.ceil(buckets.take(client_ip(request)))


async def read_form(request: Request) -> dict[str, str] | None:
    """The posted form's fields (the first value of each), or None when the body is too large or not
    a form."""
    length = request.headers.get("content-length")
    if length is None or not (length.isascii() and length.isdigit()) or int(length) > MAX_FORM_BYTES:
        return None
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return None
    form = await request.form(max_files=0, max_fields=20)
    return {k: v for k, v in form.items() if isinstance(v, str)}
