"""Storage: the schema, its migrations and every query, for SQLite and PostgreSQL.

One query layer serves both databases: SQL is written once with ``?``
placeholders and rows come back as dicts. SQLite runs in WAL mode with
``synchronous=FULL``, so a committed comment survives a crash of the process
and of the machine. All writes of a service process go through one
:class:`Writer`: a thread that commits several requests together (group
commit) and a second one that makes them durable and only then answers each:
it syncs the write-ahead log itself, after the turn at the file
(``synchronous=NORMAL`` on the writer's connection), so that the processes of
one service sync side by side instead of one after the other, and the next
batch is committed while the last one is being synced. A commit that changed
what the site shows wakes the sync (:mod:`feedback_service.wakeup`).
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import queue
import secrets
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator

from feedback_formats import COMMENT_FIELDS, PRIVATE_KINDS, utc_timestamp

from . import wakeup

log = logging.getLogger("feedback_service.db")

# -- Schema ------------------------------------------------------------------
# Ordered, named steps. Never edit a step that has shipped: add a new one.
# ``{identity}`` is the one type the two databases spell differently.
MIGRATIONS: tuple[tuple[str, str], ...] = (
    (
        "0001_comments",
        """
        CREATE TABLE comments (
            id TEXT PRIMARY KEY,
            section TEXT NOT NULL,
            version TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('comment', 'correction')),
            status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
            author TEXT NOT NULL,
            email TEXT NOT NULL,
            text TEXT NOT NULL,
            reply_to TEXT,
            created TEXT NOT NULL,
            status_changed TEXT NOT NULL,
            delete_token_hash TEXT NOT NULL
        );
        CREATE INDEX comments_by_section ON comments (section, status, created);
        CREATE INDEX comments_by_status ON comments (status, created)
        """,
    ),
    (
        "0002_change_log",
        """
        CREATE TABLE changes (
            seq {identity},
            comment_id TEXT NOT NULL,
            op TEXT NOT NULL CHECK (op IN ('upsert', 'delete'))
        )
        """,
    ),
    (
        "0003_idempotency_keys",
        """
        CREATE TABLE idempotency_keys (
            key_hash TEXT PRIMARY KEY,
            request_hash TEXT NOT NULL,
            status INTEGER NOT NULL,
            body TEXT NOT NULL,
            created BIGINT NOT NULL
        )
        """,
    ),
    (
        "0004_rate_limit",
        """
        CREATE TABLE rate_secrets (
            day TEXT PRIMARY KEY,
            secret TEXT NOT NULL
        );
        CREATE TABLE rate_events (
            client TEXT NOT NULL,
            at BIGINT NOT NULL
        );
        CREATE INDEX rate_events_by_client ON rate_events (client, at)
        """,
    ),
    (
        # A private report of an accessibility barrier, kept like a correction.
        # Neither database can widen a CHECK in place: the table is rebuilt.
        "0005_barrier_reports",
        """
        CREATE TABLE comments_new (
            id TEXT PRIMARY KEY,
            section TEXT NOT NULL,
            version TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('comment', 'correction', 'barrier')),
            status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
            author TEXT NOT NULL,
            email TEXT NOT NULL,
            text TEXT NOT NULL,
            reply_to TEXT,
            created TEXT NOT NULL,
            status_changed TEXT NOT NULL,
            delete_token_hash TEXT NOT NULL
        );
        INSERT INTO comments_new (id, section, version, kind, status, author, email, text, reply_to,
                                  created, status_changed, delete_token_hash)
            SELECT id, section, version, kind, status, author, email, text, reply_to,
                   created, status_changed, delete_token_hash FROM comments;
        DROP TABLE comments;
        ALTER TABLE comments_new RENAME TO comments;
        CREATE INDEX comments_by_section ON comments (section, status, created);
        CREATE INDEX comments_by_status ON comments (status, created)
        """,
    ),
    (
        # Replayed answers no longer hold the delete token (it is derived from
        # the server secret); answers stored the old, encrypted way are dropped.
        "0006_replays_without_tokens",
        "DELETE FROM idempotency_keys",
    ),
    (
        "0007_service_meta",
        # ``database_id`` tells the sync which database an export comes from;
        # ``health_probe`` is rewritten by every health check to prove writes work.
        """
        CREATE TABLE service_meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )
        """,
    ),
    (
        # The rate limit's key derives from the server secret, outside the database.
        "0008_rate_key_outside_database",
        "DROP TABLE rate_secrets; DELETE FROM rate_events",
    ),
    (
        # "War diese Seite hilfreich?": the answer and its reason, and nothing
        # about who gave it; the day is precise enough for any count.
        "0009_ratings",
        """
        CREATE TABLE ratings (
            seq {identity},
            doc TEXT NOT NULL,
            version TEXT NOT NULL,
            helpful TEXT NOT NULL CHECK (helpful IN ('yes', 'no')),
            reason TEXT NOT NULL,
            created TEXT NOT NULL
        );
        CREATE INDEX ratings_by_page ON ratings (version, doc)
        """,
    ),
    (
        # The editors' workspace: editorial answers (role), the reason kept with
        # a rejection, and how far a correction or barrier report has come.
        "0010_workspace_comments",
        """
        ALTER TABLE comments ADD COLUMN role TEXT NOT NULL DEFAULT 'reader'
            CHECK (role IN ('reader', 'editors'));
        ALTER TABLE comments ADD COLUMN reason TEXT NOT NULL DEFAULT '';
        ALTER TABLE comments ADD COLUMN progress TEXT NOT NULL DEFAULT 'open'
            CHECK (progress IN ('open', 'in_progress', 'done', 'declined'));
        ALTER TABLE comments ADD COLUMN note TEXT NOT NULL DEFAULT '';
        ALTER TABLE comments ADD COLUMN done_in TEXT NOT NULL DEFAULT '';
        CREATE INDEX comments_by_reply ON comments (reply_to)
        """,
    ),
    (
        "0011_editors",
        """
        CREATE TABLE editors (
            name TEXT PRIMARY KEY,
            password_hash TEXT NOT NULL,
            created TEXT NOT NULL
        );
        CREATE TABLE editor_sessions (
            token_hash TEXT PRIMARY KEY,
            editor TEXT NOT NULL REFERENCES editors (name) ON DELETE CASCADE,
            csrf TEXT NOT NULL,
            created BIGINT NOT NULL,
            seen BIGINT NOT NULL
        );
        CREATE INDEX editor_sessions_by_editor ON editor_sessions (editor);
        CREATE TABLE login_failures (
            subject TEXT NOT NULL,
            at BIGINT NOT NULL
        );
        CREATE INDEX login_failures_by_subject ON login_failures (subject, at);
        CREATE TABLE audit_log (
            seq {identity},
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            comment_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            section TEXT NOT NULL,
            version TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX audit_log_by_comment ON audit_log (comment_id)
        """,
    ),
    (
        # Notifications waiting for the sender (feedback_service/outbox.py); times in ms.
        "0011_outbox",
        """
        CREATE TABLE outbox (
            id {identity},
            event TEXT NOT NULL,
            channel TEXT NOT NULL,
            payload TEXT NOT NULL,
            created BIGINT NOT NULL,
            due BIGINT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            state TEXT NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'sent', 'dropped', 'failed')),
            lease_owner TEXT,
            lease_until BIGINT,
            finished BIGINT,
            last_error TEXT
        );
        CREATE INDEX outbox_due ON outbox (state, channel, due)
        """,
    ),
    (
        # Readers who asked to hear back (feedback_service/notify.py): deleted when no
        # mail is due any more, and with their comment (by the code that deletes it: no
        # foreign key, so a later rebuild of the comments table cannot take them along).
        "0012_subscriptions",
        """
        CREATE TABLE subscriptions (
            comment_id TEXT PRIMARY KEY,
            email TEXT NOT NULL,
            token TEXT NOT NULL UNIQUE,
            created BIGINT NOT NULL,
            confirmed BIGINT,
            answer_id TEXT,
            expires BIGINT NOT NULL
        )
        """,
    ),
    (
        # A new comment is pending and answers nobody: partial indexes leave it out of
        # the two lookups that only ever ask for replies and for published comments, two
        # B-tree inserts fewer in every reader's write (the approval adds the entry).
        "0013_partial_indexes",
        """
        DROP INDEX comments_by_reply;
        CREATE INDEX comments_by_reply ON comments (reply_to) WHERE reply_to IS NOT NULL;
        DROP INDEX comments_by_section;
        CREATE INDEX comments_published ON comments (section, created, id)
            WHERE status = 'approved' AND kind = 'comment'
        """,
    ),
)

_IDENTITY = {
    "sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT",
    "postgresql": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
}
# Serialises migrations of several processes starting at once (PostgreSQL).
_MIGRATION_LOCK = 48151623
# Serialises change-log writers so that sequence order is commit order.
_CHANGE_LOG_LOCK = "LOCK TABLE changes IN EXCLUSIVE MODE"

# What the public sees of a comment: the record of the comments file.
PUBLIC_FIELDS = (*COMMENT_FIELDS, "role")


class DatabaseError(Exception):
    """The database cannot be reached or refused an operation."""


class IntegrityError(DatabaseError):
    """A uniqueness or check constraint refused a write."""


@lru_cache(maxsize=256)
def _pg_sql(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


class Connection:
    """One database connection with a small, dialect-neutral interface."""

    def __init__(self, raw: Any, dialect: str):
        self.raw = raw
        self.dialect = dialect
        # The open transaction wrote to the change log: its commit wakes the sync.
        self.publishes = False

    def execute(self, sql: str, params: tuple | list = ()) -> Any:
        if self.dialect == "postgresql":
            sql = _pg_sql(sql)
        try:
            return self.raw.execute(sql, params)
        except _integrity_errors() as exc:
            raise IntegrityError(str(exc)) from exc
        except _database_errors() as exc:
            raise DatabaseError(str(exc)) from exc

    def all(self, sql: str, params: tuple | list = ()) -> list[dict]:
        return self.execute(sql, params).fetchall()

    def one(self, sql: str, params: tuple | list = ()) -> dict | None:
        return self.execute(sql, params).fetchone()

    def scalar(self, sql: str, params: tuple | list = ()) -> Any:
        row = self.execute(sql, params).fetchone()
        return None if row is None else next(iter(row.values()))

    def run_script(self, script: str) -> None:
        for statement in filter(None, (part.strip() for part in script.split(";"))):
            self.execute(statement)

    def close(self) -> None:
        try:
            self.raw.close()
        except Exception:  # closing a broken connection must not mask the first error
            log.debug("closing a database connection failed", exc_info=True)


def _integrity_errors() -> tuple[type[BaseException], ...]:
    import psycopg

    return (sqlite3.IntegrityError, psycopg.IntegrityError)


def _database_errors() -> tuple[type[BaseException], ...]:
    import psycopg

    return (sqlite3.Error, psycopg.Error)


def _dict_row(cursor: sqlite3.Cursor, row: tuple) -> dict:
    return {column[0]: value for column, value in zip(cursor.description, row)}


@dataclass(frozen=True)
class Database:
    """Where the data lives; opens connections and runs transactions."""

    url: str
    # SQLite: (device, inode) of the file this process opened first; a file
    # removed or replaced underneath the service must not take writes that vanish.
    _opened: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def dialect(self) -> str:
        return "sqlite" if self.url.startswith("sqlite:") else "postgresql"

    @property
    def sqlite_path(self) -> Path:
        return Path(self.url[len("sqlite:///"):])

    def connect(self) -> Connection:
        if self.dialect == "sqlite":
            path = self.sqlite_path
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                raw = sqlite3.connect(
                    path, isolation_level=None, check_same_thread=False, timeout=30
                )
                raw.row_factory = _dict_row
                raw.execute("PRAGMA journal_mode=WAL")
                raw.execute("PRAGMA synchronous=FULL")
                raw.execute("PRAGMA foreign_keys=ON")
            except (OSError, sqlite3.Error) as exc:
                raise DatabaseError(f"SQLite-Datenbank {path}: {exc}") from exc
            self._opened.setdefault("file", self._file_identity())
            return Connection(raw, "sqlite")
        import psycopg
        from psycopg.rows import dict_row

        try:
            raw = psycopg.connect(
                self.url, autocommit=True, row_factory=dict_row, connect_timeout=10
            )
        except psycopg.Error as exc:
            raise DatabaseError(f"PostgreSQL: {exc}") from exc
        return Connection(raw, "postgresql")

    def _file_identity(self) -> tuple[int, int] | None:
        try:
            stat = os.stat(self.sqlite_path)
        except OSError:
            return None
        return (stat.st_dev, stat.st_ino)

    def check_file(self) -> None:
        """Raise DatabaseError when the SQLite file was removed or replaced since it was opened."""
        if self.dialect != "sqlite" or "file" not in self._opened:
            return
        current = self._file_identity()
        if current is None:
            raise DatabaseError(f"Die Datenbankdatei {self.sqlite_path} wurde entfernt.")
        if current != self._opened["file"]:
            raise DatabaseError(f"Die Datenbankdatei {self.sqlite_path} wurde ersetzt.")

    def sync_log(self) -> None:
        """Make every transaction committed so far durable (SQLite: flush the write-ahead log).

        In WAL mode a commit is its frames in the ``-wal`` file; once that file
        is flushed, they survive a crash of the machine (a checkpoint flushes the
        log before it copies frames into the database, so frames it took along
        are safe too). PostgreSQL's commit is durable by itself.
        """
        if self.dialect != "sqlite":
            return
        path = self.sqlite_path.with_name(self.sqlite_path.name + "-wal")
        try:
            handle = os.open(path, os.O_RDONLY)
        except OSError as exc:
            raise DatabaseError(f"Das Schreibprotokoll {path} fehlt: {exc}") from exc
        try:
            os.fdatasync(handle)
        except OSError as exc:
            raise DatabaseError(f"Das Schreibprotokoll {path} ließ sich nicht sichern: {exc}") from exc
        finally:
            os.close(handle)

    def begin_write(self, conn: Connection) -> None:
        conn.execute("BEGIN IMMEDIATE" if self.dialect == "sqlite" else "BEGIN")
        conn.publishes = False

    def committed(self, conn: Connection) -> None:
        """After a commit: wake the sync if the transaction changed what is published.

        PostgreSQL has delivered the transaction's NOTIFY with the commit itself.
        """
        if conn.publishes:
            conn.publishes = False
            self.announce()

    def write_lock_path(self) -> str:
        return f"{self.sqlite_path}.writelock"

    @contextmanager
    def write_turn(self, handle: int | None = None) -> Iterator[None]:
        """Wait for this process's turn to write (SQLite, several processes).

        SQLite's own busy handler polls with growing sleeps, which under load
        costs whole seconds; a blocking file lock hands over at once. ``handle``
        is the lock file opened by the caller, who keeps it for many turns
        (the :class:`Writer`); without it the file is opened for this turn.
        A lock belongs to an open file, so two threads must not share one.
        """
        if self.dialect != "sqlite":
            yield
            return
        own = handle is None
        if own:
            handle = os.open(self.write_lock_path(), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        finally:
            if own:
                os.close(handle)

    def announce(self) -> None:
        """Wake the sync: a durable commit changed what is published (SQLite; PostgreSQL notifies)."""
        if self.dialect == "sqlite":
            wakeup.ring(self.url)

    @contextmanager
    def transaction(self, conn: Connection, write: bool = True) -> Iterator[Connection]:
        """Run the block in one transaction: committed on success, else rolled back."""
        if write:
            self.begin_write(conn)
        elif self.dialect == "postgresql":
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        else:
            conn.execute("BEGIN")
        try:
            yield conn
        except BaseException:
            _rollback(conn)
            raise
        conn.execute("COMMIT")
        self.committed(conn)

    @contextmanager
    def session(self, write: bool = True) -> Iterator[Connection]:
        """A fresh connection with one transaction (for the CLI and tests)."""
        conn = self.connect()
        try:
            with self.transaction(conn, write=write):
                yield conn
        finally:
            conn.close()

    def migrate(self) -> list[str]:
        """Apply every migration not yet recorded; returns the names applied."""
        conn = self.connect()
        applied = []
        try:
            with self.transaction(conn):
                self._lock_migrations(conn)
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations "
                    "(name TEXT PRIMARY KEY, applied TEXT NOT NULL)"
                )
            for name, script in MIGRATIONS:
                with self.transaction(conn):
                    self._lock_migrations(conn)
                    if conn.one("SELECT name FROM schema_migrations WHERE name = ?", (name,)):
                        continue
                    conn.run_script(script.format(identity=_IDENTITY[self.dialect]))
                    conn.execute(
                        "INSERT INTO schema_migrations (name, applied) VALUES (?, ?)",
                        (name, utc_timestamp()),
                    )
                    applied.append(name)
            with self.transaction(conn):
                conn.execute(
                    "INSERT INTO service_meta (key, value) VALUES ('database_id', ?) "
                    "ON CONFLICT (key) DO NOTHING",
                    (secrets.token_hex(16),),
                )
        finally:
            conn.close()
        for name in applied:
            log.info("migration %s applied", name)
        return applied

    def _lock_migrations(self, conn: Connection) -> None:
        if self.dialect == "postgresql":
            conn.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))


def _rollback(conn: Connection) -> None:
    conn.publishes = False
    try:
        conn.execute("ROLLBACK")
    except DatabaseError:
        log.debug("rollback failed", exc_info=True)


class ReadPool:
    """A few reusable connections for reads (each used by one thread at a time)."""

    def __init__(self, db: Database, size: int = 8):
        self.db = db
        self._idle: queue.LifoQueue[Connection] = queue.LifoQueue(maxsize=size)

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = self.db.connect()
        try:
            yield conn
        except DatabaseError:
            conn.close()
            raise
        try:
            self._idle.put_nowait(conn)
        except queue.Full:
            conn.close()

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


Job = Callable[[Connection], Any]


class Writer:
    """The two threads of a process that write: one commits, one makes commits durable.

    The committing thread takes queued jobs together (group commit), each
    inside its own savepoint, so a job that fails leaves the others of its
    batch intact; the batch is committed once. The syncing thread then
    flushes the write-ahead log (SQLite) for every batch committed so far and
    only then answers their callers and wakes the sync; meanwhile the next
    batch is already being committed. A commit or a flush that fails fails
    every job in it.

    With SQLite the syncing thread also copies the log into the database file
    (the checkpoint), on a connection of its own, outside the write turn:
    SQLite's automatic checkpoint would do it inside a commit, holding every
    process's writes back for the 4 ms or so that copying 1,000 pages takes.
    Once the log has grown past :data:`CHECKPOINT_FRAMES`, the committing
    thread finishes the checkpoint in its next turn (only the frames written
    since, a few), so that the following transaction starts the log afresh
    and it does not grow under steady writes.
    """

    MAX_BATCH = 64
    # How often the syncing thread copies the log into the database while writes come in.
    CHECKPOINT_INTERVAL = 0.05
    # Past this many frames in the log (SQLite's own automatic threshold) it is restarted.
    CHECKPOINT_FRAMES = 1000

    def __init__(self, db: Database):
        self.db = db
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._committed: queue.SimpleQueue = queue.SimpleQueue()
        self._threads: tuple[threading.Thread, threading.Thread] | None = None
        self._lock = threading.Lock()
        # Set by the syncing thread: the committing thread finishes the checkpoint in its turn.
        self._restart_log = False

    def start(self) -> None:
        with self._lock:
            if self._threads is None or not all(thread.is_alive() for thread in self._threads):
                self._threads = (
                    threading.Thread(target=self._run, name="feedback-writer", daemon=True),
                    threading.Thread(target=self._sync, name="feedback-writer-sync", daemon=True),
                )
                for thread in self._threads:
                    thread.start()

    def stop(self) -> None:
        # Under the lock until the threads have ended: a job queued meanwhile (the
        # notifier, the purge) must not start a second writer that takes the stop
        # meant for this one while this one goes on writing.
        with self._lock:
            threads, self._threads = self._threads, None
            if threads is not None:
                self._queue.put(None)  # the committer passes it on to the syncer
                for thread in threads:
                    thread.join(timeout=30)

    async def run(self, job: Job) -> Any:
        """Run ``job(conn)`` in a write transaction; returns its result once committed."""
        self.start()
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put((job, future, loop))
        return await future

    def _run(self) -> None:
        conn: Connection | None = None
        lock: int | None = None
        stopping = False
        try:
            while not stopping:
                batch, stopping = _drain(self._queue, self.MAX_BATCH)
                if not batch:
                    break
                publishes = False
                try:
                    self.db.check_file()
                    if conn is None:
                        conn = self.db.connect()
                        if conn.dialect == "sqlite":
                            # The commit only writes the log; the syncing thread flushes it.
                            conn.execute("PRAGMA synchronous=NORMAL")
                            # Checkpoints are the syncing thread's (see the class).
                            conn.execute("PRAGMA wal_autocheckpoint=0")
                            lock = os.open(self.db.write_lock_path(), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                    with self.db.write_turn(lock):
                        outcomes = self._run_batch(conn, batch)
                        if self._restart_log:
                            self._restart_log = False
                            _checkpoint(conn)
                    publishes, conn.publishes = conn.publishes, False
                except Exception as exc:  # noqa: BLE001 - the writer must outlive any failure
                    # Whatever went wrong (a locked or vanished file, too many open files, a
                    # bug), this batch's callers get an answer and the thread keeps serving.
                    if not isinstance(exc, DatabaseError):
                        log.error("write failed: %s: %s", type(exc).__name__, exc)
                        exc = DatabaseError(f"{type(exc).__name__}: {exc}")
                    conn, lock = _close(conn, lock)
                    outcomes = [(False, exc)] * len(batch)
                self._committed.put((batch, outcomes, publishes))
        finally:
            _close(conn, lock)
            self._committed.put(None)

    def _sync(self) -> None:
        """Flush the log once for all batches committed meanwhile, then answer their callers."""
        stopping = False
        checkpoints = _Checkpoints(self)
        try:
            while not stopping:
                done, stopping = _drain(self._committed)
                if not done:
                    break
                self._settle(done)
                checkpoints.after_round()
        finally:
            checkpoints.close()

    def _settle(self, done: list) -> None:
        """Make the batches in ``done`` durable, then answer their callers."""
        failure: DatabaseError | None = None
        if any(ok for _, outcomes, _ in done for ok, _ in outcomes):
            try:
                self.db.sync_log()
            except Exception as exc:  # noqa: BLE001 - an answer for every caller, whatever failed
                failure = exc if isinstance(exc, DatabaseError) else DatabaseError(f"{type(exc).__name__}: {exc}")
        if failure is None and any(publishes for _, _, publishes in done):
            # Only what is durable may reach the published site.
            self.db.announce()
        # One wake-up of each event loop per round, not one per job.
        settled: dict[asyncio.AbstractEventLoop, list] = {}
        for batch, outcomes, _ in done:
            for (_, future, loop), outcome in zip(batch, outcomes):
                if failure is not None and outcome[0]:
                    outcome = (False, failure)
                settled.setdefault(loop, []).append((future, outcome))
        for loop, results in settled.items():
            try:
                loop.call_soon_threadsafe(_settle_all, results)
            except RuntimeError:  # the caller's loop has closed: nobody waits any more
                pass

    def _run_batch(self, conn: Connection, batch: list) -> list[tuple[bool, Any]]:
        outcomes: list[tuple[bool, Any]] = []
        self.db.begin_write(conn)
        try:
            for job, _, _ in batch:
                conn.execute("SAVEPOINT job")
                publishes = conn.publishes
                try:
                    result = job(conn)
                except Exception as exc:
                    conn.execute("ROLLBACK TO SAVEPOINT job")
                    conn.execute("RELEASE SAVEPOINT job")
                    conn.publishes = publishes
                    outcomes.append((False, exc))
                else:
                    conn.execute("RELEASE SAVEPOINT job")
                    outcomes.append((True, result))
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise
        return outcomes


def _drain(source: queue.SimpleQueue, limit: int | None = None) -> tuple[list, bool]:
    """Waits for the first item, then takes what else is there (up to ``limit``); True once a stop (None) came."""
    first = source.get()
    if first is None:
        return [], True
    items = [first]
    while limit is None or len(items) < limit:
        try:
            item = source.get_nowait()
        except queue.Empty:
            break
        if item is None:
            return items, True
        items.append(item)
    return items, False


class _Checkpoints:
    """The syncing thread's checkpoints (SQLite): at most one per interval, on a connection of its own."""

    def __init__(self, writer: Writer):
        self.writer = writer
        self.conn: Connection | None = None
        self.last = time.monotonic()

    def after_round(self) -> None:
        writer, now = self.writer, time.monotonic()
        if writer.db.dialect != "sqlite" or now - self.last < writer.CHECKPOINT_INTERVAL:
            return
        self.last = now
        try:
            if self.conn is None:
                writer.db.check_file()  # a removed file must not be made anew by connecting
                self.conn = writer.db.connect()
        except DatabaseError as exc:
            log.warning("no checkpoint for now: %s", exc)
            return
        frames = _checkpoint(self.conn)
        if frames is None:
            self.close()
        elif frames >= writer.CHECKPOINT_FRAMES:
            writer._restart_log = True

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def _checkpoint(conn: Connection) -> int | None:
    """Copy what it can of the log into the database without waiting for anyone (SQLite).

    The log's length in frames; None when the checkpoint failed (logged: the
    next one tries again, and nothing committed is lost by a missed copy).
    """
    try:
        row = conn.one("PRAGMA wal_checkpoint(PASSIVE)")
    except Exception as exc:  # noqa: BLE001 - the writer's threads must outlive any failure
        log.warning("checkpoint failed: %s: %s", type(exc).__name__, exc)
        return None
    return None if row is None else row["log"]


