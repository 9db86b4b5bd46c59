"""Real service processes (uvicorn): several on one PostgreSQL, a crash, and no raw IP anywhere."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from feedback_service import db

from .conftest import ADMIN, ADMIN_TOKEN, _free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]


class ServiceProcess:
    """``python -m feedback_service serve`` in a child process, output in a log file.

    Its processes (one per usable CPU by default) form a process group of their own.
    """

    def __init__(self, env: dict[str, str], log: Path, workdir: Path, *options: str, affinity: set[int] | None = None):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self._log_file = open(log, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "feedback_service", "serve", "--port", str(self.port), *options],
            env={**os.environ, "PYTHONPATH": str(ROOT), **env},
            cwd=workdir, stdout=self._log_file, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=None if affinity is None else lambda: os.sched_setaffinity(0, affinity),
        )
        wait_for(self._healthy, timeout=30)
        # One healthy answer means one process is up: the others may still be starting (and would
        # then open the database only after what a test does next).
        wait_for(self._all_started, timeout=30)

    def _healthy(self) -> bool:
        assert self.process.poll() is None, self.log.read_text()
        try:
            return httpx.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def _all_started(self) -> bool:
        started = self.log.read_bytes().count(b"Application startup complete")
        return started >= max(1, len(self.workers()))

    def workers(self) -> list[int]:
        """The worker processes uvicorn spawned (none when the server runs in one process)."""
        return [pid for pid in _children(self.process.pid) if b"spawn_main" in _cmdline(pid)]

    def stop(self, sig: int = signal.SIGINT) -> int:
        """Ctrl+C (the server stops its workers), or SIGKILL for every process at once: a crash."""
        if self.process.poll() is None:
            if sig == signal.SIGKILL:
                os.killpg(self.process.pid, sig)
            else:
                self.process.send_signal(sig)
        code = self.process.wait(timeout=30)
        self._log_file.close()
        return code


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _env(database_url: str, site_dir: Path, **extra: str) -> dict[str, str]:
    return {
        "FEEDBACK_DATABASE_URL": database_url, "FEEDBACK_SITE_DIR": str(site_dir),
        "FEEDBACK_ADMIN_TOKEN": ADMIN_TOKEN, "FEEDBACK_RATE_LIMIT": "0", **extra,
    }


def _post(client: httpx.Client, url: str, text: str, section: str = "qualitaetskultur"):
    return client.post(f"{url}/api/v1/comments", json={
        "section": section, "version": "2.0", "text": text, "consent": True,
    }, timeout=10)


def _all_rows(database_url: str) -> dict[str, dict]:
    with db.Database(database_url).session(write=False) as conn:
        return {row["id"]: row for row in conn.all("SELECT * FROM comments")}


@pytest.mark.postgres
def test_two_processes_on_one_postgresql_keep_every_comment_apart(
    postgres_server, site_dir, tmp_path
):
    url = postgres_server.new_database()
    services = [ServiceProcess(_env(url, site_dir), tmp_path / f"s{n}.log", tmp_path)
                for n in range(2)]
    sections = ("qualitaetskultur", "registermodernisierung")
    try:
        def work(n: int):
            service = services[n % 2]
            section = sections[(n // 2) % 2]
            text = f"Kommentar {n} über Prozess {n % 2}"
            with httpx.Client() as client:
                answer = _post(client, service.url, text, section)
            assert answer.status_code == 202, answer.text
            return answer.json()["id"], text, section

        with ThreadPoolExecutor(max_workers=16) as pool:
            acknowledged = list(pool.map(work, range(200)))
        approvals = [comment_id for comment_id, _, _ in acknowledged[:40]]

        def approve(n: int):
            service = services[n % 2]
            answer = httpx.post(
                f"{service.url}/api/v1/admin/comments/{approvals[n]}/approve", headers=ADMIN
            )
            assert answer.status_code == 200

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(approve, range(len(approvals))))
    finally:
        for service in services:
            service.stop()

    rows = _all_rows(url)
    assert len(rows) == len(acknowledged) == 200
    for comment_id, text, section in acknowledged:
        assert (rows[comment_id]["text"], rows[comment_id]["section"]) == (text, section)
    with db.Database(url).session(write=False) as conn:
        changes = conn.all("SELECT seq, comment_id FROM changes ORDER BY seq")
    assert sorted(change["comment_id"] for change in changes) == sorted(approvals)


def test_acknowledged_comments_survive_sigkill(site_dir, tmp_path):
    url = f"sqlite:///{tmp_path / 'crash.sqlite3'}"
    service = ServiceProcess(_env(url, site_dir), tmp_path / "crash.log", tmp_path)
    acknowledged: list[str] = []
    stop = threading.Event()
    lock = threading.Lock()

    def writer(worker: int) -> None:
        with httpx.Client() as client:
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    answer = _post(client, service.url, f"Absturztest {worker}-{n}")
                except httpx.HTTPError:
                    return
                if answer.status_code == 202:
                    with lock:
                        acknowledged.append(answer.json()["id"])

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    wait_for(lambda: len(acknowledged) >= 300, timeout=30)
    service.stop(signal.SIGKILL)
    stop.set()
    for thread in threads:
        thread.join()

    restarted = ServiceProcess(_env(url, site_dir), tmp_path / "crash.log", tmp_path)
    try:
        listed = httpx.get(f"{restarted.url}/api/v1/admin/comments", headers=ADMIN).json()
    finally:
        restarted.stop()
    present = {row["id"] for row in listed["comments"]}
    missing = set(acknowledged) - present
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged comments lost"


def test_no_raw_ip_address_in_database_or_logs(site_dir, tmp_path):
    url = f"sqlite:///{tmp_path / 'privacy.sqlite3'}"
    log = tmp_path / "privacy.log"
    service = ServiceProcess(
        _env(url, site_dir, FEEDBACK_RATE_LIMIT="3/600", FEEDBACK_TRUSTED_PROXIES="127.0.0.2"),
        log, tmp_path,
    )
    reader, forwarded = "127.0.0.3", "203.0.113.77"
    try:
        direct = httpx.Client(transport=httpx.HTTPTransport(local_address=reader))
        proxied = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"))
        with direct, proxied:
            codes = [_post(direct, service.url, f"Direkt {n}").status_code for n in range(4)]
            assert codes == [202, 202, 202, 429]
            for n in range(2):
                answer = proxied.post(f"{service.url}/api/v1/comments", json={
                    "section": "qualitaetskultur", "version": "2.0", "text": f"Proxy {n}",
                    "consent": True}, headers={"X-Forwarded-For": forwarded})
                assert answer.status_code == 202
            direct.get(f"{service.url}/gibt-es-nicht")
            direct.post(f"{service.url}/api/v1/comments", content=b"{", headers={
                "Content-Type": "application/json"})
    finally:
        assert service.stop() == 0
    files = [path for path in tmp_path.iterdir() if path.name.startswith("privacy")]
    assert any(path.suffix == ".log" for path in files)
    for path in files:
        content = path.read_bytes()
        for address in (reader, forwarded):
            assert address.encode() not in content, f"{address} found in {path.name}"
    assert len(_all_rows(url)) == 5


def test_serve_starts_one_process_per_usable_cpu_and_says_so(site_dir, tmp_path):
    from feedback_service.server import MAX_WORKERS

    cpus = sorted(os.sched_getaffinity(0))
    for allowed in ({cpus[0]}, set(cpus)):
        log = tmp_path / f"cpus-{len(allowed)}.log"
        url = f"sqlite:///{tmp_path / f'cpus-{len(allowed)}.sqlite3'}"
        service = ServiceProcess(_env(url, site_dir), log, tmp_path, affinity=allowed)
        try:
            expected = min(len(allowed), MAX_WORKERS)
            # One process serves by itself; more are workers under a supervisor.
            assert len(service.workers()) == (expected if expected > 1 else 0)
            assert _post(httpx.Client(), service.url, "Läuft").status_code == 202
        finally:
            assert service.stop() == 0
        assert (f"Feedback-Dienst startet ({expected} Prozess(e): einer je nutzbarem Prozessorkern "
                f"({len(allowed)}), höchstens {MAX_WORKERS}; Datenbank") in log.read_text()


def test_workers_count_one_rate_limit_and_stop_when_their_supervisor_dies(site_dir, tmp_path):
    url = f"sqlite:///{tmp_path / 'workers.sqlite3'}"
    service = ServiceProcess(_env(url, site_dir, FEEDBACK_RATE_LIMIT="3/600"), tmp_path / "workers.log",
                             tmp_path, "--workers", "2")
    workers = service.workers()
    assert len(workers) == 2

    def post(n: int) -> int:
        with httpx.Client() as client:  # a connection of its own: any worker may answer
            return _post(client, service.url, f"Kommentar {n}").status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        codes = list(pool.map(post, range(12)))
    assert sorted(codes) == [202] * 3 + [429] * 9

    os.kill(service.process.pid, signal.SIGKILL)  # the supervisor only, as the OOM killer would
    service.process.wait(timeout=10)
    wait_for(lambda: not any(Path(f"/proc/{pid}").exists() and b"spawn_main" in _cmdline(pid)
                             for pid in workers), timeout=20)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{service.url}/api/v1/health", timeout=2)
    assert len(_all_rows(url)) == 3



def _thread_cpus(pid: int) -> list[tuple[int, ...]]:
    """The CPUs the threads of process ``pid`` may run on: each distinct affinity once, sorted."""
    return sorted({tuple(sorted(os.sched_getaffinity(int(thread)))) for thread in os.listdir(f"/proc/{pid}/task")})


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="braucht zwei Prozessorkerne")
def test_each_worker_stays_on_a_cpu_of_its_own_also_when_replaced(site_dir, tmp_path):
    cpus = sorted(os.sched_getaffinity(0))[:2]
    url = f"sqlite:///{tmp_path / 'pinned.sqlite3'}"
    log = tmp_path / "pinned.log"
    service = ServiceProcess(_env(url, site_dir), log, tmp_path, "--workers", "2")
    try:
        for n in range(4):  # a connection each: the writers' threads start with their first write
            with httpx.Client() as client:
                assert _post(client, service.url, f"Kern {n}").status_code == 202
        workers = service.workers()
        assert sorted(_thread_cpus(pid) for pid in workers) == [[(cpus[0],)], [(cpus[1],)]]

        # A worker that dies is replaced by the supervisor, and the new one takes the CPU left free.
        survivor_cpus = _thread_cpus(workers[1])
        os.kill(workers[0], signal.SIGKILL)

        def replaced_and_pinned() -> bool:
            new = [pid for pid in service.workers() if pid not in workers]
            return bool(new) and sorted(_thread_cpus(new[0]) + survivor_cpus) == [(cpus[0],), (cpus[1],)]

        wait_for(replaced_and_pinned, timeout=20)
        assert _post(httpx.Client(), service.url, "Nach dem Ersatz").status_code == 202
    finally:
        assert service.stop() == 0
    assert f"Jeder Prozess bleibt auf einem eigenen Prozessorkern ({cpus[0]}, {cpus[1]})" in log.read_text()


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="braucht zwei Prozessorkerne")
def test_no_pin_workers_leaves_the_workers_to_the_scheduler(site_dir, tmp_path):
    allowed = tuple(sorted(os.sched_getaffinity(0))[:2])
    url = f"sqlite:///{tmp_path / 'free.sqlite3'}"
    log = tmp_path / "free.log"
    service = ServiceProcess(_env(url, site_dir), log, tmp_path, "--workers", "2", "--no-pin-workers",
                             affinity=set(allowed))
    try:
        assert _post(httpx.Client(), service.url, "Frei verteilt").status_code == 202
        assert [_thread_cpus(pid) for pid in service.workers()] == [[allowed], [allowed]]
    finally:
        assert service.stop() == 0
    assert "Jeder Prozess bleibt" not in log.read_text()
