"""Sphinx builds in warm processes, several at once.

A no-op ``python -m sphinx`` spends more time importing Sphinx, its builtin
extensions, the MyST parser and the theme than building. Here a fork server
(:mod:`multiprocessing.forkserver`) imports them once (:mod:`.preload`) and
forks a fresh child for every build. Each build still has a process of its own
(Sphinx keeps state in module globals) and runs exactly as ``python -m sphinx``
with the same arguments, environment and working directory would, minus the
imports. :func:`run_builds` runs up to ``jobs`` of them side by side.

The fork server lives as long as the process that started it (``make site``,
``make sync``, ``serve`` with its background sync). Ctrl-C reaches the builds as
it reaches ``sphinx-build``; the fork server itself ignores it and ends with
its parent. As with every start method of :mod:`multiprocessing` but ``fork``,
each build imports the main module of the program anew: a script that builds
the site keeps its own work under ``if __name__ == "__main__":``.
"""

from __future__ import annotations

import io
import multiprocessing
import multiprocessing.connection
import multiprocessing.forkserver
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from subprocess import CompletedProcess

from .progress import Progress, Step
from .releases import SiteError

PRELOAD = "handbook_editions.preload"
# ``--jobs`` of ``make site`` and the sync.
JOBS_HELP = ("so viele Sphinx-Prozesse zugleich, die Ausgaben nebeneinander "
             "(Vorgabe: auto, zwei je Kern; 1: eine Ausgabe nach der anderen)")
_FORK = multiprocessing.get_context("forkserver")


def warm_up() -> None:
    """Start the warm process now, so that its imports overlap with the caller's own work."""
    _FORK.set_forkserver_preload([PRELOAD])
    multiprocessing.forkserver.ensure_running()


def parallel(jobs: str | int) -> int:
    """How many builds may run at once.

    ``auto`` is two per core: builds of about equal length started together
    end together, so three editions on two cores take one and a half rounds
    instead of two; more would only add memory.
    """
    if jobs == "auto":
        return 2 * (os.cpu_count() or 1)
    if str(jobs).isdigit() and int(jobs) >= 1:
        return int(jobs)
    raise SiteError(f"--jobs erwartet „auto“ oder eine Zahl ab 1, nicht „{jobs}“.")


def share(jobs: int, builds: int) -> int:
    """Sphinx's own ``-j`` for each of ``builds`` builds side by side in ``jobs`` processes; at most the cores."""
    return max(1, min(os.cpu_count() or 1, jobs // max(1, min(jobs, builds))))


@dataclass(frozen=True)
class SphinxRun:
    """One ``python -m sphinx ARGS`` run: its arguments, environment and working directory."""

    args: Sequence[str]
    env: dict[str, str]
    cwd: Path


def _child(run: SphinxRun, answer: multiprocessing.connection.Connection) -> None:
    """In the forked child: the build as ``python -m sphinx`` runs it, its output captured and sent back."""
    from sphinx.cmd.build import main

    os.chdir(run.cwd)
    os.environ.clear()
    os.environ.update(run.env)
    # ``python -m`` puts the working directory first on the import path.
    sys.path.insert(0, str(run.cwd))
    stdout, stderr = io.StringIO(), io.StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr):
        try:
            code = main(list(run.args))
        except SystemExit as exc:  # argparse refusing the arguments
            code = exc.code if isinstance(exc.code, int) else 1
    try:
        answer.send((code, stdout.getvalue(), stderr.getvalue()))
    except BrokenPipeError:
        pass  # the process that asked for the build was killed: nobody waits for its outcome


@contextmanager
def _signals_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait until a build that is being started is known to the caller, who ends it."""
    held = {signal.SIGINT, signal.SIGTERM}
    before = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


class _Running:
    """A build in a forked child; its outcome arrives through a pipe."""

    def __init__(self, run: SphinxRun) -> None:
        self.run = run
        self.answer, send = _FORK.Pipe(duplex=False)
        self.process = _FORK.Process(target=_child, args=(run, send), name="sphinx-build")
        self.process.start()
        send.close()  # the child's end: its exit makes ours readable

    def outcome(self) -> CompletedProcess:
        """Waits for the build to end; a child that died says so in ``stderr``."""
        try:
            code, stdout, stderr = self.answer.recv()
        except EOFError:
            self.process.join()
            code = self.process.exitcode or 1
            how = f"durch Signal {-code}" if code < 0 else f"mit Status {code}"
            stdout, stderr = "", f"Der Sphinx-Prozess endete {how}, ohne ein Ergebnis zu melden."
        finally:
            self.answer.close()
        self.process.join()
        return CompletedProcess(["sphinx-build", *self.run.args], code, stdout, stderr)

    def stop(self) -> None:
        self.process.terminate()
        self.process.join()
        self.answer.close()


def run_one(run: SphinxRun) -> CompletedProcess:
    """One build in a warm process; Ctrl-C or SIGTERM (KeyboardInterrupt) ends it."""
    warm_up()
    running = None
    try:
        with _signals_held():
            running = _Running(run)
        return running.outcome()
    except BaseException:
        if running is not None:
            running.stop()
        raise


@dataclass
class Build:
    """A build to run, and what its outcome means (``finish`` raises :class:`SiteError` or returns a result text)."""

    edition: str
    what: str
    run: SphinxRun
    finish: Callable[[CompletedProcess], str]
    seconds: float = 0.0


def run_builds(builds: list[Build], jobs: int, progress: Progress) -> None:
    """Run ``builds`` in order, up to ``jobs`` at once, each a progress step from its start to its end.

    A failed build starts no further one; those already running end, and the
    errors of all failed builds are raised together. Ctrl-C or SIGTERM
    (KeyboardInterrupt) ends every running build at once.
    """
    warm_up()
    waiting = list(builds)
    running: dict[multiprocessing.connection.Connection, tuple[Build, _Running, Step]] = {}
    failures: list[str] = []
    try:
        while running or (waiting and not failures):
            while waiting and not failures and len(running) < jobs:
                build = waiting.pop(0)
                with _signals_held():
                    started = _Running(build.run)  # waits for the warm process to be ready, the first time
                    running[started.answer] = (build, started, progress.begin(build.edition, build.what))
            for answer in multiprocessing.connection.wait(list(running)):
                build, started, step = running.pop(answer)
                outcome = started.outcome()
                build.seconds = step.seconds
                try:
                    result = build.finish(outcome)
                except SiteError as exc:
                    step.abort()
                    failures.append(str(exc))
                else:
                    step.end(result)
    except BaseException:
        for _, started, _ in running.values():
            started.process.terminate()
        for _, started, step in running.values():
            started.stop()
            step.abort()
        raise
    if failures:
        raise SiteError("\n\n".join(failures))
