"""Settings of the feedback service, each declared once: name, default, help.

Every setting is an environment variable prefixed ``FEEDBACK_``; the README's
"Konfiguration" table lists them (a test keeps the two in step). Two secrets
fall back to files a local installation keeps in ``var/`` (mode 0600),
created on first start: the admin token (:func:`with_admin_token`) and the
server secret the delete tokens derive from (:func:`with_secret`).
"""

from __future__ import annotations

import functools
import ipaddress
import os
import secrets
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit, urlunsplit

from .mail import SmtpServer, mail_address, parse_smtp_url


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "FEEDBACK_DATABASE_URL",
        "sqlite:///var/feedback.sqlite3",
        "Datenbank: `sqlite:///pfad/datei.sqlite3` (relativ zum Arbeitsverzeichnis) oder "
        "`postgresql://…` für eine gemeinsame Datenbank mehrerer Instanzen.",
    ),
    Setting(
        "FEEDBACK_ADMIN_TOKEN",
        "",
        "Bearer-Token der Verwaltungsschnittstelle `/api/v1/admin/…`. Ohne Token ist sie "
        "abgeschaltet; `make serve` erzeugt eines in `var/feedback-admin-token`.",
    ),
    Setting(
        "FEEDBACK_SECRET",
        "",
        "Geheimer Schlüssel des Dienstes, aus dem er die Lösch-Tokens der Leser und den täglich "
        "wechselnden Schlüssel der Ratenbegrenzung ableitet; er steht nie in der Datenbank. "
        "Ohne Angabe erzeugt ihn der erste Start in `var/feedback-secret`. Mehrere Instanzen "
        "an einer Datenbank brauchen denselben Wert.",
    ),
    Setting(
        "FEEDBACK_ALLOWED_ORIGINS",
        "",
        "Weitere erlaubte Origins (kommagetrennt, z. B. `https://handbuch.example.org`); "
        "der eigene Origin des Dienstes ist immer erlaubt, alle anderen bekommen 403.",
    ),
    Setting(
        "FEEDBACK_SITE_DIR",
        "build/site",
        "Die gebaute Website, die der Dienst ausliefert und aus deren "
        "`_feedback/sections.json` er die gültigen Abschnitte und Ausgaben liest.",
    ),
    Setting(
        "FEEDBACK_RATE_LIMIT",
        "10/600",
        "Neue Kommentare je Client-Adresse (Antworten auf „War diese Seite hilfreich?“ zählen "
        "getrennt, mit derselben Grenze): `N/SEKUNDEN` (höchstens 86400 Sekunden), "
        "`0` schaltet die Begrenzung ab. Gezählt wird in der Datenbank, je Beitrag oder Bewertung "
        "nur die Zeit und ein HMAC der Adresse (IPv6: ihr /64-Netz) mit dem Tagesschlüssel aus "
        "`FEEDBACK_SECRET`, nie die Adresse selbst; gelöscht wird beides beim stündlichen "
        "Aufräumen, sobald es älter als 24 Stunden ist.",
    ),
    Setting(
        "FEEDBACK_LOGIN_LIMIT",
        "10/600",
        "Fehlgeschlagene Anmeldungen (falsches Admin-Token) je Client-Adresse, über alle Prozesse "
        "gezählt: `N/SEKUNDEN`; danach antwortet der Dienst diesem Client 429, bis das Zeitfenster "
        "abgelaufen ist.",
    ),
    Setting(
        "FEEDBACK_TRUSTED_PROXIES",
        "",
        "IP-Adressen oder Netze (kommagetrennt) vorgeschalteter Proxies; nur von ihnen "
        "werden `X-Forwarded-For` und `X-Forwarded-Proto` übernommen.",
    ),
    Setting(
        "FEEDBACK_MAX_LINKS",
        "3",
        "Höchstzahl an Links in einem Kommentar.",
    ),
    Setting(
        "FEEDBACK_SERVICE_URL",
        "http://127.0.0.1:8000",
        "Adresse des Dienstes, von der der Abgleich (`sync`) die freigegebenen Kommentare holt.",
    ),
    Setting(
        "FEEDBACK_COMMENTS_FILE",
        "var/feedback/comments.json",
        "Die zusammengeführte Kommentardatei, die der Abgleich schreibt und aus der die Website "
        "gebaut wird; daneben liegt sein Stand (`sync-state.json`).",
    ),
    Setting(
        "FEEDBACK_RELEASES_FILE",
        "releases.toml",
        "Die veröffentlichten Ausgaben, die der Abgleich neu baut (relativ zum Arbeitsverzeichnis; "
        "das Git-Repository daneben liefert ihre Quellen).",
    ),
    Setting(
        "FEEDBACK_EDITORS_NAME",
        "Redaktion",
        "Öffentlicher Name der Redaktion: So ist eine Antwort der Redaktion unter einem "
        "Kommentar unterschrieben.",
    ),
    Setting(
        "FEEDBACK_SESSION_IDLE_MINUTES",
        "60",
        "Nach so vielen Minuten ohne Aktion endet die Anmeldung einer Redakteurin oder eines "
        "Redakteurs im Arbeitsbereich `/redaktion/` (höchstens 720).",
    ),
    Setting(
        "FEEDBACK_PUBLIC_URL",
        "",
        "Öffentliche Adresse des Dienstes (z. B. `https://handbuch.example.org`) für die Links "
        "in E-Mails: Warteschlange, Bestätigen, Abbestellen. Leer: `FEEDBACK_SERVICE_URL`.",
    ),
    Setting(
        "FEEDBACK_SMTP_URL",
        "",
        "Mailserver für Benachrichtigungen: `smtp://[benutzer:passwort@]host:port`, "
        "`smtps://…` für TLS, `?starttls=1` für STARTTLS. Leer: keine E-Mails.",
    ),
    Setting(
        "FEEDBACK_MAIL_FROM",
        "",
        "Absenderadresse der Benachrichtigungen, z. B. `Handbuch-Redaktion "
        "<redaktion@example.org>`; nötig, sobald `FEEDBACK_SMTP_URL` gesetzt ist.",
    ),
    Setting(
        "FEEDBACK_NOTIFY_EMAILS",
        "",
        "Adressen der Redaktion (kommagetrennt): eine E-Mail für jeden neuen Beitrag "
        "(oder eine Sammelmail, siehe `FEEDBACK_NOTIFY_DIGEST`).",
    ),
    Setting(
        "FEEDBACK_NOTIFY_DIGEST",
        "immediate",
        "Wann die Redaktion benachrichtigt wird: `immediate` (eine E-Mail je Beitrag), "
        "`hourly` (zur vollen Stunde gesammelt) oder `daily` (täglich um 7 Uhr deutscher Zeit).",
    ),
    Setting(
        "FEEDBACK_WEBHOOK_URL",
        "",
        "Adresse, an die der Dienst für jeden neuen Beitrag ein JSON-POST schickt "
        "(z. B. ein Chat-Werkzeug); verlangt `FEEDBACK_WEBHOOK_SECRET`.",
    ),
    Setting(
        "FEEDBACK_WEBHOOK_SECRET",
        "",
        "Geheimer Schlüssel, mit dem jeder Webhook-Aufruf per HMAC-SHA256 signiert wird "
        "(Kopfzeile `X-Feedback-Signature`).",
    ),
    Setting(
        "FEEDBACK_NOTIFY_RETRY",
        "30/3600",
        "Wartezeit vor dem ersten und höchstens vor jedem weiteren Zustellversuch, "
        "`ERSTE/HÖCHSTENS` in Sekunden; sie verdoppelt sich mit jedem Fehlschlag.",
    ),
)

