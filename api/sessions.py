"""Browser sessions for the forms: Flask's signed cookie session, Flask-WTF's CSRF protection.

A session is begun by signing in with an API token and holds only the token's id and the hash
of its secret (the value the database keeps): never a usable bearer token. Every page request
checks that proof through the token cache (`Tokens.authenticate_session`), so revoking the
token ends its sessions within the cache's second. The cookie is HttpOnly, SameSite=Lax,
Secure behind HTTPS (see `SessionCookies`), and lives `SESSION_HOURS`; signing in clears the
session, so the cookie (and its CSRF token) are new.

CSRF tokens are checked on the forms' blueprints only (`protect_forms`): the JSON API is
authorised by its bearer header, which a browser never sends by itself.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from flask import Flask, Request, Response, current_app, g, render_template, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect

from api.errors import wants_json
from timeline.bootstrap import Services
from timeline.session_key import session_key
from timeline.tokens import Identity, SessionProof

SESSION_HOURS = 12
"""How long a session lasts after its last page (the cookie's Max-Age)."""


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed cookie session, Secure whenever the request itself came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        """Secure when the request came over HTTPS, directly or through a proxy that says so
        (`X-Forwarded-Proto: https`), or always with `TIMELINE_SECURE_COOKIES`. A client that
        falsely claims HTTPS only gets a cookie its browser will not send back over HTTP."""
        forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        return request.is_secure or forwarded == "https" or super().get_cookie_secure(app)


def writer() -> Identity | None:
    """Who is signed in on this request, or None."""
    found: Identity | None = g.get("writer")
    return found


def begin(proof: SessionProof, name: str) -> None:
    """Start a new session for a token: whatever the old one held (its CSRF token too) goes."""
    session.clear()
    session.permanent = True
    session["token_id"] = proof.token_id
    session["token_sha256"] = proof.secret_sha256
    session["name"] = name


def end() -> None:
    """End the session."""
    session.clear()


def _load_writer() -> None:
    """Note who is signed in; a session whose token was revoked is ended."""
    if wants_json() or "token_id" not in session:
        return
    services: Services = current_app.extensions["timeline"]
    proof = SessionProof(str(session["token_id"]), str(session.get("token_sha256", "")))
    identity = services.tokens.authenticate_session(proof)
    if identity is None:
        session.clear()
    g.writer = identity


def protect_forms() -> None:
    """Refuse a POST without a valid CSRF token (403, nothing written)."""
    protection: CSRFProtect = current_app.extensions["csrf"]
    protection.protect()


def _refused(error: CSRFError) -> Response:
    page = render_template(
        "error.html",
        status=403,
        title="Forbidden",
        detail=f"This form could not be accepted ({error.description}). Reload the form "
        "and send it again.",
    )
    return Response(page, status=403, mimetype="text/html")


def _signed_in() -> dict[str, object]:
    identity = writer()
    return {"signed_in_as": identity.name if identity else None}


def register_sessions(app: Flask, services: Services) -> None:
    """Sessions, their cookie's flags, CSRF protection and who is signed in."""
    app.config.update(
        SECRET_KEY=session_key(services.config, services.engine),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=services.config.secure_cookies,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
        WTF_CSRF_CHECK_DEFAULT=False,  # the forms' blueprints call `protect_forms`
        WTF_CSRF_TIME_LIMIT=None,  # a token lives as long as its session
        # The strict check wants a Referer on HTTPS, which the pages' `no-referrer` policy
        # withholds; the token and the SameSite=Lax cookie are the protection.
        WTF_CSRF_SSL_STRICT=False,
    )
    app.session_interface = SessionCookies()
    CSRFProtect(app)
    app.before_request(_load_writer)
    app.context_processor(_signed_in)
    app.register_error_handler(CSRFError, _refused)


def is_local(target: str) -> bool:
    """True for a path on this site (`/organisations/cicopa`), never `//elsewhere`, a URL, or
    a path with a backslash, a space or a control character (browsers drop some of them and
    read `/<tab>/elsewhere` as `//elsewhere`)."""
    if not target.startswith("/") or target.startswith("//"):
        return False
    if "\\" in target or any(char.isspace() or not char.isprintable() for char in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def next_page(req: Request, default: str = "/") -> str:
    """Where to go after signing in: the `next` asked for, if it is a path on this site."""
    target = req.values.get("next", "")
    return target if is_local(target) else default
