"""Editors' accounts, their sessions in the database, and the brake on guessed passwords.

Passwords are kept only as argon2id hashes. A session is a random token in a
cookie; the database holds its SHA-256 only, with the editor's name, the
session's CSRF token and when it was last used, so every instance behind a
load balancer on one PostgreSQL knows every session. Failed logins are
counted per account name and per client, both as keyed hashes (never the
address itself), and the same for names that do not exist.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from feedback_formats import utc_timestamp

from . import db
from .errors import ApiError
from .schemas import has_control_characters

MAX_NAME = 80
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
# Names the audit log uses for actors that are not editors.
RESERVED_NAMES = ("api", "cli")
SESSION_MAX_AGE = 12 * 3600
# Failed logins within LOGIN_WINDOW seconds before the next try must wait.
LOGIN_WINDOW = 15 * 60
FAILURES_PER_ACCOUNT = 5
FAILURES_PER_CLIENT = 20

_hasher = PasswordHasher()
# Verified when a name is unknown, so that an answer takes as long either way.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """A name or password the accounts cannot take; the message says why, in German."""


def check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME or has_control_characters(name, multiline=False):
        raise AccountError(f"Der Name braucht 1 bis {MAX_NAME} Zeichen ohne Steuerzeichen.")
    if name.casefold() in RESERVED_NAMES:
        raise AccountError(f"„{name}“ ist im Protokoll für Skripte reserviert.")
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"Das Passwort muss mindestens {MIN_PASSWORD} Zeichen lang sein.")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"Das Passwort darf höchstens {MAX_PASSWORD} Zeichen lang sein.")
    return password


# -- Accounts ----------------------------------------------------------------------

def add_editor(conn: db.Connection, name: str, password: str) -> None:
    name, password = check_name(name), check_password(password)
    if find_editor(conn, name) is not None:
        raise AccountError(f"Es gibt schon ein Konto „{name}“.")
    conn.execute(
        "INSERT INTO editors (name, password_hash, created) VALUES (?, ?, ?)",
        (name, _hasher.hash(password), utc_timestamp()),
    )


def set_password(conn: db.Connection, name: str, password: str) -> None:
    """A new password; the editor's sessions end."""
    password = check_password(password)
    if find_editor(conn, name) is None:
        raise AccountError(f"Es gibt kein Konto „{name}“.")
    conn.execute(
        "UPDATE editors SET password_hash = ? WHERE name = ?", (_hasher.hash(password), name)
    )
    conn.execute("DELETE FROM editor_sessions WHERE editor = ?", (name,))


def remove_editor(conn: db.Connection, name: str) -> None:
    if find_editor(conn, name) is None:
        raise AccountError(f"Es gibt kein Konto „{name}“.")
    conn.execute("DELETE FROM editor_sessions WHERE editor = ?", (name,))
    conn.execute("DELETE FROM editors WHERE name = ?", (name,))


def find_editor(conn: db.Connection, name: str) -> dict | None:
    return conn.one("SELECT name, password_hash, created FROM editors WHERE name = ?", (name,))


def list_editors(conn: db.Connection) -> list[dict]:
    return conn.all(
        "SELECT e.name, e.created, COUNT(s.token_hash) AS sessions FROM editors e "
        "LEFT JOIN editor_sessions s ON s.editor = e.name GROUP BY e.name, e.created "
        "ORDER BY e.name"
    )


def verify(conn: db.Connection, name: str, password: str) -> bool:
    """Whether ``password`` is ``name``'s; as slow for unknown names as for known ones."""
    row = find_editor(conn, name)
    stored = row["password_hash"] if row else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    if row is None:
        return False
    if _hasher.check_needs_rehash(stored):
        conn.execute(
            "UPDATE editors SET password_hash = ? WHERE name = ?", (_hasher.hash(password), name)
        )
    return True


# -- Sessions ----------------------------------------------------------------------

