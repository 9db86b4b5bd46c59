"""Notifications: who hears of what, the readers' double opt-in, and the sender.

Hooks, each called with the connection of the write transaction that makes
the change (so the notification is committed with it, and nothing slow runs
there). The functions of ``comments.py`` and ``moderation.py`` call them, so
the admin API, the CLI and the editors' workspace all notify alike:

- :func:`submission_created` ``(conn, comment, subscribe, settings)``: a new
  submission (``comments.create_job``); the editors' mail and the webhook where
  ``settings`` has them, and with ``subscribe`` the reader's subscription and its
  confirmation mail.
- :func:`comment_published` ``(conn, comment_id)``: a comment was approved
  (``moderation.approve``).
- :func:`comment_answered` ``(conn, comment_id, answer_id)``: the editors'
  answer is out: ``moderation.answer`` on a published comment, or
  ``moderation.approve`` publishing the answers written before.
- :func:`comment_withdrawn` ``(conn, comment_id)``: the reader's subscription
  ends (``moderation.reject`` and ``moderation.remove_comment``).
- :func:`confirm` and :func:`unsubscribe` ``(conn, token)``: the reader's links.
- :func:`purge` ``(conn)``: subscriptions no mail is due for any more.

A reader's subscription holds a copy of the address and one random token
(the links in every mail carry it, so it is stored as it is; it grants
nothing but confirming or ending that one subscription). It is deleted when
no mail is due any more: after the mail about the editors' answer, on
unsubscribing, when the comment is rejected or deleted, unconfirmed after
:data:`CONFIRM_DAYS` days, and :data:`WAIT_FOR_ANSWER_DAYS` days after
publication without an answer.

:class:`Notifier` is the sender, an asyncio task of each service process
(started in the app's lifespan): it claims due outbox rows (see
:mod:`feedback_service.outbox`), builds the mails and webhook calls from the
current data, delivers them in a worker thread and records the outcome.
``Notifier.wake()`` makes it look at once instead of at its next poll.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import secrets
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from starlette.concurrency import run_in_threadpool

from feedback_formats import KIND_NAMES, parse_timestamp

from . import db, mail, outbox
from .config import Notifications
from .errors import ApiError, field_error
from .sections import SectionCatalog

log = logging.getLogger("feedback_service.notify")

DAY_MS = 24 * 3600 * 1000
CONFIRM_DAYS = 7
WAIT_FOR_ANSWER_DAYS = 90
CONFIRMED_UNPUBLISHED_DAYS = 180
EXCERPT = 280
DAILY_DIGEST_HOUR = 7
LOCAL_TIME = ZoneInfo("Europe/Berlin")
WEBHOOK_TIMEOUT = 10
CONFIRM_PATH = "/benachrichtigung/bestaetigen"
UNSUBSCRIBE_PATH = "/benachrichtigung/abbestellen"
QUEUE_PATH = "/redaktion/"


def summary(settings: Notifications) -> str:
    """One line for the operator at start: who hears of what."""
    digest = {"immediate": "je Beitrag", "hourly": "stündlich gesammelt", "daily": "täglich gesammelt"}
    parts = []
    if settings.mails_editors:
        parts.append(f"E-Mail an {len(settings.editors)} Adresse(n) der Redaktion "
                     f"({digest[settings.digest]}, über {settings.smtp})")
    if settings.webhook_url:
        parts.append("signierter Webhook")
    if settings.mails_readers:
        parts.append("Leserinnen und Leser auf Wunsch")
    return "Benachrichtigungen: " + (
        ", ".join(parts) if parts else "aus (FEEDBACK_SMTP_URL und FEEDBACK_WEBHOOK_URL sind leer)"
    )


# -- Checking a request ------------------------------------------------------------

def refusal(kind: str, email: str, settings: Notifications) -> ApiError | None:
    """Why a submission asking for ``notify`` cannot be accepted (None: it can)."""
    if kind != "comment":
        return field_error(
            "notify_comments_only",
            "Eine Benachrichtigung gibt es nur für Kommentare; Meldungen an die Redaktion "
            "werden nicht veröffentlicht.", "notify",
        )
    if not email:
        return field_error(
            "notify_needs_email",
            "Für die Benachrichtigung brauchen wir Ihre E-Mail-Adresse. Bitte tragen Sie sie ein "
            "oder entfernen Sie das Häkchen bei „Benachrichtigen Sie mich“.", "notify",
        )
    address = mail.mail_address(email)
    if address is None or address.display_name or address.addr_spec != email:
        return field_error(
            "invalid_email",
            "An diese E-Mail-Adresse können wir keine Benachrichtigung schicken "
            "(Beispiel: name@example.org).", "email",
        )
    if not settings.mails_readers:
        return field_error(
            "notify_unavailable",
            "Dieser Dienst verschickt keine E-Mails; eine Benachrichtigung ist nicht möglich. "
            "Bitte entfernen Sie das Häkchen.", "notify",
        )
    return None


# -- Hooks (inside the caller's write transaction) --------------------------------

def channels(settings: Notifications) -> frozenset[str]:
    """The outbox channels this service delivers; a submission writes rows for these only."""
    active = {
        "editors_mail": settings.mails_editors,
        "webhook": bool(settings.webhook_url),
        "reader_mail": settings.mails_readers,
    }
    return frozenset(channel for channel, on in active.items() if on)


def submission_created(conn: db.Connection, comment: dict, subscribe: bool, settings: Notifications) -> None:
    # Unconfigured channels get no row: it could only ever be dropped, at the cost of a
    # claim and a write per submission (a third of a POST's work when nothing is configured).
    outbox.enqueue(conn, "submission.created", {"comment_id": comment["id"]}, channels(settings))
    if subscribe:
        now = outbox.now_ms()
        conn.execute(
            "INSERT INTO subscriptions (comment_id, email, token, created, expires) "
            "VALUES (?, ?, ?, ?, ?)",
            (comment["id"], comment["email"], secrets.token_urlsafe(32), now,
             now + CONFIRM_DAYS * DAY_MS),
        )
        outbox.enqueue(conn, "subscription.confirm", {"comment_id": comment["id"]})


def _subscription(conn: db.Connection, comment_id: str) -> dict | None:
    return conn.one("SELECT * FROM subscriptions WHERE comment_id = ?", (comment_id,))


def _set_expiry(conn: db.Connection, comment_id: str, days: int) -> None:
    conn.execute(
        "UPDATE subscriptions SET expires = ? WHERE comment_id = ?",
        (outbox.now_ms() + days * DAY_MS, comment_id),
    )


def comment_published(conn: db.Connection, comment_id: str) -> None:
    subscription = _subscription(conn, comment_id)
    if subscription is not None and subscription["confirmed"] is not None:
        outbox.enqueue(conn, "comment.published", {"comment_id": comment_id})
        _set_expiry(conn, comment_id, WAIT_FOR_ANSWER_DAYS)


def comment_answered(conn: db.Connection, comment_id: str, answer_id: str) -> None:
    subscription = _subscription(conn, comment_id)
    if subscription is None:
        return
    if subscription["confirmed"] is not None:
        outbox.enqueue(conn, "comment.answered", {"comment_id": comment_id, "answer_id": answer_id})
    else:
        conn.execute(
            "UPDATE subscriptions SET answer_id = ? WHERE comment_id = ?", (answer_id, comment_id)
        )


def comment_withdrawn(conn: db.Connection, comment_id: str) -> None:
    conn.execute("DELETE FROM subscriptions WHERE comment_id = ?", (comment_id,))


def find_subscription(conn: db.Connection, token: str) -> dict | None:
    if not token or len(token) > 100:
        return None
    return conn.one("SELECT * FROM subscriptions WHERE token = ?", (token,))


def confirm(conn: db.Connection, token: str) -> dict | None:
    """Confirm the subscription of ``token``; mails already due follow. None: unknown token."""
    subscription = find_subscription(conn, token)
    if subscription is None or subscription["confirmed"] is not None:
        return subscription
    comment_id = subscription["comment_id"]
    conn.execute(
        "UPDATE subscriptions SET confirmed = ? WHERE comment_id = ?",
        (outbox.now_ms(), comment_id),
    )
    _set_expiry(conn, comment_id, CONFIRMED_UNPUBLISHED_DAYS)
    comment = db.get_comment(conn, comment_id)
    if comment is not None and comment["status"] == "approved":
        comment_published(conn, comment_id)
    if subscription["answer_id"]:
        comment_answered(conn, comment_id, subscription["answer_id"])
    return subscription


def unsubscribe(conn: db.Connection, token: str) -> bool:
    subscription = find_subscription(conn, token)
    if subscription is None:
        return False
    comment_withdrawn(conn, subscription["comment_id"])
    return True


def purge(conn: db.Connection) -> dict[str, int]:
    expired = conn.execute(
        "DELETE FROM subscriptions WHERE expires < ? "
        "OR comment_id NOT IN (SELECT id FROM comments)",
        (outbox.now_ms(),),
    ).rowcount
    return {"subscriptions": expired, "outbox": outbox.purge(conn)}


# -- What a delivery says -----------------------------------------------------------

_MAIL_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates" / "mail"),
    autoescape=False,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    undefined=jinja2.StrictUndefined,
)


def render_mail(template: str, unsubscribe_url: str | None = None, **context: Any) -> mail.Mail:
    """A mail from ``templates/mail/<template>``: its ``subject`` variable and its text."""
    module = _MAIL_TEMPLATES.get_template(template).make_module(
        {**context, "unsubscribe_url": unsubscribe_url}
    )
    subject = " ".join(str(module.subject).split())
    return mail.Mail(subject=subject, body=str(module).strip() + "\n", unsubscribe_url=unsubscribe_url)


def excerpt(text: str, limit: int = EXCERPT) -> str:
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return flat[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class Item:
    """One submission as the editors' mail and the webhook describe it."""

    id: str
    kind: str
    kind_label: str
    section: str
    section_number: str
    section_title: str
    section_url: str
    version: str
    author: str
    created: str
    received: str
    excerpt: str

    @property
    def section_label(self) -> str:
        return " ".join(part for part in (self.section_number, self.section_title) if part) or (
            self.section
        )


