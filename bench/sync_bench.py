"""Benchmark: a sync that brings one new comment, against the no-op rebuild of all editions.

Builds every edition of ``releases.toml`` into a temporary directory (the full
build, HTML and PDF, timed once), starts the real feedback service on it with a
fresh SQLite database and then measures, as the operator runs them (each its
own process), in two modes taken in turn (A B A B …):

* ``--jobs 1``: one edition after the other,
* ``--jobs auto``: the editions side by side, two Sphinx processes per core
  (what ``make site`` and ``make sync`` do).

Each round runs

* ``python -m handbook_editions build`` with nothing changed: the floor any
  rebuild of all editions costs (start, incremental check, publish); its
  summary gives each edition's own time,
* ``python -m feedback_service sync`` after one comment was approved on a
  section every edition has: export, comments file, rebuild, publish,
* the same sync once more, with nothing new: no build at all.

Prints, per mode, the medians and the one-comment sync as a ratio to the no-op
rebuild (target: at most 1.1×), with the machine's load average while it
measured: the machine may be shared, and a loaded one stretches every figure.
Beside the wall-clock times it prints the CPU time of every process a command
ran, the warm Sphinx process it leaves behind included (this benchmark adopts
it when the command ends): that figure hardly moves with the load.

Run: ``make bench``, ``python -m bench sync`` or ``python bench/sync_bench.py [--runs 5]``.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import re
import resource
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
MODES = ("1", "auto")
TARGET = 1.1
PR_SET_CHILD_SUBREAPER = 36
# "  2.1: 0 Seiten neu geschrieben (0.9 s)" in the summary of a build or a sync.
EDITION_LINE = re.compile(r"^  (?P<version>\S+): (?P<pages>\d+) Seiten neu geschrieben.*\((?P<seconds>\d+\.\d) s\)$",
                          re.MULTILINE)


@dataclass
class Mode:
    """What one ``--jobs`` value measured, run by run."""

    jobs: str
    noop: list[float] = field(default_factory=list)
    per_edition: dict[str, list[float]] = field(default_factory=dict)
    one: list[float] = field(default_factory=list)
    noop_cpu: list[float] = field(default_factory=list)
    one_cpu: list[float] = field(default_factory=list)
    idle: list[float] = field(default_factory=list)
    load: list[float] = field(default_factory=list)
    pages: str = ""


def adopt_orphans() -> None:
    """Processes a command leaves behind become this one's children when it ends (Linux)."""
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def children() -> set[int]:
    own = Path(f"/proc/self/task/{os.getpid()}/children")
    return {int(pid) for pid in own.read_text().split()}


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], env: dict[str, str], cwd: Path, keep: set[int] = frozenset()
          ) -> tuple[float, float, str]:
    """Wall-clock seconds, CPU seconds (with whatever it left running, waited for) and output."""
    cpu = cpu_seconds()
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command[2:])} failed:\n{result.stdout}\n{result.stderr}")
    deadline = time.monotonic() + 60
    while left := children() - keep:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{' '.join(command[2:])} left processes running: {sorted(left)}")
        for pid in left:
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.01)
    return seconds, cpu_seconds() - cpu, result.stdout


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
    noop_pages = [int(match["pages"]) for match in EDITION_LINE.finditer(noop_output)]
    return not any(noop_pages) and "PDF neu gebaut" not in noop_output + sync_output


def median(values: list[float]) -> float:
    return statistics.median(values)


