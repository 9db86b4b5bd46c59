"""The sync: approved comments from the service into every published edition.

One run (``python -m feedback_service sync``, ``make sync``):

1. asks the service's admin export for the changes since the cursor it kept
   (over HTTP with the admin token; inside ``serve --sync-every`` straight
   from the service's database, :class:`DatabaseExport`),
2. applies them to the merged comments file (the builds' ``feedback_comments_path``,
   read, checked and written through ``feedback_formats``),
3. rebuilds every edition incrementally and publishes the site atomically
   (``handbook_editions.build_site``),
4. and only then records the new cursor.

When the service is unreachable, refuses the token or answers nonsense, nothing
is touched. When the build fails, the previous comments file is put back and
the cursor stays, so the published site and the next run see exactly what was
there before. When nothing changed, nothing is built.

The cursor lives next to the comments file (``sync-state.json``) together with
the source it belongs to and a digest of the comments file it published: a
run interrupted between writing the file and publishing the site is finished
by the next run, even when the service has nothing new.

A periodic sync (``sync --every``, ``serve --sync-every``) also runs the
moment something is approved: the commit rings its bell
(:mod:`feedback_service.wakeup`). It survives any failure of a run, retries
soon, and records how it is doing for health and the editors' workspace
(:mod:`feedback_service.sync_status`).
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import logging
import signal
import sys
import threading
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from handbook_editions import SiteError, SiteReport, build_site
from handbook_editions.progress import Progress
from handbook_editions.workers import JOBS_HELP, warm_up

from feedback_formats import Comment, CommentError, CommentsFileError, dump_comments, parse_comments, write_atomic

from .config import ADMIN_TOKEN_FILE, Config, redact_url, with_admin_token
from .wakeup import Bell

log = logging.getLogger("feedback_service.sync")

if TYPE_CHECKING:
    import requests

    from .sync_status import Recorder

# The command line's sync asks the service over HTTP (requests); the one inside
# ``serve`` reads the database (db, moderation) and records how it does there
# (sync_status): each imports only its own.

EXPORT_PATH = "/api/v1/admin/export"
# Connecting must be quick; a large export over a slow line may take a while.
TIMEOUT = (5, 60)
# An export answers in pages; a service that never says "complete" is broken.
MAX_PAGES = 10_000
# A periodic sync retries a failed run after 5 s, doubling up to its period.
RETRY_FIRST = 5.0
# A ring waits this long for more approvals, so that approvals arriving together make one build.
DEBOUNCE = 0.3

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_CONFIG = 2
EXIT_SERVICE = 3
EXIT_BUILD = 4
EXIT_REFUSED = 5
EXIT_INTERRUPTED = 130
# A sync that would take down more than this share of the published comments
# (of at least MASS_REMOVAL_MINIMUM) is refused unless an operator forces it:
# an emptied or swapped database must not empty the site.
MASS_REMOVAL_SHARE = 0.5
MASS_REMOVAL_MINIMUM = 5


class SyncError(Exception):
    """A sync that changed nothing; the message says why, in German."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


# -- The service's export --------------------------------------------------------

@dataclass
class Export:
    """What the service reported since a cursor, all pages together."""

    cursor: str
    full: bool = False
    changes: list[dict] = field(default_factory=list)
    database: str | None = None  # the identity of the database the export comes from


def _malformed(detail: str) -> SyncError:
    return SyncError(f"Die Antwort des Feedback-Dienstes ist ungültig: {detail}.", EXIT_SERVICE)


