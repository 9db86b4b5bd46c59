"""The HTTP server's own parts: answers sent in one piece, and how many processes serve."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from feedback_service.server import COALESCE_LIMIT, CoalescingTransport, cgroup_cpu_quota, worker_cpus


class Recorder:
    """A transport that records what reaches the socket."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        assert not self.closed, "written after close"
        self.sent.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_write_buffer_size(self) -> int:
        return 0


async def next_turn() -> None:
    """Wait until the callbacks scheduled so far have run (the loop runs them in order, on any loop)."""
    loop = asyncio.get_running_loop()
    turn = loop.create_future()
    loop.call_soon(turn.set_result, None)
    await turn


def test_an_answer_written_in_pieces_leaves_in_one_write():
    async def scenario() -> Recorder:
        socket_side = Recorder()
        transport = CoalescingTransport(socket_side, asyncio.get_running_loop())
        head, body = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n", b"{}"
        transport.write(head)
        transport.write(body)
        assert socket_side.sent == [] and transport.get_write_buffer_size() == len(head + body)
        await next_turn()
        assert socket_side.sent == [head + body]
        transport.write(b"x" * COALESCE_LIMIT)  # a large body does not wait for the loop
        assert len(socket_side.sent) == 2
        transport.write(b"last words")
        transport.close()  # nothing written is lost by closing
        await next_turn()
        return socket_side

    # A loop of its own in a thread of its own: the browser tests' Playwright keeps one running here.
    with ThreadPoolExecutor(1) as thread:
        socket_side = thread.submit(asyncio.run, scenario()).result()
    assert socket_side.sent[-1] == b"last words" and socket_side.closed


@pytest.mark.parametrize("own,files,quota", [
    ("0::/system.slice/handbuch.service\n", {"system.slice/handbuch.service/cpu.max": "150000 100000\n"}, 1.5),
    ("0::/\n", {"cpu.max": "max 100000\n"}, None),
    ("4:memory:/x\n1:cpu,cpuacct:/docker/abc\n",
     {"cpu/docker/abc/cpu.cfs_quota_us": "200000\n", "cpu/docker/abc/cpu.cfs_period_us": "100000\n"}, 2.0),
    ("1:cpu,cpuacct:/\n", {"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
    ("0::/\n", {}, None),
])
def test_a_containers_cpu_quota_lowers_the_process_count(tmp_path, own, files, quota):
    """``docker run --cpus 1.5`` on a large host: two processes, not one per host core."""
    for name, content in files.items():
        (tmp_path / "cgroup" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "cgroup" / name).write_text(content)
    (tmp_path / "self").write_text(own)
    assert cgroup_cpu_quota(tmp_path / "cgroup", tmp_path / "self") == quota


@pytest.mark.parametrize("allowed, workers, expected", [
    ({0, 1}, 2, [0, 1]),
    ({7, 2, 5}, 2, [2, 5]),  # the CPUs the process may use, not the first ones of the machine
    ({0, 1}, 1, None),  # one process alone is left to the scheduler
    ({0, 1}, 3, None),  # more processes than CPUs: no CPU of their own to give them
])
def test_workers_are_pinned_only_when_each_gets_a_cpu_of_its_own(monkeypatch, allowed, workers, expected):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(allowed))
    assert worker_cpus(workers) == expected
