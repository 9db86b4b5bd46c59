"""The HTTP server's limits against slow and greedy clients.

uvicorn closes idle keep-alive connections, but a client that opens a
connection and then sends its request head a byte at a time holds it for
ever. :class:`HeadDeadlineProtocol` gives every request head a deadline from
the moment the connection opens (or the previous answer was sent); the body
has its own deadline in the app (``app.read_body``). nginx in front does the
same for production (deploy/nginx-handbuch.conf).
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEAD_TIMEOUT = 10.0
BODY_TIMEOUT = 15.0
# Above this many open connections per process uvicorn answers 503 at once
# instead of queueing readers behind a flood.
LIMIT_CONCURRENCY = 1000
KEEP_ALIVE = 5


class HeadDeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for each request's head."""

    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_deadline()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_timer is None:
            self._arm_head_deadline()

    def on_headers_complete(self) -> None:
        self._disarm_head_deadline()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def _arm_head_deadline(self) -> None:
        self._disarm_head_deadline()
        self._head_timer = self.loop.call_later(HEAD_TIMEOUT, self._head_too_slow)

    def _disarm_head_deadline(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def uvicorn_options() -> dict:
    """The server settings `serve` passes to uvicorn."""
    return {
        "http": HeadDeadlineProtocol,
        "limit_concurrency": LIMIT_CONCURRENCY,
        "timeout_keep_alive": KEEP_ALIVE,
    }
