"""Security headers on every answer of the service: one policy per kind of path.

- The built site needs its own scripts and furo's one inline script (the colour
  scheme is set before the first paint), so site pages allow inline scripts of
  their own origin and nothing from elsewhere.
- The API and the readers' service pages (``/rueckmeldung/``) load nothing from
  elsewhere and run only the service's own script.
- The editors' workspace (``/redaktion``) is stricter still: no inline styles,
  nothing kept in caches, no referrer beyond the service, and HSTS under HTTPS.
  Its headers replace whatever a route set; elsewhere a header a route sets
  itself wins.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

Headers = tuple[tuple[bytes, bytes], ...]

COMMON: Headers = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
HSTS = (b"strict-transport-security", b"max-age=31536000")


@dataclass(frozen=True)
class Policy:
    """``defaults`` are added where a route set no header of that name; ``forced`` replace the route's."""

    defaults: Headers
    forced: Headers = ()
    hsts: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "_forced_names", frozenset(name for name, _ in self.forced))

    def apply(self, headers: list[tuple[bytes, bytes]], https: bool) -> list[tuple[bytes, bytes]]:
        if self.forced:
            headers = [item for item in headers if item[0].lower() not in self._forced_names]
            headers.extend(self.forced)
        present = {name.lower() for name, _ in headers}
        headers.extend(item for item in self.defaults if item[0] not in present)
        if self.hsts and https:
            headers.append(HSTS)
        return headers


SITE = Policy(defaults=(
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
     b"img-src 'self' data:; font-src 'self'; object-src 'none'; base-uri 'self'; "
     b"form-action 'self'; frame-ancestors 'none'"),
    *COMMON,
))
SERVICE = Policy(defaults=(
    (b"content-security-policy",
     b"default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self'; "
     b"script-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
     b"frame-ancestors 'none'"),
    *COMMON,
))
WORKSPACE = Policy(
    defaults=COMMON,
    forced=(
        (b"content-security-policy",
         b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
         b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
        (b"referrer-policy", b"same-origin"),
        (b"cache-control", b"no-store"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
        (b"cross-origin-resource-policy", b"same-origin"),
    ),
    hsts=True,
)
WORKSPACE_PREFIX = "/redaktion"
SERVICE_PREFIXES = ("/api/", "/rueckmeldung/")


def policy_for(path: str) -> Policy:
    if path.startswith(WORKSPACE_PREFIX):
        return WORKSPACE
    return SERVICE if path.startswith(SERVICE_PREFIXES) else SITE


class SecurityHeaders:
    """ASGI middleware: every HTTP answer gets its path's policy."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = policy_for(scope["path"])
        # The scheme as the browser sees it: uvicorn puts a trusted proxy's
        # X-Forwarded-Proto into the scope.
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": policy.apply(list(message.get("headers", [])), https)}
            await send(message)

        await self.app(scope, receive, send_with_headers)
