"""Reading a request body and checking a submission, exactly as the API contract says.

The checks themselves are the declaration in ``schemas.py``; this module
parses the body and turns the declaration's errors into the API's: a stable
code, a German message, the field.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from pydantic import ValidationError

from feedback_formats import KIND_NAMES

from .config import normalise_origin
from .errors import ApiError, ValidationFailed, field_error
from .schemas import REASON_SEPARATOR, Rating, Submission, field_title, has_control_characters
from .sections import SectionCatalog

FORM = "application/x-www-form-urlencoded"
HONEYPOT = "website"
# What a missing or empty required field is told.
REQUIRED = {
    "section": "Es fehlt der Abschnitt, zu dem Sie schreiben.",
    "version": "Es fehlt die Ausgabe des Handbuchs.",
    "text": "Bitte schreiben Sie einen Text.",
    "doc": "Es fehlt die Seite, die Sie bewerten.",
    "helpful": "Bitte wählen Sie „Ja“ oder „Nein“.",
}
# Form fields that may come more than once, with what joins their non-empty values:
# a rating's chosen reason and its free text (in that order).
REPEATED = {"reason": REASON_SEPARATOR}


def media_type(content_type: str | None) -> tuple[str, dict[str, str]]:
    kind, _, rest = (content_type or "").partition(";")
    params = {}
    for part in rest.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            params[name.strip().lower()] = value.strip().strip('"').lower()
    return kind.strip().lower(), params


def parse_body(content_type: str | None, body: bytes) -> dict:
    """The submitted fields; ApiError if the body is malformed.

    Of a form field sent twice the first counts, except the honeypot (any
    filled one) and the fields in ``REPEATED`` (joined).
    """
    kind, params = media_type(content_type)
    if kind not in ("application/json", FORM):
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
        raise ApiError(400, "invalid_encoding", "Die Anfrage ist kein gültiges UTF-8.") from None
    if kind == FORM:
        try:
            pairs = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
        except (UnicodeDecodeError, ValueError):
            raise ApiError(
                400, "invalid_encoding", "Das Formular enthält ungültig kodierte Zeichen."
            ) from None
        fields: dict = {}
        repeated: dict[str, list[str]] = {}
        for name, value in pairs:
            if name in REPEATED:
                repeated.setdefault(name, []).append(value)
            elif name == HONEYPOT and value.strip():
                fields[name] = value  # any filled occurrence gives the bot away
            else:
                fields.setdefault(name, value)
        for name, values in repeated.items():
            fields[name] = REPEATED[name].join(value.strip() for value in values if value.strip())
        return fields
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        # RecursionError: nesting deeper than Python's parser goes ("[" × 5000).
        raise ApiError(400, "invalid_json", "Die Anfrage ist kein gültiges JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "Die Anfrage muss ein JSON-Objekt mit den Feldern sein.")
    return data


def is_honeypot(data: dict) -> bool:
    """A bot filled the hidden ``website`` field: answer like success, store nothing."""
    website = data.get(HONEYPOT)
    return bool(website) and (not isinstance(website, str) or bool(website.strip()))


def _api_error(error: dict) -> ApiError:
    """The API's error for one error of the declaration."""
    name = str(error["loc"][0]) if error["loc"] else ""
    context = error.get("ctx") or {}
    field = context.get("field") or name
    title = field_title(field)
    kind = error["type"]
    blank = kind == "literal_error" and error["input"] in ("", None)
    if (kind in ("missing", "string_too_short") or blank) and field in REQUIRED:
        return field_error(f"{field}_required", REQUIRED[field], field)
    if kind == "string_type":
        return field_error("invalid_type", f"Das Feld „{title}“ muss Text sein.", field)
    if kind == "string_too_long":
        limit = context["max_length"]
        given = len(error["input"].strip()) if isinstance(error["input"], str) else limit + 1
        return field_error(f"{field}_too_long", f"Das Feld „{title}“ ist zu lang: höchstens {limit} Zeichen, "
                           f"eingegeben wurden {given}.", field)
    if kind == "literal_error" and field == "kind":
        choices = " oder ".join(f"„{value}“ ({text})" for value, text in KIND_NAMES.items())
        return field_error("invalid_kind", f"Die Art muss {choices} sein.", field)
    if kind == "literal_error" and field == "helpful":
        return field_error("invalid_helpful", "Die Antwort muss „yes“ (Ja) oder „no“ (Nein) sein.", field)
    if "message" in context:
        return field_error(kind, context["message"], field)
    return field_error("invalid_value", f"Das Feld „{title}“ ist ungültig.", field)


def validate_submission(data: dict, catalog: SectionCatalog, max_links: int) -> Submission:
    """A checked submission, or ValidationFailed listing every invalid field."""
    return _validated(Submission, data, {"catalog": catalog, "max_links": max_links})


def validate_rating(data: dict, catalog: SectionCatalog) -> Rating:
    """A checked rating, or ValidationFailed listing every invalid field."""
    return _validated(Rating, data, {"catalog": catalog})


def _validated(model, data: dict, context: dict):
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        errors: list[ApiError] = []
        for error in exc.errors(include_url=False):
            found = _api_error(error)
            if not any(earlier.field == found.field for earlier in errors):
                errors.append(found)
        raise ValidationFailed(errors) from None


def safe_return_to(value: str, own_origin: str, allowed: frozenset[str]) -> str | None:
    """``value`` if it points back to the service's own or an allowed origin, else None."""
    if value.startswith("/"):
        if value.startswith("//") or value.startswith("/\\") or has_control_characters(value, False):
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
