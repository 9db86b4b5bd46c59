"""Comment ids and the tokens derived from them: one place for the service's identifiers.

Readers' submissions (``comments``), the editors' answers (``moderation``) and
the reader's status page all make or check them, so they depend on nothing else.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time

# Crockford's base-32 digits, and every pair of them: an id is spelt ten bits at a time.
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PAIRS = tuple(high + low for high in CROCKFORD for low in CROCKFORD)
_SHIFTS = range(120, -1, -10)


class _RandomPool:
    """Bytes from ``os.urandom``, fetched a few KiB at a time.

    ``os.urandom`` lets go of the interpreter lock for its system call, and
    under load a request's thread then waits for the writer's threads to hand
    it back; one call per few hundred ids instead of one per id. A forked child
    starts with an empty pool, so it never hands out its parent's bytes.
    """

    SIZE = 4096

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._pool, self._used = b"", 0

    def take(self, count: int) -> bytes:
        with self._lock:
            if self._used + count > len(self._pool):
                self._pool, self._used = os.urandom(max(self.SIZE, count)), 0
            start, self._used = self._used, self._used + count
            return self._pool[start:self._used]


_random = _RandomPool()


def new_comment_id() -> str:
    """``c_`` + 26 Crockford base-32 digits: 48 bits of milliseconds, 80 random bits."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(_random.take(10), "big")
    # 26 digits are 130 bits: two leading zero bits, the 128 of the value. Thirteen table
    # look-ups, where base64.b32encode (Python code in 3.11) took five times as long.
    return "c_" + "".join([_PAIRS[(value >> shift) & 0x3FF] for shift in _SHIFTS])


def keyed_digest(secret: str, purpose: bytes, value: str) -> str:
    return hmac_sha256(secret.encode(), purpose + b"\0" + value.encode()).hex()


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    """HMAC-SHA256 that keeps the interpreter lock.

    ``hmac.digest`` lets go of it around every call, however short the message;
    in a request's thread, under load, each call then waits for the writer's
    threads (over 100 µs instead of under 2 µs). ``hmac.new`` lets go only for
    long messages.
    """
    return hmac.new(key, message, hashlib.sha256).digest()


def delete_token(secret: str, comment_id: str) -> str:
    """The token that lets a comment's author delete it: HMAC of the server secret and the id.

    Only the answer to the submission names it; the database keeps a hash of
    it, and a replayed answer derives it again.
    """
    return keyed_digest(secret, b"delete", comment_id)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), stored_hash)