_DEFAULTS = {setting.name: setting.default for setting in SETTINGS}
# Where a local installation keeps the secrets it generated (beside the SQLite database).
ADMIN_TOKEN_FILE = Path("var") / "feedback-admin-token"
SECRET_FILE = Path("var") / "feedback-secret"

MAX_RATE_WINDOW = 86400
MAX_IDLE_MINUTES = 720


class ConfigError(ValueError):
    """A setting has a value the service cannot use; the message names it."""


DIGEST_MODES = ("immediate", "hourly", "daily")


@dataclass(frozen=True)
class Notifications:
    """Where notifications go; empty values switch a channel off."""

    smtp: SmtpServer | None = None
    mail_from: str = ""
    editors: tuple[str, ...] = ()
    digest: str = "immediate"
    webhook_url: str = ""
    webhook_secret: str = ""
    public_url: str = _DEFAULTS["FEEDBACK_SERVICE_URL"]
    retry: tuple[float, float] = (30.0, 3600.0)

    @property
    def mails_editors(self) -> bool:
        return self.smtp is not None and bool(self.editors)

    @property
    def mails_readers(self) -> bool:
        return self.smtp is not None


@dataclass(frozen=True)
class Config:
    database_url: str
    admin_token: str
    allowed_origins: frozenset[str]
    site_dir: Path
    rate_limit: tuple[int, int] | None
    login_limit: tuple[int, int]
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    max_links: int
    service_url: str
    comments_file: Path = Path(_DEFAULTS["FEEDBACK_COMMENTS_FILE"])
    releases_file: Path = Path(_DEFAULTS["FEEDBACK_RELEASES_FILE"])
    secret: str = ""
    editors_name: str = _DEFAULTS["FEEDBACK_EDITORS_NAME"]
    session_idle_seconds: int = int(_DEFAULTS["FEEDBACK_SESSION_IDLE_MINUTES"]) * 60
    notifications: Notifications = Notifications()


