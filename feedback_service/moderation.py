"""What editors do: list, approve, reject, delete, answer, track corrections, export changes.

Shared by the admin API, the command line and the editors' workspace; each
action takes the name of whoever acts (an editor, or ``audit.API``/``audit.CLI``)
and writes it to the audit log in the same transaction. Every change to the set of
public comments is written to the change log in the same transaction, which
is what the sync's cursor walks.
"""

from __future__ import annotations

import re
import secrets
import time
from datetime import datetime, timedelta, timezone

from feedback_formats import MAX_TEXT, PRIVATE_KINDS, STATUSES, utc_timestamp

from . import audit, db, notify
from .errors import ApiError
from .ids import hash_token, new_comment_id
from .schemas import PROGRESS, has_control_characters
from .sections import SectionCatalog

REJECTED_RETENTION = timedelta(days=30)
EXPORT_PAGE = 1000
MAX_NOTE = 500  # a rejection's reason, a correction's note
MAX_EDITION = 40


def _not_found(comment_id: str) -> ApiError:
    return ApiError(404, "not_found", f"Den Kommentar {comment_id[:80]} gibt es nicht (mehr).")


def _existing(conn: db.Connection, comment_id: str) -> dict:
    row = db.get_comment(conn, comment_id)
    if row is None:
        raise _not_found(comment_id)
    return row


def _is_public(row: dict) -> bool:
    return row["status"] == "approved" and row["kind"] == "comment"


def _editors_answers(conn: db.Connection, comment_id: str) -> list[dict]:
    return conn.all(
        "SELECT * FROM comments WHERE reply_to = ? AND role = 'editors' ORDER BY created, id",
        (comment_id,),
    )


def _publish(conn: db.Connection, row: dict) -> None:
    db.set_status(conn, row["id"], "approved")
    db.record_change(conn, row["id"], "upsert")


def _withhold(conn: db.Connection, row: dict, status: str) -> None:
    db.set_status(conn, row["id"], status)
    if _is_public(row):
        db.record_change(conn, row["id"], "delete")


def approve(conn: db.Connection, comment_id: str, editor: str) -> dict:
    """Publish a reader's comment, and the editors' answers to it with it."""
    row = _existing(conn, comment_id)
    if row["kind"] in PRIVATE_KINDS:
        raise ApiError(
            409, f"{row['kind']}_not_publishable",
            "Fehlermeldungen und gemeldete Barrieren werden nie veröffentlicht; sie gehen an die "
            "Redaktion (Korrekturbericht).",
        )
    if row["role"] == "editors":
        raise ApiError(
            409, "answer_follows_comment",
            "Eine Antwort der Redaktion erscheint mit dem Kommentar, den sie beantwortet.",
        )
    if row["status"] != "approved":
        _publish(conn, row)
        notify.comment_published(conn, comment_id)
        for answer in _editors_answers(conn, comment_id):
            if answer["status"] == "pending":
                _publish(conn, answer)
                notify.comment_answered(conn, comment_id, answer["id"])
        audit.record(conn, editor, "approve", row)
    return {"id": comment_id, "status": "approved"}


def _note(value: str, field: str) -> str:
    value = (value or "").replace("\r\n", "\n").strip()
    if len(value) > MAX_NOTE or has_control_characters(value, multiline=True):
        raise ApiError(
            422, f"invalid_{field}",
            f"Höchstens {MAX_NOTE} Zeichen und keine Steuerzeichen, bitte.", field,
        )
    return value


def reject(conn: db.Connection, comment_id: str, editor: str, reason: str = "") -> dict:
    """Refuse a submission; the optional reason stays in the record and the audit log."""
    reason = _note(reason, "reason")
    row = _existing(conn, comment_id)
    if row["role"] == "editors":
        raise ApiError(
            409, "answer_follows_comment",
            "Eine Antwort der Redaktion wird gelöscht, nicht abgelehnt.",
        )
    if row["status"] != "rejected":
        _withhold(conn, row, "rejected")
        notify.comment_withdrawn(conn, comment_id)
        conn.execute("UPDATE comments SET reason = ? WHERE id = ?", (reason, comment_id))
        for answer in _editors_answers(conn, comment_id):
            if answer["status"] == "approved":
                _withhold(conn, answer, "pending")
        audit.record(conn, editor, "reject", row, reason)
    return {"id": comment_id, "status": "rejected"}