def _section_url(base: str, catalog: SectionCatalog, version: str, section: str) -> str:
    found = catalog.describe(version, section)
    return f"{base}/{version}/{found.url}" if found is not None and found.url else f"{base}/{version}/"


def _local_time(value: str) -> str:
    """A stored UTC time as German readers read it."""
    moment = parse_timestamp(value)
    return moment.astimezone(LOCAL_TIME).strftime("%d.%m.%Y, %H:%M Uhr") if moment else value


def describe(comment: dict, catalog: SectionCatalog, base: str) -> Item:
    found = catalog.describe(comment["version"], comment["section"])
    return Item(
        id=comment["id"],
        kind=comment["kind"],
        kind_label=KIND_NAMES.get(comment["kind"], comment["kind"]),
        section=comment["section"],
        section_number=found.number if found else "",
        section_title=found.title if found else "",
        section_url=_section_url(base, catalog, comment["version"], comment["section"]),
        version=comment["version"],
        author=comment["author"],
        created=comment["created"],
        received=_local_time(comment["created"]),
        excerpt=excerpt(comment["text"]),
    )


def sign_webhook(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 over ``<timestamp>.<body>`` with the shared secret."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def webhook_body(item: Item, queue_url: str) -> dict:
    return {
        "event": "submission.created",
        "text": f"Neu im Handbuch: {item.kind_label} zu {item.section_label} "
                f"(Ausgabe {item.version}): {item.excerpt} – {queue_url}",
        "submission": {
            "id": item.id, "kind": item.kind, "kind_label": item.kind_label,
            "section": {"id": item.section, "number": item.section_number,
                        "title": item.section_title, "url": item.section_url},
            "version": item.version, "created": item.created, "excerpt": item.excerpt,
        },
        "queue_url": queue_url,
    }


class PermanentFailure(Exception):
    """The receiver refused for good; retrying will not help."""


def post_webhook(url: str, secret: str, delivery: int, body: dict) -> None:
    data = json.dumps(body, ensure_ascii=False).encode()
    timestamp = str(int(time.time()))
    request = urllib.request.Request(url, data=data, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "feedback-service",
        "X-Feedback-Event": body["event"],
        "X-Feedback-Delivery": str(delivery),
        "X-Feedback-Timestamp": timestamp,
        "X-Feedback-Signature": sign_webhook(secret, timestamp, data),
    })
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT) as answer:
            answer.read()
    except urllib.error.HTTPError as exc:
        if 400 <= exc.code < 500 and exc.code not in (408, 425, 429):
            raise PermanentFailure(f"HTTP {exc.code}") from exc
        raise