@dataclass(frozen=True)
class Session:
    editor: str
    csrf: str
    token_hash: str


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(conn: db.Connection, editor: str, now: int | None = None) -> str:
    """A new session for ``editor``; returns the token for the cookie."""
    now = int(time.time()) if now is None else now
    token = secrets.token_urlsafe(32)
    conn.execute(
        "INSERT INTO editor_sessions (token_hash, editor, csrf, created, seen) "
        "VALUES (?, ?, ?, ?, ?)",
        (_token_hash(token), editor, secrets.token_urlsafe(32), now, now),
    )
    return token


def find_session(conn: db.Connection, token: str, idle_seconds: int) -> Session | None:
    """The live session of ``token``, its last use moved to now; None when gone or idle."""
    if not token or len(token) > 100:
        return None
    now = int(time.time())
    token_hash = _token_hash(token)
    row = conn.one(
        "SELECT editor, csrf, created, seen FROM editor_sessions WHERE token_hash = ?",
        (token_hash,),
    )
    if row is None:
        return None
    if now - row["seen"] > idle_seconds or now - row["created"] > SESSION_MAX_AGE:
        conn.execute("DELETE FROM editor_sessions WHERE token_hash = ?", (token_hash,))
        return None
    if now != row["seen"]:
        conn.execute(
            "UPDATE editor_sessions SET seen = ? WHERE token_hash = ?", (now, token_hash)
        )
    return Session(row["editor"], row["csrf"], token_hash)


def end_session(conn: db.Connection, token_hash: str) -> None:
    conn.execute("DELETE FROM editor_sessions WHERE token_hash = ?", (token_hash,))


def end_stale_sessions(conn: db.Connection, idle_seconds: int) -> None:
    now = int(time.time())
    conn.execute(
        "DELETE FROM editor_sessions WHERE seen < ? OR created < ?",
        (now - idle_seconds, now - SESSION_MAX_AGE),
    )


def csrf_matches(session: Session, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(session.csrf.encode(), given.encode())


# -- Throttling failed logins ------------------------------------------------------

def login_subjects(secret: str, name: str, client_key: str) -> tuple[str, str]:
    """What failures are counted under: the account name and the client, neither in clear.

    The name is keyed with the service's secret; ``client_key`` is the rate
    limiter's keyed hash of the client's address.
    """
    account = hmac.new(secret.encode(), b"editor-account\0" + name.strip().casefold().encode(),
                       hashlib.sha256)
    return account.hexdigest(), "editor-client:" + client_key


def login_wait(conn: db.Connection, subjects: tuple[str, str]) -> int:
    """Seconds until the next try of these subjects; 0 when it may happen now."""
    now = int(time.time())
    waits = [0]
    for subject, allowed in zip(subjects, (FAILURES_PER_ACCOUNT, FAILURES_PER_CLIENT)):
        recent = [
            row["at"] for row in conn.all(
                "SELECT at FROM login_failures WHERE subject = ? AND at > ? ORDER BY at",
                (subject, now - LOGIN_WINDOW),
            )
        ]
        if len(recent) >= allowed:
            waits.append(max(1, recent[-allowed] + LOGIN_WINDOW - now))
    return max(waits)


def record_failure(conn: db.Connection, subjects: tuple[str, str]) -> None:
    now = int(time.time())
    conn.execute("DELETE FROM login_failures WHERE at <= ?", (now - LOGIN_WINDOW,))
    for subject in subjects:
        conn.execute("INSERT INTO login_failures (subject, at) VALUES (?, ?)", (subject, now))


def too_many_attempts(wait: int) -> ApiError:
    minutes = math.ceil(wait / 60)
    return ApiError(
        429, "too_many_logins",
        f"Zu viele fehlgeschlagene Anmeldungen. Bitte warten Sie {minutes} Minute(n) und "
        "versuchen Sie es dann noch einmal.",
        headers={"Retry-After": str(wait)},
    )