def remove_comment(conn: db.Connection, row: dict, actor: str, action: str = "delete") -> None:
    """Delete a comment for good, with the editors' answers to it.

    Published replies of readers become top-level comments.
    """
    for answer in _editors_answers(conn, row["id"]):
        db.delete_comment(conn, answer["id"])
        if _is_public(answer):
            db.record_change(conn, answer["id"], "delete")
    orphans = db.delete_comment(conn, row["id"])
    notify.comment_withdrawn(conn, row["id"])
    if _is_public(row):
        db.record_change(conn, row["id"], "delete")
    for orphan in orphans:
        db.record_change(conn, orphan, "upsert")
    audit.record(conn, actor, action, row)


def delete(conn: db.Connection, comment_id: str, editor: str) -> dict:
    remove_comment(conn, _existing(conn, comment_id), editor)
    return {"id": comment_id, "status": "deleted"}


def answer(
    conn: db.Connection, comment_id: str, text: str, editor: str, team_name: str
) -> dict:
    """The editors' public answer to a reader's comment, signed with the team's name.

    It is published with the comment: at once when the comment is out,
    otherwise when an editor approves the comment.
    """
    row = _existing(conn, comment_id)
    if row["kind"] != "comment" or row["role"] == "editors":
        raise ApiError(
            409, "not_answerable",
            "Beantworten lassen sich nur Kommentare von Leserinnen und Lesern.",
        )
    if row["status"] == "rejected":
        raise ApiError(
            409, "not_answerable",
            "Ein abgelehnter Kommentar erscheint nicht; er bleibt ohne Antwort.",
        )
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text or len(text) > MAX_TEXT or has_control_characters(text, multiline=True):
        raise ApiError(
            422, "invalid_text",
            f"Die Antwort braucht 1 bis {MAX_TEXT} Zeichen ohne Steuerzeichen.", "text",
        )

    answer_id = new_comment_id()
    now = utc_timestamp()
    db.insert_comment(conn, {
        "id": answer_id,
        "section": row["section"],
        "version": row["version"],
        "kind": "comment",
        "status": "pending",
        "role": "editors",
        "author": team_name,
        "email": "",
        "text": text,
        "reply_to": comment_id,
        "created": now,
        "status_changed": now,
        # Nobody holds a token for it: only editors delete an answer.
        "delete_token_hash": hash_token(secrets.token_urlsafe(24)),
    })
    if row["status"] == "approved":
        _publish(conn, _existing(conn, answer_id))
        notify.comment_answered(conn, comment_id, answer_id)
    audit.record(conn, editor, "answer", row, answer_id)
    return {"id": answer_id, "reply_to": comment_id,
            "status": "approved" if row["status"] == "approved" else "pending"}


def set_progress(
    conn: db.Connection, comment_id: str, progress: str, editor: str,
    note: str = "", edition: str = "",
) -> dict:
    """How far the editors are with a correction or a barrier report."""
    if progress not in PROGRESS:
        raise ApiError(
            422, "invalid_progress",
            "Der Stand muss offen, in Bearbeitung, erledigt oder abgelehnt sein.", "progress",
        )
    row = _existing(conn, comment_id)
    if row["kind"] not in PRIVATE_KINDS:
        raise ApiError(
            409, "no_progress",
            "Einen Bearbeitungsstand haben nur Fehlermeldungen und Barrieremeldungen.",
        )
    note = _note(note, "note")
    edition = (edition or "").strip() if progress == "done" else ""
    if len(edition) > MAX_EDITION or has_control_characters(edition, multiline=False):
        raise ApiError(
            422, "invalid_edition", f"Die Ausgabe hat höchstens {MAX_EDITION} Zeichen.", "edition"
        )
    conn.execute(
        "UPDATE comments SET progress = ?, note = ?, done_in = ?, status_changed = ? "
        "WHERE id = ?",
        (progress, note, edition, utc_timestamp(), comment_id),
    )
    detail = PROGRESS[progress] + (f" (Ausgabe {edition})" if edition else "")
    audit.record(conn, editor, "progress", row, detail)
    return {"id": comment_id, "progress": progress, "note": note, "done_in": edition}


def check_status(status: str | None) -> str | None:
    if status in (None, "") or status in STATUSES:
        return status or None
    raise ApiError(
        422, "invalid_status",
        "Der Status muss pending, approved oder rejected sein.", "status",
    )