def table(modes: list[Mode], full: float) -> str:
    editions = list(modes[0].per_edition)
    header = ["measure", *(f"--jobs {mode.jobs}" for mode in modes)]
    rows = [
        *([f"no-op rebuild, edition {version} (its own time)",
           *(f"{median(mode.per_edition[version]):.2f} s" for mode in modes)] for version in editions),
        ["no-op rebuild of all editions", *(f"{median(mode.noop):.2f} s" for mode in modes)],
        ["sync bringing one new comment", *(f"{median(mode.one):.2f} s" for mode in modes)],
        [f"one-comment sync / no-op rebuild (target ≤ {TARGET:.2f}×)",
         *(f"{median(mode.one) / median(mode.noop):.2f}×" for mode in modes)],
        ["CPU time of the no-op rebuild, all its processes", *(f"{median(mode.noop_cpu):.2f} s" for mode in modes)],
        ["CPU time of the one-comment sync, all its processes", *(f"{median(mode.one_cpu):.2f} s" for mode in modes)],
        ["the same ratio in CPU time", *(f"{median(mode.one_cpu) / median(mode.noop_cpu):.2f}×" for mode in modes)],
        ["sync with nothing new, no build", *(f"{median(mode.idle):.2f} s" for mode in modes)],
        ["pages rewritten per one-comment sync", *(mode.pages for mode in modes)],
        ["load average (1 min) while measuring, min–max",
         *(f"{min(mode.load):.1f}–{max(mode.load):.1f}" for mode in modes)],
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        f"full build of all editions (HTML + PDF), once: {full:.1f} s; medians of {len(modes[0].noop)} runs "
        f"per mode, taken in turn, on {os.cpu_count()} cores",
        "| " + " | ".join(cell.ljust(width) for cell, width in zip(header, widths)) + " |",
        "| " + " | ".join("-" * width for width in widths) + " |",
    ]
    lines += ["| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths)) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per mode (default 5)")
    runs = parser.parse_args(argv or []).runs
    adopt_orphans()
    python = sys.executable
    modes = [Mode(jobs) for jobs in MODES]
    with tempfile.TemporaryDirectory(prefix="sync-bench-") as tmp:
        setup = Installation(Path(tmp))
        work, port, url, token, env, site = setup.work, setup.port, setup.url, setup.token, setup.env, setup.site

        def site_build(jobs: str) -> list[str]:
            return [*setup.site_build, "--jobs", jobs]

        def sync(jobs: str) -> list[str]:
            return [python, "-m", "feedback_service", "sync", "--jobs", jobs]

        full, _, _ = timed(site_build("auto"), env, work)
        section, version = shared_section(site)
        print(f"editions built from releases.toml; comments go to section {section!r}", flush=True)
        service = subprocess.Popen([python, "-m", "feedback_service", "serve", "--port", str(port)],
                                   cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        keep = {service.pid}
        try:
            wait_until_healthy(url, service)
            attempt = 0
            while any(len(mode.one) < runs for mode in modes):
                if attempt >= 3 * runs * len(modes):
                    raise RuntimeError("conf.py or ext/ kept changing: no steady runs to measure")
                mode = modes[attempt % len(modes)]
                attempt += 1
                load = os.getloadavg()[0]
                noop_seconds, noop_cpu, noop_output = timed(site_build(mode.jobs), env, work, keep)
                approve_one(url, token, section, version, attempt)
                one_seconds, one_cpu, one_output = timed(sync(mode.jobs), env, work, keep)
                if "1 Kommentar(e) neu" not in one_output:
                    raise RuntimeError(f"the sync did not bring the comment:\n{one_output}")
                idle_seconds, _, idle_output = timed(sync(mode.jobs), env, work, keep)
                if "nichts gebaut" not in idle_output:
                    raise RuntimeError(f"a sync without changes built something:\n{idle_output}")
                if not steady(noop_output, one_output):
                    print("conf.py or ext/ changed during this run (PDF or all pages rebuilt): measuring again",
                          flush=True)
                    continue
                if len(mode.one) == runs:
                    continue
                mode.noop.append(noop_seconds)
                for match in EDITION_LINE.finditer(noop_output):
                    mode.per_edition.setdefault(match["version"], []).append(float(match["seconds"]))
                mode.one.append(one_seconds)
                mode.noop_cpu.append(noop_cpu)
                mode.one_cpu.append(one_cpu)
                mode.idle.append(idle_seconds)
                mode.load.append(max(load, os.getloadavg()[0]))
                mode.pages = ", ".join(f"{m['version']}: {m['pages']}" for m in EDITION_LINE.finditer(one_output))
        finally:
            service.terminate()
            service.wait(timeout=10)
    print(table(modes, full))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
