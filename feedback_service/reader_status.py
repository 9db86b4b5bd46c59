"""A reader's own messages: what became of them, and withdrawing one.

Reached only with the delete token, and the token never travels in a URL:
the status page answers a POST whose hidden ``id`` and ``token`` the page's
JavaScript filled in, or, when they come empty (no JavaScript), reads the
``fb_own`` cookie the service set when it acknowledged the reader's form
post. The withdraw form carries a CSRF token bound to the message, its delete
token and the time the page was shown. Withdrawing deletes exactly as the
author's ``DELETE /api/v1/comments/{id}`` does.
"""

from __future__ import annotations

import hmac
import re
import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from feedback_formats import KIND_NAMES, PRIVATE_KINDS, parse_timestamp

from . import db
from .comments import _hmac, token_matches
from .sections import SectionCatalog, version_key

COOKIE = "fb_own"
COOKIE_PATH = "/rueckmeldung/"
# The same cookie again where new comments are posted: a browser sends a cookie
# only below its path, and the next post adds its message to the ones before.
MERGE_PATH = "/api/v1/comments"
COOKIE_MAX_AGE = 30 * 24 * 3600
COOKIE_ENTRIES = 5  # the newest messages this browser sent
CSRF_LIFETIME = 2 * 3600  # seconds a shown status page's withdraw buttons work
MAX_TOKEN = 200
EXCERPT = 300  # characters of the message the status page repeats
NO_STORE = {"Cache-Control": "no-store"}
_ENTRY = re.compile(r"(c_[0-9A-Z]{26})\.([0-9a-f]{64})")
STATUS_WORDS = {
    "pending": "wartet auf Prüfung",
    "approved": "veröffentlicht",
    "rejected": "nicht veröffentlicht",
}


@dataclass(frozen=True)
class Claim:
    """A message id and the delete token offered as proof of authorship."""

    comment_id: str
    token: str


# -- The cookie ------------------------------------------------------------------

def cookie_claims(value: str | None) -> list[Claim]:
    """The messages the ``fb_own`` cookie names, oldest first; anything malformed is skipped."""
    claims = []
    for entry in (value or "").split("|"):
        match = _ENTRY.fullmatch(entry)
        if match:
            claims.append(Claim(*match.groups()))
    return claims[-COOKIE_ENTRIES:]


def _cookie_value(claims: list[Claim]) -> str:
    return "|".join(f"{claim.comment_id}.{claim.token}" for claim in claims[-COOKIE_ENTRIES:])


def remember(response: Response, request: Request, answer: dict) -> None:
    """Add the message just acknowledged to the browser's ``fb_own`` cookie (newest last)."""
    claim = Claim(answer["id"], answer["delete_token"])
    kept = [old for old in cookie_claims(request.cookies.get(COOKIE)) if old.comment_id != claim.comment_id]
    keep(response, request, [*kept, claim])


def remaining(request: Request, comment_id: str) -> list[Claim] | None:
    """The cookie's messages but a withdrawn one; None when the browser sent no cookie."""
    if COOKIE not in request.cookies:
        return None
    return [claim for claim in cookie_claims(request.cookies[COOKIE]) if claim.comment_id != comment_id]


def keep(response: Response, request: Request, claims: list[Claim]) -> None:
    """Set the cookie to these messages (delete it when none are left)."""
    secure = request.url.scheme == "https"
    for path in (COOKIE_PATH, MERGE_PATH):
        if claims:
            response.set_cookie(COOKIE, _cookie_value(claims), max_age=COOKIE_MAX_AGE, path=path,
                                secure=secure, httponly=True, samesite="strict")
        else:
            response.delete_cookie(COOKIE, path=path, secure=secure, httponly=True, samesite="strict")


# -- Which messages a request may see ------------------------------------------------

def _field(fields: dict, name: str) -> str:
    value = fields.get(name)
    return value.strip() if isinstance(value, str) else ""


def claims_of(fields: dict, cookie: str | None) -> list[Claim]:
    """The form's ``id`` and ``token`` when it brings them, else the cookie's messages."""
    comment_id, token = _field(fields, "id"), _field(fields, "token")
    if comment_id or token:
        return [Claim(comment_id[:MAX_TOKEN], token[:MAX_TOKEN])]
    return cookie_claims(cookie)


def owned(conn: db.Connection, claims: list[Claim]) -> list[dict]:
    """The messages whose delete token matches, newest first; a wrong id and a wrong token alike drop out."""
    rows = []
    for claim in claims:
        row = db.get_comment(conn, claim.comment_id)
        if row is not None and token_matches(claim.token, row["delete_token_hash"]):
            rows.append({**row, "token": claim.token})
    return rows[::-1]


# -- CSRF token of the withdraw form ---------------------------------------------------

def csrf_token(secret: str, claim: Claim, issued: int | None = None) -> str:
    issued = int(time.time()) if issued is None else issued
    bound = "\0".join((claim.comment_id, claim.token, str(issued)))
    return f"{issued}.{_hmac(secret, b'withdraw', bound)}"


def csrf_valid(secret: str, claim: Claim, value: str) -> bool:
    issued, _, _ = value.partition(".")
    if not issued.isdigit() or len(issued) > 12:
        return False
    age = time.time() - int(issued)
    return -60 <= age <= CSRF_LIFETIME and hmac.compare_digest(
        csrf_token(secret, claim, int(issued)).encode(), value.encode()
    )


# -- What the status page shows ----------------------------------------------------------

def _section_link(catalog: SectionCatalog, version: str, section: str) -> tuple[str, str, str]:
    """``(number and title, edition, /<edition>/<url>)`` of the section, as the message's edition has it."""
    editions = catalog.editions()
    for name in [version, *sorted(editions, key=version_key, reverse=True)]:
        entry = editions.get(name, {}).get(section)
        if entry is not None:
            label = " ".join(part for part in (entry.number, entry.title) if part) or section
            return label, name, f"/{name}/{entry.url}" if entry.url else ""
    return section, version, ""


def _day(timestamp: str) -> str:
    moment = parse_timestamp(timestamp)
    return moment.strftime("%d.%m.%Y") if moment else timestamp


def describe(row: dict, catalog: SectionCatalog, secret: str) -> dict:
    """One message as the status page shows it to its author."""
    label, edition, link = _section_link(catalog, row["version"], row["section"])
    text = row["text"]
    private = row["kind"] in PRIVATE_KINDS
    return {
        "id": row["id"],
        "token": row["token"],
        "csrf": csrf_token(secret, Claim(row["id"], row["token"])),
        "kind": KIND_NAMES.get(row["kind"], row["kind"]),
        "private": private,
        "section": label,
        "version": row["version"],
        "day": _day(row["created"]),
        "excerpt": text if len(text) <= EXCERPT else text[:EXCERPT].rstrip() + " …",
        "status": row["status"],
        "status_word": STATUS_WORDS[row["status"]],
        "link": link if row["status"] == "approved" and not private else "",
        "link_edition": edition,
        # Kept by the editors' workspace when they give a reason for not publishing.
        "reason": (row.get("reason") or "") if row["status"] == "rejected" else "",
    }
