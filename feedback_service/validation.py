"""Parsing and checking a submitted comment, exactly as the API contract says."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from .config import Notifications, normalise_origin
from .errors import FIELD_LABELS, ApiError, ValidationFailed, field_error
from .notify import check_request, wants_notification
from .sections import SectionCatalog

MAX_BODY = 64 * 1024
MAX_TEXT = 5000
MAX_AUTHOR = 80
MAX_EMAIL = 254
MAX_ID = 200

FIELDS = (
    "section", "version", "text", "author", "email", "kind", "consent", "reply_to",
    "website", "return_to", "notify",
)
KINDS = ("comment", "correction")
COMMENT_ID = re.compile(r"c_[0-9A-Z]{26}")
_LINK = re.compile(r"(?:https?://|www\.)\S", re.IGNORECASE)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True)
class Submission:
    section: str
    version: str
    text: str
    author: str
    email: str
    kind: str
    reply_to: str | None
    return_to: str | None
    notify: bool = False

    def public_fingerprint(self) -> dict:
        """What identifies the request for idempotency (everything the client sent)."""
        return {
            "section": self.section, "version": self.version, "text": self.text,
            "author": self.author, "email": self.email, "kind": self.kind,
            "reply_to": self.reply_to, "notify": self.notify,
        }


def media_type(content_type: str | None) -> tuple[str, dict[str, str]]:
    kind, _, rest = (content_type or "").partition(";")
    params = {}
    for part in rest.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            params[name.strip().lower()] = value.strip().strip('"').lower()
    return kind.strip().lower(), params


def parse_body(content_type: str | None, body: bytes) -> tuple[dict, bool]:
    """The submitted fields and whether they came from a form; ApiError if malformed."""
    kind, params = media_type(content_type)
    if kind not in ("application/json", "application/x-www-form-urlencoded"):
        raise ApiError(
            415, "unsupported_media_type",
            "Nicht unterstütztes Format: Bitte senden Sie application/json oder "
            "application/x-www-form-urlencoded.",
        )
    if params.get("charset", "utf-8") not in ("utf-8", "utf8"):
        raise ApiError(
            415, "unsupported_media_type",
            "Nicht unterstützte Zeichenkodierung: Bitte senden Sie UTF-8.",
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(
            400, "invalid_encoding", "Die Anfrage ist kein gültiges UTF-8."
        ) from None
    if kind == "application/x-www-form-urlencoded":
        try:
            pairs = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
        except (UnicodeDecodeError, ValueError):
            raise ApiError(
                400, "invalid_encoding", "Das Formular enthält ungültig kodierte Zeichen."
            ) from None
        fields: dict = {}
        for name, value in pairs:
            fields.setdefault(name, value)
        return fields, True
    try:
        data = json.loads(text)
    except ValueError:
        raise ApiError(400, "invalid_json", "Die Anfrage ist kein gültiges JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(
            400, "invalid_json", "Die Anfrage muss ein JSON-Objekt mit den Feldern sein."
        )
    return data, False


def _label(field: str) -> str:
    return f"„{FIELD_LABELS.get(field, field)}“"


def has_control_characters(value: str, multiline: bool) -> bool:
    """Control characters (newline and tab allowed in text) or lone surrogates."""
    allowed = "\n\t" if multiline else ""
    return any(
        unicodedata.category(char) in ("Cc", "Cs") and char not in allowed for char in value
    )


class _Checker:
    def __init__(self, data: dict):
        self.data = data
        self.errors: list[ApiError] = []

    def fail(self, code: str, message: str, field: str) -> None:
        if not any(error.field == field for error in self.errors):
            self.errors.append(field_error(code, message, field))

    def string(self, field: str, multiline: bool = False) -> str:
        value = self.data.get(field)
        if value is None:
            return ""
        if not isinstance(value, str):
            self.fail("invalid_type", f"Das Feld {_label(field)} muss Text sein.", field)
            return ""
        if multiline:
            value = value.replace("\r\n", "\n").replace("\r", "\n")
        if has_control_characters(value, multiline):
            self.fail(
                "control_characters",
                f"Das Feld {_label(field)} enthält unzulässige Steuerzeichen oder ungültige "
                "Unicode-Zeichen.",
                field,
            )
            return ""
        return value.strip()

    def too_long(self, field: str, value: str, limit: int) -> bool:
        if len(value) > limit:
            self.fail(
                f"{field}_too_long",
                f"Das Feld {_label(field)} ist zu lang: höchstens {limit} Zeichen, "
                f"eingegeben wurden {len(value)}.",
                field,
            )
            return True
        return False


def is_honeypot(data: dict) -> bool:
    """A bot filled the hidden ``website`` field: answer like success, store nothing."""
    website = data.get("website")
    return bool(website) and (not isinstance(website, str) or bool(website.strip()))


def validate_submission(
    data: dict, catalog: SectionCatalog, max_links: int,
    notifications: Notifications = Notifications(),
) -> Submission:
    """A checked submission, or ValidationFailed listing every invalid field."""
    check = _Checker(data)
    section = check.string("section")
    version = check.string("version")
    text = check.string("text", multiline=True)
    author = check.string("author")
    email = check.string("email")
    kind = check.string("kind") or "comment"
    reply_to = check.string("reply_to") or None
    return_to = check.string("return_to") or None

    if not section:
        check.fail("section_required", "Es fehlt der Abschnitt, zu dem Sie schreiben.", "section")
    if not version:
        check.fail("version_required", "Es fehlt die Ausgabe des Handbuchs.", "version")
    if section and version:
        editions = catalog.editions()
        if not editions:
            check.fail(
                "unknown_section",
                "Die Abschnitte des Handbuchs sind dem Dienst nicht bekannt: Es wurde keine "
                "gebaute Website mit _feedback/sections.json gefunden.",
                "section",
            )
        elif version not in editions:
            check.fail(
                "unknown_version",
                f"Die Ausgabe „{version[:MAX_ID]}“ des Handbuchs gibt es nicht.",
                "version",
            )
        elif section not in editions[version]:
            check.fail(
                "unknown_section",
                f"Den Abschnitt „{section[:MAX_ID]}“ gibt es in Ausgabe {version} nicht.",
                "section",
            )
    if not text:
        check.fail("text_required", "Bitte schreiben Sie einen Text.", "text")
    elif not check.too_long("text", text, MAX_TEXT):
        links = len(_LINK.findall(text))
        if links > max_links:
            check.fail(
                "too_many_links",
                f"Der Text enthält {links} Links; erlaubt sind höchstens {max_links}.",
                "text",
            )
    check.too_long("author", author, MAX_AUTHOR)
    if not check.too_long("email", email, MAX_EMAIL) and email and not _EMAIL.fullmatch(email):
        check.fail(
            "invalid_email",
            "Die E-Mail-Adresse ist ungültig (Beispiel: name@example.org).",
            "email",
        )
    if kind not in KINDS:
        check.fail(
            "invalid_kind",
            "Die Art muss „comment“ (Kommentar) oder „correction“ (Fehlermeldung) sein.",
            "kind",
        )
    consent = data.get("consent")
    if kind == "comment" and consent is not True and consent != "on":
        check.fail(
            "consent_required",
            "Bitte stimmen Sie der Veröffentlichung Ihres Kommentars zu.",
            "consent",
        )
    if reply_to is not None and (kind != "comment" or not COMMENT_ID.fullmatch(reply_to)):
        check.fail(
            "unknown_reply",
            "Der Kommentar, auf den Sie antworten, existiert nicht.",
            "reply_to",
        )
    notify = wants_notification(data.get("notify"))
    if notify and not any(error.field in ("email", "kind") for error in check.errors):
        for error in check_request(kind, email, notifications):
            check.fail(error.code, error.message, error.field)
    if check.errors:
        raise ValidationFailed(check.errors)
    return Submission(
        section=section, version=version, text=text, author=author, email=email,
        kind=kind, reply_to=reply_to, return_to=return_to, notify=notify,
    )


def safe_return_to(value: str, own_origin: str, allowed: frozenset[str]) -> str | None:
    """``value`` if it points back to the service's own or an allowed origin, else None."""
    if value.startswith("/"):
        if value.startswith("//") or value.startswith("/\\") or has_control_characters(
            value, False
        ):
            return None
        return value
    origin = normalise_origin(value)
    if origin is None or (origin != own_origin and origin not in allowed):
        return None
    parts = urlsplit(value)
    if parts.username or parts.password:
        return None
    return value


def with_fragment(url: str, fragment: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, fragment))
