"""The warm process that every Sphinx build is forked from (``handbook_editions.workers``, ``.preload``)."""

from __future__ import annotations

import subprocess
import sys

from .conftest import ROOT


def test_a_program_that_imports_the_preload_itself_keeps_its_own_exit_status():
    # Only the fork server's process leaves without teardown; anywhere else the
    # status a program exits with must survive the import.
    result = subprocess.run(
        [sys.executable, "-c", "import handbook_editions.preload; raise SystemExit(3)"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 3, result.stderr


def test_the_warm_process_is_told_to_leave_without_teardown():
    # In a child forked from the warm process, its exit handlers end the process at once (status 0)
    # instead of letting it go on to the status the child would have ended with.
    script = (
        "import atexit, os\n"
        "from handbook_editions import workers\n"
        "def probe():\n"
        "    atexit._run_exitfuncs()\n"
        "    os._exit(7)\n"
        "if __name__ == '__main__':\n"
        "    workers.warm_up()\n"
        "    child = workers._FORK.Process(target=probe)\n"
        "    child.start(); child.join()\n"
        "    print(child.exitcode)\n"
    )
    probe = ROOT / "build" / "warm_probe.py"
    probe.parent.mkdir(exist_ok=True)
    probe.write_text(script, encoding="utf-8")
    try:
        result = subprocess.run([sys.executable, str(probe)], cwd=ROOT, capture_output=True, text=True,
                                timeout=120)
    finally:
        probe.unlink()
    assert result.stdout.split() == ["0"], result.stdout + result.stderr
