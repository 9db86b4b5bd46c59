"""Notifications over the wire: a real SMTP server (aiosmtpd), a real HTTP receiver,
real service processes on SQLite and on one shared PostgreSQL."""

from __future__ import annotations

import email
import hashlib
import hmac
import json
import re
import ssl
import subprocess
import threading
import time
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from aiosmtpd.controller import Controller

from feedback_service import db, moderation, notify
from feedback_service.config import ConfigError, load_config
from feedback_service.mail import parse_smtp_url

from .conftest import ADMIN, _free_port, wait_for
from .test_processes import ServiceProcess, _env
from .test_workspace import act, editors, login  # noqa: F401  (editors is a fixture)

EDITORS = ("redaktion@example.org", "vertretung@example.org")
READER = "leserin@example.net"
SECRET = "webhook-geheimnis-0123456789"


class Inbox:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], email.message.EmailMessage]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        with self._lock:
            self.received.append((list(envelope.rcpt_tos), message))
        return "250 OK"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        with self._lock:
            return [message for rcpts, message in self.received if address in rcpts]


class SmtpServer:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or _free_port()
        self.inbox = Inbox()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


class Receiver:
    """A local HTTP server that records webhook calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, str], bytes]] = []
        self.raw_headers: list = []
        calls, raw_headers = self.calls, self.raw_headers

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                calls.append(({k.lower(): v for k, v in self.headers.items()}, body))
                raw_headers.append(self.headers)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    hook = Receiver()
    yield hook
    hook.stop()


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch):
    """In-process services look at the outbox often (processes keep their 5 s)."""
    monkeypatch.setattr(notify.Notifier, "POLL_SECONDS", 0.2)


def mail_settings(smtp_url: str, **extra: str) -> dict[str, str]:
    return {
        "FEEDBACK_SMTP_URL": smtp_url,
        "FEEDBACK_MAIL_FROM": "Handbuch-Redaktion <handbuch@example.org>",
        "FEEDBACK_NOTIFY_EMAILS": ",".join(EDITORS),
        "FEEDBACK_PUBLIC_URL": "https://handbuch.example.org",
        "FEEDBACK_NOTIFY_RETRY": "0.2/0.5",
        **extra,
    }


def submit(client, **fields):
    body = {"section": "qualitaetskultur", "version": "2.0", "text": "Ein Kommentar",
            "consent": True, **fields}
    return client.post("/api/v1/comments", json=body)


def outbox_rows(database_url: str) -> list[dict]:
    with db.Database(database_url).session(write=False) as conn:
        return conn.all("SELECT * FROM outbox ORDER BY id")


def subscriptions(database_url: str) -> list[dict]:
    with db.Database(database_url).session(write=False) as conn:
        return conn.all("SELECT * FROM subscriptions")


def link(body: str, path: str) -> str:
    """The path and query of the link to ``path`` in a mail's text."""
    for word in body.split():
        if f"https://handbuch.example.org{path}?" in word:
            parts = urlsplit(word)
            return f"{parts.path}?{parts.query}"
    raise AssertionError(f"no link to {path} in:\n{body}")


# -- Editors and webhook --------------------------------------------------------------

