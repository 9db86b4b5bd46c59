"""``python -m feedback_service …``: serve, moderate, corrections, purge, migrate, editors.

Each subcommand is one :class:`Command` in :data:`COMMANDS`; a new one (the
sync) is added by appending its entry. A command imports what it needs when it
runs: ``sync``, started every minute by a timer, does not pay for the web
server, the templates, the schemas or password hashing.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

from feedback_formats import KIND_NAMES, KINDS, STATUSES, write_atomic

from . import sync
from .config import ADMIN_TOKEN_FILE, Config, ConfigError, load_config, redact_url, with_admin_token, with_secret


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Config], int]


# -- serve -----------------------------------------------------------------------

def _configure_serve(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="Adresse (Standard: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="Port (Standard: 8000)")
    parser.add_argument(
        "--workers", type=_process_count, default=None,
        help="Anzahl der Prozesse (Standard: einer je nutzbarem Prozessorkern, "
        "höchstens 8; mit SQLite schreiben sie abwechselnd in eine Datei)",
    )
    parser.add_argument(
        "--pin-workers", action=argparse.BooleanOptionalAction, default=True,
        help="jeden Prozess auf einem eigenen Prozessorkern halten, wenn es genug Kerne gibt "
        "(Standard; --no-pin-workers überlässt die Verteilung dem Betriebssystem)",
    )
    parser.add_argument(
        "--site-dir", type=Path,
        help="die gebaute Website, die der Dienst ausliefert (Standard: FEEDBACK_SITE_DIR)",
    )
    parser.add_argument(
        "--sync-every", type=sync.seconds, metavar="SEKUNDEN",
        help="freigegebene Kommentare im Hintergrund abgleichen: sofort nach jeder Freigabe "
        "und sonst alle SEKUNDEN (wie sync --every)",
    )


def _process_count(value: str) -> int:
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: erwartet wird eine ganze Zahl ab 1")
    return count


def _log_config() -> dict:
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["feedback_service"] = {
        "handlers": ["default"], "level": "INFO", "propagate": False,
    }
    return config


def _python() -> str:
    """The interpreter to type: the project's venv when it runs from one (``make serve``)."""
    executable = Path(sys.executable)
    try:
        return str(executable.relative_to(Path.cwd()))
    except ValueError:
        return "python"


def _serve(args: argparse.Namespace, config: Config) -> int:
    from . import db, notify, server

    if args.site_dir is not None:
        os.environ["FEEDBACK_SITE_DIR"] = str(args.site_dir)  # read by the app factory
        config = load_config()
    generated = not config.admin_token
    if generated:
        config = with_admin_token(config, create=True)
        os.environ["FEEDBACK_ADMIN_TOKEN"] = config.admin_token  # read by the app factory
    # Made before the workers start, so that every worker derives the same delete tokens.
    with_secret(config)
    database = db.Database(config.database_url)
    database.migrate()
    with database.session(write=False) as conn:
        editors = db.count_editors(conn)
    base = f"http://{_url_host(args.host)}:{args.port}"
    site_note = "" if config.site_dir.is_dir() else (
        f"   (noch nicht gebaut: {config.site_dir} fehlt – `make site` oder `make html`)"
    )
    workers = args.workers or server.default_workers()
    chosen = "" if args.workers else (
        f": einer je nutzbarem Prozessorkern ({server.usable_cpus()}), höchstens {server.MAX_WORKERS}"
    )
    cpus = server.worker_cpus(workers) if args.pin_workers else None
    lines = [
        f"Feedback-Dienst startet ({workers} Prozess(e){chosen}; Datenbank {redact_url(config.database_url)}).",
        *([] if cpus is None else [
            f"  Jeder Prozess bleibt auf einem eigenen Prozessorkern ({', '.join(map(str, cpus))}); "
            "--no-pin-workers verteilt sie frei."
        ]),
        f"  Website:  {base}/{site_note}",
        f"  API:      {base}/api/v1/",
        f"  OpenAPI:  {base}/api/v1/openapi.json",
    ]
    # The editors' workspace and its accounts come with the editors' table.
    if editors is not None:
        lines.append(f"  Redaktion: {base}/redaktion/")
    lines.append("")
    if editors == 0:
        lines += [
            "Noch hat die Redaktion kein Konto. Das erste legen Sie so an (das Programm fragt nach dem Passwort):",
            f"  {_python()} -m feedback_service editors add NAME",
            "",
        ]
    if generated:
        lines += [
            f"Moderation (Admin-Token erzeugt in {ADMIN_TOKEN_FILE}, nur für Sie lesbar):",
            f'  export FEEDBACK_ADMIN_TOKEN="$(cat {ADMIN_TOKEN_FILE})"',
        ]
    else:
        lines.append("Moderation (Admin-Token aus FEEDBACK_ADMIN_TOKEN):")
    lines += [
        '  curl -H "Authorization: Bearer $FEEDBACK_ADMIN_TOKEN" '
        f"'{base}/api/v1/admin/comments?status=pending'",
        f"  {_python()} -m feedback_service moderate list",
        f"  {_python()} -m feedback_service moderate approve <ID>",
        "",
        notify.summary(config.notifications),
        "Beenden mit Strg+C.",
    ]
    background = sync.BackgroundSync(config, args.sync_every) if args.sync_every else None
    if background is not None:
        lines[-1:-1] = [
            f"Abgleich freigegebener Kommentare: alle {args.sync_every:g} s im Hintergrund.",
            background.listen(),
        ]
    print("\n".join(lines), flush=True)
    if background is not None:
        background.start()
    try:
        return server.run(
            workers,
            cpus=cpus,
            app="feedback_service.app:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            access_log=False,
            proxy_headers=False,
            server_header=False,
            log_config=_log_config(),
            timeout_graceful_shutdown=5,
            **server.uvicorn_options(),
        )
    finally:
        if background is not None:
            background.stop()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


