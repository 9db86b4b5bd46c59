"""What stands in front of every workspace page: the session cookie, the CSRF check
and the same-origin check. Its security headers are the workspace policy in
``feedback_service.security``.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .. import accounts
from ..config import normalise_origin, own_origin

BASE = "/redaktion/"
LOGIN = "/redaktion/anmelden"

def service_of(request: Request):
    return request.app.state.service


def is_https(request: Request) -> bool:
    """HTTPS as the browser sees it (a trusted proxy's ``X-Forwarded-Proto`` is in the scope)."""
    return request.url.scheme == "https"


def cookie_name(request: Request, purpose: str = "sitzung") -> str:
    """``__Host-`` cookies under HTTPS: Secure, Path=/ and no Domain, enforced by the browser."""
    return f"__Host-redaktion-{purpose}" if is_https(request) else f"redaktion-{purpose}"


def set_cookie(response: Response, request: Request, purpose: str, value: str) -> None:
    response.set_cookie(
        cookie_name(request, purpose), value, path="/", httponly=True, samesite="strict",
        secure=is_https(request),
    )


def clear_cookie(response: Response, request: Request, purpose: str) -> None:
    response.delete_cookie(
        cookie_name(request, purpose), path="/", httponly=True, samesite="strict",
        secure=is_https(request),
    )


async def current_session(request: Request) -> accounts.Session | None:
    token = request.cookies.get(cookie_name(request))
    if not token:
        return None
    service = service_of(request)
    idle = service.config.session_idle_seconds
    return await service.writer.run(lambda conn: accounts.find_session(conn, token, idle))


def safe_next(value: str | None) -> str:
    """Where to go after logging in or acting: a workspace page of this service, else the queue."""
    if not value or not value.isprintable() or "\\" in value:
        return BASE
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith(BASE):
        return BASE
    return value


def to_login(request: Request) -> RedirectResponse:
    """To the login page; after it, back to the page asked for (a form post starts over)."""
    target = request.url.path if request.method == "GET" else BASE
    if request.method == "GET" and request.url.query:
        target += "?" + request.url.query
    query = urlencode({"weiter": target}) if target not in (BASE, LOGIN) else ""
    return RedirectResponse(LOGIN + (f"?{query}" if query else ""), status_code=303)


def same_origin(request: Request) -> bool:
    """A form post from a page of this service (browsers send Origin with every POST)."""

    origin = request.headers.get("origin")
    return origin is None or normalise_origin(origin) == own_origin(request.scope)


def token_matches(expected: str, given) -> bool:
    return isinstance(given, str) and bool(given) and hmac.compare_digest(
        expected.encode(), given.encode()
    )


def new_login_token() -> str:
    return secrets.token_urlsafe(32)