def _check_page(data: object) -> tuple[str, bool, bool, list[dict]]:
    """``(cursor, full, complete, changes)`` of one export answer, checked; comments as records."""
    if not isinstance(data, dict):
        raise _malformed("kein JSON-Objekt")
    if not isinstance(data.get("database", ""), str):
        raise _malformed("'database' ist kein Text")
    cursor, complete = data.get("cursor"), data.get("complete")
    if not isinstance(cursor, str) or not cursor.isdigit() or len(cursor) > 18:
        raise _malformed("'cursor' fehlt oder ist keine Zahl")
    if not isinstance(complete, bool) or not isinstance(data.get("full", False), bool):
        raise _malformed("'complete' oder 'full' ist kein Wahrheitswert")
    if not isinstance(data.get("changes"), list):
        raise _malformed("'changes' fehlt oder ist keine Liste")
    changes = []
    for index, change in enumerate(data["changes"]):
        op = change.get("op") if isinstance(change, dict) else None
        if op == "upsert":
            try:
                comment = Comment.from_json(change.get("comment"), f"changes[{index}].comment")
            except CommentError as exc:
                raise _malformed(str(exc)) from None
            # The wire form as it came, and the record it describes.
            changes.append({"op": op, "comment": change["comment"], "record": comment})
        elif op == "delete" and isinstance(change.get("id"), str) and change["id"]:
            changes.append({"op": op, "id": change["id"]})
        else:
            raise _malformed("eine Änderung ist weder 'upsert' mit Kommentar noch 'delete' mit id")
    return cursor, data.get("full", False), complete, changes


class Exporter:
    """Where the approved comments come from; ``source`` names it (and owns the cursor)."""

    source: str

    def page(self, cursor: str) -> object:
        """One answer of the export after ``cursor``, as the admin API gives it."""
        raise NotImplementedError

    def changes_since(self, cursor: str) -> Export:
        """Every change after ``cursor``, following the pages until complete."""
        export = Export(cursor)
        for _ in range(MAX_PAGES):
            page = self.page(export.cursor)
            page_cursor, full, complete, changes = _check_page(page)
            database = page.get("database") or None
            if export.database is not None and database != export.database:
                raise _malformed("die Seiten des Exports stammen aus verschiedenen Datenbanken")
            export.database = database
            if full:
                export.full, export.changes = True, []
            export.changes.extend(changes)
            if complete:
                export.cursor = page_cursor
                return export
            if int(page_cursor) <= int(export.cursor):
                raise _malformed("unvollständige Antwort, deren Cursor nicht weiterrückt")
            export.cursor = page_cursor
        raise _malformed(f"nach {MAX_PAGES} Seiten noch immer unvollständig")


