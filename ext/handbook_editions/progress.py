"""What a long build is doing while it does it: a line per edition and step, as it starts and as it ends.

``make site``, ``make sync`` and ``make release`` pass a :class:`Progress`
writing to standard output; the background sync of ``make serve`` passes none
and stays quiet. Where a terminal is attached, a bar below the lines shows how
many steps are done. Steps may overlap (the editions build side by side): each
line names its edition and step.
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

    def begin(self, edition: str, what: str) -> Step:
        """A step of one edition starts now; it ends with :meth:`Step.end` or :meth:`Step.abort`."""
        step = Step(self, f"{edition} · {what}" if edition else what)
        self._write(f"{step.label} …")
        return step

    @contextmanager
    def step(self, edition: str, what: str) -> Iterator[dict]:
        """One step of one edition; the caller may put a ``result`` text into the yielded dict."""
        step = self.begin(edition, what)
        outcome: dict = {}
        try:
            yield outcome
        except BaseException:
            step.abort()
            raise
        step.end(outcome.get("result", ""))

    def finish(self) -> None:
        if self.bar:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


class Step:
    """A step that has started; says once how it ended."""

    def __init__(self, progress: Progress, label: str) -> None:
        self.progress = progress
        self.label = label
        self.began = time.monotonic()

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.began

    def end(self, result: str = "") -> None:
        self.progress.done += 1
        self.progress._write(f"{self.label} fertig ({self.seconds:.1f} s{', ' + result if result else ''})")

    def abort(self) -> None:
        self.progress.done += 1
        self.progress._write(f"{self.label}: abgebrochen nach {self.seconds:.1f} s")


class Silent(Progress):
    """No output: the periodic sync inside ``make serve``."""

    def __init__(self) -> None:
        self.total = self.done = 0
        self.bar = False

    def _write(self, line: str) -> None:
        pass

    def finish(self) -> None:
        pass
