"""The first ``make serve`` tells the operator where everything is and how to let the first editor in."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from feedback_service import db
from tests.browser.conftest import _free_port
from tests.conftest import ROOT

from .conftest import wait_for


def serve_once(site_dir: Path, workdir: Path) -> str:
    """Start ``python -m feedback_service serve`` in ``workdir``, wait until it answers, stop it; its output."""
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("FEEDBACK_")}
    env.update(FEEDBACK_SITE_DIR=str(site_dir), PYTHONPATH=str(ROOT))
    process = subprocess.Popen([sys.executable, "-m", "feedback_service", "serve", "--port", str(port)],
                               cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        def healthy() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/api/v1/health").status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, timeout=30)
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=30)
    return out.replace(str(port), "PORT")


def test_serve_names_site_api_and_workspace_and_the_first_editors_command(site_dir, tmp_path):
    out = serve_once(site_dir, tmp_path)
    assert "  Website:  http://127.0.0.1:PORT/\n" in out
    assert "  API:      http://127.0.0.1:PORT/api/v1/\n" in out
    database = db.Database(f"sqlite:///{tmp_path / 'var' / 'feedback.sqlite3'}")
    with database.session(write=False) as conn:
        workspace = db.count_editors(conn) is not None
    if not workspace:
        # A service without the editors' workspace names no workspace and no accounts.
        assert "/redaktion/" not in out and "editors add" not in out
        return
    assert "  Redaktion: http://127.0.0.1:PORT/redaktion/\n" in out
    assert "Noch hat die Redaktion kein Konto." in out
    # The interpreter outside the working directory is named plainly.
    assert "\n  python -m feedback_service editors add NAME\n" in out, out
    # The command as printed creates the account; the next start no longer asks for one.
    added = subprocess.run([sys.executable, "-m", "feedback_service", "editors", "add", "anna", "--password-stdin"],
                           cwd=tmp_path, input="ein langes Passwort 2026\n", capture_output=True, text=True,
                           env={key: value for key, value in os.environ.items() if not key.startswith("FEEDBACK_")})
    assert added.returncode == 0, added.stderr
    again = serve_once(site_dir, tmp_path)
    assert "  Redaktion: http://127.0.0.1:PORT/redaktion/\n" in again
    assert "kein Konto" not in again and "editors add" not in again
