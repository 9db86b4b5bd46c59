"""Rate limit of new comments per client address, without storing any address.

A client is known only by HMAC-SHA256(secret of the day, address). The secret
lives in the database, so every instance behind a load balancer computes the
same key and counts in the same table; yesterday's secret is deleted, so a key
cannot be linked to an address after a day. The address is the request's
client as uvicorn's ``ProxyHeadersMiddleware`` leaves it: ``X-Forwarded-For``
counts only when the direct peer is one of ``FEEDBACK_TRUSTED_PROXIES``.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
from datetime import datetime, timezone

from . import db
from .errors import ApiError


class RateLimiter:
    def __init__(self, limit: tuple[int, int] | None):
        self.limit = limit
        self._secrets: dict[str, str] = {}

    def client_key(self, conn: db.Connection, address: str) -> str:
        day = datetime.now(timezone.utc).strftime("%Y-%m-%d")
        secret = self._secrets.get(day)
        if secret is None:
            secret = db.rate_secret(conn, day)
            if secret is None:
                db.add_rate_secret(conn, day, secrets.token_hex(32))
                secret = db.rate_secret(conn, day)
            self._secrets = {day: secret}
        return hmac.new(secret.encode(), address.encode(), hashlib.sha256).hexdigest()

    def admit(self, conn: db.Connection, address: str) -> None:
        """Count one new comment of ``address``; ApiError 429 when over the limit."""
        if self.limit is None:
            return
        count, seconds = self.limit
        client = self.client_key(conn, address)
        now_ms = int(time.time() * 1000)
        window_ms = seconds * 1000
        db.lock_rate_client(conn, client)
        recent = db.rate_events(conn, client, now_ms - window_ms)
        if len(recent) >= count:
            wait = max(1, math.ceil((recent[-count] + window_ms - now_ms) / 1000))
            raise ApiError(
                429, "rate_limited",
                f"Zu viele Kommentare in kurzer Zeit. Bitte versuchen Sie es in {wait} "
                "Sekunden noch einmal.",
                headers={"Retry-After": str(wait)},
            )
        db.add_rate_event(conn, client, now_ms)
