"""The command line of editors and operators, and the documented settings."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from feedback_service import db
from feedback_service.cli import main
from feedback_service.config import SETTINGS, ConfigError, load_config
from starlette.testclient import TestClient

from .conftest import ADMIN, _free_port, wait_for
from .test_api import submit

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli_env(service_env, monkeypatch):
    for name, value in service_env.items():
        monkeypatch.setenv(name, value)
    return service_env


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_every_setting_is_documented_in_the_readme():
    """The README's table says what config.py says: operators read one text, not two."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Konfiguration", 1)[1].split("\n## ", 1)[0]
    for setting in SETTINGS:
        default = f"`{setting.default}`" if setting.default else "(leer)"
        assert f"| `{setting.name}` | {default} | {setting.help} |" in section, setting.name


def test_the_rate_limits_record_is_explained_where_operators_look():
    """What the rate limit keeps about a reader (docs/datenschutz.md tells readers the same)."""
    [rate_limit] = [setting.help for setting in SETTINGS if setting.name == "FEEDBACK_RATE_LIMIT"]
    for fact in ("HMAC der Adresse", "/64", "FEEDBACK_SECRET", "24 Stunden", "nie die Adresse selbst"):
        assert fact in rate_limit, fact


@pytest.mark.parametrize("name,value,fragment", [
    ("FEEDBACK_RATE_LIMIT", "zehn", "N/SEKUNDEN"),
    ("FEEDBACK_RATE_LIMIT", "5/0", "N/SEKUNDEN"),
    ("FEEDBACK_DATABASE_URL", "mysql://x", "sqlite:///"),
    ("FEEDBACK_ALLOWED_ORIGINS", "handbuch.example.org", "kein Origin"),
    ("FEEDBACK_TRUSTED_PROXIES", "proxy", "CIDR"),
    ("FEEDBACK_MAX_LINKS", "-1", "≥ 0"),
])
def test_bad_settings_are_named_in_the_error(name, value, fragment):
    with pytest.raises(ConfigError, match=re.escape(fragment)) as caught:
        load_config({name: value})
    assert name in str(caught.value)


def test_moderate_from_the_shell(client, cli_env, capsys):
    first = submit(client, text="Erster Kommentar\nmit zwei Zeilen").json()["id"]
    second = submit(client, text="Zweiter", author="").json()["id"]
    code, out, _ = run_cli(capsys, "moderate", "list")
    assert code == 0
    assert first in out and second in out
    assert "3.2 Qualitätskultur" in out and "Ausgabe 2.0" in out
    assert "Kämmerei Musterstadt <kaemmerei@example.org>" in out and "anonym" in out
    assert "    mit zwei Zeilen" in out

    assert run_cli(capsys, "moderate", "approve", first)[:2] == (0, f"{first}: freigegeben\n")
    assert run_cli(capsys, "moderate", "reject", second)[:2] == (0, f"{second}: abgelehnt\n")
    code, out, _ = run_cli(capsys, "moderate", "list", "--status", "approved")
    assert first in out and second not in out
    assert [c["id"] for c in client.get(
        "/api/v1/comments?section=qualitaetskultur").json()["comments"]] == [first]

    code, _, err = run_cli(capsys, "moderate", "delete", first, "c_01JZZZZZZZZZZZZZZZZZZZZZZZ")
    assert code == 1 and "gibt es nicht" in err
    assert client.get("/api/v1/comments?section=qualitaetskultur").json() == {"comments": []}


def test_corrections_report_for_the_next_edition(client, cli_env, capsys, tmp_path):
    submit(client, kind="correction", consent=None, text="Seite 12: „Regsiter“ statt Register")
    submit(client, kind="correction", consent=None, version="1.0", section="altes-kapitel",
           text="Link veraltet", author="", email="")
    submit(client, text="Ein normaler Kommentar")
    client.post("/api/v1/ratings", json={"doc": "kapitel-03/index", "version": "2.0", "helpful": "no",
                                         "reason": "Der Text ist schwer verständlich"})
    report = tmp_path / "korrekturen.md"
    code, out, _ = run_cli(capsys, "corrections", "--output", str(report))
    assert code == 0 and "2 Fehlermeldung(en)" in out
    text = report.read_text(encoding="utf-8")
    assert text.startswith("# Gemeldete Fehler")
    assert text.index("## 3.2 Qualitätskultur") < text.index("## 5.1 Ein altes Kapitel")
    assert "> Seite 12: „Regsiter“ statt Register" in text
    assert "Ausgabe 1.0, anonym" in text
    assert "Ein normaler Kommentar" not in text
    ratings = text[text.index("# War diese Seite hilfreich?"):]
    assert "Ja: 0, Nein: 1" in ratings and "- 1 ×: Der Text ist schwer verständlich" in ratings


