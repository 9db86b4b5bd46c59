"""Writing a file so that readers see the old or the new version, never a part; the timestamp."""

from __future__ import annotations

import functools
import os
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

# Every time the project writes for machines: UTC, whole seconds, ``Z``.
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc_timestamp(moment: datetime | None = None) -> str:
    """``2026-11-21T10:00:00Z``: ``moment`` (default: now) in UTC."""
    if moment is None:
        return _spell_second(int(time.time()))
    return moment.astimezone(timezone.utc).strftime(TIMESTAMP_FORMAT)


@functools.lru_cache(maxsize=1)  # the service stamps every comment it takes: once per second
def _spell_second(second: int) -> str:
    return time.strftime(TIMESTAMP_FORMAT, time.gmtime(second))


def parse_timestamp(value: str) -> datetime | None:
    """An ISO 8601 time with a time zone as an aware UTC datetime; None for anything else."""
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return moment.astimezone(timezone.utc)


def write_atomic(path: Path, data: bytes | str, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` in one rename, durable before it becomes visible.

    The data goes to a temporary file beside ``path``, which is flushed to disk
    (fsync) and renamed over ``path``; then the directory is synced so the
    rename itself survives a crash. A failure leaves ``path`` as it was.
    """
    path = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
