"""The outbox: notifications stored in the same transaction as the event behind them.

A moderation action or a new submission calls :func:`enqueue` on the
connection of its own write transaction, so a notification exists exactly
when its event was committed; nothing slow happens there. The sender
(:class:`feedback_service.notify.Notifier`) later claims due rows, delivers
them and records the outcome:

- :func:`enqueue` ``(conn, event, payload, channels)`` writes one row per channel of
  ``event`` (see :data:`EVENTS`) that the service delivers; ``payload`` is a small JSON object, usually
  just ``{"comment_id": …}``: the sender reads the current state when it
  delivers, so a comment deleted meanwhile is not announced.
- :func:`claim` takes due rows of one channel under a lease. On PostgreSQL
  ``SELECT … FOR UPDATE SKIP LOCKED`` lets several instances claim side by
  side without ever taking the same row; on SQLite the claim is a write
  transaction, and SQLite has one writer at a time.
- :func:`finish` (sent or dropped) and :func:`retry_later` (failed: exponential
  back-off, given up after :data:`GIVE_UP_MS`) only touch rows whose lease the
  caller still holds. A lease that runs out (the process died while sending)
  makes the row due again: delivery is at least once.

Times are milliseconds since the epoch.
"""

from __future__ import annotations

import json
import random
import time

from . import db

EVENTS: dict[str, tuple[str, ...]] = {
    "submission.created": ("editors_mail", "webhook"),
    "subscription.confirm": ("reader_mail",),
    "comment.published": ("reader_mail",),
    "comment.answered": ("reader_mail",),
}
CHANNELS = ("editors_mail", "webhook", "reader_mail")
LEASE_MS = 5 * 60 * 1000
GIVE_UP_MS = 3 * 24 * 3600 * 1000
KEEP_FINISHED_MS = 7 * 24 * 3600 * 1000
MAX_ERROR = 300


def now_ms() -> int:
    return int(time.time() * 1000)


def enqueue(conn: db.Connection, event: str, payload: dict, channels: frozenset[str] | None = None) -> None:
    """Store ``event`` for every channel that carries it (of ``channels``, when given), due at once."""
    now = now_ms()
    body = json.dumps(payload, separators=(",", ":"))
    for channel in EVENTS[event]:
        if channels is not None and channel not in channels:
            continue
        conn.execute(
            "INSERT INTO outbox (event, channel, payload, created, due) VALUES (?, ?, ?, ?, ?)",
            (event, channel, body, now, now),
        )


def next_due(conn: db.Connection, skip_channel: str | None = None) -> int | None:
    """When the earliest pending row becomes due (a lease counts as not due before it ends).

    ``skip_channel``: a channel whose rows wait for something else (the digest's hour).
    """
    return conn.scalar(
        "SELECT MIN(CASE WHEN lease_until IS NOT NULL AND lease_until > due "
        "THEN lease_until ELSE due END) AS due FROM outbox WHERE state = 'pending' "
        "AND channel <> ?",
        (skip_channel or "",),
    )


def claim(
    conn: db.Connection, owner: str, channel: str, limit: int,
    created_before: int | None = None,
) -> list[dict]:
    """Lease up to ``limit`` due rows of ``channel`` to ``owner``; run in a write transaction.

    ``created_before`` (the digest) leaves rows of the still open period alone.
    """
    now = now_ms()
    clauses = [
        "state = 'pending'", "channel = ?", "due <= ?",
        "(lease_until IS NULL OR lease_until < ?)",
    ]
    params: list = [channel, now, now]
    if created_before is not None:
        clauses.append("created < ?")
        params.append(created_before)
    lock = " FOR UPDATE SKIP LOCKED" if conn.dialect == "postgresql" else ""
    rows = conn.all(
        "SELECT id, event, channel, payload, created, attempts FROM outbox "
        f"WHERE {' AND '.join(clauses)} ORDER BY id LIMIT ?{lock}",
        (*params, limit),
    )
    if not rows:
        return []
    ids = [row["id"] for row in rows]
    conn.execute(
        "UPDATE outbox SET lease_owner = ?, lease_until = ?, attempts = attempts + 1 "
        f"WHERE id IN ({', '.join('?' for _ in ids)})",
        (owner, now + LEASE_MS, *ids),
    )
    for row in rows:
        row["payload"] = json.loads(row["payload"])
        row["attempts"] += 1
    return rows


def finish(conn: db.Connection, ids: list[int], owner: str, state: str, note: str = "") -> int:
    """Mark leased rows ``sent`` or ``dropped``; returns how many were still ours."""
    if not ids:
        return 0
    return conn.execute(
        "UPDATE outbox SET state = ?, finished = ?, last_error = ?, lease_owner = NULL, "
        f"lease_until = NULL WHERE lease_owner = ? AND id IN ({', '.join('?' for _ in ids)})",
        (state, now_ms(), note[:MAX_ERROR] or None, owner, *ids),
    ).rowcount


def retry_later(
    conn: db.Connection, rows: list[dict], owner: str, error: str,
    retry: tuple[float, float], permanent: bool = False,
) -> list[int]:
    """Schedule failed rows again with back-off; returns the ids given up (``failed``)."""
    now = now_ms()
    given_up = []
    for row in rows:
        if permanent or now - row["created"] >= GIVE_UP_MS:
            given_up.append(row["id"])
            conn.execute(
                "UPDATE outbox SET state = 'failed', finished = ?, last_error = ?, "
                "lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?",
                (now, error[:MAX_ERROR], row["id"], owner),
            )
            continue
        conn.execute(
            "UPDATE outbox SET due = ?, last_error = ?, lease_owner = NULL, lease_until = NULL "
            "WHERE id = ? AND lease_owner = ?",
            (now + backoff_ms(row["attempts"], retry), error[:MAX_ERROR], row["id"], owner),
        )
    return given_up


def backoff_ms(attempts: int, retry: tuple[float, float]) -> int:
    """``first · 2^(attempts-1)`` seconds, at most ``most``, plus up to 10 % jitter."""
    first, most = retry
    delay = min(first * 2 ** min(max(attempts - 1, 0), 40), most)
    return int(delay * (1 + random.random() / 10) * 1000)


def release(conn: db.Connection, owner: str) -> None:
    """Give back every lease of ``owner`` (a sender stopping cleanly)."""
    conn.execute(
        "UPDATE outbox SET lease_owner = NULL, lease_until = NULL "
        "WHERE lease_owner = ? AND state = 'pending'",
        (owner,),
    )


def purge(conn: db.Connection) -> int:
    """Delete finished rows after a week (kept that long for questions about a delivery)."""
    return conn.execute(
        "DELETE FROM outbox WHERE state <> 'pending' AND finished < ?",
        (now_ms() - KEEP_FINISHED_MS,),
    ).rowcount