# -- moderate --------------------------------------------------------------------

def _configure_moderate(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="AKTION")
    listing = actions.add_parser("list", help="Beiträge anzeigen")
    listing.add_argument(
        "--status", default="pending", choices=[*STATUSES, "all"],
        help="nur Beiträge mit diesem Status (Standard: pending)",
    )
    listing.add_argument("--kind", choices=KINDS, help="nur diese Art")
    for action, text in (
        ("approve", "freigeben"), ("reject", "ablehnen (nach 30 Tagen gelöscht)"),
        ("delete", "endgültig löschen"),
    ):
        sub = actions.add_parser(action, help=f"Beiträge {text}")
        sub.add_argument("ids", nargs="+", metavar="ID")
        if action == "reject":
            sub.add_argument(
                "--grund", default="", metavar="TEXT",
                help="Begründung für die Akten (erscheint nie öffentlich)",
            )


def format_listing(rows: list[dict]) -> str:
    if not rows:
        return "Keine Beiträge."
    blocks = []
    for row in rows:
        kind = KIND_NAMES[row["kind"]]
        section = " ".join(p for p in (row["section_number"], row["section_title"]) if p)
        author = row["author"] or "anonym"
        if row["email"]:
            author += f" <{row['email']}>"
        lines = [
            f"{row['id']}  [{row['status']}] {kind}",
            f"  Abschnitt: {section or '(unbekannt)'} ({row['section']}), Ausgabe {row['version']}",
            f"  Von: {author}, {row['created']}",
        ]
        if row["reply_to"]:
            lines.append(f"  Antwort auf: {row['reply_to']}")
        lines += ["    " + line for line in row["text"].splitlines()]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + f"\n\n{len(rows)} Beitrag/Beiträge."


def _moderate(args: argparse.Namespace, config: Config) -> int:
    from . import audit, db, moderation
    from .errors import ApiError
    from .sections import SectionCatalog

    database = db.Database(config.database_url)
    database.migrate()
    if args.action == "list":
        status = None if args.status == "all" else args.status
        catalog = SectionCatalog(config.site_dir)
        with database.session(write=False) as conn:
            rows = moderation.listing(conn, catalog, status, args.kind)
        print(format_listing(rows))
        return 0
    action = {"approve": moderation.approve, "delete": moderation.delete,
              "reject": partial(moderation.reject, reason=getattr(args, "grund", ""))}[args.action]
    done = {"approve": "freigegeben", "reject": "abgelehnt", "delete": "gelöscht"}[args.action]
    failures = 0
    for comment_id in args.ids:
        try:
            with database.session() as conn:
                action(conn, comment_id, editor=audit.CLI)
        except ApiError as exc:
            print(f"{comment_id}: {exc.message}", file=sys.stderr)
            failures += 1
        else:
            print(f"{comment_id}: {done}")
    return 1 if failures else 0


