"""Rate limit of new comments per client address, without storing any address.

A client is known only by HMAC-SHA256(secret of the day, address). The secret
lives in the database, so every instance behind a load balancer computes the
same key and counts in the same table; yesterday's secret is deleted, so a key
cannot be linked to an address after a day. ``X-Forwarded-For`` counts only
when the direct peer is one of ``FEEDBACK_TRUSTED_PROXIES``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import secrets
import time
from datetime import datetime, timezone

from . import db
from .errors import ApiError


class RateLimiter:
    def __init__(self, limit: tuple[int, int] | None, trusted_proxies: tuple = ()):
        self.limit = limit
        self.trusted_proxies = trusted_proxies
        self._secrets: dict[str, str] = {}

    def is_trusted(self, address: str | None) -> bool:
        if not address or not self.trusted_proxies:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted_proxies)

    def client_address(self, peer: str | None, forwarded_for: str | None) -> str:
        """The address of the reader: the peer, or what trusted proxies forwarded."""
        address = peer or "unknown"
        if forwarded_for and self.is_trusted(peer):
            for hop in reversed([part.strip() for part in forwarded_for.split(",")]):
                if not hop:
                    continue
                address = hop
                if not self.is_trusted(hop):
                    break
        return address

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
