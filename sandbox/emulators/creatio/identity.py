"""Who may call the emulator: forms-login cookie sessions (with their CSRF token) and
OAuth 2.0 client-credentials bearer tokens."""

from __future__ import annotations

import base64
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from urllib.parse import parse_qs, quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sandbox.emulators.creatio.store import Options
from sandbox.emulators.creatio.wire import EmulatedError

LOGIN_PATH = "/ServiceModel/AuthService.svc/Login"
LOGIN_PAGE = "/Login/NuiLogin.aspx"
AUTH_COOKIE = ".ASPXAUTH"
CSRF = "BPMCSRF"


@dataclass
class Session:
    user: str
    csrf: str
    expires_at: float


@dataclass
class Token:
    client_id: str
    expires_at: float


@dataclass
class Principal:
    user: str
    contact_id: uuid.UUID
    via: str  # "cookie" | "bearer"


class Identity:
    def __init__(
        self,
        options: Callable[[], Options],
        supervisor_id: uuid.UUID,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._options = options
        self.supervisor_id = supervisor_id
        self.clock = clock
        self.sessions: dict[str, Session] = {}
        self.tokens: dict[str, Token] = {}
        self.logins = 0
        self.failed_logins = 0
        self.tokens_issued = 0

    @property
    def options(self) -> Options:
        return self._options()

    def reset(self) -> None:
        self.sessions.clear()
        self.tokens.clear()
        self.logins = self.failed_logins = self.tokens_issued = 0

    def expire_sessions(self) -> int:
        for session in self.sessions.values():
            session.expires_at = -1.0
        return len(self.sessions)

    def expire_tokens(self) -> int:
        for token in self.tokens.values():
            token.expires_at = -1.0
        return len(self.tokens)

    # -- AuthService.svc/Login ---------------------------------------------------------------
    async def login(self, request: Request) -> Response:
        try:
            body = await request.json()
            user, password = body["UserName"], body["UserPassword"]
            if not isinstance(user, str) or not isinstance(password, str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return Response("Bad Request", 400, media_type="text/html")
        expected = self.options.users.get(user)
        if expected is None or not secrets.compare_digest(expected, password):
            self.failed_logins += 1
            # Failures are HTTP 200 too: only `Code` tells (docs/wire-notes.md C1).
            return JSONResponse(_login_body(1, "Either the username or the password is wrong."))
        self.logins += 1
        auth = secrets.token_hex(64).upper()
        csrf = secrets.token_urlsafe(16)
        self.sessions[auth] = Session(user, csrf, self.clock() + self.options.session_timeout_s)
        response = JSONResponse(_login_body(0, ""))
        expires = formatdate(time.time() + self.options.session_timeout_s, usegmt=True)
        response.set_cookie("BPMLOADER", secrets.token_hex(12), path="/", httponly=True)
        response.set_cookie(AUTH_COOKIE, auth, path="/", httponly=True)
        response.set_cookie(CSRF, csrf, path="/")
        response.set_cookie("BPMSESSIONID", secrets.token_hex(12), path="/", httponly=True)
        # The user name as character codes joined by "|" (as in captured exchanges).
        response.headers.append(
            "set-cookie",
            f"UserName={'|'.join(str(ord(c)) for c in user)}; expires={expires}; path=/; HttpOnly",
        )
        return response

    # -- /connect/token ------------------------------------------------------------------------
    async def token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8")).items()}
        client_id, secret = form.get("client_id"), form.get("client_secret")
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(header[6:]).decode("utf-8")
                client_id, _, secret = decoded.partition(":")
            except ValueError:
                return _oauth_error("invalid_client", 400)
        if form.get("grant_type") != "client_credentials":
            return _oauth_error("unsupported_grant_type", 400)
        expected = self.options.clients.get(client_id or "")
        if expected is None or not secrets.compare_digest(expected, secret or ""):
            return _oauth_error("invalid_client", 400)
        lifetime = self.options.token_lifetime_s
        value = secrets.token_urlsafe(48)
        self.tokens[value] = Token(client_id or "", self.clock() + lifetime)
        self.tokens_issued += 1
        return JSONResponse(
            {
                "access_token": value,
                "expires_in": lifetime,
                "token_type": "Bearer",
                "scope": "ApplicationAccess",
            },
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    # -- every data call ---------------------------------------------------------------------
    def authenticate(self, request: Request) -> Principal:
        """The caller, or an EmulatedError carrying the answer Creatio gives instead."""
        now = self.clock()
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            token = self.tokens.get(header[7:].strip())
            if token is None or token.expires_at <= now:
                raise EmulatedError(
                    401,
                    "",
                    media_type="text/plain",
                    headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
                )
            return Principal(token.client_id, self.supervisor_id, "bearer")
        session = self.sessions.get(request.cookies.get(AUTH_COOKIE, ""))
        if session is None or session.expires_at <= now:
            raise self._unauthenticated(request)
        if self.options.csrf_required and request.headers.get(CSRF) != session.csrf:
            raise EmulatedError(401, "", media_type="text/plain")
        session.expires_at = now + self.options.session_timeout_s  # sliding expiration
        return Principal(session.user, self.supervisor_id, "cookie")

    def _unauthenticated(self, request: Request) -> EmulatedError:
        if self.options.expired_session == "redirect":
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            location = f"{LOGIN_PAGE}?ReturnUrl={quote(target, safe='')}"
            page = f'<html><body>Object moved to <a href="{location}">here</a>.</body></html>'
            return EmulatedError(302, page, media_type="text/html", headers={"Location": location})
        return EmulatedError(401, "", media_type="text/plain")


def _login_body(code: int, message: str) -> dict[str, object]:
    return {
        "Code": code,
        "Message": message,
        "Exception": None,
        "PasswordChangeUrl": None,
        "RedirectUrl": None,
    }


def _oauth_error(error: str, status: int) -> Response:
    return JSONResponse({"error": error}, status_code=status)