def listing(
    conn: db.Connection, catalog: SectionCatalog, status: str | None, kind: str | None = None
) -> list[dict]:
    """Comments for editors: every field, plus the section's number and title."""
    rows = db.list_comments(conn, check_status(status), kind)
    described = []
    for row in rows:
        section = catalog.describe(row["version"], row["section"])
        item = {key: value for key, value in row.items() if key != "delete_token_hash"}
        item["section_number"] = section.number if section else ""
        item["section_title"] = section.title if section else ""
        described.append(item)
    return described


def public(row: dict) -> dict:
    return {field: row[field] for field in db.PUBLIC_FIELDS}


def parse_cursor(since: str | None) -> int:
    if since in (None, ""):
        return 0
    if not since.isdigit() or len(since) > 18:
        raise ApiError(
            422, "invalid_cursor",
            "Der Cursor muss eine Zahl aus einer früheren Antwort sein (oder 0).", "since",
        )
    return int(since)


def export(conn: db.Connection, since: int, limit: int = EXPORT_PAGE) -> dict:
    """Changes to the public comments after cursor ``since`` (run in one snapshot).

    ``since=0`` (or a cursor the database does not know, e.g. after a restore)
    answers the whole current set with ``"full": true``: the receiver replaces
    what it has. Otherwise each changed comment appears once, as its state now.
    """
    last = db.last_change(conn)
    database = db.database_id(conn)
    if since == 0 or since > last:
        return {
            "database": database,
            "cursor": str(last),
            "full": True,
            "complete": True,
            "changes": [
                {"op": "upsert", "comment": public(row)}
                for row in db.all_public_comments(conn)
            ],
        }
    rows = db.changes_since(conn, since, limit + 1)
    complete = len(rows) <= limit
    rows = rows[:limit]
    order = list(dict.fromkeys(row["comment_id"] for row in rows))
    current = db.comments_by_ids(conn, order)
    changes = []
    for comment_id in order:
        row = current.get(comment_id)
        if row is not None and _is_public(row):
            changes.append({"op": "upsert", "comment": public(row)})
        else:
            changes.append({"op": "delete", "id": comment_id})
    return {
        "database": database,
        "cursor": str(rows[-1]["seq"] if rows else since),
        "full": False,
        "complete": complete,
        "changes": changes,
    }


def purge(conn: db.Connection) -> dict[str, int]:
    """Delete rejected comments after 30 days, idempotency keys and rate data after 24 h,
    and notification data no mail is due for any more."""
    rejected_before = utc_timestamp(datetime.now(timezone.utc) - REJECTED_RETENTION)
    expired_before_ms = int(time.time() * 1000) - 24 * 3600 * 1000
    return {**db.purge(conn, rejected_before, expired_before_ms), **notify.purge(conn)}


# What could turn a reader's words into markup: emphasis, code, links and
# images (brackets), headings; "<" and "&" become entities, so no HTML and no
# autolink survives. Dots, dashes and parentheses stay readable.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]#])")


def markdown_text(value: str) -> str:
    """Reader's text as inert Markdown: no markup, no HTML, no link; reads the same."""
    escaped = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_SPECIAL.sub(r"\\\1", escaped)


def corrections_report(rows: list[dict]) -> str:
    """Markdown for the editors of the next edition, grouped by section."""
    lines = ["# Gemeldete Fehler", ""]
    if not rows:
        lines.append("Keine offenen Fehlermeldungen.")
        return "\n".join(lines) + "\n"
    lines.append(f"{len(rows)} Fehlermeldung(en), nach Abschnitt geordnet.")
    by_section: dict[tuple, list[dict]] = {}
    for row in rows:
        key = (row["section_number"], row["section_title"], row["section"])
        by_section.setdefault(key, []).append(row)
    for (number, title, section_id), items in sorted(by_section.items(), key=_section_order):
        heading = " ".join(part for part in (number, title) if part) or section_id
        lines += ["", f"## {markdown_text(heading)}", "",
                  f"Abschnitts-ID: `{section_id}`", ""]
        for row in items:
            who = markdown_text(row["author"]) if row["author"] else "anonym"
            if row["email"]:
                who += f" ({markdown_text(row['email'])})"
            lines.append(
                f"- **{row['created']}**, Ausgabe {markdown_text(row['version'])}, {who} "
                f"(`{row['id']}`, {row['status']}, {PROGRESS[row['progress']]}):"
            )
            for text_line in row["text"].splitlines():
                lines.append(f"  > {markdown_text(text_line)}" if text_line else "  >")
    return "\n".join(lines) + "\n"


def _section_order(item: tuple) -> tuple:
    number = item[0][0]
    parts = tuple(int(part) for part in number.split(".") if part.isdigit())
    return (not parts, parts, item[0][2])
