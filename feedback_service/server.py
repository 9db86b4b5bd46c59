"""The HTTP server: its processes, and its limits against slow and greedy clients.

``serve`` starts one process per CPU it may use (:func:`default_workers`):
its CPU affinity, lowered by a cgroup CPU quota (a container's ``--cpus``),
and at most :data:`MAX_WORKERS`. Every process has its own event loop and
its own writer thread; with SQLite they take turns at the file
(``db.Database.write_turn``), and what must hold across processes (the rate
limits, idempotency, the public comments' cache) is kept in the database.

uvicorn closes idle keep-alive connections, but a client that opens a
connection and then sends its request head a byte at a time holds it for
ever. :class:`HeadDeadlineProtocol` gives every request head a deadline from
the moment the connection opens (or the previous answer was sent); the body
has its own deadline in the app (``app.read_body``). nginx in front does the
same for production (deploy/nginx-handbuch.conf).
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import os
import signal
from pathlib import Path

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors import Multiprocess

HEAD_TIMEOUT = 10.0
BODY_TIMEOUT = 15.0
# Above this many open connections per process uvicorn answers 503 at once
# instead of queueing readers behind a flood.
LIMIT_CONCURRENCY = 1000
KEEP_ALIVE = 5
# More processes than this gain nothing with SQLite (its writes take turns) and
# cost memory (about 70 MB each).
MAX_WORKERS = 8


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


def usable_cpus() -> int:
    """The CPUs this process may run on: its affinity, lowered by a cgroup CPU quota."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity outside Linux
        cpus = os.cpu_count() or 1
    quota = cgroup_cpu_quota()
    if quota is not None:
        cpus = min(cpus, math.ceil(quota))
    return max(1, cpus)


def cgroup_cpu_quota(root: Path = Path("/sys/fs/cgroup"), own: Path = Path("/proc/self/cgroup")) -> float | None:
    """CPUs' worth of time the cgroup grants per period (``docker --cpus``); None without a quota."""
    try:
        lines = own.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # cgroup v2: "quota period" or "max period"
            files = [(root / path.lstrip("/") / "cpu.max", None)]
        elif "cpu" in controllers.split(","):  # cgroup v1
            files = [(root / "cpu" / path.lstrip("/") / "cpu.cfs_quota_us", "cpu.cfs_period_us")]
        else:
            continue
        for quota_file, period_name in files:
            try:
                if period_name is None:
                    quota, period = quota_file.read_text().split()[:2]
                else:
                    quota = quota_file.read_text().strip()
                    period = quota_file.with_name(period_name).read_text().strip()
            except (OSError, ValueError):
                continue
            if quota in ("max", "-1"):
                return None
            try:
                return int(quota) / int(period)
            except (ValueError, ZeroDivisionError):
                return None
    return None


def default_workers() -> int:
    """``serve``'s processes: one per usable CPU, at most :data:`MAX_WORKERS`."""
    return min(usable_cpus(), MAX_WORKERS)


def run(workers: int, **options) -> int:
    """Serve the app with ``workers`` processes; the exit status (non-zero: it could not start)."""
    config = uvicorn.Config(**options, workers=workers)
    if workers == 1:
        server = uvicorn.Server(config)
        try:
            server.run()
        except KeyboardInterrupt:
            pass
        return 0 if server.started else STARTUP_FAILURE
    supervisor = Multiprocess(config, sockets=[config.bind_socket()])
    supervisor.run()
    # uvicorn stops all processes when one fails to start, but reports it only in the log.
    failed = any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes)
    return STARTUP_FAILURE if failed else 0


def exit_with_parent() -> None:
    """In a worker process: shut down gracefully when the supervisor is gone.

    A supervisor killed outright (SIGKILL, the OOM killer) would otherwise
    leave its workers serving on, holding the port and the database.
    """
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    loop = asyncio.get_running_loop()

    def parent_gone() -> None:
        loop.remove_reader(parent.sentinel)
        os.kill(os.getpid(), signal.SIGTERM)

    loop.add_reader(parent.sentinel, parent_gone)
