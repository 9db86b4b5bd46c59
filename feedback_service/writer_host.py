"""One writer for all of ``serve``'s processes (SQLite): new comments written by the supervising process.

With SQLite only one process writes at a time. When every worker wrote its own
readers' comments, the workers took turns at the file (``db.Database.write_turn``):
each batch waited for the other process's, the turn passed back and forth
thousands of times a second, and a worker's writer held it longer than its
statements needed, sharing its interpreter with the worker's requests. Here the
process that supervises the workers (it has no requests of its own) writes
every new comment: one :class:`db.Writer`, fed by all workers, whose batches
are larger and never wait for another process (the turn is still taken, for
the CLI and the workers' other writes).

A worker sends the :class:`comments.NewComment` it made ready (validated, its
id, digests and row made) over a private Unix socket, and gets the write's
answer back: ``(status, answer)``, or the error the job raised, as the worker's
own writer would have raised it. The socket lives in a directory only the
service's user can open; a frame is a 4-byte length and a JSON object.

A worker that cannot reach the host (not started, stopped, gone) writes the
comment itself, as before; if the host may have written it already (the
connection broke after sending), the worker's write first looks for the
comment's id, so that nothing is written twice and nothing acknowledged is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import selectors
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

from . import comments, db
from .config import Config, with_secret
from .errors import ApiError, ValidationFailed
from .ratelimit import RateLimiter

log = logging.getLogger("feedback_service")

# Where the workers find the host: set by ``serve`` for the processes it starts.
SOCKET_ENV = "FEEDBACK_WRITER_SOCKET"
MAX_FRAME = 1 << 20
# After a failed connection a worker writes on its own for this long before it tries again.
RECONNECT_AFTER = 1.0
SEND_TIMEOUT = 5.0


def encode(message: dict) -> bytes:
    body = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()
    return len(body).to_bytes(4, "big") + body


def _api(error: ApiError) -> dict:
    return {"status": error.status, "code": error.code, "message": error.message, "field": error.field,
            "headers": error.headers}


def encode_error(exc: BaseException) -> dict:
    """A job's failure as plain data (:func:`decode_error` raises it again in the worker)."""
    if isinstance(exc, ApiError):
        return {"kind": "api", **_api(exc)}
    if isinstance(exc, ValidationFailed):
        return {"kind": "validation", "errors": [_api(error) for error in exc.errors]}
    if isinstance(exc, db.IntegrityError):
        return {"kind": "integrity", "message": str(exc)}
    if not isinstance(exc, db.DatabaseError):
        log.error("writing a comment failed: %s: %s", type(exc).__name__, exc)
    return {"kind": "database", "message": str(exc) if isinstance(exc, db.DatabaseError)
            else f"{type(exc).__name__}: {exc}"}


def decode_error(data: dict) -> Exception:
    kind = data["kind"]
    if kind == "api":
        return ApiError(data["status"], data["code"], data["message"], data["field"], data["headers"])
    if kind == "validation":
        return ValidationFailed([ApiError(e["status"], e["code"], e["message"], e["field"], e["headers"])
                                 for e in data["errors"]])
    if kind == "integrity":
        return db.IntegrityError(data["message"])
    return db.DatabaseError(data["message"])


class _Answer:
    """Where one request's outcome goes: the future :meth:`db.Writer.submit` settles."""

    __slots__ = ("peer", "request_id")

    def __init__(self, peer: _Peer, request_id: int):
        self.peer, self.request_id = peer, request_id

    def cancelled(self) -> bool:
        return False

    def set_result(self, value: tuple[int, dict]) -> None:
        self.peer.answers.append(encode({"id": self.request_id, "ok": list(value)}))

    def set_exception(self, exc: BaseException) -> None:
        self.peer.answers.append(encode({"id": self.request_id, "error": encode_error(exc)}))


