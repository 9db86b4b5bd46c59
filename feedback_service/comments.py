"""What readers do: submit a comment, delete their own, read a section's approved ones."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass
from typing import Callable

from feedback_formats import utc_timestamp

from . import db, notify
from .audit import AUTHOR
from .config import Notifications
from .errors import ApiError, ValidationFailed, field_error
from .ids import keyed_digest, delete_token, hash_token, new_comment_id, token_matches
from .moderation import remove_comment
from .ratelimit import RateLimiter, client_network
from .validation import Submission

MAX_IDEMPOTENCY_KEY = 200
# Visible ASCII, "!" to "~".
_IDEMPOTENCY_KEY = re.compile(r"[!-~]{1,%d}" % MAX_IDEMPOTENCY_KEY)


@dataclass(frozen=True)
class IdempotencyKey:
    """A client's ``Idempotency-Key``; the database keeps only an HMAC of it."""

    key: str

    @classmethod
    def from_header(cls, value: str | None) -> IdempotencyKey | None:
        if value is None:
            return None
        if _IDEMPOTENCY_KEY.fullmatch(value) is None:
            raise ApiError(
                400, "invalid_idempotency_key",
                f"Der Idempotency-Key muss 1 bis {MAX_IDEMPOTENCY_KEY} sichtbare ASCII-Zeichen "
                "lang sein.",
            )
        return cls(value)

    def lookup(self, secret: str, client: str) -> str:
        """Bound to the client's network: another client replaying the key gets nothing."""
        return keyed_digest(secret, b"idempotency", client_network(client) + "\0" + self.key)


def request_hash(submission: Submission) -> str:
    canonical = json.dumps(submission.fingerprint(), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _accepted(secret: str, comment_id: str) -> dict:
    return {"id": comment_id, "status": "pending", "delete_token": delete_token(secret, comment_id)}


def create_job(
    submission: Submission,
    address: str,
    limiter: RateLimiter,
    idempotency: IdempotencyKey | None,
    secret: str,
    notifications: Notifications,
) -> Callable[[db.Connection], tuple[int, dict]]:
    """The write transaction of one new comment: ``(status, answer)``.

    Everything that needs no database (digests, the id, the row) is made here,
    by the caller, so that the job holds the write turn only for its statements.
    """
    fingerprint = request_hash(submission)
    answer = _accepted(secret, new_comment_id())
    claim = None if idempotency is None else (
        idempotency.lookup(secret, address), fingerprint, 202,
        json.dumps({"id": answer["id"], "status": answer["status"]}),
    )
    client = limiter.client_key(address) if limiter.limit is not None else None
    now = utc_timestamp()
    row = {
        "id": answer["id"],
        "section": submission.section,
        "version": submission.version,
        "kind": submission.kind,
        "status": "pending",
        "author": submission.author,
        "email": submission.email,
        "text": submission.text,
        "reply_to": submission.reply_to,
        "created": now,
        "status_changed": now,
        "delete_token_hash": hash_token(answer["delete_token"]),
    }

    def job(conn: db.Connection) -> tuple[int, dict]:
        if claim is not None:
            # Claimed first, in the job's savepoint: a refusal below takes the claim back.
            earlier = db.claim_idempotency_key(conn, *claim, int(time.time() * 1000))
            if earlier is not None:
                if earlier["request_hash"] != fingerprint:
                    raise ApiError(
                        422, "idempotency_key_reused",
                        "Dieser Idempotency-Key wurde schon für eine andere Anfrage benutzt. "
                        "Bitte senden Sie neue Kommentare mit einem neuen Schlüssel.",
                    )
                return earlier["status"], _accepted(secret, json.loads(earlier["body"])["id"])
        if submission.reply_to is not None:
            parent = db.get_comment(conn, submission.reply_to)
            if (
                parent is None
                or parent["status"] != "approved"
                or parent["kind"] != "comment"
                or parent["section"] != submission.section
            ):
                raise ValidationFailed([field_error(
                    "unknown_reply",
                    "Der Kommentar, auf den Sie antworten, existiert nicht.",
                    "reply_to",
                )])
        if client is not None:
            limiter.admit_client(conn, client)
        db.insert_comment(conn, row)
        notify.submission_created(conn, row, submission.notify, notifications)
        return 202, answer

    return job


def honeypot_answer(secret: str) -> dict:
    """Looks exactly like a real answer; nothing behind it exists."""
    return _accepted(secret, new_comment_id())


def delete_by_author_job(comment_id: str, token: str) -> Callable[[db.Connection], dict]:
    def job(conn: db.Connection) -> dict:
        row = db.get_comment(conn, comment_id)
        # A wrong token and a missing comment are answered alike: the answer must
        # not tell which comment ids exist.
        if row is None or not token_matches(token, row["delete_token_hash"]):
            raise ApiError(
                404, "not_found",
                "Diesen Kommentar gibt es nicht (mehr), oder das Lösch-Token passt nicht zu ihm.",
                "token",
            )
        remove_comment(conn, row, AUTHOR, "withdraw")
        return {"id": comment_id, "status": "deleted"}

    return job


@dataclass(frozen=True)
class PublicAnswer:
    """A section's approved comments as the API sends them, and the tag of that content."""

    body: bytes
    etag: str

    @classmethod
    def of(cls, body: bytes) -> PublicAnswer:
        return cls(body, '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"')

    def matches(self, if_none_match: str | None) -> bool:
        """The client holds this content already (``If-None-Match``, weak tags compared weakly)."""
        if not if_none_match:
            return False
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or self.etag in tags


class PublicComments:
    """Approved comments of a section as ready JSON, rebuilt only after a change.

    Every change to what is public writes the change log, so its last sequence
    number tells whether a cached answer is still right, across processes too:
    it is checked on every request, so an approval shows at once in every process.
    """

    MAX_SECTIONS = 4096

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation: int | None = None
        self._answers: dict[str, PublicAnswer] = {}

    def answer(self, conn: db.Connection, section: str) -> PublicAnswer:
        generation = db.last_change(conn)
        with self._lock:
            if generation != self._generation:
                self._answers = {}
                self._generation = generation
            cached = self._answers.get(section)
        if cached is not None:
            return cached
        answer = PublicAnswer.of(json.dumps(
            {"comments": db.public_comments(conn, section)}, ensure_ascii=False
        ).encode())
        with self._lock:
            if self._generation == generation:
                if len(self._answers) >= self.MAX_SECTIONS:
                    self._answers = {}
                self._answers[section] = answer
        return answer
