"""Fixtures of the service tests: a site with section manifests, SQLite and a real PostgreSQL.

The PostgreSQL server is started by the tests themselves (initdb into a
temporary directory, a free port, a socket directory of its own) and every
test gets a fresh database on it.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

import feedback_formats
from feedback_formats import Manifest, ManifestEntry

from feedback_service.app import create_app
from feedback_service.config import load_config

ADMIN_TOKEN = "test-admin-token-0123456789"
SECTIONS_20 = [
    {"id": "qualitaetskultur", "number": "3.2", "title": "Qualitätskultur",
     "doc": "kapitel-03/index", "url": "kapitel-03/index.html#qualitaetskultur"},
    {"id": "registermodernisierung", "number": "4.1", "title": "Registermodernisierung",
     "doc": "kapitel-04/index", "url": "kapitel-04/index.html#registermodernisierung"},
]
SECTIONS_10 = [
    {"id": "qualitaetskultur", "number": "2.3", "title": "Qualität", "doc": "kapitel-02/index",
     "url": "kapitel-02/index.html#qualitaetskultur"},
    {"id": "altes-kapitel", "number": "5.1", "title": "Ein altes Kapitel",
     "doc": "kapitel-05/index", "url": "kapitel-05/index.html#altes-kapitel"},
]


def write_manifest(build: Path, version: str, sections: list[dict]) -> Path:
    """The manifest of a build in ``build``, written as the extension writes it."""
    entries = tuple(ManifestEntry(**section) for section in sections)
    return feedback_formats.write_manifest(build, Manifest(version, entries))


@pytest.fixture
def site_dir(tmp_path) -> Path:
    """A site root like `make site` writes: two editions, latest/ and a root page."""
    site = tmp_path / "site"
    write_manifest(site / "1.0", "1.0", SECTIONS_10)
    write_manifest(site / "2.0", "2.0", SECTIONS_20)
    write_manifest(site / "latest", "2.0", SECTIONS_20)
    (site / "index.html").write_text(
        '<!DOCTYPE html><html lang="de"><title>Handbuch</title>'
        '<meta http-equiv="refresh" content="0; url=latest/"></html>', encoding="utf-8"
    )
    chapter = site / "2.0" / "kapitel-03"
    chapter.mkdir(parents=True)
    (chapter / "index.html").write_text(
        '<!DOCTYPE html><html lang="de"><title>Kapitel 3</title><h2 id="qualitaetskultur">'
        "Qualitätskultur</h2></html>", encoding="utf-8"
    )
    return site


# -- PostgreSQL ------------------------------------------------------------------

def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class PostgresServer:
    def __init__(self, bindir: Path, root: Path, port: int):
        self.bindir, self.root, self.port = bindir, root, port
        self._names = itertools.count(1)

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        import psycopg

        name = f"feedback_test_{next(self._names)}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@pytest.fixture(scope="session")
def postgres_server():
    bindir = _postgres_bin()
    if bindir is None:
        message = "PostgreSQL is not installed (apt-get install postgresql)"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " – CI must test the PostgreSQL mode")
        pytest.skip(message)
    root = Path(tempfile.mkdtemp(prefix="feedback-pg-"))
    data, sockets = root / "data", root / "sockets"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    subprocess.run(
        _as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                      "--no-sync", "-E", "UTF8", "--locale", "C"]),
        check=True, capture_output=True,
    )
    port = _free_port()
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-w",
                      "-l", str(root / "server.log"), "start"]),
        check=True, capture_output=True,
    )
    try:
        yield PostgresServer(bindir, root, port)
    finally:
        subprocess.run(
            _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w",
                          "stop"]),
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


# -- Databases and clients ---------------------------------------------------------

@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> str:
    """A fresh, empty database of each kind the service supports."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'feedback.sqlite3'}"
    return request.getfixturevalue("postgres_server").new_database()


@pytest.fixture
def service_env(database_url, site_dir) -> dict[str, str]:
    return {
        "FEEDBACK_DATABASE_URL": database_url,
        "FEEDBACK_SITE_DIR": str(site_dir),
        "FEEDBACK_ADMIN_TOKEN": ADMIN_TOKEN,
        "FEEDBACK_SECRET": "test-secret-of-the-service",
        "FEEDBACK_RATE_LIMIT": "0",
    }


@pytest.fixture
def make_client(service_env):
    """``make_client(**settings)``: the app in-process with these settings over the defaults."""
    clients = []

    def make(peer: tuple[str, int] = ("testclient", 50000), **overrides: str) -> TestClient:
        env = {**service_env, **overrides}
        client = TestClient(create_app(load_config(env)), client=peer)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()


ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError("condition not met in time")
