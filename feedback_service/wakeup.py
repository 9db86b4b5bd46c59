"""The sync's bell: whatever changes the published comments wakes the sync at once.

Every change to what the site shows (an approval, a rejection, a deletion, an
editorial answer, a restored backup) passes :func:`db.record_change`, and the
transaction that commits it rings the bell of the sync that publishes from
that database:

* SQLite: after the commit, a datagram to the Unix socket beside the database
  file (``feedback.sqlite3.wake``) that the sync listens on: the sync inside
  ``serve`` (whichever worker process took the approval), a separate
  ``sync --every`` or ``moderate approve`` on the command line. When the sync
  runs in the very process that committed, its bell rings directly. Sending
  never blocks and never fails: nobody listening is fine.
* PostgreSQL: ``NOTIFY feedback_published`` in the same transaction.
  PostgreSQL delivers it on commit to every sync that listens, on any machine.

Listening is :class:`Bell`. The bell only says "look now"; what changed, the
sync reads from the change log as before, so a lost ring costs at most the
wait for the next periodic run.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import threading
from pathlib import Path

log = logging.getLogger("feedback_service.sync")

CHANNEL = "feedback_published"
NOTIFY = f"NOTIFY {CHANNEL}"
SOCKET_SUFFIX = ".wake"
# The kernel's limit for the path of a Unix socket (sun_path without its final NUL).
MAX_SOCKET_PATH = 107
# How long a listener waits for PostgreSQL before trying again, doubling up to the cap.
RECONNECT_FIRST, RECONNECT_CAP = 1.0, 60.0

# The bells listening in this process, by socket path: a ring from here needs no datagram.
_local_bells: dict[str, Bell] = {}
_sender: socket.socket | None = None
_sender_lock = threading.Lock()


def is_sqlite(database_url: str) -> bool:
    return database_url.startswith("sqlite:")


def socket_path(database_url: str) -> Path:
    """Where the sync of a SQLite database listens: beside the database file."""
    database = Path(database_url[len("sqlite:///"):])
    return Path(os.path.abspath(database.with_name(database.name + SOCKET_SUFFIX)))


def ring(database_url: str) -> None:
    """Wake the sync of this SQLite database; called after a commit that changed what is published."""
    path = str(socket_path(database_url))
    bell = _local_bells.get(path)
    if bell is not None:
        bell.ring()
        return
    global _sender
    with _sender_lock:
        if _sender is None:
            _sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            _sender.setblocking(False)
        try:
            _sender.sendto(b"!", path)
        except OSError:
            # No sync listening, its queue full (it is awake anyway), a path too
            # long for a socket: the periodic sync stays the safety net.
            pass


class Bell:
    """What one sync waits on: rung in this process, by datagram or by PostgreSQL.

    :meth:`start` opens the way in that suits the database and returns a German
    line saying how approvals reach the sync (for the start message).
    """

    def __init__(self, database_url: str):
        self.database_url = database_url
        self._rung = threading.Event()
        self._closing = threading.Event()
        self._socket: socket.socket | None = None
        self._path: str | None = None
        self._thread: threading.Thread | None = None

    def ring(self) -> None:
        self._rung.set()

    def wait(self, timeout: float) -> bool:
        """True as soon as the bell rings (or has rung since the last :meth:`clear`)."""
        return self._rung.wait(timeout)

    def clear(self) -> None:
        self._rung.clear()

    def start(self) -> str:
        if is_sqlite(self.database_url):
            return self._listen_on_socket()
        import psycopg

        # The first connection before the sync's first run, so that no approval falls in between.
        try:
            conn, how = self._listening(), "Freigaben wecken den Abgleich sofort (PostgreSQL LISTEN/NOTIFY)."
        except psycopg.Error as exc:
            conn, how = None, (f"Freigaben wecken den Abgleich noch nicht (PostgreSQL: {exc}); er versucht "
                               "es weiter und gleicht bis dahin regelmäßig ab.")
        self._thread = threading.Thread(target=self._listen_to_postgresql, args=(conn,),
                                        name="feedback-sync-bell", daemon=True)
        self._thread.start()
        return how

    def close(self) -> None:
        self._closing.set()
        if self._socket is not None:
            _local_bells.pop(self._path, None)
            # A datagram of our own ends the receiver's wait.
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as poke:
                    poke.sendto(b"", self._path)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._socket is not None:
            self._socket.close()
            Path(self._path).unlink(missing_ok=True)
            self._socket = None

    # -- SQLite: a Unix datagram socket beside the database ---------------------------

    def _listen_on_socket(self) -> str:
        path = socket_path(self.database_url)
        self._path = str(path)
        if len(os.fsencode(self._path)) > MAX_SOCKET_PATH:
            return (f"Freigaben wecken den Abgleich nicht sofort: der Pfad {path} ist für einen "
                    "Unix-Socket zu lang; es bleibt beim regelmäßigen Abgleich.")
        try:
            self._socket = _bind(path)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (f"Freigaben wecken einen anderen laufenden Abgleich ({path}); dieser hier "
                        "gleicht nur regelmäßig ab.")
            return (f"Freigaben wecken den Abgleich nicht sofort: {path} lässt sich nicht anlegen "
                    f"({exc.strerror or exc}); es bleibt beim regelmäßigen Abgleich.")
        _local_bells[self._path] = self
        self._thread = threading.Thread(target=self._receive, name="feedback-sync-bell", daemon=True)
        self._thread.start()
        return f"Freigaben wecken den Abgleich sofort (Unix-Socket {path})."

    def _receive(self) -> None:
        while not self._closing.is_set():
            try:
                self._socket.recv(16)
            except OSError as exc:
                if not self._closing.is_set():
                    log.warning("Der Abgleich hört keine Freigaben mehr (%s); er gleicht nur noch "
                                "regelmäßig ab.", exc)
                return
            if not self._closing.is_set():
                self.ring()

    # -- PostgreSQL: LISTEN on a connection of its own --------------------------------

    def _listening(self):
        import psycopg

        conn = psycopg.connect(self.database_url, autocommit=True, connect_timeout=10)
        try:
            conn.execute(f"LISTEN {CHANNEL}")
        except psycopg.Error:
            conn.close()
            raise
        return conn

    def _listen_to_postgresql(self, conn) -> None:
        import psycopg

        delay, reported = RECONNECT_FIRST, False
        while not self._closing.is_set():
            try:
                if conn is None:
                    conn = self._listening()
                    if reported:
                        log.warning("Der Abgleich hört wieder auf Freigaben (PostgreSQL).")
                    delay, reported = RECONNECT_FIRST, False
                    # Whatever was approved while nobody listened.
                    self.ring()
                with conn:
                    while not self._closing.is_set():
                        for _ in conn.notifies(timeout=1.0):
                            self.ring()
            except psycopg.Error as exc:
                if not reported:
                    log.warning("Der Abgleich hört keine Freigaben (PostgreSQL: %s); neuer Versuch in "
                                "%.0f s, bis dahin gleicht er regelmäßig ab.", exc, delay)
                    reported = True
                self._closing.wait(delay)
                delay = min(delay * 2, RECONNECT_CAP)
            conn = None


def _bind(path: Path) -> socket.socket:
    """A datagram socket bound to ``path``; a socket file left by a sync that died is replaced."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        try:
            listener.bind(str(path))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE or _answers(path):
                raise
            path.unlink(missing_ok=True)
            listener.bind(str(path))
    except OSError:
        listener.close()
        raise
    return listener


def _answers(path: Path) -> bool:
    """Whether some process listens on the socket at ``path``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True
