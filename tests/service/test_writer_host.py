"""The shared writer of ``serve``'s processes on SQLite (``writer_host``): every comment written once."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import httpx
import pytest

from feedback_service import comments, db, writer_host
from feedback_service.config import load_config
from feedback_service.errors import ApiError, ValidationFailed
from feedback_service.ratelimit import RateLimiter
from feedback_service.sections import SectionCatalog
from feedback_service.validation import validate_submission

from .conftest import ADMIN_TOKEN
from .test_processes import ServiceProcess, _all_rows, _env

SECRET = "test-secret-of-the-service"


@pytest.fixture
def config(tmp_path, site_dir):
    return load_config({
        "FEEDBACK_DATABASE_URL": f"sqlite:///{tmp_path / 'shared.sqlite3'}", "FEEDBACK_SITE_DIR": str(site_dir),
        "FEEDBACK_ADMIN_TOKEN": ADMIN_TOKEN, "FEEDBACK_SECRET": SECRET, "FEEDBACK_RATE_LIMIT": "2/600",
    })


@pytest.fixture
def host(config):
    db.Database(config.database_url).migrate()
    host = writer_host.WriterHost(config)
    host.start()
    yield host
    host.stop()


def _new(config, text: str, address: str = "10.1.2.3", key: str | None = None, **fields) -> comments.NewComment:
    submission = validate_submission(
        {"section": "qualitaetskultur", "version": "2.0", "text": text, "consent": True, **fields},
        SectionCatalog(config.site_dir), config.max_links,
    )
    idempotency = None if key is None else comments.IdempotencyKey(key)
    return comments.new_comment(submission, address, RateLimiter(config.rate_limit, SECRET), idempotency, SECRET)


def _run(coroutine):
    return asyncio.run(coroutine)


def test_comments_sent_to_the_host_are_written_and_answered(config, host):
    news = [_new(config, f"Kommentar {n}", address=f"10.0.{n}.1") for n in range(20)]

    async def send_all():
        remote = writer_host.RemoteWriter(str(host.path))
        try:
            return await asyncio.gather(*(remote.store(new) for new in news))
        finally:
            remote.close()

    answers = _run(send_all())
    assert answers == [(202, new.answer) for new in news]
    rows = _all_rows(config.database_url)
    assert {new.answer["id"]: new.row["text"] for new in news} == {
        comment_id: row["text"] for comment_id, row in rows.items()}


def test_the_hosts_refusals_reach_the_worker_as_its_own_writer_raises_them(config, host):
    async def send(new):
        remote = writer_host.RemoteWriter(str(host.path))
        try:
            return await remote.store(new)
        finally:
            remote.close()

    # The rate limit (2 in 10 minutes) counts in the host's database: the third is refused.
    for n in range(2):
        assert _run(send(_new(config, f"Erlaubt {n}")))[0] == 202
    with pytest.raises(ApiError) as refused:
        _run(send(_new(config, "Einer zu viel")))
    assert refused.value.status == 429 and "Retry-After" in refused.value.headers
    assert "Zu viele" in refused.value.message
    # An idempotency key used again for another text.
    assert _run(send(_new(config, "Erster Text", address="10.9.9.9", key="k-1")))[0] == 202
    with pytest.raises(ApiError) as reused:
        _run(send(_new(config, "Anderer Text", address="10.9.9.9", key="k-1")))
    assert (reused.value.status, reused.value.code) == (422, "idempotency_key_reused")
    # A reply to a comment that does not exist: the field's error.
    with pytest.raises(ValidationFailed) as unknown:
        _run(send(_new(config, "Antwort", address="10.8.8.8", reply_to="c_01M8XGX4EF66005G1D0Q3XW1E1")))
    assert [(e.code, e.field) for e in unknown.value.errors] == [("unknown_reply", "reply_to")]
    assert len(_all_rows(config.database_url)) == 3


def test_the_socket_is_only_for_the_services_own_user(host):
    assert stat.S_IMODE(os.stat(host.path.parent).st_mode) == 0o700


def test_a_worker_that_cannot_reach_the_host_writes_the_comment_itself(config, tmp_path, monkeypatch):
    from feedback_service.app import Service

    monkeypatch.setenv(writer_host.SOCKET_ENV, str(tmp_path / "no-host" / "socket"))
    db.Database(config.database_url).migrate()
    service = Service(config)
    new = _new(config, "Trotzdem gespeichert")
    try:
        assert _run(service.store_comment(new)) == (202, new.answer)
    finally:
        service.close()
    assert _all_rows(config.database_url)[new.answer["id"]]["text"] == "Trotzdem gespeichert"


def test_a_retried_write_after_a_lost_answer_keeps_the_comment_once(config, host):
    new = _new(config, "Einmal")

    async def send():
        remote = writer_host.RemoteWriter(str(host.path))
        try:
            return await remote.store(new)
        finally:
            remote.close()

    assert _run(send()) == (202, new.answer)
    # The answer was lost on the way: the worker writes again, knowing the host may have written.
    database = db.Database(config.database_url)
    writer = db.Writer(database)
    job = comments.store_job(new, RateLimiter(config.rate_limit, SECRET), SECRET, config.notifications,
                             retried=True)
    try:
        assert _run(writer.run(job)) == (202, new.answer)
    finally:
        writer.stop()
    assert list(_all_rows(config.database_url)) == [new.answer["id"]]


def test_serve_with_two_processes_writes_their_comments_in_the_supervisor(site_dir, tmp_path):
    url = f"sqlite:///{tmp_path / 'two.sqlite3'}"
    service = ServiceProcess(_env(url, site_dir), tmp_path / "two.log", tmp_path, "--workers", "2")
    try:
        with httpx.Client() as client:
            answers = [client.post(f"{service.url}/api/v1/comments", json={
                "section": "qualitaetskultur", "version": "2.0", "text": f"Kommentar {n}", "consent": True,
            }, timeout=10) for n in range(30)]
        assert [answer.status_code for answer in answers] == [202] * 30
        # The supervisor, which takes no requests, holds the database open: it wrote them.
        database = Path(url.removeprefix("sqlite:///")).resolve()
        held = {Path(os.readlink(fd)) for fd in Path(f"/proc/{service.process.pid}/fd").iterdir()
                if os.path.islink(fd)}
        assert database in held
    finally:
        assert service.stop() == 0
    rows = _all_rows(url)
    assert sorted(rows) == sorted(answer.json()["id"] for answer in answers)
