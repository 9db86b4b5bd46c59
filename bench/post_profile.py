"""Where a POST's time goes: the service's app driven in-process, without HTTP.

Not one of ``make bench``'s comparisons (its name does not end in ``_bench``):
a tool for finding what to make faster. It creates the app as ``serve`` does
(SQLite, rate limit and idempotency on, each request from another reader
through a trusted proxy), drives ``POST /api/v1/comments`` through the whole
ASGI stack with a few requests in flight, and prints per request:

* the CPU time of the process and of the event-loop thread (the rest is the
  writer's two threads),
* the same with the write left out (the job commits nothing): what the
  checks, the digests and the framework cost,
* the writer's statements, each with its CPU time per comment, and the size of
  its batches.

The HTTP server itself (uvicorn, httptools) is not in these figures; the
service bench measures it all together.

Run: ``python -m bench.post_profile [--requests 4000] [--in-flight 8]``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

from feedback_formats import Manifest, ManifestEntry, write_manifest

from .service_bench import SECTION_POST as SECTION
from .service_bench import TEXT


def _prepare(work: Path) -> None:
    site = work / "site"
    write_manifest(site / "2.0", Manifest("2.0", (ManifestEntry(SECTION, "1.1", SECTION, "index",
                                                               f"index.html#{SECTION}"),)))
    os.environ.update({
        "FEEDBACK_DATABASE_URL": f"sqlite:///{work / 'feedback.sqlite3'}",
        "FEEDBACK_SITE_DIR": str(site),
        "FEEDBACK_TRUSTED_PROXIES": "127.0.0.1",
        "FEEDBACK_SECRET": "post-profile-secret",  # nothing written beside the project
    })


BODY = json.dumps({"section": SECTION, "version": "2.0", "text": TEXT, "author": "Bench",
                   "consent": True}).encode()


def _scope(n: int) -> dict:
    reader = f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/api/v1/comments", "raw_path": b"/api/v1/comments",
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8000),
        "headers": [
            (b"host", b"127.0.0.1:8000"), (b"content-type", b"application/json"),
            (b"content-length", str(len(BODY)).encode()), (b"origin", b"http://127.0.0.1:8000"),
            (b"idempotency-key", f"profile-{n}-{random.getrandbits(40)}".encode()),
            (b"x-forwarded-for", reader.encode()),
        ],
        "state": {},
    }


async def _post(app, n: int) -> None:
    sent = False

    async def receive():
        nonlocal sent
        if sent:
            await asyncio.Event().wait()  # no disconnect while the answer is made
        sent = True
        return {"type": "http.request", "body": BODY, "more_body": False}

    status = []

    async def send(message):
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(_scope(n), receive, send)
    if status != [202]:
        raise SystemExit(f"Unerwartete Antwort {status}: das Profil misst nur angenommene Kommentare.")


async def _measure(app, requests: int, in_flight: int) -> tuple[float, float]:
    """(process CPU, event-loop thread CPU) per request in µs."""
    left = requests

    async def client():
        nonlocal left
        while left > 0:
            left -= 1
            await _post(app, left)

    cpu, main = time.process_time(), time.thread_time()
    await asyncio.gather(*(client() for _ in range(in_flight)))
    return ((time.process_time() - cpu) / requests * 1e6, (time.thread_time() - main) / requests * 1e6)


def _run(requests: int, in_flight: int, write: bool) -> tuple[tuple[float, float], collections.Counter]:
    from feedback_service import comments, db
    from feedback_service.app import create_app

    statements: collections.Counter = collections.Counter()
    execute, run_batch, create_job = db.Connection.execute, db.Writer._run_batch, comments.create_job

    def timed_execute(self, sql, params=()):
        started = time.thread_time()
        try:
            return execute(self, sql, params)
        finally:
            words = sql.split()
            name = " ".join(words[:3] if words[0] == "INSERT" else words[:1])
            statements[name] += time.thread_time() - started

    def counted_batch(self, conn, batch):
        statements["#batches"] += 1
        statements["#jobs"] += len(batch)
        return run_batch(self, conn, batch)

    def nothing_written(*args, **kwargs):
        create_job(*args, **kwargs)  # the digests, the id and the row are made all the same
        return lambda conn: (202, {"id": "c_0", "status": "pending", "delete_token": "0"})

    db.Connection.execute, db.Writer._run_batch = timed_execute, counted_batch
    if not write:
        comments.create_job = nothing_written
    try:
        app = create_app()

        async def main():
            async with app.router.lifespan_context(app):
                await _measure(app, min(1000, requests), in_flight)  # warm up
                statements.clear()
                return await _measure(app, requests, in_flight)

        return asyncio.run(main()), statements
    finally:
        db.Connection.execute, db.Writer._run_batch, comments.create_job = execute, run_batch, create_job


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--in-flight", type=int, default=8)
    args = parser.parse_args(argv)
    rows = []
    for write in (True, False):
        with tempfile.TemporaryDirectory(prefix="post-profile-") as work:
            _prepare(Path(work))
            (cpu, main_thread), statements = _run(args.requests, args.in_flight, write)
            rows.append((write, cpu, main_thread, statements))
            shutil.rmtree(work, ignore_errors=True)
    print(f"POST /api/v1/comments im Prozess, {args.requests} Anfragen, {args.in_flight} gleichzeitig, "
          f"Systemlast {os.getloadavg()[0]:.1f} auf {os.cpu_count()} Kernen\n")
    print("| Messung | CPU je Anfrage, Prozess | davon Ereignisschleife |")
    print("| --- | ---: | ---: |")
    for write, cpu, main_thread, _ in rows:
        label = "mit Schreiben" if write else "ohne Schreiben (Job schreibt nichts)"
        print(f"| {label} | {cpu:.0f} µs | {main_thread:.0f} µs |")
    statements = rows[0][3]
    jobs = statements.pop("#jobs") or 1
    batches = statements.pop("#batches") or 1
    print(f"\nSchreiber: {jobs / batches:.1f} Kommentare je Sammel-Commit; CPU je Kommentar:\n")
    print("| Anweisung | µs je Kommentar |")
    print("| --- | ---: |")
    for name, seconds in statements.most_common():
        print(f"| {name} | {seconds / jobs * 1e6:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
