"""Backups under load, restores, and the JSON export that moves SQLite to PostgreSQL."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from feedback_service import db

from .conftest import ADMIN, wait_for
from .test_api import approve, submit
from .test_processes import ROOT, ServiceProcess, _env, _post


def cli(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "feedback_service", *args],
        env={**{k: v for k, v in os.environ.items() if not k.startswith("FEEDBACK_")},
             "PYTHONPATH": str(ROOT), **env},
        cwd=cwd, capture_output=True, text=True, timeout=120,
    )


def _ids(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {row[0] for row in conn.execute("SELECT id FROM comments")}


def test_a_backup_taken_under_write_load_restores_every_acknowledged_comment(site_dir, tmp_path):
    database = tmp_path / "live.sqlite3"
    env = _env(f"sqlite:///{database}", site_dir)
    service = ServiceProcess(env, tmp_path / "service.log", tmp_path)
    acknowledged: list[tuple[float, str]] = []
    stop = threading.Event()
    lock = threading.Lock()

    def writer(worker: int) -> None:
        with httpx.Client() as client:
            n = 0
            while not stop.is_set():
                n += 1
                answer = _post(client, service.url, f"Sicherungstest {worker}-{n}")
                if answer.status_code == 202:
                    with lock:
                        acknowledged.append((time.monotonic(), answer.json()["id"]))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: len(acknowledged) >= 200, timeout=30)
        started = time.monotonic()
        result = cli(env, "backup", str(tmp_path / "sicherung.sqlite3"), cwd=tmp_path)
        wait_for(lambda: len(acknowledged) >= 400, timeout=30)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        service.stop()
    assert result.returncode == 0, result.stderr
    assert "Sicherung mit" in result.stdout

    restored = tmp_path / "restored.sqlite3"
    result = cli(_env(f"sqlite:///{restored}", site_dir), "restore",
                 str(tmp_path / "sicherung.sqlite3"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    before_backup = {comment_id for at, comment_id in acknowledged if at < started}
    missing = before_backup - _ids(restored)
    assert not missing, f"{len(missing)} comments acknowledged before the backup are missing"
    assert _ids(restored) <= _ids(database)


def test_restore_refuses_to_overwrite_comments_without_force(site_dir, tmp_path, make_client):
    source = tmp_path / "a.sqlite3"
    target = tmp_path / "b.sqlite3"
    first = make_client(FEEDBACK_DATABASE_URL=f"sqlite:///{source}")
    assert submit(first, text="In der Sicherung").status_code == 202
    second = make_client(FEEDBACK_DATABASE_URL=f"sqlite:///{target}")
    assert submit(second, text="Schon in der Zieldatenbank").status_code == 202
    env = _env(f"sqlite:///{source}", site_dir)
    assert cli(env, "backup", str(tmp_path / "s.sqlite3"), cwd=tmp_path).returncode == 0

    target_env = _env(f"sqlite:///{target}", site_dir)
    refused = cli(target_env, "restore", str(tmp_path / "s.sqlite3"), cwd=tmp_path)
    assert refused.returncode == 3
    assert "--force" in refused.stderr and "enthält Beiträge" in refused.stderr
    assert {row for row in _texts(target)} == {"Schon in der Zieldatenbank"}

    forced = cli(target_env, "restore", "--force", str(tmp_path / "s.sqlite3"), cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert _texts(target) == {"In der Sicherung"}


def _texts(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {row[0] for row in conn.execute("SELECT text FROM comments")}


def test_restore_refuses_a_file_that_is_no_backup(site_dir, tmp_path):
    junk = tmp_path / "junk.sqlite3"
    junk.write_text("keine Datenbank")
    env = _env(f"sqlite:///{tmp_path / 'target.sqlite3'}", site_dir)
    result = cli(env, "restore", str(junk), cwd=tmp_path)
    assert result.returncode == 1
    assert "keine Sicherung dieses Dienstes" in result.stderr


@pytest.mark.postgres
def test_export_and_import_move_a_sqlite_installation_to_postgresql(
    site_dir, tmp_path, make_client, postgres_server
):
    sqlite_url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    old = make_client(FEEDBACK_DATABASE_URL=sqlite_url, FEEDBACK_SECRET="shared-secret")
    posted = [submit(old, text=f"Beitrag {n}").json() for n in range(5)]
    approve(old, posted[0]["id"])
    assert old.post(f"/api/v1/admin/comments/{posted[1]['id']}/reject",
                    headers=ADMIN).status_code == 200
    export = tmp_path / "daten.json"
    result = cli({**_env(sqlite_url, site_dir)}, "export", str(export), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(export.read_text(encoding="utf-8"))
    assert "delete_token_hash" not in json.dumps(data)
    assert all("@" in row["email"] or row["email"] == "" for row in data["tables"]["comments"])

    pg_url = postgres_server.new_database()
    env = {**_env(pg_url, site_dir), "FEEDBACK_SECRET": "shared-secret"}
    result = cli(env, "import", str(export), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    new = make_client(FEEDBACK_DATABASE_URL=pg_url, FEEDBACK_SECRET="shared-secret")
    listed = {row["id"]: row for row in
              new.get("/api/v1/admin/comments", headers=ADMIN).json()["comments"]}
    assert set(listed) == {answer["id"] for answer in posted}
    assert listed[posted[0]["id"]]["status"] == "approved"
    assert listed[posted[1]["id"]]["status"] == "rejected"
    # The authors' delete tokens still work after the move (same secret).
    gone = new.request("DELETE", f"/api/v1/comments/{posted[2]['id']}",
                       headers={"X-Delete-Token": posted[2]["delete_token"]})
    assert gone.status_code == 200, gone.text
    # A second import would duplicate: refused, nothing changed.
    again = cli(env, "import", str(export), cwd=tmp_path)
    assert again.returncode == 3
    assert len(new.get("/api/v1/admin/comments", headers=ADMIN).json()["comments"]) == 4
    with db.Database(pg_url).session(write=False) as conn, \
            db.Database(sqlite_url).session(write=False) as old_conn:
        assert db.database_id(conn) != db.database_id(old_conn)


def test_import_refuses_a_malformed_export_and_changes_nothing(site_dir, tmp_path):
    env = _env(f"sqlite:///{tmp_path / 'x.sqlite3'}", site_dir)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": 1, "tables": {"comments": [{"id": "c_1", "bogus": 1}]}}))
    result = cli(env, "import", str(bad), cwd=tmp_path)
    assert result.returncode == 1
    assert "passt nicht zum Schema" in result.stderr
    assert _ids(tmp_path / "x.sqlite3") == set()
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    result = cli(env, "import", str(broken), cwd=tmp_path)
    assert result.returncode == 1 and "JSON" in result.stderr


@pytest.mark.postgres
def test_backup_of_postgresql_points_to_pg_dump(site_dir, tmp_path, postgres_server):
    env = _env(postgres_server.new_database(), site_dir)
    result = cli(env, "backup", str(tmp_path / "x"), cwd=tmp_path)
    assert result.returncode == 2
    assert "pg_dump" in result.stderr