# -- The sender ---------------------------------------------------------------------

def digest_cutoff(mode: str, now: datetime) -> int | None:
    """The start of the current digest period (ms): rows created before it are ripe."""
    if mode == "immediate":
        return None
    local = now.astimezone(LOCAL_TIME)
    if mode == "hourly":
        start = local.replace(minute=0, second=0, microsecond=0)
    else:
        start = local.replace(hour=DAILY_DIGEST_HOUR, minute=0, second=0, microsecond=0)
        if start > local:
            start -= timedelta(days=1)
    return int(start.timestamp() * 1000)


@dataclass
class Delivery:
    """Claimed rows and what to send for them; ``mail`` or ``webhook`` or neither (drop)."""

    rows: list[dict]
    message: mail.Mail | None = None
    recipients: tuple[str, ...] = ()
    webhook: dict | None = None
    drop_reason: str = ""
    ends_subscription: str | None = None


class Notifier:
    """Delivers the outbox: claims due rows, sends, records; one per service process."""

    POLL_SECONDS = 5.0
    BATCH = 20
    DIGEST_BATCH = 200

    def __init__(
        self, settings: Notifications, writer: db.Writer, reads: db.ReadPool,
        catalog: SectionCatalog,
    ):
        self.settings = settings
        self.writer = writer
        self.reads = reads
        self.catalog = catalog
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._wake: asyncio.Event | None = None
        self._stopping = False
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="feedback-notifier")

    def wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def submitted(self) -> None:
        """A submission was stored: look at once, if anything is delivered at all."""
        if channels(self.settings):
            self.wake()

    async def stop(self, timeout: float = 40.0) -> None:
        """Finish the delivery under way, then give back the leases not yet used."""
        if self._task is None:
            return
        self._stopping = True
        self.wake()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        except asyncio.TimeoutError:
            self._task.cancel()
        try:
            await self.writer.run(lambda conn: outbox.release(conn, self.owner))
        except db.DatabaseError as exc:
            log.warning("could not release outbox leases: %s", exc)

    async def _run(self) -> None:
        while not self._stopping:
            try:
                busy = await self.deliver_due()
            except db.DatabaseError as exc:
                log.error("outbox: database error: %s", exc)
                busy = False
            except Exception:
                log.exception("outbox: unexpected error")
                busy = False
            if busy or self._stopping:
                continue
            await self._sleep()

    async def _sleep(self) -> None:
        assert self._wake is not None
        # Cleared before looking for the next due row: a wake (a new event, or stop())
        # that comes while the look-up runs is kept, not lost for a whole poll.
        self._wake.clear()
        timeout = self.POLL_SECONDS
        try:
            due = await run_in_threadpool(self._next_due)
        except db.DatabaseError:
            due = None
        if due is not None:
            timeout = min(timeout, max(due / 1000 - time.time(), 0.05))
        try:
            await asyncio.wait_for(self._wake.wait(), timeout)
        except asyncio.TimeoutError:
            pass

    def _next_due(self) -> int | None:
        # Digest rows are due long before their period ends: the poll looks at them.
        digest = "editors_mail" if self.settings.digest != "immediate" else None
        with self.reads.connection() as conn:
            return outbox.next_due(conn, skip_channel=digest)

    async def deliver_due(self) -> bool:
        """One pass over every channel; True when something was claimed."""
        busy = False
        for channel in outbox.CHANNELS:
            if self._stopping:
                break
            digest = channel == "editors_mail" and self.settings.digest != "immediate"
            cutoff = digest_cutoff(self.settings.digest, datetime.now(timezone.utc)) if digest else None
            limit = self.DIGEST_BATCH if digest else self.BATCH
            deliveries = await self.writer.run(
                lambda conn, c=channel: self._claim(conn, c, limit, cutoff, digest)
            )
            for delivery in deliveries:
                busy = True
                if self._stopping:
                    break
                await self._deliver(delivery)
        return busy

    # The claim runs in the writer's transaction: rows and the data they need, read together.
    def _claim(
        self, conn: db.Connection, channel: str, limit: int, cutoff: int | None, digest: bool
    ) -> list[Delivery]:
        rows = outbox.claim(conn, self.owner, channel, limit, created_before=cutoff)
        if not rows:
            return []
        if channel == "editors_mail":
            return self._editors_mail(conn, rows, digest)
        if channel == "webhook":
            return [self._webhook(conn, row) for row in rows]
        return [self._reader_mail(conn, row) for row in rows]

    def _queue_url(self) -> str:
        return self.settings.public_url + QUEUE_PATH

    def _editors_mail(self, conn: db.Connection, rows: list[dict], digest: bool) -> list[Delivery]:
        if not self.settings.mails_editors:
            return [Delivery([row], drop_reason="no SMTP server or editors configured")
                    for row in rows]
        found = db.comments_by_ids(conn, [row["payload"]["comment_id"] for row in rows])
        gone = [row for row in rows if row["payload"]["comment_id"] not in found]
        kept = [row for row in rows if row["payload"]["comment_id"] in found]
        deliveries = [Delivery(gone, drop_reason="comment deleted")] if gone else []
        items = [describe(found[row["payload"]["comment_id"]], self.catalog, self.settings.public_url)
                 for row in kept]
        context = {"queue_url": self._queue_url(), "digest": self.settings.digest}
        if digest and kept:
            message = render_mail("editors_digest.txt", items=items, **context)
            deliveries.append(Delivery(kept, message, self.settings.editors))
        else:
            for row, item in zip(kept, items):
                message = render_mail("editors_new.txt", item=item, **context)
                deliveries.append(Delivery([row], message, self.settings.editors))
        return deliveries

    def _webhook(self, conn: db.Connection, row: dict) -> Delivery:
        if not self.settings.webhook_url:
            return Delivery([row], drop_reason="no webhook configured")
        comment = db.get_comment(conn, row["payload"]["comment_id"])
        if comment is None:
            return Delivery([row], drop_reason="comment deleted")
        item = describe(comment, self.catalog, self.settings.public_url)
        return Delivery([row], webhook=webhook_body(item, self._queue_url()))

    def _reader_mail(self, conn: db.Connection, row: dict) -> Delivery:
        comment_id = row["payload"]["comment_id"]
        subscription = _subscription(conn, comment_id)
        comment = db.get_comment(conn, comment_id)
        if not self.settings.mails_readers:
            return Delivery([row], drop_reason="no SMTP server configured")
        if subscription is None or comment is None:
            return Delivery([row], drop_reason="subscription ended")
        confirmed = subscription["confirmed"] is not None
        if (row["event"] == "subscription.confirm") == confirmed:
            return Delivery([row], drop_reason="confirmation state changed")
        base = self.settings.public_url
        token = subscription["token"]
        context = {
            "item": describe(comment, self.catalog, base),
            "confirm_url": f"{base}{CONFIRM_PATH}?token={token}",
            "confirm_days": CONFIRM_DAYS,
            "wait_days": WAIT_FOR_ANSWER_DAYS,
        }
        unsubscribe_url = f"{base}{UNSUBSCRIBE_PATH}?token={token}"
        ends = None
        if row["event"] == "subscription.confirm":
            message = render_mail("reader_confirm.txt", unsubscribe_url, **context)
        elif row["event"] == "comment.published":
            message = render_mail("reader_published.txt", unsubscribe_url, **context)
        else:
            answer = db.get_comment(conn, row["payload"]["answer_id"])
            if answer is None or answer["status"] != "approved":
                return Delivery([row], drop_reason="answer withdrawn")
            message = render_mail(
                "reader_answered.txt", unsubscribe_url, answer_text=answer["text"],
                answer_author=answer["author"], **context,
            )
            ends = comment_id
        return Delivery([row], message, (subscription["email"],), ends_subscription=ends)

    async def _deliver(self, delivery: Delivery) -> None:
        ids = [row["id"] for row in delivery.rows]
        if delivery.message is None and delivery.webhook is None:
            await self.writer.run(
                lambda conn: outbox.finish(conn, ids, self.owner, "dropped", delivery.drop_reason)
            )
            return
        try:
            await run_in_threadpool(self._send, delivery)
        except Exception as exc:
            permanent = isinstance(exc, (mail.PermanentFailure, PermanentFailure, ValueError))
            reason = str(exc) if isinstance(exc, PermanentFailure) else mail.describe_failure(exc)
            given_up = await self.writer.run(lambda conn: outbox.retry_later(
                conn, delivery.rows, self.owner, reason, self.settings.retry, permanent
            ))
            log.warning(
                "outbox: %s of %s failed (%s)%s", delivery.rows[0]["channel"], ids, reason,
                "; given up" if given_up else "; will retry",
            )
            return

        def done(conn: db.Connection) -> int:
            count = outbox.finish(conn, ids, self.owner, "sent")
            if delivery.ends_subscription is not None:
                comment_withdrawn(conn, delivery.ends_subscription)
            return count

        if await self.writer.run(done) != len(ids):
            log.warning("outbox: lease of %s ran out while sending; it may go out twice", ids)
        log.info("outbox: %s %s delivered", delivery.rows[0]["channel"], ids)

    def _send(self, delivery: Delivery) -> None:
        if delivery.webhook is not None:
            post_webhook(self.settings.webhook_url, self.settings.webhook_secret,
                         delivery.rows[0]["id"], delivery.webhook)
            return
        assert delivery.message is not None and self.settings.smtp is not None
        message = mail.compose(delivery.message, self.settings.mail_from, list(delivery.recipients))
        mail.send(self.settings.smtp, message)