def test_new_submission_mails_the_editors_and_calls_the_signed_webhook(
    make_client, smtp, receiver, database_url
):
    client = make_client(**mail_settings(
        smtp.url, FEEDBACK_WEBHOOK_URL=receiver.url, FEEDBACK_WEBHOOK_SECRET=SECRET,
    ))
    text = "Bei uns hat das Qualitätshandbuch\n\ngut funktioniert. " + "Mehr dazu. " * 60
    answer = submit(client, text=text, author="Kämmerei Musterstadt", email=READER)
    assert answer.status_code == 202
    comment_id = answer.json()["id"]

    wait_for(lambda: smtp.inbox.received and receiver.calls)
    rcpts, message = smtp.inbox.received[0]
    assert sorted(rcpts) == sorted(EDITORS)
    assert message["Subject"] == "Neu im Handbuch: Kommentar zu 3.2 Qualitätskultur"
    assert message["From"].addresses[0].addr_spec == "handbuch@example.org"
    body = message.get_content()
    assert "Ausgabe 2.0" in body and "Kämmerei Musterstadt" in body
    assert re.search(r"Eingegangen: \d\d\.\d\d\.\d{4}, \d\d:\d\d Uhr", body)
    assert "Bei uns hat das Qualitätshandbuch gut funktioniert." in body
    assert "Mehr dazu. " * 60 not in body, "the excerpt is short"
    assert "https://handbuch.example.org/redaktion/" in body
    assert READER not in message.as_string()

    headers, raw = receiver.calls[0]
    expected = "sha256=" + hmac.new(
        SECRET.encode(), headers["x-feedback-timestamp"].encode() + b"." + raw, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(headers["x-feedback-signature"], expected)
    assert abs(int(headers["x-feedback-timestamp"]) - time.time()) < 60
    assert headers["x-feedback-event"] == "submission.created"
    payload = json.loads(raw)
    assert payload["submission"]["id"] == comment_id
    assert payload["submission"]["section"]["number"] == "3.2"
    assert payload["queue_url"] == "https://handbuch.example.org/redaktion/"
    assert READER not in raw.decode() and "Kämmerei" not in raw.decode()
    wait_for(lambda: all(row["state"] == "sent" for row in outbox_rows(database_url)))
    assert len(smtp.inbox.received) == 1 and len(receiver.calls) == 1


@pytest.mark.parametrize("settings,channels", [
    ({}, []),
    ({"FEEDBACK_WEBHOOK_URL": "http://127.0.0.1:9/hook", "FEEDBACK_WEBHOOK_SECRET": SECRET}, ["webhook"]),
    (mail_settings("smtp://127.0.0.1:1"), ["editors_mail"]),
])
def test_a_submission_queues_only_what_the_service_delivers(make_client, database_url, settings, channels):
    """Nothing configured: nothing queued, so no claim and no write per submission ever follows."""
    client = make_client(**settings)
    assert submit(client).status_code == 202
    assert [row["channel"] for row in outbox_rows(database_url)] == channels


def readme_verifier():
    """The receiver's check exactly as the README shows it to operators."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    code = readme.split("**Webhook prüfen.**", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(code, namespace)
    return namespace["echt"]


def test_the_readme_tells_a_receiver_how_to_verify_a_webhook(make_client, receiver, smtp):
    client = make_client(**mail_settings(
        smtp.url, FEEDBACK_WEBHOOK_URL=receiver.url, FEEDBACK_WEBHOOK_SECRET=SECRET,
    ))
    assert submit(client).status_code == 202
    wait_for(lambda: receiver.calls)
    _, raw = receiver.calls[0]
    headers = receiver.raw_headers[0]
    verify = readme_verifier()
    assert verify(SECRET.encode(), headers, raw)
    assert not verify(b"anderes-geheimnis", headers, raw)
    assert not verify(SECRET.encode(), headers, raw.replace(b"Ein Kommentar", b"Kein Kommentar"))


def test_reader_input_cannot_add_recipients_or_headers(make_client, smtp, database_url):
    client = make_client(**mail_settings(smtp.url))
    text = "Hallo\nBcc: opfer@example.com\r\nSubject: Gewinn\n\nText"
    assert submit(client, text=text, author="Name Bcc: x@example.com").status_code == 202
    wait_for(lambda: smtp.inbox.received)
    rcpts, message = smtp.inbox.received[0]
    assert sorted(rcpts) == sorted(EDITORS)
    assert message["Bcc"] is None
    assert message["Subject"] == "Neu im Handbuch: Kommentar zu 3.2 Qualitätskultur"
    for address in ("x@example.com,opfer", "x@example.com,opfer@example.com",
                    "x@example.com\nBcc: y@example.com"):
        refused = submit(client, email=address, notify=True)
        assert refused.status_code == 422, address
        assert refused.json()["error"]["field"] == "email"


def test_digest_collects_the_editors_mails_of_a_closed_period(
    make_client, smtp, database_url, monkeypatch
):
    passes = []
    deliver_due = notify.Notifier.deliver_due

    async def counted(self):
        passes.append(time.monotonic())
        return await deliver_due(self)

    monkeypatch.setattr(notify.Notifier, "deliver_due", counted)
    client = make_client(**mail_settings(smtp.url, FEEDBACK_NOTIFY_DIGEST="hourly"))
    ids = [submit(client, text=f"Sammelbeitrag {n}").json()["id"] for n in range(2)]
    submit(client, kind="correction", text="Ein Tippfehler")
    started = len(passes)
    time.sleep(1.0)
    assert smtp.inbox.received == [], "nothing before the hour is over"
    assert len(passes) - started <= 8, "waiting rows of the digest must not make the sender spin"
    with db.Database(database_url).session() as conn:
        conn.execute("UPDATE outbox SET created = created - ?", (2 * 3600 * 1000,))
    wait_for(lambda: smtp.inbox.received)
    time.sleep(0.6)
    assert len(smtp.inbox.received) == 1
    message = smtp.inbox.received[0][1]
    assert message["Subject"] == "Neu im Handbuch: 3 Beiträge der letzten Stunde"
    body = message.get_content()
    assert "Sammelbeitrag 0" in body and "Sammelbeitrag 1" in body
    assert "Fehlermeldung zu Abschnitt 3.2 Qualitätskultur" in body
    assert ids


def test_digest_periods():
    from datetime import datetime, timezone

    now = datetime(2026, 12, 2, 6, 30, tzinfo=timezone.utc)  # 07:30 in Berlin
    hourly = notify.digest_cutoff("hourly", now)
    daily = notify.digest_cutoff("daily", now)
    assert hourly == int(datetime(2026, 12, 2, 6, 0, tzinfo=timezone.utc).timestamp() * 1000)
    assert daily == int(datetime(2026, 12, 2, 6, 0, tzinfo=timezone.utc).timestamp() * 1000)
    early = datetime(2026, 12, 2, 5, 59, tzinfo=timezone.utc)  # 06:59 in Berlin
    assert notify.digest_cutoff("daily", early) == daily - 24 * 3600 * 1000
    assert notify.digest_cutoff("immediate", now) is None


def test_a_hanging_mail_server_never_slows_a_submission(make_client, database_url, monkeypatch):
    import socket

    from feedback_service import mail

    monkeypatch.setattr(mail, "TIMEOUT", 2)
    with socket.socket() as silent:  # accepts connections, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        client = make_client(**mail_settings(f"smtp://127.0.0.1:{silent.getsockname()[1]}"))
        for n in range(5):
            started = time.monotonic()
            assert submit(client, text=f"Eilig {n}").status_code == 202
            assert time.monotonic() - started < 1.0
        wait_for(lambda: any(row["last_error"] for row in outbox_rows(database_url)), timeout=15)
    assert all(row["state"] == "pending" for row in outbox_rows(database_url)
               if row["channel"] == "editors_mail")


def test_retries_with_back_off_until_the_smtp_server_answers(make_client, database_url):
    down = SmtpServer()
    client = make_client(**mail_settings(down.url))
    assert submit(client).status_code == 202
    wait_for(lambda: any(row["attempts"] >= 2 for row in outbox_rows(database_url)))
    row = outbox_rows(database_url)[0]
    assert row["state"] == "pending" and row["last_error"]
    down.start()
    try:
        wait_for(lambda: down.inbox.received)
        wait_for(lambda: outbox_rows(database_url)[0]["state"] == "sent")
        time.sleep(0.6)
        assert len(down.inbox.received) == 1
    finally:
        down.stop()


# -- Readers ----------------------------------------------------------------------------

def test_notify_needs_an_email_and_a_comment(make_client, smtp):
    client = make_client(**mail_settings(smtp.url))
    refused = submit(client, notify=True)
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["field"] == "notify" and "E-Mail-Adresse" in error["message"]
    correction = submit(client, kind="correction", email=READER, notify=True)
    assert correction.status_code == 422 and correction.json()["error"]["field"] == "notify"
    form = client.post("/api/v1/comments", data={
        "section": "qualitaetskultur", "version": "2.0", "text": "Formular", "consent": "on",
        "notify": "on",
    })
    assert form.status_code == 422 and "E-Mail-Adresse" in form.text
    without_mail = make_client()
    refused = submit(without_mail, email=READER, notify=True)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "notify_unavailable"


def test_double_opt_in_publication_answer_and_the_address_deleted(
    make_client, smtp, database_url
):
    client = make_client(**mail_settings(smtp.url))
    answer = submit(client, email=READER, notify=True, text="Bitte melden Sie sich")
    assert answer.status_code == 202
    comment_id = answer.json()["id"]
    wait_for(lambda: smtp.inbox.to(READER) and smtp.inbox.to(EDITORS[0]))
    confirmation = smtp.inbox.to(READER)[0]
    assert confirmation["Subject"] == "Bitte bestätigen: Benachrichtigung zu Ihrem Kommentar"
    assert READER not in smtp.inbox.to(EDITORS[0])[0].as_string()
    confirm = link(confirmation.get_content(), notify.CONFIRM_PATH)

    # A mail scanner follows the link: the page asks, nothing is confirmed.
    page = client.get(confirm)
    assert page.status_code == 200 and "Ja, benachrichtigen Sie mich" in page.text
    assert subscriptions(database_url)[0]["confirmed"] is None
    # Approved before the reader confirms: the publication mail waits for the confirmation.
    assert client.post(f"/api/v1/admin/comments/{comment_id}/approve", headers=ADMIN).status_code == 200
    time.sleep(0.6)
    assert len(smtp.inbox.to(READER)) == 1

    path, _, query = confirm.partition("?")
    token = query.removeprefix("token=")
    done = client.post(path, data={"token": token})
    assert done.status_code == 200 and 'role="status"' in done.text
    wait_for(lambda: len(smtp.inbox.to(READER)) == 2)
    published = smtp.inbox.to(READER)[1]
    assert published["Subject"] == "Ihr Kommentar ist freigegeben"
    assert "https://handbuch.example.org/2.0/kapitel-03/index.html#qualitaetskultur" in (
        published.get_content()
    )

    with db.Database(database_url).session() as conn:
        moderation.answer(conn, comment_id, "Danke, wir melden uns.", "anna", "Die Redaktion")
    wait_for(lambda: len(smtp.inbox.to(READER)) == 3)
    answered = smtp.inbox.to(READER)[2]
    assert answered["Subject"] == "Die Redaktion hat auf Ihren Kommentar geantwortet"
    assert "> Danke, wir melden uns." in answered.get_content()
    wait_for(lambda: subscriptions(database_url) == [])
    for message in smtp.inbox.to(READER):
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["List-Unsubscribe"].startswith(
            "<https://handbuch.example.org/benachrichtigung/abbestellen?token="
        )
        assert link(message.get_content(), notify.UNSUBSCRIBE_PATH) in message["List-Unsubscribe"]
    assert client.post(path, data={"token": token}).status_code == 404


def test_an_answer_written_before_approval_is_told_after_the_publication(
    make_client, smtp, database_url
):
    client = make_client(**mail_settings(smtp.url))
    comment_id = submit(client, email=READER, notify=True).json()["id"]
    wait_for(lambda: smtp.inbox.to(READER))
    client.post(notify.CONFIRM_PATH, data={
        "token": link(smtp.inbox.to(READER)[0].get_content(), notify.CONFIRM_PATH).partition("token=")[2]
    })
    with db.Database(database_url).session() as conn:
        moderation.answer(conn, comment_id, "Gute Frage: siehe Abschnitt 4.1.", "anna", "Die Redaktion")
    time.sleep(0.6)
    assert len(smtp.inbox.to(READER)) == 1, "the answer waits for the comment"
    assert client.post(f"/api/v1/admin/comments/{comment_id}/approve", headers=ADMIN).status_code == 200
    wait_for(lambda: len(smtp.inbox.to(READER)) == 3)
    assert [message["Subject"] for message in smtp.inbox.to(READER)[1:]] == [
        "Ihr Kommentar ist freigegeben", "Die Redaktion hat auf Ihren Kommentar geantwortet"]
    assert "Die Redaktion" in smtp.inbox.to(READER)[2].get_content()
    wait_for(lambda: subscriptions(database_url) == [])


def test_one_click_unsubscribe_ends_every_mail(make_client, smtp, database_url):
    client = make_client(**mail_settings(smtp.url))
    comment_id = submit(client, email=READER, notify=True).json()["id"]
    wait_for(lambda: smtp.inbox.to(READER))
    confirmation = smtp.inbox.to(READER)[0]
    client.post(notify.CONFIRM_PATH, data={
        "token": link(confirmation.get_content(), notify.CONFIRM_PATH).partition("token=")[2]
    })
    header = confirmation["List-Unsubscribe"].strip("<>")
    target = urlsplit(header)
    assert client.get(f"{target.path}?{target.query}").status_code == 200
    assert len(subscriptions(database_url)) == 1, "a GET alone unsubscribes nothing"
    one_click = client.post(
        f"{target.path}?{target.query}", content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert one_click.status_code == 200
    assert subscriptions(database_url) == []
    client.post(f"/api/v1/admin/comments/{comment_id}/approve", headers=ADMIN)
    time.sleep(0.6)
    assert len(smtp.inbox.to(READER)) == 1


def test_rejecting_or_deleting_a_comment_deletes_the_address(make_client, smtp, database_url):
    client = make_client(**mail_settings(smtp.url))
    rejected = submit(client, email=READER, notify=True).json()["id"]
    deleted = submit(client, email="zweite@example.net", notify=True).json()["id"]
    assert len(subscriptions(database_url)) == 2
    client.post(f"/api/v1/admin/comments/{rejected}/reject", headers=ADMIN)
    client.delete(f"/api/v1/admin/comments/{deleted}", headers=ADMIN)
    assert subscriptions(database_url) == []


# -- Encryption and login ---------------------------------------------------------------

@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 (the tests trust it through SSL_CERT_FILE)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    return cert, key


@pytest.mark.parametrize("scheme", ["starttls", "smtps"])
def test_encrypted_delivery_with_a_login(make_client, certificate, monkeypatch, scheme):
    from aiosmtpd.smtp import AuthResult

    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        encrypted = server.transport.get_extra_info("ssl_object") is not None
        logins.append((auth_data.login, auth_data.password, encrypted))
        return AuthResult(success=auth_data.password == b"p@ss wort")

    inbox, port = Inbox(), _free_port()
    if scheme == "starttls":
        controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=context,
                                require_starttls=True, authenticator=authenticator)
        url = f"smtp://handbuch:p%40ss%20wort@127.0.0.1:{port}?starttls=1"
    else:
        # aiosmtpd counts only STARTTLS as TLS for AUTH; this connection is TLS from the start.
        controller = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=context,
                                authenticator=authenticator, auth_require_tls=False)
        url = f"smtps://handbuch:p%40ss%20wort@127.0.0.1:{port}"
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    controller.start()
    try:
        client = make_client(**mail_settings(url))
        assert submit(client).status_code == 202
        wait_for(lambda: inbox.received)
    finally:
        controller.stop()
    assert logins == [(b"handbuch", b"p@ss wort", True)]


# -- Settings ---------------------------------------------------------------------------

def test_smtp_urls():
    assert parse_smtp_url("") is None
    plain = parse_smtp_url("smtp://127.0.0.1:2525")
    assert (plain.host, plain.port, plain.tls, plain.starttls) == ("127.0.0.1", 2525, False, False)
    tls = parse_smtp_url("smtps://hb:p%40ss@mail.example.org")
    assert (tls.port, tls.tls, tls.user, tls.password) == (465, True, "hb", "p@ss")
    assert parse_smtp_url("smtp://mail.example.org:587?starttls=1").starttls
    assert "p@ss" not in repr(tls)


@pytest.mark.parametrize("settings,fragment", [
    ({"FEEDBACK_SMTP_URL": "http://mail"}, "FEEDBACK_SMTP_URL"),
    ({"FEEDBACK_SMTP_URL": "smtp://mail:25"}, "FEEDBACK_MAIL_FROM"),
    ({"FEEDBACK_WEBHOOK_URL": "https://chat.example.org/hook"}, "FEEDBACK_WEBHOOK_SECRET"),
    ({"FEEDBACK_NOTIFY_DIGEST": "weekly"}, "FEEDBACK_NOTIFY_DIGEST"),
    ({"FEEDBACK_NOTIFY_EMAILS": "redaktion"}, "FEEDBACK_NOTIFY_EMAILS"),
    ({"FEEDBACK_NOTIFY_RETRY": "60/30"}, "FEEDBACK_NOTIFY_RETRY"),
])
def test_bad_notification_settings_are_named(settings, fragment):
    with pytest.raises(ConfigError, match=fragment):
        load_config(settings)


# -- Processes ----------------------------------------------------------------------------

def test_outbox_survives_a_restart(site_dir, tmp_path):
    url = f"sqlite:///{tmp_path / 'restart.sqlite3'}"
    smtp = SmtpServer()
    env = _env(url, site_dir, **mail_settings(smtp.url))
    service = ServiceProcess(env, tmp_path / "restart.log", tmp_path)
    try:
        posted = httpx.post(f"{service.url}/api/v1/comments", json={
            "section": "qualitaetskultur", "version": "2.0", "text": "Vor dem Neustart",
            "consent": True}, timeout=10)
        assert posted.status_code == 202
        wait_for(lambda: all(row["attempts"] >= 1 for row in outbox_rows(url)))
    finally:
        assert service.stop() == 0
    states = {row["channel"]: row["state"] for row in outbox_rows(url)}
    assert states == {"editors_mail": "pending"}
    smtp.start()
    try:
        restarted = ServiceProcess(env, tmp_path / "restart.log", tmp_path)
        try:
            wait_for(lambda: smtp.inbox.received, timeout=20)
            wait_for(lambda: outbox_rows(url)[0]["state"] == "sent")
            time.sleep(1.0)
            log = (tmp_path / "restart.log").read_text()
            assert "delivered" in log
            assert f"Benachrichtigungen: E-Mail an 2 Adresse(n) der Redaktion (je Beitrag, über {smtp.url})" in log
        finally:
            restarted.stop()
        assert len(smtp.inbox.received) == 1
        assert "Vor dem Neustart" in smtp.inbox.received[0][1].get_content()
    finally:
        smtp.stop()


@pytest.mark.postgres
def test_two_instances_on_one_postgresql_send_each_mail_once(
    postgres_server, site_dir, tmp_path
):
    url = postgres_server.new_database()
    smtp = SmtpServer()
    env = _env(url, site_dir, **mail_settings(smtp.url))
    services = [ServiceProcess(env, tmp_path / f"pg{n}.log", tmp_path) for n in range(2)]
    texts = [f"Beitrag Nummer {n:02d}" for n in range(24)]
    try:
        # The SMTP server is down at first: both instances retry the same backlog.
        with httpx.Client() as client:
            for n, text in enumerate(texts):
                answer = client.post(f"{services[n % 2].url}/api/v1/comments", json={
                    "section": "qualitaetskultur", "version": "2.0", "text": text,
                    "consent": True}, timeout=10)
                assert answer.status_code == 202
        wait_for(lambda: all(row["attempts"] >= 1 for row in outbox_rows(url)), timeout=20)
        smtp.start()
        wait_for(lambda: len(smtp.inbox.received) >= len(texts), timeout=60)
        wait_for(lambda: all(row["state"] == "sent" for row in outbox_rows(url)
                             if row["channel"] == "editors_mail"), timeout=20)
        time.sleep(2.0)
    finally:
        for service in services:
            service.stop()
        smtp.stop()
    bodies = [message.get_content() for _, message in smtp.inbox.received]
    assert len(bodies) == len(texts)
    for text in texts:
        assert sum(text in body for body in bodies) == 1, text


@pytest.mark.postgres
def test_concurrent_claims_skip_each_others_rows(postgres_server):
    """Two instances claiming at the same moment: the second neither waits nor shares."""
    from concurrent.futures import ThreadPoolExecutor

    from feedback_service import outbox

    database = db.Database(postgres_server.new_database())
    database.migrate()
    with database.session() as conn:
        for n in range(10):
            outbox.enqueue(conn, "subscription.confirm", {"comment_id": f"c_{n}"})
    first, second = database.connect(), database.connect()
    try:
        database.begin_write(first)
        mine = outbox.claim(first, "instanz-a", "reader_mail", 4)

        def other():
            with database.transaction(second):
                return outbox.claim(second, "instanz-b", "reader_mail", 10)

        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(other)
            try:
                theirs = pending.result(timeout=5)
            finally:
                first.execute("COMMIT")
    finally:
        first.close()
        second.close()
    assert len(mine) == 4 and len(theirs) == 6
    assert not {row["id"] for row in mine} & {row["id"] for row in theirs}
    with database.session(write=False) as conn:
        owners = conn.all("SELECT lease_owner, COUNT(*) AS n FROM outbox GROUP BY lease_owner")
    assert {row["lease_owner"]: row["n"] for row in owners} == {"instanz-a": 4, "instanz-b": 6}


def test_the_workspace_approval_and_answer_reach_the_reader(
    make_client, smtp, database_url, editors
):
    client = make_client(**mail_settings(smtp.url, FEEDBACK_EDITORS_NAME="Redaktion Musterstadt"))
    comment_id = submit(client, email=READER, notify=True, text="Wie ging das bei Ihnen?").json()["id"]
    wait_for(lambda: smtp.inbox.to(READER))
    client.post(notify.CONFIRM_PATH, data={
        "token": link(smtp.inbox.to(READER)[0].get_content(), notify.CONFIRM_PATH).partition("token=")[2]
    })
    assert login(client).status_code == 303
    assert act(client, comment_id, "freigeben").status_code == 303
    wait_for(lambda: len(smtp.inbox.to(READER)) == 2)
    assert act(client, comment_id, "antworten", antwort="Mit einem Runden Tisch.").status_code == 303
    wait_for(lambda: len(smtp.inbox.to(READER)) == 3)
    answered = smtp.inbox.to(READER)[2].get_content()
    assert "> Mit einem Runden Tisch." in answered and "Redaktion Musterstadt" in answered
    wait_for(lambda: subscriptions(database_url) == [])
