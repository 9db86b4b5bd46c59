"""``make site`` says what it is doing while it does it: a line per edition and step, a bar on a terminal."""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import sys
import threading

import pytest
from handbook_editions import build_site
from handbook_editions.progress import Progress

# The tiny handbook of the release tests, with editions 1.0 and 1.1.
from .test_release import clone, released, template  # noqa: F401  (fixtures)

LINE = re.compile(r"^\[\d\d:\d\d:\d\d\] (?P<label>.+?)(?P<end> …| fertig \((?P<seconds>\d+\.\d) s(?:, .*)?\))$")


def steps(output: str) -> list[tuple[str, str]]:
    """``(label, "start" | "end")`` of every progress line, in order."""
    found = []
    for line in output.splitlines():
        match = LINE.match(line)
        if match:
            found.append((match["label"], "start" if match["end"] == " …" else "end"))
    return found


@pytest.mark.parametrize("jobs", ["auto", "1"])
def test_site_reports_every_step_of_every_edition_as_it_starts_and_ends(released, tmp_path, jobs):
    repo, _, _ = released
    copy = clone(repo, tmp_path / "handbuch")
    output = io.StringIO()
    build_site(copy / "build" / "site", releases_file=copy / "releases.toml", comments=copy / "var" / "c.json",
               jobs=jobs, progress=Progress(output))
    seen = steps(output.getvalue())
    for version in ("1.0", "1.1"):
        for step in ("Quelltexte aus", "HTML", "PDF"):
            labels = [label for label, _ in seen if label.startswith(f"{version} · {step}")]
            assert labels, (version, step, output.getvalue())
    # Every step starts once and ends once, after it started; with one job, before the next one starts.
    starts = [label for label, kind in seen if kind == "start"]
    ends = [label for label, kind in seen if kind == "end"]
    assert sorted(starts) == sorted(ends) and len(set(starts)) == len(starts), output.getvalue()
    for label in starts:
        assert seen.index((label, "start")) < seen.index((label, "end")), label
    if jobs == "1":
        for (label, kind), (next_label, next_kind) in zip(seen[::2], seen[1::2]):
            assert (kind, next_kind, next_label) == ("start", "end", label)
    assert seen[-1] == ("Veröffentlichen", "end")
    assert "1.1 · HTML fertig (" in output.getvalue() and "Seiten neu geschrieben)" in output.getvalue()
    # Not a terminal: no bar, no control characters.
    assert "Schritte" not in output.getvalue() and "\r" not in output.getvalue()


def test_site_shows_a_bar_on_a_terminal(released, tmp_path):
    repo, _, _ = released
    copy = clone(repo, tmp_path / "handbuch")
    controller, terminal = pty.openpty()
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(controller, 4096)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read)
    reader.start()
    result = subprocess.run([sys.executable, "-m", "handbook_editions", "build"], cwd=copy, stdout=terminal,
                            stderr=subprocess.PIPE, timeout=600)
    os.close(terminal)
    reader.join(timeout=10)
    os.close(controller)
    assert result.returncode == 0, result.stderr
    output = b"".join(chunks).decode()
    assert re.search(r"\[█*░*\] \d+/\d+ Schritte", output)
    assert "\r\x1b[K" in output
    # The bar ends full, and the lines are still there between the redrawn bars.
    assert "[" + "█" * 24 + "]" in output
    assert "1.1 · PDF fertig" in output
