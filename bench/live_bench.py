"""Benchmark: from an editor's approval to the comment on the served page of every edition.

Builds every edition of ``releases.toml`` into a temporary directory (as
``make site`` does; the sync benchmark does the same), starts the real service
as ``make serve`` starts it (``serve --sync-every 30``, with its fresh SQLite
database) and then, one after the other, posts a reader's comment on a
section every edition has, approves it through the admin API and polls the
pages of that section in every edition until the comment's text is on all of
them. One approval first warms up (not counted). Prints median, 95th
percentile and maximum against the targets of issue 15 (median ≤ 3 s,
p95 ≤ 5 s), with the machine's load beside them: the figures depend on what
else the machine is doing.

Run: ``make bench`` or ``python -m bench live`` (from the project directory).
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests
from feedback_formats.manifest import load_manifest, manifest_path

from bench.sync_bench import Installation, shared_section, timed, wait_until_healthy

APPROVALS = 10
TARGET_MEDIAN, TARGET_P95 = 3.0, 5.0
# An approval that is not live after this long counts as lost.
GIVE_UP = 120.0
POLL = 0.05


def section_pages(site: Path, section: str) -> dict[str, str]:
    """``{edition: path of the page that holds the section}`` for every edition in versions.json."""
    versions = [v["version"] for v in json.loads((site / "versions.json").read_text(encoding="utf-8"))["versions"]]
    pages = {}
    for version in versions:
        entry = load_manifest(manifest_path(site / version)).by_id()[section]
        pages[version] = f"/{version}/{entry.url.split('#')[0]}"
    return pages


def approve_and_wait(session: requests.Session, url: str, token: str, section: str, version: str,
                     pages: dict[str, str]) -> float:
    """Seconds from the approve call to the comment on every edition's page."""
    text = f"Messung {uuid.uuid4().hex[:12]}: Bei uns hat sich das bewährt."
    posted = session.post(f"{url}/api/v1/comments", timeout=10, json={
        "section": section, "version": version, "consent": True, "text": text,
    })
    posted.raise_for_status()
    comment_id = posted.json()["id"]
    started = time.perf_counter()
    session.post(f"{url}/api/v1/admin/comments/{comment_id}/approve", timeout=10,
                 headers={"Authorization": f"Bearer {token}"}).raise_for_status()
    waiting = dict(pages)
    while waiting:
        for version, page in list(waiting.items()):
            if text in session.get(f"{url}{page}", timeout=10).text:
                del waiting[version]
        if waiting:
            if time.perf_counter() - started > GIVE_UP:
                raise RuntimeError(f"comment {comment_id} not live after {GIVE_UP:.0f} s in {sorted(waiting)}")
            time.sleep(POLL)
    return time.perf_counter() - started


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def main(argv: list[str] | None = None) -> int:
    with tempfile.TemporaryDirectory(prefix="live-bench-") as tmp:
        setup = Installation(Path(tmp))
        url, token = setup.url, setup.token
        timed(setup.site_build, setup.env, setup.work)
        section, version = shared_section(setup.site)
        pages = section_pages(setup.site, section)
        print(f"editions {', '.join(pages)} built; comments go to section {section!r}", flush=True)
        log = setup.work / "serve.log"
        with open(log, "w") as output:
            service = subprocess.Popen(
                [sys.executable, "-m", "feedback_service", "serve", "--port", str(setup.port), "--sync-every", "30"],
                cwd=setup.work, env=setup.env, stdout=output, stderr=subprocess.STDOUT,
            )
        load_before = os.getloadavg()[0]
        seconds: list[float] = []
        try:
            wait_until_healthy(url, service)
            with requests.Session() as session:
                approve_and_wait(session, url, token, section, version, pages)  # warm-up
                for _ in range(APPROVALS):
                    seconds.append(approve_and_wait(session, url, token, section, version, pages))
        except Exception:
            print(log.read_text(encoding="utf-8")[-4000:], file=sys.stderr)
            raise
        finally:
            service.terminate()
            service.wait(timeout=60)
        load_after = os.getloadavg()[0]
        # What the sync's runs that built took (their "Dauer"), the rest being wake-up, export and polling.
        builds = [float(value) for value in re.findall(r"^Dauer: (\d+\.\d+) s$", log.read_text(encoding="utf-8"),
                                                       re.MULTILINE)]

    median, high = statistics.median(seconds), p95(seconds)
    rows = [
        (f"approve → live in all {len(pages)} editions, median of {len(seconds)}", f"{median:.2f} s",
         f"{TARGET_MEDIAN:.0f} s", f"{median / TARGET_MEDIAN:.2f}×", "met" if median <= TARGET_MEDIAN else "MISSED"),
        ("95th percentile", f"{high:.2f} s", f"{TARGET_P95:.0f} s", f"{high / TARGET_P95:.2f}×",
         "met" if high <= TARGET_P95 else "MISSED"),
        ("maximum / fastest", f"{max(seconds):.2f} / {min(seconds):.2f} s", "", "", ""),
        (f"of which the sync's run (median of {len(builds)})", f"{statistics.median(builds):.2f} s", "", "", ""),
        (f"machine load (1 min, {os.cpu_count()} cores) before / after", f"{load_before:.1f} / {load_after:.1f}",
         "", "", ""),
    ]
    header = ("measure", "value", "target", "ratio", "")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * width for width in widths), *rows]:
        print("| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths)) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
