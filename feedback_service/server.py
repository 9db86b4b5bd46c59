"""The HTTP server: its processes, and its limits against slow and greedy clients.

``serve`` starts one process per CPU it may use (:func:`default_workers`):
its CPU affinity, lowered by a cgroup CPU quota (a container's ``--cpus``),
and at most :data:`MAX_WORKERS`. Every process has its own event loop and
its own writer (:class:`db.Writer`); with SQLite they take turns at the file
(``db.Database.write_turn``), and what must hold across processes (the rate
limits, idempotency, the public comments' cache) is kept in the database.
With more than one process, each stays on a CPU of its own
(:class:`PinnedWorkers`) when there are as many CPUs as processes.

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
import weakref
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
# An answer's head and body are sent together up to this size (larger bodies go at once).
COALESCE_LIMIT = 64 * 1024
# More processes than this gain nothing with SQLite (its writes take turns) and
# cost memory (about 70 MB each).
MAX_WORKERS = 8


class CoalescingTransport:
    """A connection's transport that sends what one turn of the event loop wrote in one go.

    uvicorn writes an answer's head and its body separately: two system calls
    and two TCP segments per answer. Collected until the loop's next turn (or
    :data:`COALESCE_LIMIT` bytes), they leave together.
    """

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop):
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []
        self._size = 0

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(data)
        self._size += len(data)
        if self._size >= COALESCE_LIMIT:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        self._size = 0
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._pending.clear()
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        return self._size + self._transport.get_write_buffer_size()

    def __getattr__(self, name: str):
        return getattr(self._transport, name)


class HeadDeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for each request's head, answers sent in one piece.

    The deadline is a time kept on the connection, checked by one sweep per
    second for all connections (:class:`DeadlineSweep`): no timer is made and
    cancelled for every request.
    """

    head_deadline: float | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
        DeadlineSweep.of(self.loop).watch(self)
        self._arm_head_deadline()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.head_deadline is None:
            self._arm_head_deadline()

    def on_headers_complete(self) -> None:
        self.head_deadline = None
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self.head_deadline = None
        super().connection_lost(exc)

    def _arm_head_deadline(self) -> None:
        self.head_deadline = self.loop.time() + HEAD_TIMEOUT

    def head_too_slow(self) -> None:
        self.head_deadline = None
        if not self.transport.is_closing():
            self.transport.close()


class DeadlineSweep:
    """Once a second, closes the connections of one event loop whose request head is overdue."""

    INTERVAL = 1.0
    _sweeps: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.connections: weakref.WeakSet[HeadDeadlineProtocol] = weakref.WeakSet()
        loop.call_later(self.INTERVAL, self.sweep)

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop) -> DeadlineSweep:
        sweep = cls._sweeps.get(loop)
        if sweep is None:
            sweep = cls._sweeps[loop] = cls(loop)
        return sweep

    def watch(self, protocol: HeadDeadlineProtocol) -> None:
        self.connections.add(protocol)

    def sweep(self) -> None:
        now = self.loop.time()
        for protocol in list(self.connections):
            if protocol.head_deadline is not None and protocol.head_deadline <= now:
                protocol.head_too_slow()
        if not self.loop.is_closed():
            self.loop.call_later(self.INTERVAL, self.sweep)


def uvicorn_options() -> dict:
    """The server settings `serve` passes to uvicorn."""
    return {
        "http": HeadDeadlineProtocol,
        "limit_concurrency": LIMIT_CONCURRENCY,
        "timeout_keep_alive": KEEP_ALIVE,
    }


def _affinity() -> list[int] | None:
    """The CPUs this process may run on, by number; None where there is no affinity (outside Linux)."""
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:
        return None


def usable_cpus() -> int:
    """The CPUs this process may run on: its affinity, lowered by a cgroup CPU quota."""
    allowed = _affinity()
    cpus = len(allowed) if allowed is not None else os.cpu_count() or 1
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


def worker_cpus(workers: int) -> list[int] | None:
    """The CPU each of ``workers`` processes is kept on, in order; None when they are not pinned.

    Pinned only when every worker can have a CPU of its own (of those the
    process may run on): one process alone, or more processes than CPUs,
    are left to the scheduler.
    """
    cpus = _affinity()
    if cpus is None or workers < 2 or workers > len(cpus):
        return None
    return cpus[:workers]


def pin(pid: int, cpu: int) -> None:
    """Keep every thread of process ``pid`` on ``cpu`` (threads it starts later inherit it)."""
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:  # the process has ended
        return
    for thread in threads:
        try:
            if os.sched_getaffinity(int(thread)) != {cpu}:
                os.sched_setaffinity(int(thread), {cpu})
        except OSError:  # the thread has ended meanwhile
            pass


class PinnedWorkers(Multiprocess):
    """uvicorn's supervisor, with each worker process kept on a CPU of its own.

    A worker is three busy threads (the event loop, the writer's two) that hand
    each request on to each other. Left to the scheduler, they wander between
    the CPUs, and every hand-over to a thread on another CPU wakes that CPU
    with an interrupt (on a virtual machine, an exit to the hypervisor) and
    starts on cold caches. Measured with wrk, POST at 16 connections on 2
    CPUs, in 10 alternating runs: pinned workers answered more comments per
    second in every pair, about a fifth more (median +24 %).

    The supervisor checks every half second (as it checks the workers' health)
    and pins a worker it started anew, or a thread that escaped, again.
    """

    def __init__(self, config: uvicorn.Config, sockets: list, cpus: list[int]):
        super().__init__(config, sockets)
        self.cpus = cpus

    def pin_all(self) -> None:
        for index, process in enumerate(self.processes):
            if process.pid is not None and process.exitcode is None:
                pin(process.pid, self.cpus[index % len(self.cpus)])

    def init_processes(self) -> None:
        super().init_processes()
        self.pin_all()

    def keep_subprocess_alive(self) -> None:
        super().keep_subprocess_alive()
        self.pin_all()


def run(workers: int, cpus: list[int] | None = None, **options) -> int:
    """Serve the app with ``workers`` processes; the exit status (non-zero: it could not start).

    With ``cpus`` (from :func:`worker_cpus`) worker *i* is kept on ``cpus[i]``.
    """
    config = uvicorn.Config(**options, workers=workers)
    if workers == 1:
        server = uvicorn.Server(config)
        try:
            server.run()
        except KeyboardInterrupt:
            pass
        return 0 if server.started else STARTUP_FAILURE
    sockets = [config.bind_socket()]
    supervisor = Multiprocess(config, sockets) if cpus is None else PinnedWorkers(config, sockets, cpus)
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