class _Peer:
    """One worker's connection: what it sent so far, and the answers of a round, sent together."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.received = bytearray()
        self.answers: list[bytes] = []
        self.closed = False

    def call_soon_threadsafe(self, settle, results) -> None:
        """Called by the writer's syncing thread with a round's outcomes: answer them in one send."""
        try:
            settle(results)
            data = b"".join(self.answers)
        except Exception as exc:  # noqa: BLE001 - the syncing thread must go on for the other workers
            log.error("answering a worker failed: %s: %s", type(exc).__name__, exc)
            self.close()  # its requests learn that they may have been written, and are written again
            return
        finally:
            self.answers = []
        if self.closed:
            return
        try:
            self.sock.sendall(data)
        except OSError:  # gone, or not reading (its socket buffer full): it writes on its own again
            self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)


class WriterHost:
    """The supervising process's writer for the workers' new comments, with a thread that listens."""

    def __init__(self, config: Config):
        self.config = with_secret(config)
        self.db = db.Database(config.database_url)
        self.writer = db.Writer(self.db)
        self.limiter = RateLimiter(config.rate_limit, self.config.secret)
        self._directory: Path | None = None
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = os.pipe()

    def start(self) -> str:
        """Listen; returns the socket's path for the workers (:data:`SOCKET_ENV`)."""
        self._directory = Path(tempfile.mkdtemp(prefix="feedback-writer-"))  # mode 0700: this user only
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self.path))
        listener.listen(64)
        listener.setblocking(False)
        self.writer.start()
        self._thread = threading.Thread(target=self._serve, args=(listener,), name="feedback-writer-host",
                                        daemon=True)
        self._thread.start()
        return str(self.path)

    @property
    def path(self) -> Path:
        assert self._directory is not None
        return self._directory / "socket"

    def stop(self) -> None:
        """Stop listening, answer what was asked, then stop the writer."""
        if self._thread is not None:
            os.write(self._wake_w, b"x")
            self._thread.join(timeout=30)
            self._thread = None
        self.writer.stop()
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None

    def _serve(self, listener: socket.socket) -> None:
        peers: dict[int, _Peer] = {}
        with selectors.DefaultSelector() as selector:
            selector.register(listener, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            try:
                while True:
                    for key, _ in selector.select():
                        if key.fileobj is listener:
                            with contextlib.suppress(BlockingIOError):
                                sock, _ = listener.accept()
                                # A worker that stops reading holds up nobody's answers for long.
                                sock.settimeout(SEND_TIMEOUT)
                                peers[sock.fileno()] = _Peer(sock)
                                selector.register(sock, selectors.EVENT_READ)
                        elif key.fileobj == self._wake_r:
                            return
                        else:
                            peer = peers[key.fd]
                            if not self._receive(peer):
                                selector.unregister(peer.sock)
                                del peers[key.fd]
                                peer.close()
            except Exception as exc:  # noqa: BLE001 - the workers then write on their own
                log.error("the shared writer stopped listening: %s: %s", type(exc).__name__, exc)
            finally:
                listener.close()
                # Answers still to come go nowhere once their connection is closed: a worker
                # that waits retries on its own, and finds what was written.
                for peer in peers.values():
                    peer.close()

    def _receive(self, peer: _Peer) -> bool:
        """Take in what the worker sent and queue each complete request; False once it is gone."""
        try:
            data = peer.sock.recv(1 << 16)
        except OSError:
            return False
        if not data:
            return False
        received = peer.received
        received += data
        offset = 0
        while len(received) - offset >= 4:
            size = int.from_bytes(received[offset:offset + 4], "big")
            if size > MAX_FRAME:
                return False
            if len(received) - offset - 4 < size:
                break
            try:
                request = json.loads(received[offset + 4:offset + 4 + size])
                job = comments.store_job(comments.NewComment.from_json(request["comment"]), self.limiter,
                                         self.config.secret, self.config.notifications, request["retried"])
                answer = _Answer(peer, request["id"])
            except (ValueError, KeyError, TypeError):
                return False  # not what a worker sends
            self.writer.submit(job, answer, peer)
            offset += 4 + size
        del received[:offset]
        return True


class HostUnavailable(Exception):
    """The host cannot answer; ``sent``: the request may have reached it (then it may be written)."""

    def __init__(self, sent: bool):
        super().__init__("writer host unavailable")
        self.sent = sent


class _HostProtocol(asyncio.Protocol):
    """A worker's end of the connection: sends requests, resolves each one's future by its answer."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiting: dict[int, asyncio.Future] = {}
        self.received = bytearray()
        self.lost = False

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.outgoing: list[bytes] = []

    def send(self, frame: bytes) -> None:
        """Sent with the others of this turn of the event loop: one wake-up of the host for them all."""
        if not self.outgoing:
            asyncio.get_running_loop().call_soon(self._flush)
        self.outgoing.append(frame)

    def _flush(self) -> None:
        frames, self.outgoing = self.outgoing, []
        if self.transport is not None and not self.lost:
            self.transport.write(b"".join(frames))

    def data_received(self, data: bytes) -> None:
        received = self.received
        received += data
        offset = 0
        while len(received) - offset >= 4:
            size = int.from_bytes(received[offset:offset + 4], "big")
            if len(received) - offset - 4 < size:
                break
            reply = json.loads(received[offset + 4:offset + 4 + size])
            offset += 4 + size
            future = self.waiting.pop(reply.get("id"), None)
            if future is not None and not future.done():
                future.set_result(reply)
        del received[:offset]

    def connection_lost(self, exc) -> None:
        """Gone: whoever still waits learns that the host may have written."""
        self.lost = True
        waiting, self.waiting = self.waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(HostUnavailable(sent=True))


class RemoteWriter:
    """A worker's connection to the :class:`WriterHost`, opened on first use and again after a failure."""

    def __init__(self, path: str):
        self.path = path
        self._ids = itertools.count()
        self._protocol: _HostProtocol | None = None
        self._connecting: asyncio.Lock | None = None
        self._failed_at = -RECONNECT_AFTER

    async def store(self, new: comments.NewComment, retried: bool = False) -> tuple[int, dict]:
        """``(status, answer)`` of the host's write; raises the job's error, or :class:`HostUnavailable`."""
        protocol = await self._connected()
        request_id = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        protocol.waiting[request_id] = future
        protocol.send(encode({"id": request_id, "comment": new.to_json(), "retried": retried}))
        reply = await future
        if "ok" in reply:
            status, answer = reply["ok"]
            return status, answer
        raise decode_error(reply["error"])

    async def _connected(self) -> _HostProtocol:
        protocol = self._protocol
        if protocol is not None and not protocol.lost:
            return protocol
        if time.monotonic() - self._failed_at < RECONNECT_AFTER:
            raise HostUnavailable(sent=False)
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._protocol is None or self._protocol.lost:
                try:
                    _, self._protocol = await asyncio.get_running_loop().create_unix_connection(
                        _HostProtocol, self.path)
                except OSError:
                    self._protocol = None
                    self._failed_at = time.monotonic()
                    raise HostUnavailable(sent=False) from None
            return self._protocol

    def close(self) -> None:
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()
        self._protocol = None
