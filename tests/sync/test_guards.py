"""A sync never empties the published site because the database went away or was swapped.

The service here is real (``serve`` in a child process with SQLite); the site
build is replaced by a recorder, because what is tested is whether the sync
decides to publish at all: a refused sync must not build, write or move anything.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from feedback_formats import load_comments
from feedback_service import sync
from feedback_service.sync import EXIT_REFUSED, ExportClient, SyncError, SyncPaths, sync_once
from tests.service.conftest import ADMIN, ADMIN_TOKEN, SECTIONS_20, write_manifest
from tests.service.test_processes import ServiceProcess, _env, _post


@pytest.fixture
def builds(monkeypatch) -> list[Path]:
    """Every site build a sync asks for, instead of building it."""
    calls: list[Path] = []
    monkeypatch.setattr(sync, "build_site", lambda site, **options: calls.append(site))
    return calls


@pytest.fixture
def site(tmp_path) -> Path:
    site = tmp_path / "site"
    write_manifest(site / "2.0", "2.0", SECTIONS_20)
    return site


def _paths(tmp_path: Path, site: Path) -> SyncPaths:
    return SyncPaths(comments=tmp_path / "var" / "comments.json", site=site,
                     releases=tmp_path / "releases.toml", project=tmp_path)


def _publish(service: ServiceProcess, count: int) -> list[str]:
    ids = []
    with httpx.Client() as client:
        for number in range(count):
            answer = _post(client, service.url, f"Veröffentlicht {number}")
            assert answer.status_code == 202, answer.text
            ids.append(answer.json()["id"])
            approved = client.post(f"{service.url}/api/v1/admin/comments/{ids[-1]}/approve",
                                   headers=ADMIN)
            assert approved.status_code == 200
    return ids


def test_a_removed_database_loses_nothing_acknowledged_and_the_sync_keeps_the_site(
    tmp_path, site, builds
):
    database = tmp_path / "feedback.sqlite3"
    env = _env(f"sqlite:///{database}", site)
    service = ServiceProcess(env, tmp_path / "service.log", tmp_path)
    paths = _paths(tmp_path, site)
    try:
        published = _publish(service, 6)
        sync_once(ExportClient(service.url, ADMIN_TOKEN), paths)
        assert len(builds) == 1
        before = paths.comments.read_bytes()
        assert {comment.id for comment in load_comments(paths.comments)} == set(published)

        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        with httpx.Client() as client:
            answer = _post(client, service.url, "Nach dem Löschen")
            assert answer.status_code == 503, "a write into a removed database was acknowledged"
            assert client.get(f"{service.url}/api/v1/health").status_code == 503
    finally:
        service.stop()

    # The operator restarts the service: it starts on a new, empty database.
    restarted = ServiceProcess(env, tmp_path / "service.log", tmp_path)
    try:
        with pytest.raises(SyncError) as refused:
            sync_once(ExportClient(restarted.url, ADMIN_TOKEN), paths)
        assert refused.value.exit_code == EXIT_REFUSED
        assert "anderen Datenbank" in str(refused.value)
        assert paths.comments.read_bytes() == before
        assert len(builds) == 1
    finally:
        restarted.stop()


def test_an_export_that_would_remove_most_comments_is_refused_unless_forced(tmp_path, site, builds):
    service = ServiceProcess(_env(f"sqlite:///{tmp_path / 'db.sqlite3'}", site),
                             tmp_path / "service.log", tmp_path)
    paths = _paths(tmp_path, site)
    try:
        published = _publish(service, 6)
        exporter = ExportClient(service.url, ADMIN_TOKEN)
        sync_once(exporter, paths)
        before = paths.comments.read_bytes()
        state = json.loads(paths.state.read_text())
        assert state["database"]
        for comment_id in published[:4]:
            gone = httpx.delete(f"{service.url}/api/v1/admin/comments/{comment_id}", headers=ADMIN)
            assert gone.status_code == 200

        with pytest.raises(SyncError) as refused:
            sync_once(exporter, paths)
        assert refused.value.exit_code == EXIT_REFUSED
        assert "4 von 6" in str(refused.value)
        assert paths.comments.read_bytes() == before
        assert json.loads(paths.state.read_text()) == state
        assert len(builds) == 1

        result = sync_once(exporter, paths, force=True)
        assert result.removed == 4
        assert len(builds) == 2
        assert {comment.id for comment in load_comments(paths.comments)} == set(published[4:])
    finally:
        service.stop()


def test_the_command_line_says_why_and_exits_5(tmp_path, site, builds, capsys):
    service = ServiceProcess(_env(f"sqlite:///{tmp_path / 'db.sqlite3'}", site),
                             tmp_path / "service.log", tmp_path)
    paths = _paths(tmp_path, site)
    try:
        published = _publish(service, 5)
        exporter = ExportClient(service.url, ADMIN_TOKEN)
        assert sync.attempt(exporter, paths, "1") is None
        for comment_id in published:
            httpx.delete(f"{service.url}/api/v1/admin/comments/{comment_id}", headers=ADMIN)
        assert sync.attempt(exporter, paths, "1").exit_code == EXIT_REFUSED
        assert "sync --force" in capsys.readouterr().err
        assert sync.attempt(exporter, paths, "1", force=True) is None
    finally:
        service.stop()
