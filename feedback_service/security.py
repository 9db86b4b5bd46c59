"""Security headers on every answer of the service.

The built site needs its own scripts and furo's one inline script (the colour
scheme is set before the first paint), so site pages allow inline scripts of
their own origin and nothing from elsewhere. The API and the service's own
pages load nothing at all. Headers a route sets itself win.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SITE_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SERVICE_POLICY = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self'; "
    "script-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
COMMON = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
SERVICE_PREFIXES = ("/api/", "/redaktion", "/rueckmeldung/")


def policy_for(path: str) -> bytes:
    service = path.startswith(SERVICE_PREFIXES)
    return (SERVICE_POLICY if service else SITE_POLICY).encode()


class SecurityHeaders:
    """ASGI middleware: adds the headers above to every HTTP answer."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = ((b"content-security-policy", policy_for(scope["path"])), *COMMON)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(item for item in wanted if item[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
