"""Faults of the machine under a running service: the writer survives, health tells the truth."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from .conftest import ADMIN, ADMIN_TOKEN, _free_port, wait_for
from .test_api import VALID, submit

ROOT = Path(__file__).resolve().parents[2]


def _sqlite_file(client) -> Path:
    database = client.app.state.service.db
    if database.dialect != "sqlite":
        pytest.skip("a file-level fault of SQLite")
    return database.sqlite_path


def _block_write_lock(database: Path) -> Path:
    """Make the write lock impossible to open: a plain OSError, not a database error."""
    lock = database.with_name(database.name + ".writelock")
    # The service's own background jobs (notifier, purge) may open the lock file again
    # between removing it and putting the directory in its place: try once more then.
    for _ in range(100):
        lock.unlink(missing_ok=True)
        try:
            lock.mkdir()
        except FileExistsError:
            continue
        return lock
    raise AssertionError(f"{lock} kept coming back")


def test_the_writer_answers_503_on_an_os_error_and_keeps_serving(client, monkeypatch):
    """A plain OSError in the writer (here: no file descriptor left), not a database error."""
    from feedback_service import db

    assert submit(client).status_code == 202
    real_turn = db.Database.write_turn

    def exhausted(database, handle=None):
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(db.Database, "write_turn", exhausted)
    failed = submit(client, text="Während die Sperrdatei klemmt")
    assert failed.status_code == 503, failed.text
    assert failed.json()["error"]["code"] == "database_unavailable"
    assert "Retry-After" in failed.headers
    assert client.get("/api/v1/health").status_code == 503
    monkeypatch.setattr(db.Database, "write_turn", real_turn)
    recovered = submit(client, text="Danach wieder angenommen")
    assert recovered.status_code == 202, recovered.text
    assert client.get("/api/v1/health").status_code == 200
    texts = [row["text"] for row in
             client.get("/api/v1/admin/comments?status=pending", headers=ADMIN).json()["comments"]]
    assert "Danach wieder angenommen" in texts
    assert "Während die Sperrdatei klemmt" not in texts


def test_a_comment_is_acknowledged_only_once_its_log_is_on_disk(client, monkeypatch):
    """The writer syncs the write-ahead log itself; until that succeeds, nobody hears 202."""
    from feedback_service import db

    _sqlite_file(client)
    synced = []
    real_sync = db.Database.sync_log

    def recording_sync(database):
        real_sync(database)
        synced.append(database.sqlite_path)

    monkeypatch.setattr(db.Database, "sync_log", recording_sync)
    assert submit(client).status_code == 202
    assert synced, "answered before the log was synced"

    def failing_sync(database):
        raise db.DatabaseError("Das Schreibprotokoll ließ sich nicht sichern: Input/output error")

    monkeypatch.setattr(db.Database, "sync_log", failing_sync)
    failed = submit(client, text="Während die Platte streikt")
    assert failed.status_code == 503 and failed.json()["error"]["code"] == "database_unavailable"
    monkeypatch.setattr(db.Database, "sync_log", real_sync)
    assert submit(client, text="Danach wieder").status_code == 202


def test_health_fails_when_the_database_is_read_only(client):
    database = _sqlite_file(client)
    assert client.get("/api/v1/health").status_code == 200
    service = client.app.state.service
    # A read-only database as SQLite reports it (root ignores file modes).
    service.writer.stop()
    original = service.db.connect

    def read_only():
        conn = original()
        conn.execute("PRAGMA query_only = ON")
        return conn

    object.__setattr__(service.db, "connect", read_only)
    try:
        assert client.get("/api/v1/health").status_code == 503
        assert submit(client).status_code == 503
    finally:
        object.__delattr__(service.db, "connect")
    service.writer.stop()
    assert client.get("/api/v1/health").status_code == 200
    assert database.is_file()


def test_a_removed_database_file_is_noticed_and_nothing_is_acknowledged(client):
    database = _sqlite_file(client)
    first = submit(client)
    assert first.status_code == 202
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    answer = submit(client, text="Nach dem Löschen der Datei")
    assert answer.status_code == 503, answer.text
    assert client.get("/api/v1/health").status_code == 503


def test_a_replaced_database_file_is_noticed(client, tmp_path):
    database = _sqlite_file(client)
    assert submit(client).status_code == 202
    replacement = tmp_path / "other.sqlite3"
    replacement.write_bytes(b"")
    os.replace(replacement, database)
    assert submit(client, text="In eine fremde Datei?").status_code == 503
    assert client.get("/api/v1/health").status_code == 503


def _serve(tmp_path: Path, site_dir: Path, database: Path) -> subprocess.Popen:
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("FEEDBACK_")}
    env.update(
        FEEDBACK_SITE_DIR=str(site_dir), FEEDBACK_DATABASE_URL=f"sqlite:///{database}",
        FEEDBACK_ADMIN_TOKEN=ADMIN_TOKEN, FEEDBACK_RATE_LIMIT="0", PYTHONPATH=str(ROOT),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "feedback_service", "serve", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    process.port = port
    return process


def test_start_up_fails_loudly_when_the_database_takes_no_writes(site_dir, tmp_path):
    database = tmp_path / "feedback.sqlite3"
    _block_write_lock(database)
    process = _serve(tmp_path, site_dir, database)
    try:
        out, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("the service hung at start-up instead of exiting")
    assert process.returncode not in (0, None)
    assert "Die Datenbank nimmt keine Daten an" in out


def test_sigterm_stops_a_service_whose_writes_fail(site_dir, tmp_path):
    database = tmp_path / "feedback.sqlite3"
    process = _serve(tmp_path, site_dir, database)
    url = f"http://127.0.0.1:{process.port}"

    def healthy():
        assert process.poll() is None
        try:
            return httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(healthy, timeout=30)
        database.rename(database.with_name("weggeraeumt.sqlite3"))  # every write now fails
        answer = httpx.post(f"{url}/api/v1/comments", json=VALID, timeout=10)
        assert answer.status_code == 503
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)
        assert time.monotonic() - started < 15
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_slow_and_idle_clients_are_cut_off_while_others_are_served(site_dir, tmp_path):
    import socket

    from feedback_service.server import HEAD_TIMEOUT

    process = _serve(tmp_path, site_dir, tmp_path / "feedback.sqlite3")
    url = f"http://127.0.0.1:{process.port}"
    try:
        wait_for(lambda: _answers(url), timeout=30)
        idle = socket.create_connection(("127.0.0.1", process.port))
        drip = socket.create_connection(("127.0.0.1", process.port))
        started = time.monotonic()
        closed_at = None
        request = b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
        for index in range(len(request)):
            try:
                drip.sendall(request[index:index + 1])
            except OSError:
                closed_at = time.monotonic()
                break
            drip.settimeout(0.5)
            try:
                if drip.recv(1) == b"":
                    closed_at = time.monotonic()
                    break
            except socket.timeout:
                pass
            if time.monotonic() - started > HEAD_TIMEOUT + 10:
                break
            assert httpx.get(f"{url}/api/v1/health", timeout=5).status_code == 200
        assert closed_at is not None, "a client dripping its headers kept the connection"
        assert closed_at - started < HEAD_TIMEOUT + 3
        idle.settimeout(5)
        assert idle.recv(1) == b"", "an idle connection was kept open"
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