def test_purge_removes_rejected_comments_after_30_days(client, cli_env, capsys):
    old, recent = (submit(client, text=t).json()["id"] for t in ("alt", "neu"))
    for comment_id in (old, recent):
        client.post(f"/api/v1/admin/comments/{comment_id}/reject", headers=ADMIN)
    with db.Database(cli_env["FEEDBACK_DATABASE_URL"]).session() as conn:
        conn.execute("UPDATE comments SET status_changed = ? WHERE id = ?",
                     ("2020-01-01T00:00:00Z", old))
    code, out, _ = run_cli(capsys, "purge")
    assert code == 0 and "Gelöscht: 1 abgelehnte" in out
    left = client.get("/api/v1/admin/comments?status=rejected", headers=ADMIN).json()
    assert [row["id"] for row in left["comments"]] == [recent]


def test_purge_runs_when_the_service_starts(service_env, client):
    comment_id = submit(client).json()["id"]
    client.post(f"/api/v1/admin/comments/{comment_id}/reject", headers=ADMIN)
    with db.Database(service_env["FEEDBACK_DATABASE_URL"]).session() as conn:
        conn.execute("UPDATE comments SET status_changed = '2020-01-01T00:00:00Z'")
    from feedback_service.app import create_app

    with TestClient(create_app(load_config(service_env))) as restarted:
        assert restarted.get("/api/v1/admin/comments", headers=ADMIN).json() == {"comments": []}


def test_migrations_are_recorded_once(service_env):
    database = db.Database(service_env["FEEDBACK_DATABASE_URL"])
    first = database.migrate()
    assert first == [name for name, _ in db.MIGRATIONS]
    assert database.migrate() == []
    with database.session(write=False) as conn:
        names = [row["name"] for row in conn.all("SELECT name FROM schema_migrations ORDER BY name")]
    assert names == first


def test_serve_generates_a_private_admin_token_and_stops_on_ctrl_c(site_dir, tmp_path):
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("FEEDBACK_")}
    env.update(FEEDBACK_SITE_DIR=str(site_dir), PYTHONPATH=str(ROOT))
    process = subprocess.Popen(
        [sys.executable, "-m", "feedback_service", "serve", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        def healthy():
            try:
                return httpx.get(f"http://127.0.0.1:{port}/api/v1/health").status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, timeout=30)
        token_file = tmp_path / "var" / "feedback-admin-token"
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        token = token_file.read_text().strip()
        assert len(token) >= 32
        assert (tmp_path / "var" / "feedback.sqlite3").is_file()
        listed = httpx.get(f"http://127.0.0.1:{port}/api/v1/admin/comments",
                           headers={"Authorization": f"Bearer {token}"})
        assert listed.status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert f"http://127.0.0.1:{port}/api/v1/openapi.json" in out
    assert 'export FEEDBACK_ADMIN_TOKEN="$(cat var/feedback-admin-token)"' in out
    assert "moderate list" in out and "Strg+C" in out
    assert token not in out


def test_sync_takes_the_admin_token_from_the_environment_then_the_token_file(tmp_path):
    env = {**os.environ, "FEEDBACK_ADMIN_TOKEN": "", "FEEDBACK_SERVICE_URL": f"http://127.0.0.1:{_free_port()}",
           "FEEDBACK_COMMENTS_FILE": str(tmp_path / "comments.json")}

    def sync() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "feedback_service", "sync"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)

    without = sync()
    assert without.returncode == 2, without.stderr
    assert "FEEDBACK_ADMIN_TOKEN ist nicht gesetzt (und var/feedback-admin-token fehlt)" in without.stderr
    token_file = tmp_path / "var" / "feedback-admin-token"
    token_file.parent.mkdir()
    token_file.write_text("aus-der-datei\n", encoding="utf-8")
    with_file = sync()
    assert with_file.returncode == 3, with_file.stderr
    assert "nicht erreichbar" in with_file.stderr
    assert not (tmp_path / "comments.json").exists()