def _value(environ: Mapping[str, str], name: str) -> str:
    return environ.get(name, _DEFAULTS[name]).strip()


@functools.lru_cache(maxsize=256)  # every API request names its origin and host: a few, again and again
def normalise_origin(value: str) -> str | None:
    """``scheme://host[:port]`` in lower case, or None when ``value`` is no origin."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    default_port = 443 if parts.scheme == "https" else 80
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    suffix = f":{port}" if port and port != default_port else ""
    return f"{parts.scheme}://{host}{suffix}"


def own_origin(scope: dict) -> str | None:
    """The origin an ASGI request was sent to (its scheme as a trusted proxy forwarded it)."""
    host = next((value.decode("latin-1") for name, value in scope["headers"] if name == b"host"), None)
    return normalise_origin(f"{scope.get('scheme', 'http')}://{host}") if host else None


def redact_url(url: str) -> str:
    """``url`` without its password, for printing."""
    parts = urlsplit(url)
    if parts.password:
        return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))
    return url


def parse_rate_limit(value: str, name: str = "FEEDBACK_RATE_LIMIT", off: bool = True) -> tuple[int, int] | None:
    if value == "0" and off:
        return None
    count, sep, seconds = value.partition("/")
    try:
        limit = (int(count), int(seconds)) if sep else None
    except ValueError:
        limit = None
    if limit is None or limit[0] < 1 or not 1 <= limit[1] <= MAX_RATE_WINDOW:
        raise ConfigError(
            f"{name}={value!r}: erwartet wird N/SEKUNDEN mit N ≥ 1 und "
            f"1 ≤ SEKUNDEN ≤ {MAX_RATE_WINDOW}, z. B. 10/600" + (", oder 0 für aus." if off else ".")
        )
    return limit


def _parse_origins(value: str) -> frozenset[str]:
    origins = set()
    for item in filter(None, (part.strip() for part in value.split(","))):
        origin = normalise_origin(item)
        if origin is None:
            raise ConfigError(
                f"FEEDBACK_ALLOWED_ORIGINS: {item!r} ist kein Origin wie https://example.org"
            )
        origins.add(origin)
    return frozenset(origins)


def _parse_proxies(value: str):
    networks = []
    for item in filter(None, (part.strip() for part in value.split(","))):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(
                f"FEEDBACK_TRUSTED_PROXIES: {item!r} ist weder IP-Adresse noch Netz (CIDR)"
            ) from None
    return tuple(networks)


def _parse_database_url(value: str) -> str:
    if value.startswith("sqlite:///") and len(value) > len("sqlite:///"):
        return value
    if value.startswith(("postgresql://", "postgres://")):
        return value
    raise ConfigError(
        f"FEEDBACK_DATABASE_URL={value!r}: erwartet wird sqlite:///pfad oder postgresql://…"
    )


def _parse_max_links(value: str) -> int:
    try:
        links = int(value)
    except ValueError:
        links = -1
    if links < 0:
        raise ConfigError(f"FEEDBACK_MAX_LINKS={value!r}: erwartet wird eine Zahl ≥ 0")
    return links


def _parse_idle_minutes(value: str) -> int:
    try:
        minutes = int(value)
    except ValueError:
        minutes = 0
    if not 1 <= minutes <= MAX_IDLE_MINUTES:
        raise ConfigError(
            f"FEEDBACK_SESSION_IDLE_MINUTES={value!r}: erwartet wird eine Zahl von 1 bis "
            f"{MAX_IDLE_MINUTES}"
        )
    return minutes * 60


def _parse_editors_name(value: str) -> str:
    if not value or len(value) > 80:
        raise ConfigError(f"FEEDBACK_EDITORS_NAME={value!r}: erwartet werden 1 bis 80 Zeichen")
    return value


def _parse_mail_from(value: str, smtp: SmtpServer | None) -> str:
    if smtp is not None and not value:
        raise ConfigError("FEEDBACK_MAIL_FROM fehlt: Mit FEEDBACK_SMTP_URL braucht der Dienst "
                          "eine Absenderadresse.")
    if value and mail_address(value) is None:
        raise ConfigError(f"FEEDBACK_MAIL_FROM={value!r} ist keine E-Mail-Adresse")
    return value


def _parse_editors(value: str) -> tuple[str, ...]:
    addresses = tuple(filter(None, (part.strip() for part in value.split(","))))
    for address in addresses:
        if mail_address(address) is None:
            raise ConfigError(f"FEEDBACK_NOTIFY_EMAILS: {address!r} ist keine E-Mail-Adresse")
    return addresses


def _parse_retry(value: str) -> tuple[float, float]:
    first, sep, most = value.partition("/")
    try:
        retry = (float(first), float(most)) if sep else None
    except ValueError:
        retry = None
    if retry is None or not 0 < retry[0] <= retry[1]:
        raise ConfigError(
            f"FEEDBACK_NOTIFY_RETRY={value!r}: erwartet wird ERSTE/HÖCHSTENS in Sekunden "
            "mit 0 < ERSTE ≤ HÖCHSTENS, z. B. 30/3600."
        )
    return retry


def _parse_notifications(env: Mapping[str, str]) -> Notifications:
    try:
        smtp = parse_smtp_url(_value(env, "FEEDBACK_SMTP_URL"))
    except ValueError as exc:
        raise ConfigError(f"FEEDBACK_SMTP_URL: {exc}") from None
    digest = _value(env, "FEEDBACK_NOTIFY_DIGEST") or "immediate"
    if digest not in DIGEST_MODES:
        raise ConfigError(
            f"FEEDBACK_NOTIFY_DIGEST={digest!r}: erwartet wird {', '.join(DIGEST_MODES)}"
        )
    webhook_url, secret = _value(env, "FEEDBACK_WEBHOOK_URL"), _value(env, "FEEDBACK_WEBHOOK_SECRET")
    if webhook_url and urlsplit(webhook_url).scheme not in ("http", "https"):
        raise ConfigError(f"FEEDBACK_WEBHOOK_URL={webhook_url!r}: erwartet wird http(s)://…")
    if webhook_url and not secret:
        raise ConfigError("FEEDBACK_WEBHOOK_SECRET fehlt: Webhooks werden nur signiert verschickt.")
    public_url = _value(env, "FEEDBACK_PUBLIC_URL") or _value(env, "FEEDBACK_SERVICE_URL")
    if normalise_origin(public_url) is None:
        raise ConfigError(f"FEEDBACK_PUBLIC_URL={public_url!r}: erwartet wird http(s)://host…")
    return Notifications(
        smtp=smtp,
        mail_from=_parse_mail_from(_value(env, "FEEDBACK_MAIL_FROM"), smtp),
        editors=_parse_editors(_value(env, "FEEDBACK_NOTIFY_EMAILS")),
        digest=digest,
        webhook_url=webhook_url,
        webhook_secret=secret,
        public_url=public_url.rstrip("/"),
        retry=_parse_retry(_value(env, "FEEDBACK_NOTIFY_RETRY")),
    )


def load_config(environ: Mapping[str, str] | None = None) -> Config:
    """Read every setting from ``environ`` (default: the process environment)."""
    env = os.environ if environ is None else environ
    return Config(
        database_url=_parse_database_url(_value(env, "FEEDBACK_DATABASE_URL")),
        admin_token=_value(env, "FEEDBACK_ADMIN_TOKEN"),
        allowed_origins=_parse_origins(_value(env, "FEEDBACK_ALLOWED_ORIGINS")),
        site_dir=Path(_value(env, "FEEDBACK_SITE_DIR") or _DEFAULTS["FEEDBACK_SITE_DIR"]),
        rate_limit=parse_rate_limit(_value(env, "FEEDBACK_RATE_LIMIT")),
        login_limit=parse_rate_limit(_value(env, "FEEDBACK_LOGIN_LIMIT"), "FEEDBACK_LOGIN_LIMIT", off=False),
        trusted_proxies=_parse_proxies(_value(env, "FEEDBACK_TRUSTED_PROXIES")),
        max_links=_parse_max_links(_value(env, "FEEDBACK_MAX_LINKS")),
        service_url=_value(env, "FEEDBACK_SERVICE_URL").rstrip("/"),
        comments_file=Path(_value(env, "FEEDBACK_COMMENTS_FILE") or _DEFAULTS["FEEDBACK_COMMENTS_FILE"]),
        releases_file=Path(_value(env, "FEEDBACK_RELEASES_FILE") or _DEFAULTS["FEEDBACK_RELEASES_FILE"]),
        secret=_value(env, "FEEDBACK_SECRET"),
        editors_name=_parse_editors_name(_value(env, "FEEDBACK_EDITORS_NAME")),
        session_idle_seconds=_parse_idle_minutes(_value(env, "FEEDBACK_SESSION_IDLE_MINUTES")),
        notifications=_parse_notifications(env),
    )


def secret_from_file(path: Path) -> str:
    """The secret stored in ``path``; a new one (mode 0600) when there is none.

    Several processes may start at once (``serve --workers``): the file
    appears whole, by a hard link, and the first one wins.
    """
    try:
        stored = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        stored = ""
    if stored:
        return stored
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(secrets.token_urlsafe(32) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    try:
        if path.exists():
            os.replace(temporary, path)  # an empty file left by an older version
        else:
            os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink(missing_ok=True)
    return path.read_text(encoding="utf-8").strip()


def with_admin_token(config: Config, create: bool = False) -> Config:
    """The admin token from the environment, else from ``var/feedback-admin-token``.

    ``create`` makes the file when it is missing (``serve``); the sync only reads it.
    """
    if config.admin_token:
        return config
    if create or ADMIN_TOKEN_FILE.is_file():
        return replace(config, admin_token=secret_from_file(ADMIN_TOKEN_FILE))
    return config


def with_secret(config: Config) -> Config:
    """The server secret from the environment, else from ``var/feedback-secret`` (created)."""
    return config if config.secret else replace(config, secret=secret_from_file(SECRET_FILE))