# -- corrections, purge, migrate ---------------------------------------------------

def _configure_corrections(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--status", default="pending", choices=[*STATUSES, "all"],
        help="welche Fehlermeldungen (Standard: pending, die noch offenen)",
    )
    parser.add_argument("-o", "--output", type=Path, help="Bericht in diese Datei schreiben")


def _corrections(args: argparse.Namespace, config: Config) -> int:
    from . import db, moderation, ratings
    from .sections import SectionCatalog

    database = db.Database(config.database_url)
    database.migrate()
    status = None if args.status == "all" else args.status
    catalog = SectionCatalog(config.site_dir)
    with database.session(write=False) as conn:
        rows = moderation.listing(conn, catalog, status, "correction")
        report = ratings.edition_report(conn, catalog, rows)
    if args.output is None:
        sys.stdout.write(report)
    else:
        write_atomic(args.output, report)
        print(f"{len(rows)} Fehlermeldung(en) nach {args.output} geschrieben.")
    return 0


def _purge(args: argparse.Namespace, config: Config) -> int:
    from . import db, moderation

    database = db.Database(config.database_url)
    database.migrate()
    with database.session() as conn:
        counts = moderation.purge(conn)
    print(
        f"Gelöscht: {counts['rejected']} abgelehnte Beiträge (älter als 30 Tage), "
        f"{counts['idempotency_keys']} Idempotency-Keys und {counts['rate_events']} "
        "Zählereinträge (älter als 24 Stunden)."
    )
    return 0


def _migrate(args: argparse.Namespace, config: Config) -> int:
    from . import db

    applied = db.Database(config.database_url).migrate()
    print("Angewendet: " + ", ".join(applied) if applied else "Datenbank ist aktuell.")
    return 0


# -- editors -------------------------------------------------------------------------

def _configure_editors(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="AKTION")
    for action, text in (
        ("add", "Konto anlegen"), ("passwd", "neues Passwort setzen (beendet die Sitzungen)"),
    ):
        sub = actions.add_parser(action, help=text, description=text)
        sub.add_argument("name", metavar="NAME", help="Name, mit dem sich das Konto anmeldet")
        sub.add_argument(
            "--password-stdin", action="store_true",
            help="Passwort aus der ersten Zeile der Standardeingabe lesen (für Skripte)",
        )
    actions.add_parser("list", help="Konten anzeigen")
    remove = actions.add_parser("remove", help="Konto löschen (beendet seine Sitzungen)")
    remove.add_argument("name", metavar="NAME")


def _read_password(args: argparse.Namespace) -> str:
    from . import accounts

    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    first = getpass.getpass("Passwort: ")
    if getpass.getpass("Passwort wiederholen: ") != first:
        raise accounts.AccountError("Die beiden Eingaben stimmen nicht überein.")
    return first


def _editors(args: argparse.Namespace, config: Config) -> int:
    from . import accounts, db

    database = db.Database(config.database_url)
    database.migrate()
    try:
        if args.action == "list":
            with database.session(write=False) as conn:
                rows = accounts.list_editors(conn)
            for row in rows:
                print(f"{row['name']}  (angelegt {row['created']}, {row['sessions']} Sitzung(en))")
            print(f"{len(rows)} Konto/Konten." if rows else "Keine Konten.")
            return 0
        if args.action == "remove":
            with database.session() as conn:
                accounts.remove_editor(conn, args.name)
            print(f"Konto „{args.name}“ gelöscht.")
            return 0
        if args.action == "add":
            accounts.check_name(args.name)
        password = accounts.check_password(_read_password(args))
        with database.session() as conn:
            if args.action == "add":
                accounts.add_editor(conn, args.name, password)
            else:
                accounts.set_password(conn, args.name, password)
    except accounts.AccountError as exc:
        print(f"Fehler: {exc}", file=sys.stderr)
        return 1
    done = "angelegt" if args.action == "add" else "hat ein neues Passwort"
    print(f"Konto „{args.name.strip()}“ {done}. Anmeldung: /redaktion/anmelden")
    return 0


# -- backup, restore, export, import --------------------------------------------------

def _configure_backup(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar="DATEI", help="wohin die Sicherung geschrieben wird")


