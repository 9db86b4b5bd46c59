"""The audit log: who did what to which submission, and when.

An entry names the item by id, kind, section and edition and never holds the
item's text, so it may (and does) outlive the item it describes.
"""

from __future__ import annotations

from feedback_formats import utc_timestamp

from . import db

# Who acts when no editor is logged in.
API = "API"
CLI = "CLI"
AUTHOR = "Verfasser/in"

ACTIONS = {
    "approve": "freigegeben",
    "reject": "abgelehnt",
    "delete": "gelöscht",
    "answer": "beantwortet",
    "progress": "Bearbeitungsstand geändert",
    "withdraw": "vom Verfasser gelöscht",
}


def record(conn: db.Connection, actor: str, action: str, row: dict, detail: str = "") -> None:
    conn.execute(
        "INSERT INTO audit_log (at, actor, action, comment_id, kind, section, version, detail) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (utc_timestamp(), actor, action, row["id"], row["kind"], row["section"], row["version"],
         detail),
    )


def count(conn: db.Connection) -> int:
    return conn.scalar("SELECT COUNT(*) AS n FROM audit_log") or 0


def entries(conn: db.Connection, offset: int, limit: int) -> list[dict]:
    """The newest entries first."""
    return conn.all(
        "SELECT seq, at, actor, action, comment_id, kind, section, version, detail "
        "FROM audit_log ORDER BY seq DESC LIMIT ? OFFSET ?",
        (limit, offset),
    )
