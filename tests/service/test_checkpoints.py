"""The writer's checkpoints (SQLite): outside the write turn, and the log stays short."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from feedback_service import db

ROW = "x" * 600  # a few rows fill a page: every commit adds frames to the log
FRAME = 4096 + 24  # a page and its frame header in the write-ahead log


def _database(tmp_path: Path) -> db.Database:
    database = db.Database(f"sqlite:///{tmp_path / 'feedback.sqlite3'}")
    conn = database.connect()
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    conn.close()
    return database


def _run_async(main):
    """``asyncio.run(main())`` in a thread of its own: the browser tests leave a loop running in this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(main())).result()


def _insert(conn: db.Connection) -> int:
    return conn.execute("INSERT INTO notes (body) VALUES (?)", (ROW,)).lastrowid


async def _write(writer: db.Writer, jobs: int, in_flight: int = 8) -> list[int]:
    ids: list[int] = []

    async def client(count: int) -> None:
        for _ in range(count):
            ids.append(await writer.run(_insert))

    await asyncio.gather(*(client(jobs // in_flight) for _ in range(in_flight)))
    return ids


class Run:
    """Writes ``jobs`` rows; the log's largest size meanwhile and the database file's size at the end.

    Both measured while the writer's connections are open: the last one to
    close copies the log into the database and removes it.
    """

    def __init__(self, database: db.Database, jobs: int, processes: int = 1):
        self.largest_log = 0
        log = database.sqlite_path.with_name(database.sqlite_path.name + "-wal")
        # Each with a database of its own, as each process of `serve` has: they take turns at the file.
        writers = [db.Writer(db.Database(database.url)) for _ in range(processes)]

        async def write() -> list[int]:
            watching = True

            async def watch() -> None:
                while watching:
                    if log.exists():
                        self.largest_log = max(self.largest_log, log.stat().st_size)
                    await asyncio.sleep(0.001)

            watcher = asyncio.create_task(watch())
            try:
                done = await asyncio.gather(*(_write(writer, jobs // processes) for writer in writers))
                return [row for rows in done for row in rows]
            finally:
                watching = False
                await watcher

        try:
            self.ids = _run_async(write)
            self.largest_log = max(self.largest_log, log.stat().st_size)
            self.database_size = database.sqlite_path.stat().st_size
        finally:
            for writer in writers:
                writer.stop()


def test_steady_writes_keep_the_log_short_and_reach_the_database_file(tmp_path, monkeypatch):
    monkeypatch.setattr(db.Writer, "CHECKPOINT_INTERVAL", 0.0)  # a checkpoint after every round
    database = _database(tmp_path)
    run = Run(database, 4000, processes=2)
    assert len(set(run.ids)) == 4000
    # 4,000 rows of 600 bytes are some 700 pages; written commit by commit, many times that in frames.
    assert run.database_size > 4000 * len(ROW) * 0.8, "the log was never copied"
    assert run.largest_log <= 2 * db.Writer.CHECKPOINT_FRAMES * FRAME, "the log kept growing"
    conn = database.connect()
    assert conn.scalar("SELECT COUNT(*) FROM notes") == 4000
    conn.close()


def test_a_commit_does_not_copy_the_log_into_the_database(tmp_path, monkeypatch):
    """SQLite's own checkpoint would run inside a commit, holding every process's writes back."""
    monkeypatch.setattr(db._Checkpoints, "after_round", lambda self: None)
    database = _database(tmp_path)
    before = database.sqlite_path.stat().st_size
    run = Run(database, 2000)
    assert run.largest_log > db.Writer.CHECKPOINT_FRAMES * FRAME  # past SQLite's own threshold
    assert run.database_size == before


def test_writes_go_on_when_a_checkpoint_fails(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(db.Writer, "CHECKPOINT_INTERVAL", 0.0)
    real_one = db.Connection.one

    def failing_checkpoint(conn, sql, params=()):
        if sql.startswith("PRAGMA wal_checkpoint"):
            raise db.DatabaseError("disk I/O error")
        return real_one(conn, sql, params)

    monkeypatch.setattr(db.Connection, "one", failing_checkpoint)
    database = _database(tmp_path)
    assert len(Run(database, 400).ids) == 400
    assert "checkpoint failed: DatabaseError: disk I/O error" in caplog.text
    monkeypatch.setattr(db.Connection, "one", real_one)
    assert len(Run(database, 400).ids) == 400
    conn = database.connect()
    assert conn.scalar("SELECT COUNT(*) FROM notes") == 800
    conn.close()


def test_a_removed_database_is_not_made_anew_by_the_checkpoints(tmp_path, monkeypatch):
    monkeypatch.setattr(db.Writer, "CHECKPOINT_INTERVAL", 0.0)
    database = _database(tmp_path)
    writer = db.Writer(database)
    try:
        _run_async(lambda: _write(writer, 16))
        # The checkpoint connection is made anew after a failure: here, after the file is gone.
        monkeypatch.setattr(db, "_checkpoint", lambda conn: None)
        database.sqlite_path.unlink()
        for suffix in ("-wal", "-shm"):
            Path(f"{database.sqlite_path}{suffix}").unlink(missing_ok=True)

        async def one() -> None:
            with pytest.raises(db.DatabaseError):
                await writer.run(_insert)

        _run_async(one)
    finally:
        writer.stop()
    assert not database.sqlite_path.exists()
