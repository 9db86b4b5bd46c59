"""What readers do: submit a comment, delete their own, read a section's approved ones."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Callable

from . import db, notify
from .errors import ApiError, ValidationFailed, field_error
from .ratelimit import RateLimiter
from .validation import Submission

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000
MAX_IDEMPOTENCY_KEY = 200


def new_comment_id() -> str:
    """``c_`` + 26 Crockford base-32 digits: 48 bits of milliseconds, 80 random bits."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    digits = []
    for _ in range(26):
        value, digit = divmod(value, 32)
        digits.append(_CROCKFORD[digit])
    return "c_" + "".join(reversed(digits))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), stored_hash)


@dataclass(frozen=True)
class IdempotencyKey:
    """A client's ``Idempotency-Key``; only hashes of it are stored.

    The replayed answer holds the delete token, so it is kept encrypted with a
    key stream derived from the client's key (HMAC-SHA256 in counter mode):
    the database alone cannot reveal the token.
    """

    key: str

    @classmethod
    def from_header(cls, value: str | None) -> IdempotencyKey | None:
        if value is None:
            return None
        if not 1 <= len(value) <= MAX_IDEMPOTENCY_KEY or not all(
            "!" <= char <= "~" for char in value
        ):
            raise ApiError(
                400, "invalid_idempotency_key",
                f"Der Idempotency-Key muss 1 bis {MAX_IDEMPOTENCY_KEY} sichtbare ASCII-Zeichen "
                "lang sein.",
            )
        return cls(value)

    @property
    def lookup(self) -> str:
        return hashlib.sha256(b"lookup:" + self.key.encode()).hexdigest()

    def _stream(self, length: int) -> bytes:
        secret = hashlib.sha256(b"encrypt:" + self.key.encode()).digest()
        blocks = (
            hmac.new(secret, counter.to_bytes(8, "big"), hashlib.sha256).digest()
            for counter in range((length + 31) // 32)
        )
        return b"".join(blocks)[:length]

    def seal(self, answer: dict) -> str:
        plain = json.dumps(answer).encode()
        mixed = bytes(a ^ b for a, b in zip(plain, self._stream(len(plain))))
        return base64.b64encode(mixed).decode()

    def open(self, sealed: str) -> dict:
        mixed = base64.b64decode(sealed)
        return json.loads(bytes(a ^ b for a, b in zip(mixed, self._stream(len(mixed)))))


def request_hash(submission: Submission) -> str:
    canonical = json.dumps(submission.public_fingerprint(), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def create_job(
    submission: Submission,
    address: str,
    limiter: RateLimiter,
    idempotency: IdempotencyKey | None,
) -> Callable[[db.Connection], tuple[int, dict]]:
    """The write transaction of one new comment: ``(status, answer)``."""

    def job(conn: db.Connection) -> tuple[int, dict]:
        fingerprint = request_hash(submission)
        if idempotency is not None:
            earlier = db.find_idempotent_answer(conn, idempotency.lookup)
            if earlier is not None:
                if earlier["request_hash"] != fingerprint:
                    raise ApiError(
                        422, "idempotency_key_reused",
                        "Dieser Idempotency-Key wurde schon für eine andere Anfrage benutzt. "
                        "Bitte senden Sie neue Kommentare mit einem neuen Schlüssel.",
                    )
                return earlier["status"], idempotency.open(earlier["body"])
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
        limiter.admit(conn, address)
        comment_id = new_comment_id()
        token = secrets.token_urlsafe(24)
        now = db.utc_now()
        row = {
            "id": comment_id,
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
            "delete_token_hash": hash_token(token),
        }
        db.insert_comment(conn, row)
        notify.submission_created(conn, row, subscribe=submission.notify)
        answer = {"id": comment_id, "status": "pending", "delete_token": token}
        if idempotency is not None:
            db.store_idempotent_answer(
                conn, idempotency.lookup, fingerprint, 202, idempotency.seal(answer),
                int(time.time() * 1000),
            )
        return 202, answer

    return job


def honeypot_answer() -> dict:
    """Looks exactly like a real answer; nothing behind it exists."""
    return {"id": new_comment_id(), "status": "pending", "delete_token": secrets.token_urlsafe(24)}


def delete_by_author_job(comment_id: str, token: str) -> Callable[[db.Connection], dict]:
    from .moderation import remove_comment

    def job(conn: db.Connection) -> dict:
        row = db.get_comment(conn, comment_id)
        if row is None:
            raise ApiError(404, "not_found", "Diesen Kommentar gibt es nicht (mehr).")
        if not token_matches(token, row["delete_token_hash"]):
            raise ApiError(
                403, "invalid_token", "Das Lösch-Token passt nicht zu diesem Kommentar.", "token"
            )
        remove_comment(conn, row)
        return {"id": comment_id, "status": "deleted"}

    return job


class PublicComments:
    """Approved comments of a section as ready JSON, rebuilt only after a change.

    Every change to what is public writes the change log, so its last sequence
    number tells whether a cached answer is still right, across processes too.
    """

    MAX_SECTIONS = 4096

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation: int | None = None
        self._answers: dict[str, bytes] = {}

    def answer(self, conn: db.Connection, section: str) -> bytes:
        generation = db.last_change(conn)
        with self._lock:
            if generation != self._generation:
                self._answers = {}
                self._generation = generation
            cached = self._answers.get(section)
        if cached is not None:
            return cached
        body = json.dumps(
            {"comments": db.public_comments(conn, section)}, ensure_ascii=False
        ).encode()
        with self._lock:
            if self._generation == generation:
                if len(self._answers) >= self.MAX_SECTIONS:
                    self._answers = {}
                self._answers[section] = body
        return body
