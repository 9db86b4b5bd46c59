"""Mail: the SMTP server setting, safe addresses and messages, and one delivery.

Every message is an :class:`email.message.EmailMessage` under the ``SMTP``
policy, which refuses a header value with a line break; addresses are parsed
into :class:`~email.headerregistry.Address` objects, so nothing a reader typed
can add a recipient or a header. Depends on the standard library only.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.headerregistry import Address, HeaderRegistry
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

TIMEOUT = 30
_HEADERS = HeaderRegistry()


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    tls: bool = False
    starttls: bool = False
    user: str = ""
    password: str = ""

    def __str__(self) -> str:
        """Where it is, without the password."""
        scheme = "smtps" if self.tls else "smtp"
        return f"{scheme}://{self.host}:{self.port}" + ("?starttls=1" if self.starttls else "")

    def __repr__(self) -> str:
        return f"SmtpServer({self})"


def parse_smtp_url(value: str) -> SmtpServer | None:
    """``smtp://[user:pass@]host:port``, ``smtps://…``, ``?starttls=1``; None when empty."""
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError(f"{_hide_password(value)!r}: erwartet wird smtp://host:port oder smtps://…")
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 25)
    except ValueError:
        raise ValueError(f"{_hide_password(value)!r}: ungültiger Port") from None
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    unknown = set(query) - {"starttls"}
    if unknown or query.get("starttls", "0") not in ("0", "1"):
        raise ValueError("als Parameter ist nur ?starttls=1 (oder 0) erlaubt")
    starttls = query.get("starttls") == "1"
    if starttls and parts.scheme == "smtps":
        raise ValueError("smtps:// ist schon verschlüsselt; ?starttls=1 gilt nur für smtp://")
    return SmtpServer(
        host=parts.hostname, port=port, tls=parts.scheme == "smtps", starttls=starttls,
        user=unquote(parts.username or ""), password=unquote(parts.password or ""),
    )


def _hide_password(value: str) -> str:
    parts = urlsplit(value)
    if parts.password is None:
        return value
    return value.replace(f":{parts.password}@", ":***@", 1)


def mail_address(value: str) -> Address | None:
    """Exactly one well-formed address (a display name allowed), else None."""
    if not value or "\r" in value or "\n" in value:
        return None
    try:
        header = _HEADERS("To", value)
    except (ValueError, IndexError):
        return None
    addresses = header.addresses
    if header.defects or len(addresses) != 1:
        return None
    address = addresses[0]
    if not address.username or "." not in address.domain:
        return None
    return address


@dataclass(frozen=True)
class Mail:
    """What one message says; :func:`compose` makes it an EmailMessage."""

    subject: str
    body: str
    unsubscribe_url: str | None = None


def compose(mail: Mail, sender: str, recipients: list[str]) -> EmailMessage:
    """A plain-text UTF-8 message; with an unsubscribe URL also RFC 8058's headers."""
    message = EmailMessage(policy=SMTP)
    message["Subject"] = mail.subject
    message["From"] = mail_address(sender)
    message["To"] = [_required(address) for address in recipients]
    message["Date"] = format_datetime(_now())
    message["Message-ID"] = make_msgid(domain=mail_address(sender).domain)
    message["Auto-Submitted"] = "auto-generated"
    if mail.unsubscribe_url is not None:
        message["List-Unsubscribe"] = f"<{mail.unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(mail.body, charset="utf-8")
    return message


def _required(value: str) -> Address:
    address = mail_address(value)
    if address is None:
        raise ValueError("invalid recipient address")
    return address


def _now():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)


class PermanentFailure(Exception):
    """The server refused the message for good (5xx): retrying will not help."""


def send(server: SmtpServer, message: EmailMessage) -> None:
    """Deliver ``message`` to the recipients in its ``To`` header; raises on failure."""
    context = ssl.create_default_context()
    connection: smtplib.SMTP
    if server.tls:
        connection = smtplib.SMTP_SSL(server.host, server.port, timeout=TIMEOUT, context=context)
    else:
        connection = smtplib.SMTP(server.host, server.port, timeout=TIMEOUT)
    try:
        if server.starttls:
            connection.starttls(context=context)
        if server.user:
            connection.login(server.user, server.password)
        try:
            connection.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentFailure("SMTP: Empfänger abgelehnt") from exc
        except smtplib.SMTPDataError as exc:
            if 500 <= exc.smtp_code < 600:
                raise PermanentFailure(f"SMTP {exc.smtp_code}") from exc
            raise
    finally:
        try:
            connection.quit()
        except (smtplib.SMTPException, OSError):
            connection.close()


def describe_failure(exc: BaseException) -> str:
    """A short reason for the log and the outbox, without any address in it."""
    if isinstance(exc, PermanentFailure):
        return str(exc)
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"SMTP {exc.smtp_code}"
    if isinstance(exc, smtplib.SMTPException):
        return f"SMTP: {type(exc).__name__}"
    if isinstance(exc, OSError):
        return f"{type(exc).__name__}: {exc.strerror or exc}"
    return type(exc).__name__