class ExportClient(Exporter):
    """Reads ``GET /api/v1/admin/export`` with the admin token."""

    def __init__(self, service_url: str, token: str):
        if not token:
            raise SyncError(
                f"FEEDBACK_ADMIN_TOKEN ist nicht gesetzt (und {ADMIN_TOKEN_FILE} fehlt): ohne "
                "das Verwaltungs-Token gibt der Feedback-Dienst keine Kommentare heraus.", EXIT_CONFIG,
            )
        import requests

        self.url = service_url.rstrip("/") + EXPORT_PATH
        self.source = service_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def page(self, cursor: str) -> object:
        import requests

        try:
            answer = self.session.get(self.url, params={"since": cursor}, timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise SyncError(
                f"Der Feedback-Dienst unter {self.source} ist nicht erreichbar "
                f"({type(exc).__name__}). Läuft er, und stimmt FEEDBACK_SERVICE_URL?",
                EXIT_SERVICE,
            ) from None
        if answer.status_code == 401:
            raise SyncError(
                f"Der Feedback-Dienst unter {self.source} hat das Verwaltungs-Token "
                "abgelehnt (401). Stimmt FEEDBACK_ADMIN_TOKEN mit dem des Dienstes überein?",
                EXIT_SERVICE,
            )
        if answer.status_code != 200:
            raise SyncError(
                f"Der Feedback-Dienst unter {self.source} antwortete mit HTTP "
                f"{answer.status_code}: {_error_message(answer)}", EXIT_SERVICE,
            )
        try:
            return answer.json()
        except ValueError:
            raise _malformed("kein JSON") from None


class DatabaseExport(Exporter):
    """The export read straight from the service's database (the sync inside ``serve``)."""

    def __init__(self, database_url: str):
        from . import db

        self.database = db.Database(database_url)
        self.source = database_url

    def page(self, cursor: str) -> object:
        from . import db, moderation

        try:
            with self.database.session(write=False) as conn:
                return moderation.export(conn, moderation.parse_cursor(cursor))
        except db.DatabaseError as exc:
            raise SyncError(f"Die Datenbank des Feedback-Dienstes antwortet nicht: {exc}", EXIT_SERVICE) from None


def _error_message(answer: requests.Response) -> str:
    try:
        return str(answer.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return answer.text[:200].strip() or answer.reason


# -- The merged comments file ------------------------------------------------------

@dataclass
class CommentsFile:
    """The comments file as it is on disk: its exact bytes and its comments by id."""

    path: Path
    raw: bytes | None
    comments: dict[str, Comment]

    @classmethod
    def read(cls, path: Path) -> CommentsFile:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return cls(path, None, {})
        except OSError as exc:
            raise SyncError(f"Die Kommentardatei {path} ist nicht lesbar: {exc.strerror}.", EXIT_CONFIG) from None
        try:
            comments = parse_comments(raw, path)
        except CommentsFileError as exc:
            raise SyncError(
                f"Die Kommentardatei {path} ist beschädigt ({exc.problem}). Löschen Sie sie; der nächste "
                "Abgleich holt dann alle freigegebenen Kommentare neu.", EXIT_CONFIG,
            ) from None
        return cls(path, raw, {comment.id: comment for comment in comments})

    @property
    def digest(self) -> str | None:
        return hashlib.sha256(self.raw).hexdigest() if self.raw is not None else None

    def restore(self) -> None:
        """Put back exactly the file that was there when it was read (or none)."""
        if self.raw is None:
            self.path.unlink(missing_ok=True)
        else:
            write_atomic(self.path, self.raw)


def apply(current: dict[str, Comment], export: Export) -> dict[str, Comment]:
    """The comments after the export's changes; a full export replaces everything."""
    merged = {} if export.full else dict(current)
    for change in export.changes:
        if change["op"] == "upsert":
            merged[change["record"].id] = change["record"]
        else:
            merged.pop(change["id"], None)
    return merged


# -- One sync ----------------------------------------------------------------------

@dataclass
class SyncResult:
    added: int = 0
    changed: int = 0
    removed: int = 0
    total: int = 0
    site: SiteReport | None = None  # set when something was built
    seconds: float = 0.0

    def summary(self) -> str:
        counts = (
            f"{self.added} Kommentar(e) neu, {self.changed} geändert, {self.removed} entfernt "
            f"(veröffentlicht: {self.total})"
        )
        if self.site is None:
            return f"Keine Änderungen – nichts gebaut ({self.seconds:.1f} s)."
        return f"{counts}.\nWebsite neu gebaut:\n{self.site.summary()}\nDauer: {self.seconds:.1f} s"


@dataclass(frozen=True)
class SyncPaths:
    comments: Path
    site: Path
    releases: Path
    # The project whose git history and conf.py build the editions.
    project: Path

    @property
    def state(self) -> Path:
        return self.comments.with_name("sync-state.json")

    @property
    def lock(self) -> Path:
        return self.comments.with_name("sync.lock")


def _read_state(path: Path) -> dict:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        return {}  # an unreadable state only costs a full export
    return state if isinstance(state, dict) else {}


@contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    """One sync at a time (the timer, ``make serve`` and a manual run may meet)."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("Ein anderer Abgleich läuft gerade; warte, bis er fertig ist …", flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def sync_once(
    exporter: Exporter, paths: SyncPaths, jobs: str = "auto", force: bool = False,
    progress: Progress | None = None,
) -> SyncResult:
    """One complete merge; raises :class:`SyncError` having changed nothing.

    Refused unless ``force``: an export from another database than the one the
    cursor belongs to (a replaced or restored database), and an export that
    would remove most of the published comments. ``progress`` hears of every
    build step (``make sync``); the periodic sync stays quiet.
    """
    started = time.monotonic()
    with _exclusive(paths.lock):
        state = _read_state(paths.state)
        current = CommentsFile.read(paths.comments)
        known = state.get("service") == exporter.source and current.raw is not None
        cursor = str(state.get("cursor", "0")) if known else "0"
        export = exporter.changes_since(cursor)
        # Whatever address the service has now, the published comments came from this database.
        expected = state.get("database") if current.raw is not None else None
        if expected and export.database != expected:
            if not force:
                raise SyncError(
                    "Der Feedback-Dienst antwortet aus einer anderen Datenbank als beim letzten "
                    "Abgleich (ersetzt, zurückgespielt oder neu angelegt?). Die Website bleibt, wie "
                    "sie ist. Wenn das so gewollt ist: `sync --force` holt alle freigegebenen "
                    "Kommentare neu.", EXIT_REFUSED,
                )
            if export.cursor != "0" and not export.full:
                export = exporter.changes_since("0")
        merged = apply(current.comments, export)
        removed = len(current.comments.keys() - merged.keys())
        if (not force and len(current.comments) >= MASS_REMOVAL_MINIMUM
                and removed > MASS_REMOVAL_SHARE * len(current.comments)):
            raise SyncError(
                f"Der Abgleich würde {removed} von {len(current.comments)} veröffentlichten "
                "Kommentaren entfernen; das sieht nach einer leeren oder falschen Datenbank aus. "
                "Die Website bleibt, wie sie ist. Wenn das so gewollt ist: `sync --force`.",
                EXIT_REFUSED,
            )

        result = SyncResult(total=len(merged))
        result.added = len(merged.keys() - current.comments.keys())
        result.removed = len(current.comments.keys() - merged.keys())
        result.changed = sum(
            1 for cid in merged.keys() & current.comments.keys() if merged[cid] != current.comments[cid]
        )
        published = state.get("published")
        if merged == current.comments and published == current.digest:
            if cursor != export.cursor or not known or expected != export.database:
                _save_state(paths.state, exporter.source, export.cursor, published, export.database)
            result.seconds = time.monotonic() - started
            return result

        # The file as it is, unless it changes or is missing (a missing file means no comments,
        # but the site was published from one: it is rebuilt from an empty file).
        unchanged = merged == current.comments and current.raw is not None
        data = current.raw if unchanged else dump_comments(merged.values())
        write_atomic(paths.comments, data)
        try:
            result.site = build_site(paths.site.absolute(), releases_file=paths.releases,
                                     comments=paths.comments.absolute(), jobs=jobs, root=paths.project,
                                     progress=progress)
        except BaseException as exc:
            current.restore()
            if isinstance(exc, SiteError):
                raise SyncError(
                    f"Der Bau der Website ist fehlgeschlagen; die veröffentlichte Website und die "
                    f"Kommentardatei bleiben, wie sie waren.\n{exc}", EXIT_BUILD,
                ) from None
            if isinstance(exc, Exception):
                raise SyncError(
                    f"Der Bau der Website ist fehlgeschlagen ({type(exc).__name__}: {exc}); die "
                    f"veröffentlichte Website und die Kommentardatei bleiben, wie sie waren.",
                    EXIT_BUILD,
                ) from exc
            raise
        _save_state(paths.state, exporter.source, export.cursor, hashlib.sha256(data).hexdigest(),
                    export.database)
    result.seconds = time.monotonic() - started
    return result


def _save_state(
    path: Path, source: str, cursor: str, published: str | None, database: str | None
) -> None:
    state = {"service": source, "database": database, "cursor": cursor, "published": published}
    write_atomic(path, (json.dumps(state, indent=1) + "\n").encode("utf-8"))


# -- Periodic sync ------------------------------------------------------------------

def retry_delay(every: float, failures: int) -> float:
    """Seconds until the next try after ``failures`` failed runs in a row: 5 s, doubling, at most the period."""
    return min(RETRY_FIRST * 2 ** (failures - 1), every)


class PeriodicSync:
    """Runs a sync at start, whenever the bell rings, and every ``every`` seconds.

    A ring waits :data:`DEBOUNCE` seconds first, so that approvals arriving
    together go into one build; a ring while a run is going on causes exactly
    one run after it. A failed run (whatever it raised) is retried after
    :func:`retry_delay`; the loop ends only with :meth:`stop`.
    """

    def __init__(self, once: Callable[[], SyncError | None], every: float, bell: Bell,
                 recorder: Recorder | None = None):
        self.once, self.every, self.bell, self.recorder = once, every, bell, recorder
        self.stopping = threading.Event()
        self.running = threading.Event()
        self.runs = 0  # for the tests: how many runs there were

    def run(self) -> None:
        """Until :meth:`stop` (or Ctrl-C on the command line); a stopped sync removes its record."""
        try:
            self._loop()
        finally:
            if self.recorder is not None:
                self.recorder.close()

    def _loop(self) -> None:
        failures, delay = 0, 0.0
        while not self.stopping.is_set():
            if self.bell.wait(delay) and not self.stopping.is_set():
                self.stopping.wait(DEBOUNCE)
            if self.stopping.is_set():
                return
            # Rings from here on (approvals committed during the run) bring one more run.
            self.bell.clear()
            failures = 0 if self._run_once() is None else failures + 1
            delay = retry_delay(self.every, failures) if failures else self.every
            if failures:
                with suppress(OSError):  # an output gone away must not end the loop
                    print(f"Nächster Versuch in {delay:.0f} s.", flush=True)

    def _run_once(self) -> SyncError | None:
        self.running.set()
        if self.recorder is not None:
            self.recorder.began()
        try:
            failure = self.once()
        except Exception as exc:  # noqa: BLE001 - whatever it was, the periodic sync goes on
            failure = _unexpected(exc)
        finally:
            self.runs += 1
            self.running.clear()
        if self.recorder is not None:
            self.recorder.ended(None if failure is None else str(failure))
        return failure

    def stop(self) -> None:
        self.stopping.set()
        self.bell.ring()


class BackgroundSync:
    """The periodic sync inside ``serve``, reading the export straight from the database.

    It runs in the process that starts the server, beside it: with one worker
    that is the server's own process (approvals ring the bell directly), with
    several the supervisor, which holds no worker (they are started fresh), so
    exactly one process syncs whatever the number of workers.
    """

    def __init__(self, config: Config, every: float, jobs: str = "auto"):
        from .sync_status import Recorder

        exporter, paths = DatabaseExport(config.database_url), sync_paths(config)
        self.bell = Bell(config.database_url)
        self.periodic = PeriodicSync(lambda: attempt(exporter, paths, jobs), every, self.bell,
                                     Recorder(exporter.database, every))
        self.thread = threading.Thread(target=self.periodic.run, name="feedback-sync", daemon=True)

    def listen(self) -> str:
        """Open the bell; returns how approvals reach the sync (German, for the start message)."""
        return self.bell.start()

    def start(self) -> None:
        self.thread.start()

    def stop(self, patience: float = 30) -> None:
        """Stop after the run in progress (Ctrl-C has already ended its Sphinx processes)."""
        self.periodic.stop()
        if self.periodic.running.is_set():
            print("Warte auf den laufenden Abgleich …", file=sys.stderr, flush=True)
        self.thread.join(patience)
        self.bell.close()


def sync_paths(config: Config, releases: Path | None = None) -> SyncPaths:
    """Where the sync reads and writes; the project is the directory of ``FEEDBACK_RELEASES_FILE``."""
    return SyncPaths(comments=config.comments_file, site=config.site_dir, releases=releases or config.releases_file,
                     project=config.releases_file.absolute().parent)


# -- Command line ---------------------------------------------------------------------

def seconds(value: str) -> float:
    """argparse type of an interval: a number of seconds above 0."""
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if not number > 0 or number == float("inf"):
        raise argparse.ArgumentTypeError(f"{value!r} ist keine Zahl von Sekunden größer als 0")
    return number


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--every", type=seconds, metavar="SEKUNDEN",
                        help="laufend abgleichen: sofort nach jeder Freigabe und sonst alle SEKUNDEN "
                        "(nach Fehlern neuer Versuch nach 5 s, doppelt so lange bis SEKUNDEN)")
    parser.add_argument("--releases", type=Path,
                        help="die veröffentlichten Ausgaben (Vorgabe: FEEDBACK_RELEASES_FILE)")
    parser.add_argument("--jobs", default="auto", help=JOBS_HELP)
    parser.add_argument(
        "--force", action="store_true",
        help="auch abgleichen, wenn die Datenbank gewechselt hat oder die meisten "
        "veröffentlichten Kommentare verschwinden würden",
    )


def attempt(exporter: Exporter, paths: SyncPaths, jobs: str, force: bool = False,
            progress: Progress | None = None) -> SyncError | None:
    """One sync as the command line reports it: its summary, or its failure (returned too)."""
    stamp = datetime.now().strftime("%H:%M:%S")
    try:
        result = sync_once(exporter, paths, jobs=jobs, force=force, progress=progress)
    except SyncError as exc:
        failure = exc
    except OSError as exc:
        # The comments file, the cursor or the lock cannot be written: whatever
        # was replaced was replaced whole, so the next run starts from a sane state.
        failure = SyncError(f"{exc.filename} lässt sich nicht anlegen oder schreiben ({exc.strerror or exc}).",
                            EXIT_CONFIG)
    except Exception as exc:  # noqa: BLE001 - a defect: reported with its traceback, the next run may succeed
        return _unexpected(exc, stamp)
    else:
        print(f"[{stamp}] Abgleich mit {redact_url(exporter.source)}: {result.summary()}", flush=True)
        return None
    print(f"[{stamp}] FEHLER beim Abgleich: {failure}", file=sys.stderr, flush=True)
    return failure


def _unexpected(exc: Exception, stamp: str | None = None) -> SyncError:
    """A failure nobody foresaw: the operator's message, with the traceback in the log."""
    failure = SyncError(
        f"Unerwarteter Fehler ({type(exc).__name__}: {exc}). Die veröffentlichte Website bleibt, wie "
        "sie ist; Einzelheiten stehen im Protokoll.", EXIT_UNEXPECTED,
    )
    stamp = stamp or datetime.now().strftime("%H:%M:%S")
    log.error("[%s] FEHLER beim Abgleich: %s", stamp, failure, exc_info=exc)
    return failure


def _interrupt_on_sigterm() -> None:
    """systemd and ``serve`` stop the sync with SIGTERM: end it like Ctrl-C."""
    def handler(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def run(args: argparse.Namespace, config: Config) -> int:
    """``python -m feedback_service sync [--every SEKUNDEN]``."""
    # Sphinx loads while the export is fetched; a run with nothing to build stops it again.
    warm_up()
    config = with_admin_token(config)
    paths = sync_paths(config, args.releases)
    if threading.current_thread() is threading.main_thread():
        _interrupt_on_sigterm()
    bell = None
    try:
        exporter = ExportClient(config.service_url, config.admin_token)
        if args.every is None:
            failure = attempt(exporter, paths, args.jobs, args.force, Progress(sys.stdout))
            return EXIT_OK if failure is None else failure.exit_code
        from . import db
        from .sync_status import Recorder

        # Approvals ring the bell of the database the service writes to.
        bell = Bell(config.database_url)
        how = bell.start()
        print(f"Abgleich mit {config.service_url} alle {args.every:g} s; beenden mit Strg+C.\n{how}", flush=True)
        periodic = PeriodicSync(lambda: attempt(exporter, paths, args.jobs), args.every, bell,
                                Recorder(db.Database(config.database_url), args.every))
        periodic.run()
    except SyncError as exc:
        print(f"FEHLER beim Abgleich: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    except KeyboardInterrupt:
        print("Abgleich beendet.", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if bell is not None:
            bell.close()
    return EXIT_OK