def _backup(args: argparse.Namespace, config: Config) -> int:
    from . import backup, db

    count = backup.backup(db.Database(config.database_url), args.file)
    print(f"Sicherung mit {count} Beiträgen nach {args.file} geschrieben.")
    return 0


def _configure_restore(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar="DATEI", help="die Sicherung (aus `backup`)")
    parser.add_argument("--force", action="store_true",
                        help="auch eine Datenbank überschreiben, die Beiträge enthält")


def _restore(args: argparse.Namespace, config: Config) -> int:
    from . import backup, db

    count = backup.restore(db.Database(config.database_url), args.file, force=args.force)
    print(f"{count} Beiträge aus {args.file} wiederhergestellt. {_then_sync()}")
    return 0


def _configure_export(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, nargs="?", metavar="DATEI",
                        help="JSON-Datei (ohne Angabe: Standardausgabe)")


def _export(args: argparse.Namespace, config: Config) -> int:
    from . import backup, db

    text, counts = backup.write_export(db.Database(config.database_url), args.file)
    if args.file is None:
        sys.stdout.write(text)
    else:
        print(f"Exportiert nach {args.file}: {_counts(counts)}.")
    return 0


def _configure_import(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar="DATEI", help="ein Export (aus `export`)")
    parser.add_argument("--force", action="store_true",
                        help="auch in eine Datenbank importieren, die Beiträge enthält")


def _import(args: argparse.Namespace, config: Config) -> int:
    from . import backup, db, ids

    secret = with_secret(config).secret
    try:
        data = json.loads(args.file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise backup.BackupError(f"{args.file} lässt sich nicht als JSON lesen: {exc}") from exc
    counts = backup.import_data(
        db.Database(config.database_url), data,
        lambda comment_id: ids.hash_token(ids.delete_token(secret, comment_id)),
        force=args.force,
    )
    print(f"Importiert: {_counts(counts)}. {_then_sync()}")
    return 0


def _then_sync() -> str:
    """After a restore or import the database is another one than the site's cursor knows."""
    return f"Danach einmal `{_python()} -m feedback_service sync --force` ausführen."


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{number} aus {table}" for table, number in counts.items()) or "nichts"


def _no_options(parser: argparse.ArgumentParser) -> None:
    return None


COMMANDS: list[Command] = [
    Command("serve", "Dienst starten (Website und API)", _configure_serve, _serve),
    Command("moderate", "Beiträge anzeigen, freigeben, ablehnen, löschen",
            _configure_moderate, _moderate),
    Command("corrections", "Fehlermeldungen und die Antworten auf „War diese Seite hilfreich?“ als "
            "Markdown-Bericht für die nächste Ausgabe", _configure_corrections, _corrections),
    Command("purge", "Abgelaufene Daten jetzt löschen", _no_options, _purge),
    Command("migrate", "Datenbankschema auf den neuesten Stand bringen", _no_options, _migrate),
    Command("editors", "Konten der Redaktion für den Arbeitsbereich /redaktion/",
            _configure_editors, _editors),
    Command("sync", "Freigegebene Kommentare holen, Website neu bauen und veröffentlichen",
            sync.add_arguments, sync.run),
    Command("backup", "SQLite-Datenbank im laufenden Betrieb sichern", _configure_backup, _backup),
    Command("restore", "Eine Sicherung zurückspielen", _configure_restore, _restore),
    Command("export", "Alle Daten als JSON ausgeben (ohne Geheimnisse)", _configure_export, _export),
    Command("import", "Einen JSON-Export einlesen (z. B. beim Umzug nach PostgreSQL)",
            _configure_import, _import),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m feedback_service",
        description="Feedback-Dienst des Handbuchs. Einstellungen über FEEDBACK_*-Variablen "
        "(siehe README, Abschnitt Konfiguration).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="BEFEHL")
    for command in COMMANDS:
        sub = commands.add_parser(command.name, help=command.help, description=command.help)
        command.configure(sub)
        sub.set_defaults(run=command.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args, load_config())
    except ConfigError as exc:
        print(f"Fehler in der Konfiguration: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        # Raised only by commands that imported these modules already.
        from . import backup, db

        if isinstance(exc, db.DatabaseError):
            print(f"Datenbankfehler: {exc}", file=sys.stderr)
            return 1
        if isinstance(exc, backup.BackupError):
            print(f"Fehler: {exc}", file=sys.stderr)
            return exc.exit_code
        raise
