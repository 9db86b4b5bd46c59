"""What a long build is doing while it does it: a line per edition and step, as it starts and as it ends.

``make site``, ``make sync`` and ``make release`` pass a :class:`Progress`
writing to standard output; the background sync of ``make serve`` passes none
and stays quiet. Where a terminal is attached, a bar below the lines shows how
many steps are done.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Iterator, TextIO

BAR_WIDTH = 24


class Progress:
    """Writes ``[HH:MM:SS] 2.0 · HTML … `` when a step starts and ``… fertig (3.2 s)`` when it ends."""

    def __init__(self, stream: TextIO | None = None, total: int = 0) -> None:
        self.stream = stream or sys.stdout
        self.total = total
        self.done = 0
        self.bar = self.stream.isatty()

    def expect(self, steps: int) -> None:
        """``steps`` more steps are coming (the bar's end moves)."""
        self.total += steps

    def _write(self, line: str) -> None:
        clear = "\r\x1b[K" if self.bar else ""
        self.stream.write(f"{clear}[{time.strftime('%H:%M:%S')}] {line}\n")
        if self.bar and self.total:
            filled = round(BAR_WIDTH * min(self.done, self.total) / self.total)
            self.stream.write(f"[{'█' * filled}{'░' * (BAR_WIDTH - filled)}] {self.done}/{self.total} Schritte")
        self.stream.flush()

    def note(self, line: str) -> None:
        self._write(line)

    @contextmanager
    def step(self, edition: str, what: str) -> Iterator[dict]:
        """One step of one edition; the caller may put a ``result`` text into the yielded dict."""
        label = f"{edition} · {what}" if edition else what
        self._write(f"{label} …")
        began = time.monotonic()
        outcome: dict = {}
        try:
            yield outcome
        except BaseException:
            self.done += 1
            self._write(f"{label}: abgebrochen nach {time.monotonic() - began:.1f} s")
            raise
        self.done += 1
        result = f", {outcome['result']}" if outcome.get("result") else ""
        self._write(f"{label} fertig ({time.monotonic() - began:.1f} s{result})")

    def finish(self) -> None:
        if self.bar:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


class Silent(Progress):
    """No output: the periodic sync inside ``make serve``."""

    def __init__(self) -> None:
        self.total = self.done = 0
        self.bar = False

    def _write(self, line: str) -> None:
        pass

    def finish(self) -> None:
        pass
