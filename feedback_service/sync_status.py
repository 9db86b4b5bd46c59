"""How the periodic sync is doing, kept in the service's database for health and the workspace.

A periodic sync (``serve --sync-every``, ``sync --every``) records in the table
``service_meta`` when it started, its period, its last success, the run in
progress and its failures in a row with the last message. Every instance of
the service reads the same record, wherever the sync runs.

The sync is **stale** when it has not succeeded for ``min(3 periods, 10
minutes)``: 90 s with ``make serve`` (every 30 s), 10 minutes with the deploy
unit (every 300 s). A run in progress that has not failed yet keeps it fresh
for up to 30 minutes (a full rebuild of every edition with its PDF). A sync
stopped on purpose removes its record; one that was killed leaves it behind,
and it turns stale like one that fails.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Callable

from feedback_formats import parse_timestamp, utc_timestamp

from . import db

log = logging.getLogger("feedback_service.sync")

KEY = "sync_status"
STALE_PERIODS = 3
STALE_CAP = 600
LONG_RUN = 1800
# The last failure's message as kept (a failed build may report pages of output).
MAX_ERROR = 1000


@dataclass
class SyncStatus:
    owner: str  # host and process of the sync
    every: float
    started: str
    last_success: str | None = None
    running_since: str | None = None
    failures: int = 0
    error: str = ""

    @property
    def stale_after(self) -> float:
        return min(STALE_PERIODS * self.every, STALE_CAP)

    @property
    def since(self) -> datetime:
        """Since when nothing has been published: the last success, else the start."""
        return parse_timestamp(self.last_success or self.started)

    def stale(self, now: datetime | None = None) -> bool:
        now = now or datetime.now(timezone.utc)
        if (now - self.since).total_seconds() <= self.stale_after:
            return False
        if self.running_since and not self.failures:
            return (now - parse_timestamp(self.running_since)).total_seconds() > LONG_RUN
        return True

    def problem(self, local_time: Callable[[str], str]) -> str:
        """What is wrong, in German, for editors and operators; ``local_time`` formats a timestamp."""
        since = local_time(utc_timestamp(self.since))
        if self.last_success:
            head = f"Der letzte erfolgreiche Abgleich war am {since}."
        else:
            head = f"Seit dem Start am {since} ist kein Abgleich gelungen."
        if self.failures:
            cause = f"Seitdem {'ist' if self.failures == 1 else 'sind'} {self.failures} Versuch" \
                    f"{'' if self.failures == 1 else 'e'} gescheitert, zuletzt: {self.error}"
        elif self.running_since:
            cause = (f"Ein Abgleich läuft seit {local_time(self.running_since)} und ist noch nicht "
                     "fertig.")
        else:
            cause = "Seitdem hat sich der Abgleich nicht mehr gemeldet; läuft er noch?"
        return (f"Freigegebene Kommentare erscheinen derzeit nicht auf der Website. {head} {cause} "
                "Bitte geben Sie der technischen Betreuung Bescheid.")

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> SyncStatus | None:
        """The record as stored; None when there is none or it cannot be read."""
        try:
            status = cls(**json.loads(text))
        except (TypeError, ValueError):
            return None
        times = (status.started, status.last_success or status.started, status.running_since or status.started)
        valid = (
            isinstance(status.every, (int, float)) and status.every > 0
            and isinstance(status.failures, int) and isinstance(status.error, str)
            and all(parse_timestamp(value) is not None for value in times)
        )
        return status if valid else None


def read(conn: db.Connection) -> SyncStatus | None:
    return SyncStatus.from_json(db.read_meta(conn, KEY))


def stale(conn: db.Connection) -> SyncStatus | None:
    """The sync's record when it is stale, else None (also when no periodic sync ever ran)."""
    status = read(conn)
    return status if status is not None and status.stale() else None


class Recorder:
    """The periodic sync's side: keeps its record up to date.

    A database that cannot take the record costs a warning, never a sync run.
    """

    def __init__(self, database: db.Database, every: float):
        self.database = database
        self.status = SyncStatus(owner=f"{socket.gethostname()}:{os.getpid()}", every=every,
                                 started=utc_timestamp())
        self._warned = False

    def began(self) -> None:
        self.status.running_since = utc_timestamp()
        self._save()

    def ended(self, error: str | None) -> None:
        self.status.running_since = None
        if error is None:
            self.status.last_success, self.status.failures, self.status.error = utc_timestamp(), 0, ""
        else:
            self.status.failures += 1
            self.status.error = error if len(error) <= MAX_ERROR else error[:MAX_ERROR - 1] + "…"
        self._save()

    def close(self) -> None:
        """A sync stopped on purpose is no trouble: its record goes (unless another sync took over)."""
        def remove(conn: db.Connection) -> None:
            current = read(conn)
            if current is not None and current.owner == self.status.owner:
                db.delete_meta(conn, KEY)

        self._write(remove)

    def _save(self) -> None:
        self._write(lambda conn: db.write_meta(conn, KEY, self.status.to_json()))

    def _write(self, job) -> None:
        if self.database.dialect == "sqlite" and not self.database.sqlite_path.is_file():
            self._warn(f"die Datenbank {self.database.sqlite_path} gibt es hier nicht")
            return
        try:
            with self.database.write_turn(), self.database.session() as conn:
                job(conn)
        except Exception as exc:  # noqa: BLE001 - the record is worth a warning, never a sync run
            self._warn(f"{type(exc).__name__}: {exc}")
        else:
            self._warned = False

    def _warn(self, reason: str) -> None:
        if not self._warned:
            log.warning("Der Stand des Abgleichs lässt sich nicht in der Datenbank vermerken (%s); "
                        "Gesundheitsprüfung und Arbeitsbereich sehen ihn nicht.", reason)
            self._warned = True