def _close(conn: Connection | None, lock: int | None) -> tuple[None, None]:
    """Close the writer's connection and its lock file."""
    if conn is not None:
        conn.close()
    if lock is not None:
        os.close(lock)
    return None, None


def _settle_all(results: list[tuple[asyncio.Future, tuple[bool, Any]]]) -> None:
    for future, (ok, value) in results:
        if future.cancelled():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


# -- Queries -----------------------------------------------------------------

def database_id(conn: Connection) -> str:
    """A random name given to this database when it was created; a restored copy keeps it."""
    return conn.scalar("SELECT value FROM service_meta WHERE key = 'database_id'")


def read_meta(conn: Connection, key: str) -> str | None:
    return conn.scalar("SELECT value FROM service_meta WHERE key = ?", (key,))


def write_meta(conn: Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO service_meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def delete_meta(conn: Connection, key: str) -> None:
    conn.execute("DELETE FROM service_meta WHERE key = ?", (key,))


def probe_write(conn: Connection) -> None:
    """A real, committed write: the health check's proof that the database takes data."""
    write_meta(conn, "health_probe", utc_timestamp())


def insert_comment(conn: Connection, row: dict) -> None:
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    conn.execute(f"INSERT INTO comments ({columns}) VALUES ({marks})", tuple(row.values()))


def get_comment(conn: Connection, comment_id: str) -> dict | None:
    return conn.one("SELECT * FROM comments WHERE id = ?", (comment_id,))


def public_comments(conn: Connection, section: str) -> list[dict]:
    return conn.all(
        f"SELECT {', '.join(PUBLIC_FIELDS)} FROM comments "
        "WHERE section = ? AND status = 'approved' AND kind = 'comment' "
        "ORDER BY created, id",
        (section,),
    )


def all_public_comments(conn: Connection) -> list[dict]:
    return conn.all(
        f"SELECT {', '.join(PUBLIC_FIELDS)} FROM comments "
        "WHERE status = 'approved' AND kind = 'comment' ORDER BY created, id"
    )


def list_comments(conn: Connection, status: str | None, kind: str | None) -> list[dict]:
    clauses, params = [], []
    if status:
        clauses.append("status = ?")
        params.append(status)
    if kind:
        clauses.append("kind = ?")
        params.append(kind)
    where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
    return conn.all(f"SELECT * FROM comments {where}ORDER BY created, id", params)


def set_status(conn: Connection, comment_id: str, status: str) -> None:
    conn.execute(
        "UPDATE comments SET status = ?, status_changed = ? WHERE id = ?",
        (status, utc_timestamp(), comment_id),
    )


def delete_comment(conn: Connection, comment_id: str) -> list[str]:
    """Delete a comment; returns the ids of approved replies that lost their parent."""
    orphans = [
        row["id"]
        for row in conn.all(
            "SELECT id FROM comments WHERE reply_to = ? AND status = 'approved'", (comment_id,)
        )
    ]
    conn.execute("UPDATE comments SET reply_to = NULL WHERE reply_to = ?", (comment_id,))
    conn.execute("DELETE FROM comments WHERE id = ?", (comment_id,))
    return orphans


def record_change(conn: Connection, comment_id: str, op: str) -> None:
    """Log a change to the published comments; the commit wakes the sync."""
    if conn.dialect == "postgresql":
        conn.execute(_CHANGE_LOG_LOCK)
        if not conn.publishes:
            # Delivered on commit only; a savepoint rolled back takes it along (and resets the flag).
            conn.execute(wakeup.NOTIFY)
    conn.execute("INSERT INTO changes (comment_id, op) VALUES (?, ?)", (comment_id, op))
    conn.publishes = True


def last_change(conn: Connection) -> int:
    return conn.scalar("SELECT COALESCE(MAX(seq), 0) AS seq FROM changes") or 0


def changes_since(conn: Connection, since: int, limit: int) -> list[dict]:
    return conn.all(
        "SELECT seq, comment_id, op FROM changes WHERE seq > ? ORDER BY seq LIMIT ?",
        (since, limit),
    )


def comments_by_ids(conn: Connection, ids: list[str]) -> dict[str, dict]:
    if not ids:
        return {}
    marks = ", ".join("?" for _ in ids)
    rows = conn.all(f"SELECT * FROM comments WHERE id IN ({marks})", ids)
    return {row["id"]: row for row in rows}


def find_idempotent_answer(conn: Connection, key_hash: str) -> dict | None:
    return conn.one(
        "SELECT request_hash, status, body FROM idempotency_keys WHERE key_hash = ?",
        (key_hash,),
    )


def claim_idempotency_key(
    conn: Connection, key_hash: str, request_hash: str, status: int, body: str, now: int
) -> dict | None:
    """Store the answer under ``key_hash``; None if it was new, else the answer stored earlier.

    One statement in the usual case (a new key). On PostgreSQL a concurrent
    transaction holding the same key makes this one wait for its outcome.
    """
    cursor = conn.execute(
        "INSERT INTO idempotency_keys (key_hash, request_hash, status, body, created) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (key_hash) DO NOTHING",
        (key_hash, request_hash, status, body, now),
    )
    if cursor.rowcount == 1:
        return None
    return find_idempotent_answer(conn, key_hash)


def lock_rate_client(conn: Connection, client: str) -> None:
    """Make concurrent checks of one client wait for each other (PostgreSQL)."""
    if conn.dialect == "postgresql":
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (client,))


