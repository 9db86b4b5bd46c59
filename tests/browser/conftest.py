"""One built site, one running feedback service and one Chromium for the whole browser session.

The browser is Debian's Chromium at ``/usr/bin/chromium``; none is ever downloaded.
Without it the browser tests skip on a developer's machine and fail under CI.
Every page a test opens records its requests: a request to any host but the
service's own fails the test, and so does an uncaught JavaScript error. When a
test fails, a screenshot of each of its open pages lands in ``build/test-artifacts/``
and the failure report names the file.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT

from .helpers import PageWatch, watched_page

ARTIFACTS = ROOT / "build" / "test-artifacts"
# A browser call that never returns (an evaluate in a page without JavaScript,
# a hung renderer) fails its test with a stack trace instead of hanging the run.
# It includes building the site for the first test.
TEST_SECONDS = 240
SERVICE_START_SECONDS = 30

PAGES = pytest.StashKey[list]()


# -- Chromium ------------------------------------------------------------------


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if item.get_closest_marker("browser") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(TEST_SECONDS))


@pytest.fixture(scope="session", autouse=True)
def _needs_chromium(chromium_path: Path) -> None:
    """Checked before anything slow is built: skip locally, fail under CI."""


# -- Site and service ----------------------------------------------------------


@dataclass
class Service:
    """The feedback service running as its own process, serving the built site."""

    url: str
    site_dir: Path
    env: dict[str, str]
    log: Path
    process: subprocess.Popen = field(repr=False)

    def admin(self, method: str, path: str, **kwargs) -> requests.Response:
        """An editor's call to the admin API with the service's token."""
        headers = {"Authorization": f"Bearer {self.env['FEEDBACK_ADMIN_TOKEN']}"}
        response = requests.request(method, f"{self.url}/api/v1/admin/{path}", headers=headers, timeout=10, **kwargs)
        response.raise_for_status()
        return response

    def pending(self) -> list[dict]:
        return self.admin("GET", "comments", params={"status": "pending"}).json()["comments"]

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """``python -m feedback_service ARGS`` with the service's configuration."""
        result = subprocess.run(
            [sys.executable, "-m", "feedback_service", *args],
            cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout,
        )
        if result.returncode != 0:
            raise AssertionError(f"feedback_service {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def site_dir(tmp_path_factory) -> Path:
    """Every edition of the handbook built once, as `make site` builds it.

    The merged comments file lies beside it (``comments.json``), where the
    service's sync writes it, so a sync rebuilds this very site incrementally.
    """
    out = tmp_path_factory.mktemp("browser-site") / "site"
    result = subprocess.run(
        [sys.executable, "-m", "handbook_editions", "build", "--out", str(out),
         "--comments", str(comments_file(out))],
        cwd=ROOT, capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise AssertionError(f"site build failed:\n{result.stdout}\n{result.stderr}")
    return out


def comments_file(site: Path) -> Path:
    return site.parent / "comments.json"


@contextmanager
def running_service(site: Path, work: Path, database_url: str | None = None) -> Iterator[Service]:
    """The real service (``python -m feedback_service serve``) on a free port.

    It serves ``site`` with its own SQLite database in ``work`` (or the database
    at ``database_url``); ``work`` is also its working directory and the place
    of its log; its sync writes ``comments_file(site)``.
    """
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "FEEDBACK_DATABASE_URL": database_url or f"sqlite:///{work / 'db.sqlite3'}",
        "FEEDBACK_SITE_DIR": str(site),
        "FEEDBACK_ADMIN_TOKEN": secrets.token_urlsafe(24),
        "FEEDBACK_RATE_LIMIT": "0",
        "FEEDBACK_SERVICE_URL": url,
        "FEEDBACK_COMMENTS_FILE": str(comments_file(site)),
        # The service runs elsewhere; its sync rebuilds this project's editions.
        "FEEDBACK_RELEASES_FILE": str(ROOT / "releases.toml"),
    }
    log = work / "service.log"
    with open(log, "w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "feedback_service", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=work, env=env, stdout=output, stderr=subprocess.STDOUT,
        )
    running = Service(url, site, env, log, process)
    try:
        _wait_until_healthy(running)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def service(site_dir: Path, tmp_path_factory) -> Iterator[Service]:
    with running_service(site_dir, tmp_path_factory.mktemp("browser-service")) as running:
        yield running


def _wait_until_healthy(running: Service) -> None:
    deadline = time.monotonic() + SERVICE_START_SECONDS
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise AssertionError(f"feedback service exited with {running.process.returncode}:\n{running.log_tail()}")
        try:
            if requests.get(f"{running.url}/api/v1/health", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"feedback service not healthy after {SERVICE_START_SECONDS} s:\n{running.log_tail()}")


# -- Pages ---------------------------------------------------------------------


@pytest.fixture
def new_page(browser, service: Service, request) -> Iterator[Callable[..., object]]:
    """Opens a page in a fresh browser context (``new_page(java_script_enabled=False)``…)."""
    watches: list[PageWatch] = []
    opened = request.node.stash.setdefault(PAGES, [])

    def open_page(**context_options):
        page, watch = watched_page(browser, service.url, **context_options)
        watches.append(watch)
        opened.append(page)
        return page

    yield open_page
    for page in opened:
        page.context.close()
    foreign = [url for watch in watches for url in watch.foreign_requests]
    errors = [error for watch in watches for error in watch.script_errors]
    assert not foreign, f"Seiten haben fremde Hosts angefragt: {foreign}"
    assert not errors, f"JavaScript-Fehler auf der Seite: {errors}"


@pytest.fixture
def page(new_page):
    """A page with JavaScript, 1280×800, light colour scheme."""
    return new_page()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid)
    for number, page in enumerate(item.stash.get(PAGES, []), start=1):
        if page.is_closed():
            continue
        path = ARTIFACTS / f"{name}-{number}.png"
        try:
            page.screenshot(path=str(path), full_page=True)
        except Exception as exc:  # the page may have crashed: say so instead
            report.sections.append(("Screenshot", f"nicht gespeichert ({page.url}): {exc}"))
            continue
        report.sections.append(("Screenshot", f"{path} ({page.url})"))
    running = item.funcargs.get("service")
    if isinstance(running, Service):
        report.sections.append(("Feedback-Dienst (Log-Ende)", running.log_tail()))
