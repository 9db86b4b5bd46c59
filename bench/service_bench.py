"""Benchmark: the feedback service against Isso, side by side, with wrk on loopback.

Isso (the best-known Python comment server) is installed from PyPI into its own
virtual environment under ``.bench/`` and run as its documentation recommends:
gunicorn with 2 workers, moderation on, rate guard off. Our service runs as
``python -m feedback_service serve`` starts it by default (one process per
usable CPU) on SQLite, with every defence on: the rate limit at its default,
each request from another reader (``X-Forwarded-For`` through a trusted proxy,
as behind nginx) with an ``Idempotency-Key`` of its own (as the page's script
sends one). Runs alternate A B A B at 16 and 64 connections: POST of a new
comment, then GET of one section's 20 approved comments. Every acknowledged
answer's id is collected and looked up in the server's database afterwards.

Printed: req/s, p50, p99, errors, the machine's load (1-minute average during
the runs), the ratios, and against the targets of issue 15 (at 16 connections:
POST ≥ 10× Isso's req/s and p99 ≤ 0.15× Isso's; GET ≥ 100× Isso's req/s; 0
errors; no acknowledged comment missing).

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
function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end
function init(args)
  ids = {}
  math.randomseed(tid * 7919 + os.time())
end
%(request)s
function done(summary, latency, requests)
  local errors = summary.errors
  local out = io.open("%(ids)s", "w")
  for _, thread in ipairs(threads) do
    for _, id in ipairs(thread:get("ids")) do out:write(id, "\\n") end
  end
  out:close()
  io.write(string.format(
    'WRKJSON {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p99_us": %%d, '
    .. '"connect": %%d, "read": %%d, "write": %%d, "status": %%d, "timeout": %%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    errors.connect, errors.read, errors.write, errors.status, errors.timeout))
end
"""
# The id of every acknowledged POST, to look it up in the database afterwards.
COLLECT_IDS = """
function response(status, headers, body)
  if status >= 200 and status < 300 and body then
    local id = string.match(body, '"id"%s*:%s*"?([%w_]+)')
    if id then ids[#ids + 1] = id end
  end
end
"""
# Each POST to our service comes from another reader through the trusted proxy and
# carries its own Idempotency-Key, so the rate limit and idempotency do their work.
READER_REQUEST = """
local n = 0
function request()
  n = n + 1
  wrk.headers["Idempotency-Key"] = string.format("bench-%d-%d-%d", tid, n, math.random(1e9))
  wrk.headers["X-Forwarded-For"] = string.format("10.%d.%d.%d", math.random(0, 255),
                                                 math.random(0, 255), math.random(1, 254))
  return wrk.format()
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
        _stop(self.process)


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
    """Return once ``url`` answers; otherwise stop the process (a server left running
    would skew every later measurement on the machine) and exit."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"{name} ist beim Start abgebrochen (siehe {WORK}).")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    _stop(process)
    sys.exit(f"{name} antwortet nicht: {url}")


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM (a supervisor stops its workers), SIGKILL after 20 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_ours() -> Server:
    site = WORK / "site"
    write_manifest(site / "2.0", Manifest("2.0", tuple(
        ManifestEntry(section, f"1.{n}", section, "index", f"index.html#{section}")
        for n, section in enumerate((SECTION_POST, SECTION_GET), 1)
    )))
    db_path = WORK / "ours.sqlite3"
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("FEEDBACK_")}
    env.update({
        "FEEDBACK_DATABASE_URL": f"sqlite:///{db_path}", "FEEDBACK_SITE_DIR": str(site),
        "FEEDBACK_TRUSTED_PROXIES": "127.0.0.1", "FEEDBACK_ADMIN_TOKEN": ADMIN_TOKEN,
        "PYTHONPATH": str(ROOT),
    })
    process = subprocess.Popen(
        [sys.executable, "-m", "feedback_service", "serve", "--port", str(port)],
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
    try:
        with httpx.Client(base_url=server.base) as client:
            for n in range(20):
                answer = client.post("/api/v1/comments", json={
                    "section": SECTION_GET, "version": "2.0", "text": f"{TEXT} ({n})",
                    "author": "Bench", "consent": True}, headers={"X-Forwarded-For": f"10.255.255.{n + 1}"})
                client.post(f"/api/v1/admin/comments/{answer.json()['id']}/approve", headers=admin)
            assert len(client.get(server.get_path).json()["comments"]) == 20
    except BaseException:
        server.stop()
        raise
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


def missing_posts(server: Server, acknowledged: list[str]) -> int:
    """How many acknowledged comments (by the id each answer named) the server's database lacks."""
    wanted = sorted(set(acknowledged))
    found = 0
    with sqlite3.connect(server.db_path) as conn:
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            marks = ", ".join("?" for _ in chunk)
            found += conn.execute(f"SELECT COUNT(*) FROM comments WHERE id IN ({marks})", chunk).fetchone()[0]
    return len(wanted) - found


# -- Load -----------------------------------------------------------------------------

def run_wrk(wrk: str, server: Server, method: str, connections: int, duration: int) -> dict:
    if method == "POST":
        request = (
            'wrk.method = "POST"\n'
            f"wrk.body = {json.dumps(server.post_body)}\n"
            'wrk.headers["Content-Type"] = "application/json"\n'
            f'wrk.headers["Origin"] = "{server.base}"\n'
        ) + COLLECT_IDS + (READER_REQUEST if server.name != "Isso" else "")
        path = server.post_path
    else:
        request = ""
        path = server.get_path
    script = WORK / f"{server.name}-{method}.lua"
    ids = WORK / f"{server.name}-{method}.ids"
    script.write_text(WRK_SCRIPT % {"request": request, "ids": ids}, encoding="utf-8")
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
    result["load"] = os.getloadavg()[0]
    result["ids"] = ids.read_text().split() if method == "POST" else []
    return result


CONNECTIONS = (16, 64)
TARGET_CONNECTIONS = 16
# Issue 15, at 16 connections.
POST_SPEED, POST_TAIL, GET_SPEED = 10.0, 0.15, 100.0


def main(argv: list[str] | None = None) -> int:
    """Run the comparison; ``python -m bench`` calls this without arguments.

    Exit status 1 when our service answered with an error or lost an acknowledged
    comment; the speed targets are printed, not enforced (a loaded machine misses them).
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="Sekunden je Lauf (Standard 5)")
    args = parser.parse_args(argv or [])

    wrk = ensure_wrk()
    gunicorn = ensure_isso()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    servers: list[Server] = []
    try:
        servers.append(start_ours())
        servers.append(start_isso(gunicorn))
        time.sleep(1)
        idle = {server.name: server.rss() for server in servers}
        results: dict[tuple, list[dict]] = {}
        for method in ("POST", "GET"):
            for connections in CONNECTIONS:
                for _ in range(2):
                    for server in servers:
                        log(f"{method} {connections} Verbindungen: {server.name} …")
                        results.setdefault((method, connections, server.name), []).append(
                            run_wrk(wrk, server, method, connections, args.duration))
        time.sleep(1)
        acknowledged = {
            server.name: [id_ for (method, _, name), runs in results.items()
                          if method == "POST" and name == server.name for run in runs for id_ in run["ids"]]
            for server in servers
        }
        missing = {server.name: missing_posts(server, acknowledged[server.name]) for server in servers}
    finally:
        for server in servers:
            server.stop()
    return report(servers, results, idle, acknowledged, missing, args.duration)


def _processes() -> str:
    first = (WORK / "ours.log").read_text(encoding="utf-8", errors="replace").splitlines()[:1]
    return first[0].split("(", 1)[1].split(";", 1)[0] if first and "(" in first[0] else "?"


def _isso_version() -> str:
    python = ISSO_VENV / "bin" / "python"
    found = subprocess.run([str(python), "-c", "import importlib.metadata as m; print(m.version('isso'))"],
                           capture_output=True, text=True)
    return found.stdout.strip() or "?"


def report(servers, results, idle, acknowledged, missing, duration) -> int:
    ours, isso = (server.name for server in servers)
    loads = [run["load"] for runs in results.values() for run in runs]
    print(f"\nFeedback-Dienst gegen Isso {_isso_version()} – wrk auf Loopback, je {duration} s, A B A B "
          f"(Mittel zweier Läufe), {os.cpu_count()} Kerne, Systemlast (loadavg 1 min) "
          f"{min(loads):.1f}–{max(loads):.1f}")
    print(f"Unser Dienst: `serve` wie voreingestellt ({_processes()}), SQLite, Ratenlimit wie "
          "voreingestellt je Leser (X-Forwarded-For über einen vertrauten Proxy), Idempotency-Key je "
          "Anfrage; Isso: gunicorn mit 2 Workern, Moderation an, Ratenbremse aus.\n")
    header = (f"{'Last':<8} {'Server':<17} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'Fehler':>7} "
              f"{'Systemlast':>10}  Verhältnis")
    print(header)
    print("-" * (len(header) + 22))
    verdicts = []
    for method in ("POST", "GET"):
        for connections in CONNECTIONS:
            summary = {}
            for name in (ours, isso):
                runs = results[(method, connections, name)]
                summary[name] = {
                    "rps": statistics.mean(run["rps"] for run in runs),
                    "p50": statistics.mean(run["p50_us"] for run in runs) / 1000,
                    "p99": statistics.mean(run["p99_us"] for run in runs) / 1000,
                    "errors": sum(run["errors"] for run in runs),
                    "load": statistics.mean(run["load"] for run in runs),
                }
            speed = summary[ours]["rps"] / summary[isso]["rps"]
            tail = summary[ours]["p99"] / summary[isso]["p99"]
            for name in (ours, isso):
                row = summary[name]
                ratio = f"{speed:.1f}× req/s, p99 {tail:.2f}×" if name == ours else ""
                print(f"{method + ' ' + str(connections):<8} {name:<17} {row['rps']:>8.0f} "
                      f"{row['p50']:>8.2f} {row['p99']:>8.2f} {row['errors']:>7} {row['load']:>10.1f}  {ratio}")
            if connections == TARGET_CONNECTIONS and method == "POST":
                verdicts.append((f"POST {connections}: req/s ≥ {POST_SPEED:g}× Isso", speed >= POST_SPEED,
                                 f"{speed:.1f}×"))
                verdicts.append((f"POST {connections}: p99 ≤ {POST_TAIL:g}× Isso", tail <= POST_TAIL,
                                 f"{tail:.2f}×"))
            elif connections == TARGET_CONNECTIONS:
                verdicts.append((f"GET {connections}: req/s ≥ {GET_SPEED:g}× Isso", speed >= GET_SPEED,
                                 f"{speed:.1f}×"))
    errors = sum(run["errors"] for (_, _, name), runs in results.items() if name == ours for run in runs)
    print(f"\n{'Server':<17} {'bestätigt (2xx)':>16} {'in der Datenbank':>17} {'fehlen':>7} {'RSS leer':>10} "
          f"{'RSS Last':>10}")
    for server in servers:
        name = server.name
        count = len(set(acknowledged[name]))
        print(f"{name:<17} {count:>16} {count - missing[name]:>17} {missing[name]:>7} "
              f"{idle[name] / 2**20:>7.0f} MB {server.rss_peak / 2**20:>7.0f} MB")
    correct = [
        ("0 Fehler (unser Dienst, alle Läufe)", errors == 0, str(errors)),
        ("nichts Bestätigtes verloren (jede bestätigte Kennung in der Datenbank)",
         missing[ours] == 0 and bool(acknowledged[ours]), f"{missing[ours]} fehlen"),
    ]
    print(f"\nZiele (Issue 15, {TARGET_CONNECTIONS} Verbindungen):")
    for text, ok, value in verdicts + correct:
        print(f"  {'erreicht ' if ok else 'VERFEHLT '} {text}: {value}")
    return 0 if all(ok for _, ok, _ in correct) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