def rate_events(conn: Connection, client: str, since_ms: int) -> list[int]:
    rows = conn.all(
        "SELECT at FROM rate_events WHERE client = ? AND at > ? ORDER BY at", (client, since_ms)
    )
    return [row["at"] for row in rows]


def add_rate_event(conn: Connection, client: str, at_ms: int) -> None:
    conn.execute("INSERT INTO rate_events (client, at) VALUES (?, ?)", (client, at_ms))


def insert_rating(conn: Connection, doc: str, version: str, helpful: str, reason: str, day: str) -> None:
    conn.execute(
        "INSERT INTO ratings (doc, version, helpful, reason, created) VALUES (?, ?, ?, ?, ?)",
        (doc, version, helpful, reason, day),
    )


def rating_counts(conn: Connection) -> list[dict]:
    """How often each page of each edition was answered how, and with which reason."""
    return conn.all(
        "SELECT version, doc, helpful, reason, COUNT(*) AS count FROM ratings "
        "GROUP BY version, doc, helpful, reason ORDER BY version, doc, helpful, reason"
    )


def purge(conn: Connection, rejected_before: str, expired_before_ms: int) -> dict[str, int]:
    """Delete rejected comments, idempotency keys and rate events past their time."""
    conn.execute(
        "UPDATE comments SET reply_to = NULL WHERE reply_to IN (SELECT id FROM comments "
        "WHERE status = 'rejected' AND status_changed < ?)",
        (rejected_before,),
    )
    counts = {}
    for name, sql, params in (
        (
            "rejected",
            "DELETE FROM comments WHERE status = 'rejected' AND status_changed < ?",
            (rejected_before,),
        ),
        ("idempotency_keys", "DELETE FROM idempotency_keys WHERE created < ?", (expired_before_ms,)),
        ("rate_events", "DELETE FROM rate_events WHERE at < ?", (expired_before_ms,)),
    ):
        counts[name] = conn.execute(sql, params).rowcount
    return counts


def table_columns(conn: Connection, table: str) -> set[str]:
    """The columns of ``table``; empty when the database has no such table (a schema older than the code)."""
    if conn.dialect == "sqlite":
        return {row["name"] for row in conn.all(f"PRAGMA table_info({table})")}
    rows = conn.all("SELECT column_name FROM information_schema.columns WHERE table_name = ?", (table,))
    return {row["column_name"] for row in rows}


def count_editors(conn: Connection) -> int | None:
    """How many editors' accounts there are; None when the database has no editors' table."""
    if not table_columns(conn, "editors"):
        return None
    return conn.scalar("SELECT COUNT(*) AS accounts FROM editors")


def reports_done_in(conn: Connection, edition: str) -> list[dict]:
    """Corrections and barrier reports the editors marked as done in ``edition`` (the release notes)."""
    kinds = ", ".join("?" for _ in PRIVATE_KINDS)
    return conn.all(
        "SELECT id, kind, section, version, created, text FROM comments "
        f"WHERE progress = 'done' AND done_in = ? AND kind IN ({kinds}) ORDER BY kind, created, id",
        (edition, *PRIVATE_KINDS),
    )
