"""Benchmark: a sync that brings one new comment, against the no-op rebuild of all editions.

Builds every edition of ``releases.toml`` into a temporary directory (the full
build, HTML and PDF, timed once), starts the real feedback service on it with a
fresh SQLite database and then, three times in turn, measures as the operator
runs them (each its own process):

* ``python -m handbook_editions build`` with nothing changed: the floor any
  rebuild of all editions costs (Sphinx start, incremental check, publish),
* ``python -m feedback_service sync`` after one comment was approved on a
  section every edition has: export, comments file, rebuild, publish,
* the same sync once more, with nothing new: no build at all.

Prints the medians and the one-comment sync as a ratio to the no-op rebuild.

Run: ``make bench``, ``python -m bench sync`` or ``python bench/sync_bench.py``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from feedback_formats.manifest import load_manifest, manifest_path

ROOT = Path(__file__).resolve().parent.parent
RELEASES = ROOT / "releases.toml"
RUNS = 3


def timed(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command[2:])} failed:\n{result.stdout}\n{result.stderr}")
    return seconds, result.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Installation:
    """A service of its own and its sync in ``work`` (database, site, comments file), building this project."""

    work: Path
    port: int = field(default_factory=free_port)
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def site(self) -> Path:
        return self.work / "site"

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "FEEDBACK_DATABASE_URL": f"sqlite:///{self.work / 'db.sqlite3'}",
            "FEEDBACK_SITE_DIR": str(self.site),
            "FEEDBACK_COMMENTS_FILE": str(self.work / "comments.json"),
            "FEEDBACK_ADMIN_TOKEN": self.token,
            "FEEDBACK_SERVICE_URL": self.url,
            "FEEDBACK_RATE_LIMIT": "0",
            # Service and sync run in the temporary directory; they rebuild this project's editions.
            "FEEDBACK_RELEASES_FILE": str(RELEASES),
        }

    @property
    def site_build(self) -> list[str]:
        """``make site`` into ``work``, with the comments file of the sync."""
        return [sys.executable, "-m", "handbook_editions", "build", "--releases", str(RELEASES),
                "--out", str(self.site), "--comments", self.env["FEEDBACK_COMMENTS_FILE"]]


def wait_until_healthy(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(f"{url}/api/v1/health", timeout=2).ok:
                return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise RuntimeError("the feedback service did not start")


def shared_section(site: Path) -> tuple[str, str]:
    """A section id every edition has, and the newest edition's version."""
    versions = [v["version"] for v in json.loads((site / "versions.json").read_text(encoding="utf-8"))["versions"]]
    ids = [[entry.id for entry in load_manifest(manifest_path(site / v)).sections] for v in versions]
    common = [sid for sid in ids[0] if all(sid in other for other in ids[1:])]
    return common[len(common) // 2], versions[0]


def approve_one(url: str, token: str, section: str, version: str, run: int) -> None:
    answer = requests.post(f"{url}/api/v1/comments", timeout=10, json={
        "section": section, "version": version, "consent": True,
        "text": f"Messlauf {run}: Wir haben den Abschnitt in unserer Verwaltung erprobt.",
    })
    answer.raise_for_status()
    requests.post(f"{url}/api/v1/admin/comments/{answer.json()['id']}/approve",
                  headers={"Authorization": f"Bearer {token}"}, timeout=10).raise_for_status()


def steady(noop_output: str, sync_output: str) -> bool:
    """Neither run rebuilt more than the comment asked for (nobody edited the rendering code)."""
    noop_pages = [int(n) for n in re.findall(r": (\d+) Seiten neu geschrieben", noop_output)]
    return not any(noop_pages) and "PDF neu gebaut" not in noop_output + sync_output


def main(argv: list[str] | None = None) -> int:
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="sync-bench-") as tmp:
        setup = Installation(Path(tmp))
        work, port, url, token, env, site = setup.work, setup.port, setup.url, setup.token, setup.env, setup.site
        site_build = setup.site_build
        sync = [python, "-m", "feedback_service", "sync"]

        full, _ = timed(site_build, env, work)
        section, version = shared_section(site)
        print(f"editions built from releases.toml; comments go to section {section!r}", flush=True)
        service = subprocess.Popen([python, "-m", "feedback_service", "serve", "--port", str(port)],
                                   cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        noop, one, idle, pages = [], [], [], []
        try:
            wait_until_healthy(url, service)
            for attempt in range(1, 3 * RUNS + 1):
                noop_seconds, noop_output = timed(site_build, env, work)
                approve_one(url, token, section, version, attempt)
                one_seconds, one_output = timed(sync, env, work)
                if "1 Kommentar(e) neu" not in one_output:
                    raise RuntimeError(f"the sync did not bring the comment:\n{one_output}")
                idle_seconds, idle_output = timed(sync, env, work)
                if "nichts gebaut" not in idle_output:
                    raise RuntimeError(f"a sync without changes built something:\n{idle_output}")
                if not steady(noop_output, one_output):
                    print("conf.py or ext/ changed during this run (PDF or all pages rebuilt): measuring again",
                          flush=True)
                    continue
                noop.append(noop_seconds)
                one.append(one_seconds)
                idle.append(idle_seconds)
                pages.append(", ".join(re.findall(r"(\S+: \d+) Seiten neu geschrieben", one_output)))
                if len(one) == RUNS:
                    break
            else:
                raise RuntimeError("conf.py or ext/ kept changing: no steady runs to measure")
        finally:
            service.terminate()
            service.wait(timeout=10)

    ratio = statistics.median(one) / statistics.median(noop)
    rows = [
        ("full build of all editions (HTML + PDF), once", f"{full:.2f} s"),
        (f"no-op rebuild of all editions (median of {RUNS})", f"{statistics.median(noop):.2f} s"),
        (f"sync bringing one new comment (median of {RUNS})", f"{statistics.median(one):.2f} s"),
        ("one-comment sync / no-op rebuild", f"{ratio:.2f}×"),
        (f"sync with nothing new, no build (median of {RUNS})", f"{statistics.median(idle):.2f} s"),
        ("pages rewritten per one-comment sync", pages[-1]),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"| {'measure'.ljust(width)} | value |")
    print(f"| {'-' * width} | --- |")
    for name, value in rows:
        print(f"| {name.ljust(width)} | {value} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
