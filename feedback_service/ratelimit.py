"""Rate limits per client, without storing any address.

A client is its address normalised (``ipaddress``: one spelling per address,
IPv4-mapped IPv6 as IPv4, an IPv6 address as its /64, the network one
household or phone gets). The database knows a client only as
HMAC-SHA256(key of the day, network), where the key of the day is derived
from the server secret (``FEEDBACK_SECRET`` or ``var/feedback-secret``),
which never enters the database: whoever holds a copy of the database cannot
test addresses against it, and instances sharing the secret count together.
After a day the key changes and no count can be tied to an address any more.

The address is the request's client as uvicorn's ``ProxyHeadersMiddleware``
leaves it: ``X-Forwarded-For`` counts only when the direct peer is one of
``FEEDBACK_TRUSTED_PROXIES``.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import socket
import time
from datetime import datetime, timezone

from . import db
from .errors import ApiError
from .ids import hmac_sha256

IPV6_PREFIX = 64
# What a scope's 429 says there were too many of.
_WHAT = {"": "Kommentare"}


def client_address(request) -> str:
    """The reader's address (``ProxyHeadersMiddleware`` has put in what trusted proxies forwarded)."""
    return request.client.host if request.client else "unknown"


@functools.lru_cache(maxsize=4096)  # a request asks twice (rate limit, idempotency); readers come back
def client_network(address: str) -> str:
    """One spelling for one client: ``[::FFFF:1.2.3.4]:80`` → ``1.2.3.4``, IPv6 → its /64."""
    value = address.strip().lower()
    if value.startswith("["):
        value = value[1:].split("]", 1)[0]
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]  # IPv4 with a port
    value = value.split("%", 1)[0]  # an IPv6 zone index names the interface, not the client
    try:
        socket.inet_pton(socket.AF_INET, value)
    except OSError:
        pass
    else:
        return value  # four decimal octets without leading zeros: spelt as ipaddress spells it
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return value or "unknown"
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    if ip.version == 6:
        return str(ipaddress.IPv6Network(f"{ip}/{IPV6_PREFIX}", strict=False))
    return str(ip)


@functools.lru_cache(maxsize=4)
def _daily_key(secret: str, day: int) -> bytes:
    """The key of UTC day ``day`` (days since 1970-01-01), derived from the server secret."""
    date = datetime.fromtimestamp(day * 86400, timezone.utc).strftime("%Y-%m-%d")
    return hmac_sha256(secret.encode(), b"rate-limit\0" + date.encode())


def _retry_after(seconds: float, message: str) -> ApiError:
    wait = max(1, math.ceil(seconds))
    return ApiError(429, "rate_limited", message.format(wait=wait), headers={"Retry-After": str(wait)})


class RateLimiter:
    """New comments (and ratings) per client and window, counted in the database."""

    def __init__(self, limit: tuple[int, int] | None, secret: str):
        self.limit = limit
        self._secret = secret

    def client_key(self, address: str, scope: str = "") -> str:
        """The client's name for today; each ``scope`` (comments: none) counts on its own."""
        network = client_network(address).encode()
        if scope:
            network = scope.encode() + b"\0" + network
        return hmac_sha256(_daily_key(self._secret, int(time.time() // 86400)), network).hex()

    def admit(self, conn: db.Connection, address: str, scope: str = "") -> None:
        """Count one new submission of ``address``; ApiError 429 when over the limit.

        Comments count without a scope; ratings (scope ``ratings``) have a
        window of their own, so rating pages never use up a reader's comments.
        """
        if self.limit is not None:
            self.admit_client(conn, self.client_key(address, scope), scope)

    def admit_client(self, conn: db.Connection, client: str, scope: str = "") -> None:
        """:meth:`admit` for a client named by :meth:`client_key` already (outside the write turn)."""
        if self.limit is None:
            return
        count, seconds = self.limit
        now_ms = int(time.time() * 1000)
        window_ms = seconds * 1000
        db.lock_rate_client(conn, client)
        recent = db.rate_events(conn, client, now_ms - window_ms)
        if len(recent) >= count:
            raise _retry_after(
                (recent[-count] + window_ms - now_ms) / 1000,
                f"Zu viele {_WHAT.get(scope, 'Rückmeldungen')} in kurzer Zeit. Bitte versuchen Sie es "
                "in {wait} Sekunden noch einmal.",
            )
        db.add_rate_event(conn, client, now_ms)


class FailureThrottle:
    """Failed attempts per client (wrong admin tokens): 429 after too many in the window.

    Counted in the database like the rate limit, under a scope of their own,
    so all processes of the service (``serve --workers``) and all instances on
    one database count together: a client gets ``attempts`` tries per window,
    however many processes answer it.
    """

    SCOPE = "admin-failures"

    def __init__(self, limiter: RateLimiter, attempts: int = 10, window: float = 600.0):
        self.limiter, self.attempts, self.window_ms = limiter, attempts, int(window * 1000)

    def _refusal(self, conn: db.Connection, client: str, now_ms: int) -> ApiError | None:
        recent = db.rate_events(conn, client, now_ms - self.window_ms)
        if len(recent) < self.attempts:
            return None
        return _retry_after(
            (recent[-self.attempts] + self.window_ms - now_ms) / 1000,
            "Zu viele fehlgeschlagene Anmeldungen. Bitte warten Sie {wait} Sekunden.",
        )

    def check(self, conn: db.Connection, address: str) -> None:
        """ApiError 429 while ``address`` has failed too often."""
        refusal = self._refusal(conn, self.limiter.client_key(address, self.SCOPE), int(time.time() * 1000))
        if refusal is not None:
            raise refusal

    def fail(self, conn: db.Connection, address: str) -> None:
        """Count one failure (in a write transaction); ApiError 429 when no try was left."""
        client, now_ms = self.limiter.client_key(address, self.SCOPE), int(time.time() * 1000)
        db.lock_rate_client(conn, client)
        refusal = self._refusal(conn, client, now_ms)
        if refusal is not None:  # other processes used up this client's tries meanwhile
            raise refusal
        db.add_rate_event(conn, client, now_ms)
