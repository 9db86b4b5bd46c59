"""Backups and moves: an online copy of SQLite, its restore, and all data as JSON.

``backup`` copies a SQLite database through SQLite's backup API, so the copy
is consistent while the service keeps writing. ``restore`` puts such a copy
back, and refuses to overwrite a database that holds comments unless told to.
``export`` and ``import`` carry every row of the data tables (comments with
their answers and statuses, and whatever further tables the schema has, such
as the audit log) as JSON, without secrets; they also move a SQLite
installation to PostgreSQL. A restored or imported database gets a new
identity, so the sync notices it (``sync --force`` once, see the README).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import tempfile
from pathlib import Path

from typing import Callable

from feedback_formats import utc_timestamp, write_atomic

from . import db

EXPORT_FORMAT = 1
# Data tables, in an order that satisfies references, and the columns that are
# secrets or derived and never leave the database. The rest (change log,
# rate-limit counters, idempotency replays, sessions) is rebuilt or expires.
DATA_TABLES: dict[str, frozenset[str]] = {
    "comments": frozenset({"delete_token_hash"}),
    # ``seq`` is the log's own numbering: the importing database counts anew.
    "audit_log": frozenset({"seq"}),
    "ratings": frozenset(),
}


class BackupError(Exception):
    """What went wrong, in words for the operator; the CLI exits with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


def _require_sqlite(database: db.Database, what: str) -> Path:
    if database.dialect != "sqlite":
        raise BackupError(
            f"{what} gilt für SQLite. Für PostgreSQL nutzen Sie pg_dump und pg_restore "
            "(siehe README, Abschnitt Sicherung) oder export/import.", 2,
        )
    return database.sqlite_path


def backup(database: db.Database, target: Path) -> int:
    """Copy the live SQLite database to ``target``; returns the number of comments in it."""
    source_path = _require_sqlite(database, "backup")
    if not source_path.is_file():
        raise BackupError(f"Die Datenbank {source_path} gibt es nicht.")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.", delete=False) as handle:
        partial = Path(handle.name)
    try:
        source = sqlite3.connect(source_path, timeout=30)
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")
            count = copy.execute("SELECT COUNT(*) FROM comments").fetchone()[0]
        finally:
            copy.close()
            source.close()
        write_atomic(target, partial.read_bytes())
    finally:
        partial.unlink(missing_ok=True)
    return count


def _is_empty(database: db.Database) -> bool:
    database.migrate()
    with database.session(write=False) as conn:
        return not conn.scalar("SELECT COUNT(*) AS n FROM comments")


def _new_identity(conn: db.Connection) -> None:
    conn.execute(
        "UPDATE service_meta SET value = ? WHERE key = 'database_id'", (secrets.token_hex(16),)
    )


def restore(database: db.Database, source: Path, force: bool = False) -> int:
    """Replace the SQLite database by the backup ``source``; returns its number of comments."""
    target_path = _require_sqlite(database, "restore")
    try:
        copy = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            copy.execute("SELECT name FROM schema_migrations LIMIT 1").fetchall()
            count = copy.execute("SELECT COUNT(*) FROM comments").fetchone()[0]
        finally:
            copy.close()
    except sqlite3.Error as exc:
        raise BackupError(f"{source} ist keine Sicherung dieses Dienstes ({exc}).") from exc
    if target_path.is_file() and not force and not _is_empty(database):
        raise BackupError(
            f"Die Datenbank {target_path} enthält Beiträge. Zum Überschreiben "
            "`restore --force` verwenden (vorher am besten `backup` der jetzigen Daten).", 3,
        )
    target_path.parent.mkdir(parents=True, exist_ok=True)
    source_conn = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    target_conn = sqlite3.connect(target_path, timeout=30)
    try:
        source_conn.backup(target_conn)
    finally:
        source_conn.close()
        target_conn.close()
    database.migrate()
    with database.session() as conn:
        _new_identity(conn)
    return count


def _tables(conn: db.Connection) -> dict[str, list[str]]:
    """The data tables this database has, with the columns that may leave it."""
    columns = {}
    for table, secret in DATA_TABLES.items():
        if conn.dialect == "sqlite":
            names = [row["name"] for row in conn.all(f"PRAGMA table_info({table})")]
        else:
            names = [row["column_name"] for row in conn.all(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = ? "
                "ORDER BY ordinal_position", (table,))]
        if names:
            columns[table] = [name for name in names if name not in secret]
    return columns


def export_data(database: db.Database) -> dict:
    """Every data row as JSON-ready dicts, read in one consistent snapshot."""
    database.migrate()
    with database.session(write=False) as conn:
        tables = {}
        for table, columns in _tables(conn).items():
            order = "created, id" if "created" in columns and "id" in columns else "1"
            tables[table] = conn.all(
                f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}"  # noqa: S608
            )
    return {"format": EXPORT_FORMAT, "exported": utc_timestamp(), "tables": tables}


def import_data(
    database: db.Database, data: object, token_hash: Callable[[str], str], force: bool = False
) -> dict[str, int]:
    """Load an export into this database in one transaction; returns rows per table.

    ``token_hash(comment_id)`` gives the stored hash of a comment's delete token,
    derived again from this installation's secret: with the same secret the
    authors' tokens keep working after a move.
    """
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT or not isinstance(
        data.get("tables"), dict
    ):
        raise BackupError(f"Das ist kein Export dieses Dienstes (erwartet format {EXPORT_FORMAT}).")
    if not force and not _is_empty(database):
        raise BackupError(
            "Die Datenbank enthält schon Beiträge. Zum Ergänzen `import --force` verwenden.", 3,
        )
    counts = {}
    with database.session() as conn:
        columns = _tables(conn)
        for table, rows in data["tables"].items():
            if table not in columns or not isinstance(rows, list):
                raise BackupError(f"Unbekannte Tabelle im Export: {table}.")
            known = set(columns[table])
            for row in rows:
                if not isinstance(row, dict) or not set(row) <= known:
                    raise BackupError(f"Eine Zeile der Tabelle {table} passt nicht zum Schema.")
                if table == "comments":
                    row = {**row, "delete_token_hash": token_hash(str(row.get("id")))}
                names = list(row)
                conn.execute(
                    f"INSERT INTO {table} ({', '.join(names)}) "  # noqa: S608 - checked names
                    f"VALUES ({', '.join('?' for _ in names)})",
                    tuple(row[name] for name in names),
                )
                if table == "comments":
                    db.record_change(conn, row["id"], "upsert")
            counts[table] = len(rows)
        _new_identity(conn)
    return counts


def write_export(database: db.Database, target: Path | None) -> tuple[str, dict[str, int]]:
    data = export_data(database)
    text = json.dumps(data, ensure_ascii=False, indent=1) + "\n"
    if target is not None:
        write_atomic(target, text.encode("utf-8"))
    return text, {table: len(rows) for table, rows in data["tables"].items()}
