"""Comment ids and the tokens derived from them: one place for the service's identifiers.

Readers' submissions (``comments``), the editors' answers (``moderation``) and
the reader's status page all make or check them, so they depend on nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

# RFC 4648's base-32 digits spelt as Crockford's.
_CROCKFORD = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", b"0123456789ABCDEFGHJKMNPQRSTVWXYZ")


def new_comment_id() -> str:
    """``c_`` + 26 Crockford base-32 digits: 48 bits of milliseconds, 80 random bits."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    # 26 digits are 130 bits: two leading zero bits, the 128 of the value; 17 bytes hold them.
    digits = base64.b32encode((value << 6).to_bytes(17, "big"))[:26]
    return "c_" + digits.translate(_CROCKFORD).decode("ascii")


def keyed_digest(secret: str, purpose: bytes, value: str) -> str:
    return hmac.digest(secret.encode(), purpose + b"\0" + value.encode(), "sha256").hex()


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
