"""The periodic sync is woken by approvals, merges those arriving together, and never gives up.

The sync here is the real one (``BackgroundSync``, as ``serve --sync-every``
starts it, with its bell, its record and its back-off) with the site build
replaced by a recorder: what is tested is when it runs and what it publishes.
Its period is an hour, so only the push can explain a prompt publication.
Each test runs against SQLite and a real PostgreSQL.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from handbook_editions import SiteReport

from feedback_formats import load_comments, utc_timestamp
from feedback_service import db, sync, sync_status
from feedback_service.config import load_config
from feedback_service.sync import BackgroundSync, SyncPaths, sync_once

from .conftest import ADMIN, wait_for
from .test_api import approve, submit
from .test_processes import ServiceProcess
from .test_workspace import editors, login  # noqa: F401  (editors is a fixture)

HOUR = 3600


@dataclass
class Builds:
    """Every site build the sync asked for: the comment ids of the comments file it built from."""

    comments: list[set[str]] = field(default_factory=list)
    fault: bool = False  # while set, the sync's file writes fail as the TypeError of issue 15 did


@pytest.fixture
def builds(monkeypatch) -> Builds:
    recorded = Builds()

    def build_site(site, *, comments, **options):
        recorded.comments.append({comment.id for comment in load_comments(comments)})
        return SiteReport()

    write_atomic = sync.write_atomic

    def faulty_write_atomic(path, data, *args):
        if recorded.fault:
            raise TypeError("a bytes-like object is required, not 'NoneType'")
        return write_atomic(path, data, *args)

    monkeypatch.setattr(sync, "build_site", build_site)
    monkeypatch.setattr(sync, "write_atomic", faulty_write_atomic)
    return recorded


@pytest.fixture
def sync_env(service_env, tmp_path) -> dict[str, str]:
    return {**service_env, "FEEDBACK_COMMENTS_FILE": str(tmp_path / "var" / "comments.json"),
            "FEEDBACK_RELEASES_FILE": str(tmp_path / "releases.toml")}


@pytest.fixture
def start_sync(sync_env, builds) -> Iterator:
    """``start_sync(every)``: the background sync of ``serve --sync-every``, after its first run."""
    started: list[BackgroundSync] = []

    def start(every: float = HOUR, **env: str) -> BackgroundSync:
        config = load_config({**sync_env, **env})
        db.Database(config.database_url).migrate()
        background = BackgroundSync(config, every)
        started.append(background)
        background.listen()
        background.start()
        wait_for(lambda: background.periodic.runs >= 1 and not background.periodic.running.is_set(), timeout=30)
        return background

    yield start
    for background in started:
        background.stop()


def published(sync_env) -> set[str]:
    path = Path(sync_env["FEEDBACK_COMMENTS_FILE"])
    return {comment.id for comment in load_comments(path)} if path.is_file() else set()


def built(builds: Builds) -> set[str]:
    """The comments of every site the sync has built so far."""
    return set().union(*builds.comments)


def approved_comment(client, text: str) -> str:
    answer = submit(client, text=text)
    assert answer.status_code == 202, answer.text
    comment_id = answer.json()["id"]
    approve(client, comment_id)
    return comment_id


def test_an_approval_is_published_at_once_not_at_the_next_period(start_sync, client, sync_env, builds):
    start_sync(every=HOUR)
    comment_id = approved_comment(client, "Gleich nach der Freigabe auf der Website")
    wait_for(lambda: comment_id in built(builds), timeout=30)
    assert builds.comments == [{comment_id}]


def test_approvals_arriving_while_a_sync_runs_make_one_build_and_one_more_run(
    start_sync, client, sync_env, builds
):
    background = start_sync(every=HOUR)
    runs = background.periodic.runs
    with open(sync.sync_paths(load_config(sync_env)).lock, "w") as held:
        # Another sync (make sync, say) holds the lock: the woken run waits for it.
        fcntl.flock(held, fcntl.LOCK_EX)
        first = approved_comment(client, "Die erste Freigabe")
        wait_for(lambda: background.periodic.running.is_set())
        more = {approved_comment(client, f"Freigabe Nummer {n}") for n in (2, 3)}
    wait_for(lambda: background.periodic.runs == runs + 2 and not background.periodic.running.is_set(),
             timeout=30)
    time.sleep(3 * sync.DEBOUNCE)
    assert background.periodic.runs == runs + 2
    # The waiting run brought all three in one build; the rings during it brought one run, which built nothing.
    assert builds.comments == [{first} | more]
    assert published(sync_env) == {first} | more


def test_a_sync_that_raised_goes_on_shows_the_trouble_while_it_lasts_and_then_publishes(
    start_sync, client, sync_env, builds, editors, caplog  # noqa: F811
):
    # Every second, so that three periods without success (stale) pass within the test.
    background = start_sync(every=1)
    assert client.get("/api/v1/health").json() == {"status": "ok"}
    builds.fault = True
    caplog.set_level(logging.ERROR, logger="feedback_service.sync")
    comment_id = approved_comment(client, "Erscheint, sobald der Abgleich wieder geht")

    def health_names_the_trouble():
        answer = client.get("/api/v1/health")
        return answer.status_code == 200 and answer.json().get("sync")

    trouble = wait_for(health_names_the_trouble, timeout=30)
    assert client.get("/api/v1/health").json()["status"] == "ok"
    assert trouble["status"] == "stale" and trouble["failures"] >= 1
    assert "Freigegebene Kommentare erscheinen derzeit nicht" in trouble["message"]
    assert "TypeError" in trouble["message"]
    assert login(client).status_code == 303
    notice = client.get("/redaktion/").text
    assert "Veröffentlichung gestört" in notice and "TypeError" in notice
    failed = [record for record in caplog.records if "Unerwarteter Fehler (TypeError" in record.getMessage()]
    assert failed and failed[0].exc_info is not None  # the traceback goes to the log

    builds.fault = False
    wait_for(lambda: comment_id in built(builds), timeout=30)
    assert background.thread.is_alive()
    wait_for(lambda: client.get("/api/v1/health").json() == {"status": "ok"}, timeout=30)
    assert "Veröffentlichung gestört" not in client.get("/redaktion/").text


def test_an_approval_on_the_command_line_wakes_the_sync_of_serve(start_sync, sync_env, client, builds, tmp_path):
    start_sync(every=HOUR)
    comment_id = submit(client, text="Auf der Kommandozeile freigegeben").json()["id"]
    result = subprocess.run([sys.executable, "-m", "feedback_service", "moderate", "approve", comment_id],
                            env={**os.environ, **sync_env}, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    wait_for(lambda: comment_id in built(builds), timeout=30)


def test_an_approval_without_any_sync_listening_succeeds(client, sync_env, builds):
    comment_id = approved_comment(client, "Niemand gleicht ab")
    assert client.get("/api/v1/admin/comments?status=approved", headers=ADMIN).json()["comments"][0]["id"] \
        == comment_id
    assert builds.comments == []


def test_a_stopped_sync_leaves_no_trouble_behind(start_sync, client):
    background = start_sync(every=1)
    background.stop()
    database = client.app.state.service.db
    with database.session(write=False) as conn:
        assert sync_status.read(conn) is None


@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_an_approval_on_one_instance_wakes_the_sync_attached_to_another(tmp_path, start_sync, sync_env, builds):
    # Instance A: a service process of its own, no sync. Instance B's sync listens to the same database.
    instance_a = ServiceProcess(sync_env, tmp_path / "a.log", tmp_path)
    try:
        start_sync(every=HOUR)
        with httpx.Client(base_url=instance_a.url) as client:
            comment_id = client.post("/api/v1/comments", json={
                "section": "qualitaetskultur", "version": "2.0", "consent": True,
                "text": "Auf Instanz A freigegeben",
            }).json()["id"]
            assert client.post(f"/api/v1/admin/comments/{comment_id}/approve", headers=ADMIN).status_code == 200
        wait_for(lambda: comment_id in built(builds), timeout=30)
    finally:
        instance_a.stop()


# -- The stale sync as health and the workspace show it -------------------------------

def _record(client, **fields) -> None:
    status = sync_status.SyncStatus(owner="elsewhere:1", every=30, started=fields.pop("started"), **fields)
    database = client.app.state.service.db
    with database.session() as conn:
        db.write_meta(conn, sync_status.KEY, status.to_json())


def _ago(**delta) -> str:
    return utc_timestamp(datetime.now(timezone.utc) - timedelta(**delta))


def test_health_and_workspace_name_a_sync_that_has_not_succeeded_for_three_periods(client, editors):  # noqa: F811
    _record(client, started=_ago(hours=2), last_success=_ago(minutes=5), failures=4,
            error="Der Feedback-Dienst antwortet nicht.")
    answer = client.get("/api/v1/health")
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "ok"
    assert body["sync"]["status"] == "stale" and body["sync"]["failures"] == 4
    assert "4 Versuche gescheitert, zuletzt: Der Feedback-Dienst antwortet nicht." in body["sync"]["message"]
    assert login(client).status_code == 303
    for page in ("/redaktion/", "/redaktion/protokoll"):
        text = client.get(page).text
        assert "Veröffentlichung gestört" in text and "Der Feedback-Dienst antwortet nicht." in text


def test_a_sync_that_stopped_reporting_is_named_too(client):
    _record(client, started=_ago(hours=2), last_success=_ago(minutes=20))
    message = client.get("/api/v1/health").json()["sync"]["message"]
    assert "nicht mehr gemeldet" in message


# Ages, not timestamps: a timestamp taken when the file is collected is minutes old
# by the time the test runs in a long session.
@pytest.mark.parametrize("ages", [
    {"started": {"hours": 2}, "last_success": {"seconds": 20}},
    # A long first build that has not failed is no trouble yet.
    {"started": {"minutes": 5}, "running_since": {"minutes": 5}},
])
def test_a_sync_that_keeps_up_leaves_health_as_the_contract_says(client, editors, ages):  # noqa: F811
    _record(client, **{field: _ago(**age) for field, age in ages.items()})
    assert client.get("/api/v1/health").json() == {"status": "ok"}
    assert login(client).status_code == 303
    assert "Veröffentlichung gestört" not in client.get("/redaktion/").text


# -- The defect that ended the background sync ---------------------------------------

def test_a_sync_state_beside_a_missing_comments_file_publishes_an_empty_one(tmp_path, database_url, builds):
    database = db.Database(database_url)
    database.migrate()
    exporter = sync.DatabaseExport(database_url)
    paths = SyncPaths(comments=tmp_path / "var" / "comments.json", site=tmp_path / "site",
                      releases=tmp_path / "releases.toml", project=tmp_path)
    with database.session(write=False) as conn:
        identity = db.database_id(conn)
    paths.state.parent.mkdir(parents=True)
    paths.state.write_text(json.dumps({"service": exporter.source, "database": identity, "cursor": "7",
                                       "published": "0" * 64}), encoding="utf-8")
    result = sync_once(exporter, paths)
    assert result.site is not None and builds.comments == [set()]
    assert load_comments(paths.comments) == []
