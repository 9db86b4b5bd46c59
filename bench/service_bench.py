"""Benchmark: the feedback service against Isso, side by side, with wrk on loopback.

Isso (the best-known Python comment server) is installed from PyPI into its own
virtual environment under ``.bench/`` and run as its documentation recommends:
gunicorn with 2 workers, moderation on, rate guard off. Our service runs with
2 uvicorn workers on SQLite and its rate limit off too. Runs alternate
A B A B at 16 and 64 connections: POST of a new comment, then GET of one
section's 20 approved comments. Printed: req/s, p50, p99, errors,
acknowledged versus stored comments, idle and loaded memory, and the ratios
against the targets (POST ≥ 8× Isso's req/s and ≤ 1/5 of its p99; GET ≥ 50×).

Run: ``make bench`` (all benchmarks), ``python -m bench service`` or
``python bench/service_bench.py [--duration 5]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from feedback_formats import Manifest, ManifestEntry, write_manifest

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".bench" / "service"
ISSO_VENV = ROOT / ".bench" / "isso-venv"
SECTION_POST, SECTION_GET = "bench-post", "bench-get"
TEXT = "Ein Kommentar zum Abschnitt, mit etwas Text, wie ihn Leser schreiben. Danke!"
ADMIN_TOKEN = "bench-admin-token"

WRK_SCRIPT = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
%(request)s
function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p99_us": %%d, '
    .. '"connect": %%d, "read": %%d, "write": %%d, "status": %%d, "timeout": %%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    errors.connect, errors.read, errors.write, errors.status, errors.timeout))
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- Tools --------------------------------------------------------------------------

def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("wrk fehlt: apt-get install -y wrk")
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True,
                       stdout=subprocess.DEVNULL)
        found = shutil.which("wrk")
    if not found:
        sys.exit("wrk fehlt: bitte `apt-get install wrk` (Debian-Paket) ausführen.")
    return found


def ensure_isso() -> Path:
    gunicorn = ISSO_VENV / "bin" / "gunicorn"
    if not gunicorn.exists():
        log(f"Isso wird in {ISSO_VENV} installiert (pip install isso gunicorn) …")
        subprocess.run([sys.executable, "-m", "venv", str(ISSO_VENV)], check=True)
        subprocess.run(
            [str(ISSO_VENV / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
             "isso", "gunicorn"],
            check=True,
        )
    return gunicorn


# -- Servers ------------------------------------------------------------------------

@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen
    db_path: Path
    post_path: str
    get_path: str
    post_body: str
    rss_peak: int = 0
    stats: dict = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss(self) -> int:
        """Resident memory of the server and all its worker processes, in bytes."""
        pids = _descendants(self.process.pid) | {self.process.pid}
        total = 0
        for pid in pids:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            except OSError:
                continue
        return total

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def wait_until_up(url: str, process: subprocess.Popen, name: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"{name} ist beim Start abgebrochen (siehe {WORK}).")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    sys.exit(f"{name} antwortet nicht: {url}")


def start_ours() -> Server:
    site = WORK / "site"
    write_manifest(site / "2.0", Manifest("2.0", tuple(
        ManifestEntry(section, f"1.{n}", section, "index", f"index.html#{section}")
        for n, section in enumerate((SECTION_POST, SECTION_GET), 1)
    )))
    db_path = WORK / "ours.sqlite3"
    port = free_port()
    env = {
        **os.environ, "FEEDBACK_DATABASE_URL": f"sqlite:///{db_path}",
        "FEEDBACK_SITE_DIR": str(site), "FEEDBACK_RATE_LIMIT": "0",
        "FEEDBACK_ADMIN_TOKEN": ADMIN_TOKEN, "PYTHONPATH": str(ROOT),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "feedback_service", "serve", "--port", str(port),
         "--workers", "2"],
        env=env, cwd=WORK, stdout=open(WORK / "ours.log", "wb"), stderr=subprocess.STDOUT,
    )
    server = Server(
        "feedback_service", port, process, db_path,
        post_path="/api/v1/comments", get_path=f"/api/v1/comments?section={SECTION_GET}",
        post_body=json.dumps({"section": SECTION_POST, "version": "2.0", "text": TEXT,
                              "author": "Bench", "consent": True}),
    )
    wait_until_up(f"{server.base}/api/v1/health", process, server.name)
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with httpx.Client(base_url=server.base) as client:
        for n in range(20):
            answer = client.post("/api/v1/comments", json={
                "section": SECTION_GET, "version": "2.0", "text": f"{TEXT} ({n})",
                "author": "Bench", "consent": True})
            client.post(f"/api/v1/admin/comments/{answer.json()['id']}/approve", headers=admin)
        assert len(client.get(server.get_path).json()["comments"]) == 20
    return server


def start_isso(gunicorn: Path) -> Server:
    port = free_port()
    db_path = WORK / "isso.sqlite3"
    config = WORK / "isso.cfg"
    config.write_text(
        f"[general]\ndbpath = {db_path}\nhost = http://127.0.0.1:{port}/\n"
        "[moderation]\nenabled = true\n[guard]\nenabled = false\n"
        f"[server]\nlisten = http://127.0.0.1:{port}/\n",
        encoding="utf-8",
    )
    process = subprocess.Popen(
        [str(gunicorn), "-b", f"127.0.0.1:{port}", "-w", "2", "--preload", "isso.run"],
        env={**os.environ, "ISSO_SETTINGS": str(config)}, cwd=WORK,
        stdout=open(WORK / "isso.log", "wb"), stderr=subprocess.STDOUT,
    )
    server = Server(
        "Isso", port, process, db_path,
        post_path=f"/new?uri=/{SECTION_POST}", get_path=f"/?uri=/{SECTION_GET}",
        post_body=json.dumps({"text": TEXT, "author": "Bench"}),
    )
    wait_until_up(f"{server.base}/info", process, server.name)
    origin = {"Origin": server.base}
    with httpx.Client(base_url=server.base, headers=origin) as client:
        for uri in (SECTION_POST, SECTION_GET):
            client.post(f"/new?uri=/{uri}", json={"text": TEXT, "title": uri})
        for n in range(19):
            client.post(f"/new?uri=/{SECTION_GET}", json={"text": f"{TEXT} ({n})",
                                                          "author": "Bench"})
    # Isso approves through signed links in its log; for the fixture, its own table suffices.
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE comments SET mode = 1 WHERE tid = "
                     "(SELECT id FROM threads WHERE uri = ?)", (f"/{SECTION_GET}",))
    with httpx.Client(base_url=server.base) as client:
        assert len(client.get(server.get_path).json()["replies"]) == 20
    return server


def stored_posts(server: Server) -> int:
    with sqlite3.connect(server.db_path) as conn:
        if server.name == "Isso":
            return conn.execute(
                "SELECT COUNT(*) FROM comments JOIN threads ON threads.id = comments.tid "
                "WHERE threads.uri = ? AND comments.text LIKE ?",
                (f"/{SECTION_POST}", f"%{TEXT[:20]}%"),
            ).fetchone()[0]
        return conn.execute(
            "SELECT COUNT(*) FROM comments WHERE section = ?", (SECTION_POST,)
        ).fetchone()[0]


# -- Load -----------------------------------------------------------------------------

def run_wrk(wrk: str, server: Server, method: str, connections: int, duration: int) -> dict:
    if method == "POST":
        request = (
            'wrk.method = "POST"\n'
            f"wrk.body = {json.dumps(server.post_body)}\n"
            'wrk.headers["Content-Type"] = "application/json"\n'
            f'wrk.headers["Origin"] = "{server.base}"\n'
        )
        path = server.post_path
    else:
        request = ""
        path = server.get_path
    script = WORK / f"{server.name}-{method}.lua"
    script.write_text(WRK_SCRIPT % {"request": request}, encoding="utf-8")
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.is_set():
            server.rss_peak = max(server.rss_peak, server.rss())
            sampling.wait(0.25)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        output = subprocess.run(
            [wrk, "-t2", f"-c{connections}", f"-d{duration}s", "--timeout", "5s",
             "-s", str(script), f"{server.base}{path}"],
            check=True, capture_output=True, text=True,
        ).stdout
    finally:
        sampling.set()
        sampler.join()
    line = next(line for line in output.splitlines() if line.startswith("WRKJSON "))
    result = json.loads(line[len("WRKJSON "):])
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["errors"] = sum(result[key] for key in ("connect", "read", "write", "status",
                                                    "timeout"))
    result["acknowledged"] = result["requests"] - result["status"]
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the comparison; ``python -m bench`` calls this without arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="Sekunden je Lauf (Standard 5)")
    args = parser.parse_args(argv or [])

    wrk = ensure_wrk()
    gunicorn = ensure_isso()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    servers = [start_ours(), start_isso(gunicorn)]
    try:
        time.sleep(1)
        idle = {server.name: server.rss() for server in servers}
        before = {server.name: stored_posts(server) for server in servers}
        results: dict[tuple, list[dict]] = {}
        for method in ("POST", "GET"):
            for connections in (16, 64):
                for _ in range(2):
                    for server in servers:
                        log(f"{method} {connections} Verbindungen: {server.name} …")
                        results.setdefault((method, connections, server.name), []).append(
                            run_wrk(wrk, server, method, connections, args.duration))
        time.sleep(1)
        stored = {server.name: stored_posts(server) - before[server.name] for server in servers}
    finally:
        for server in servers:
            server.stop()
    report(servers, results, idle, stored, args.duration)
    return 0


def report(servers, results, idle, stored, duration) -> None:
    ours, isso = (server.name for server in servers)
    print(f"\nFeedback-Dienst gegen Isso – wrk, Loopback, je {duration} s, A B A B "
          f"(Mittel zweier Läufe); Systemlast danach (loadavg 1/5 min): "
          f"{' '.join(Path('/proc/loadavg').read_text().split()[:2])} auf {os.cpu_count()} "
          "Kernen\n")
    header = (f"{'Last':<10} {'Server':<17} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'Fehler':>7} {'Verhältnis':>22}")
    print(header)
    print("-" * len(header))
    verdicts = []
    for method in ("POST", "GET"):
        for connections in (16, 64):
            summary = {}
            for name in (ours, isso):
                runs = results[(method, connections, name)]
                summary[name] = {
                    "rps": statistics.mean(run["rps"] for run in runs),
                    "p50": statistics.mean(run["p50_us"] for run in runs) / 1000,
                    "p99": statistics.mean(run["p99_us"] for run in runs) / 1000,
                    "errors": sum(run["errors"] for run in runs),
                }
            speed = summary[ours]["rps"] / summary[isso]["rps"]
            tail = summary[ours]["p99"] / summary[isso]["p99"]
            for name in (ours, isso):
                row = summary[name]
                ratio = f"{speed:.1f}× req/s, p99 {tail:.2f}×" if name == ours else ""
                print(f"{method + ' ' + str(connections):<10} {name:<17} {row['rps']:>9.0f} "
                      f"{row['p50']:>8.2f} {row['p99']:>8.2f} {row['errors']:>7} {ratio:>22}")
            if method == "POST":
                verdicts.append((f"POST {connections}: req/s ≥ 8× Isso", speed >= 8,
                                 f"{speed:.1f}×"))
                verdicts.append((f"POST {connections}: p99 ≤ 1/5 Isso", tail <= 0.2,
                                 f"{tail:.2f}×"))
            else:
                verdicts.append((f"GET {connections}: req/s ≥ 50× Isso", speed >= 50,
                                 f"{speed:.1f}×"))
            verdicts.append((f"{method} {connections}: 0 Fehler (unser Dienst)",
                             summary[ours]["errors"] == 0, str(summary[ours]["errors"])))
    print()
    acknowledged = {
        name: sum(run["acknowledged"] for key, runs in results.items()
                  if key[0] == "POST" and key[2] == name for run in runs)
        for name in (ours, isso)
    }
    print(f"{'Server':<17} {'bestätigt (2xx)':>16} {'gespeichert':>12} {'RSS leer':>10} "
          f"{'RSS Last':>10}")
    for server in servers:
        name = server.name
        print(f"{name:<17} {acknowledged[name]:>16} {stored[name]:>12} "
              f"{idle[name] / 2**20:>8.0f} MB {server.rss_peak / 2**20:>8.0f} MB")
        if name == ours:
            verdicts.append(("nichts Bestätigtes verloren (gespeichert ≥ bestätigt)",
                             stored[name] >= acknowledged[name],
                             f"{stored[name]} ≥ {acknowledged[name]}"))
    print("\nZiele:")
    for text, ok, value in verdicts:
        print(f"  {'erreicht ' if ok else 'VERFEHLT '} {text}: {value}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
