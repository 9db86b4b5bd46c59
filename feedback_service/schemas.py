"""The API's request and answer bodies, declared once.

The models validate what readers send (``validation.py`` turns their errors
into the API's German ones) and give the OpenAPI document its schemas
(``openapi.py``). Names, limits and kinds come from ``feedback_formats``, so
the extension's form and these checks cannot drift apart.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationInfo, create_model,
)
from pydantic_core import PydanticCustomError

from feedback_formats import (
    COMMENT_FIELDS, CONSENT_VALUES, DEFAULT_KIND, DEFAULT_ROLE, FIELDS, HELPFUL_VALUES, KINDS, MAX_AUTHOR, MAX_EMAIL,
    MAX_REASON, MAX_TEXT, ROLES, STATUSES,
)

from .notify import refusal

COMMENT_ID = re.compile(r"c_[0-9A-Z]{26}")
MAX_ID = 200  # characters of a section or version repeated in an error message
_LINK = re.compile(r"(?:https?://|www\.)\S", re.IGNORECASE)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# How far the editors are with a correction or a barrier report, and its German name.
PROGRESS = {
    "open": "offen", "in_progress": "in Bearbeitung", "done": "erledigt", "declined": "abgelehnt",
}


# Unicode's control characters (category Cc) and lone surrogates (Cs); text may hold tab and newline.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_IN_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
# What the fields of a rating are called in messages (the comment box's fields have theirs in FIELDS).
RATING_TITLES = {"doc": "Seite", "version": "Ausgabe", "helpful": "Hilfreich?", "reason": "Grund"}
# A form post's chosen reason and free text, joined (the page's JavaScript joins them the same way).
REASON_SEPARATOR = ": "


def field_title(name: str) -> str:
    """The short German name of a submitted field, as error messages use it."""
    return FIELDS[name].title if name in FIELDS else RATING_TITLES.get(name, name)


def has_control_characters(value: str, multiline: bool) -> bool:
    """Control characters (newline and tab allowed in text) or lone surrogates."""
    return (_CONTROL_IN_TEXT if multiline else _CONTROL).search(value) is not None


def invalid(code: str, message: str, field: str | None = None) -> PydanticCustomError:
    """An error the API answers as it is: its code, its German message, its field."""
    return PydanticCustomError(code, "{message}", {"message": message, "field": field})


# Invisible characters that change how a text looks without being part of it:
# direction overrides, embeddings and isolates, marks, the BOM and zero-width
# spaces. Joiners (U+200C, U+200D) and the soft hyphen stay: words need them.
_INVISIBLE = re.compile("[\u061c\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]")


def is_blank(value: str) -> bool:
    """Nothing visible: only whitespace and format characters."""
    if value.isascii():  # ASCII has no format characters
        return not value or value.isspace()
    return all(char.isspace() or unicodedata.category(char) == "Cf" for char in value)


def _cleaned(multiline: bool):
    """NFC first (limits count what readers see), then control and format characters.

    A text loses the invisible characters above and counts as empty when
    nothing visible is left; a single-line field (a name, an id) refuses every
    format character, so no name can reverse what follows it on a page.
    """
    def clean(value: object, info: ValidationInfo) -> object:
        if value is None:
            return ""
        if not isinstance(value, str):
            return value  # the string type refuses it
        title = field_title(info.field_name)
        value = unicodedata.normalize("NFC", value)
        if multiline:
            value = value.replace("\r\n", "\n").replace("\r", "\n")
        if has_control_characters(value, multiline):
            raise invalid(
                "control_characters",
                f"Das Feld „{title}“ enthält unzulässige Steuerzeichen oder ungültige Unicode-Zeichen.",
            )
        if multiline:
            value = _INVISIBLE.sub("", value)
            return "" if is_blank(value) else value
        if not value.isascii() and any(unicodedata.category(char) == "Cf" for char in value):
            raise invalid(
                "format_characters",
                f"Das Feld „{title}“ enthält unsichtbare Zeichen (etwa zur Schreibrichtung oder "
                "Zeichen ohne Breite). Bitte geben Sie es ohne sie ein.",
            )
        return value

    return BeforeValidator(clean)


def _text(max_length: int | None = None, required: bool = False, multiline: bool = False, **schema: Any):
    """A submitted text: trimmed, without control characters, within its limit."""
    limits = StringConstraints(strict=True, strip_whitespace=True, max_length=max_length,
                               min_length=1 if required else None)
    return limits, Field(**schema), _cleaned(multiline)


def _published(field: str, named: str, plural: str, lookup: str) -> AfterValidator:
    """Checks ``version``: an edition of the site, and it has the ``field`` sent with it.

    ``lookup`` names the catalogue's ``{version: names}`` (``editions``, ``docs``);
    ``named`` and ``plural`` say in German what the field names.
    """
    def check(version: str, info: ValidationInfo) -> str:
        name = info.data.get(field)
        catalog = (info.context or {}).get("catalog")
        if name is None or catalog is None:
            return version
        known = getattr(catalog, lookup)()
        if not known:
            raise invalid(f"unknown_{field}", f"Die {plural} des Handbuchs sind dem Dienst nicht bekannt: Es wurde "
                          "keine gebaute Website mit _feedback/sections.json gefunden.", field)
        if version not in known:
            raise invalid("unknown_version", f"Die Ausgabe „{version[:MAX_ID]}“ des Handbuchs gibt es nicht.")
        if name not in known[version]:
            raise invalid(f"unknown_{field}", f"{named} „{name[:MAX_ID]}“ gibt es in Ausgabe {version} nicht.", field)
        return version

    return AfterValidator(check)


def _few_links(text: str, info: ValidationInfo) -> str:
    limit = (info.context or {}).get("max_links")
    links = len(_LINK.findall(text))
    if limit is not None and links > limit:
        raise invalid("too_many_links", f"Der Text enthält {links} Links; erlaubt sind höchstens {limit}.")
    return text


# Names that only the editorial team's answers carry (compared by their letters).
RESERVED_NAMES = ("redaktion", "dieredaktion", "redaktionsteam", "handbuchredaktion")


def _letters(name: str) -> str:
    return "".join(char for char in unicodedata.normalize("NFKC", name).casefold() if char.isalnum())


@functools.lru_cache(maxsize=8)
def _reserved(team: str) -> frozenset[str]:
    return frozenset({*RESERVED_NAMES, _letters(team)} - {""})


def _not_the_editors(author: str, info: ValidationInfo) -> str:
    team = (info.context or {}).get("editors_name") or ""
    if author and _letters(author) in _reserved(team):
        raise invalid("reserved_name", "Dieser Name ist den Antworten der Redaktion vorbehalten. "
                      "Bitte wählen Sie einen anderen Namen oder lassen Sie das Feld leer.")
    return author


def _email_address(email: str) -> str:
    if email and not _EMAIL.fullmatch(email):
        raise invalid("invalid_email", "Die E-Mail-Adresse ist ungültig (Beispiel: name@example.org).")
    return email


def _consented(consent: object, info: ValidationInfo) -> object:
    given = consent is True or (isinstance(consent, str) and consent in CONSENT_VALUES)
    if info.data.get("kind") == "comment" and not given:
        raise invalid("consent_required", "Bitte stimmen Sie der Veröffentlichung Ihres Kommentars zu.")
    return consent


def _repliable(reply_to: str, info: ValidationInfo) -> str | None:
    if not reply_to:
        return None
    if info.data.get("kind") != "comment" or not COMMENT_ID.fullmatch(reply_to):
        raise invalid("unknown_reply", "Der Kommentar, auf den Sie antworten, existiert nicht.")
    return reply_to


def _notify_possible(notify: object, info: ValidationInfo) -> bool:
    wanted = notify is True or notify == "on"
    settings = (info.context or {}).get("notifications")
    if wanted and settings is not None and "email" in info.data and "kind" in info.data:
        error = refusal(info.data["kind"], info.data["email"], settings)
        if error is not None:
            raise invalid(error.code, error.message, error.field)
    return wanted


def _default_kind(kind: object) -> object:
    """A missing or empty kind is a comment."""
    if isinstance(kind, str):
        return kind.strip() or DEFAULT_KIND
    return DEFAULT_KIND if kind is None else kind


# The fields of a submission that are stored (the rest only steer the request); notify
# stores the reader's subscription.
_STORED = ("section", "version", "text", "author", "email", "kind", "reply_to", "notify")


class Submission(BaseModel):
    """``POST /api/v1/comments``: a comment, or a private report to the editors."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    section: Annotated[str, *_text(required=True, description="Abschnitts-ID aus sections.json")]
    version: Annotated[str, *_text(required=True, description="Ausgabe, z. B. 2.0"),
                       _published("section", "Den Abschnitt", "Abschnitte", "editions")]
    text: Annotated[str, *_text(MAX_TEXT, required=True, multiline=True), AfterValidator(_few_links)]
    author: Annotated[str, *_text(MAX_AUTHOR, description="wird veröffentlicht"),
                      AfterValidator(_not_the_editors)] = ""
    email: Annotated[str, *_text(MAX_EMAIL, description="wird nie veröffentlicht"),
                     AfterValidator(_email_address)] = ""
    # Before-validators run last first: the check for control characters, then the default.
    kind: Annotated[Literal[KINDS], Field(description="comment: öffentlich nach Freigabe; correction, barrier: "
                                          "nur an die Redaktion"),
                    BeforeValidator(_default_kind), _cleaned(False)] = DEFAULT_KIND
    consent: Annotated[Any, Field(validate_default=True, description="true (JSON) oder \"on\" (Formular); "
                                  "Pflicht für comment",
                                  json_schema_extra={"oneOf": [{"type": "boolean"}, {"const": "on"}]}),
                       AfterValidator(_consented)] = None
    notify: Annotated[Any, Field(description="true (JSON) oder \"on\" (Formular): per E-Mail benachrichtigen, "
                                 "wenn der Kommentar veröffentlicht oder beantwortet wird (mit Bestätigung; "
                                 "braucht email)",
                                 json_schema_extra={"oneOf": [{"type": "boolean"}, {"const": "on"}]}),
                      AfterValidator(_notify_possible)] = False
    reply_to: Annotated[str, *_text(description="ID eines freigegebenen Kommentars desselben Abschnitts"),
                        AfterValidator(_repliable)] = None
    website: Annotated[Any, Field(description="Honeypot, muss leer bleiben", json_schema_extra={"type": "string"})] = None
    return_to: Annotated[Any, Field(description="Formular: Seite, zu der die Antwort (303) zurückführt, mit Fragment "
                                    "#fb-ok-<section>", json_schema_extra={"type": "string"})] = None

    def fingerprint(self) -> dict:
        """What identifies the request for idempotency (everything stored)."""
        return {name: getattr(self, name) for name in _STORED}


def _only_when_unhelpful(reason: str, info: ValidationInfo) -> str:
    """A reason explains a "no"; with a "yes" it is dropped."""
    return reason if info.data.get("helpful") == "no" else ""


class Rating(BaseModel):
    """``POST /api/v1/ratings``: "War diese Seite hilfreich?" – nothing about the reader."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    doc: Annotated[str, *_text(required=True, description="Seite: ein doc aus sections.json dieser Ausgabe, "
                               "z. B. kapitel-03/index")]
    version: Annotated[str, *_text(required=True, description="Ausgabe, z. B. 2.0"),
                       _published("doc", "Die Seite", "Seiten", "docs")]
    helpful: Annotated[Literal[HELPFUL_VALUES], Field(description="yes: Ja, no: Nein"), _cleaned(False)]
    reason: Annotated[str, *_text(MAX_REASON, multiline=True,
                                  description="nur bei no: Grund und Anmerkung, verbunden mit \": \"; ein "
                                  "Formular darf reason zweimal senden (Auswahl, dann freier Text)"),
                      AfterValidator(_only_when_unhelpful)] = ""
    return_to: Annotated[Any, Field(description="Formular: Seite, zu der die Antwort (303) zurückführt, mit Fragment "
                                    "#fb-rating-ok", json_schema_extra={"type": "string"})] = None


# -- Answers ---------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    code: str = Field(examples=["text_required"], description="stabil, englisch")
    message: str = Field(description="für Menschen, deutsch")
    field: str | None


class Error(BaseModel):
    """Every error the API answers."""

    error: ErrorDetail


class Accepted(BaseModel):
    id: str
    status: Literal["pending"]
    delete_token: str = Field(description="für DELETE /api/v1/comments/{id}; nur diese eine Antwort nennt es")


class RatingAccepted(BaseModel):
    status: Literal["received"]


class RatingCount(BaseModel):
    reason: str
    count: int


class PageRatings(BaseModel):
    """The answers to "War diese Seite hilfreich?" for one page of one edition."""

    doc: str
    version: str
    url: str = Field(description="Adresse der Seite in dieser Ausgabe, z. B. /2.0/kapitel-03/index.html")
    yes: int
    no: int
    reasons: list[RatingCount] = Field(description="Gründe zu Nein, häufigste zuerst")


class Ratings(BaseModel):
    ratings: list[PageRatings]


class SyncTrouble(BaseModel):
    """Present only while the periodic sync is stale (no success for min(3 periods, 10 minutes))."""

    status: Literal["stale"]
    since: str = Field(description="letzter erfolgreicher Abgleich (sonst sein Start), UTC")
    failures: int = Field(description="gescheiterte Versuche seitdem")
    message: str = Field(description="was los ist, auf Deutsch")


class Health(BaseModel):
    status: Literal["ok"]
    sync: SyncTrouble | None = Field(
        None, description="nur, wenn freigegebene Kommentare seit einer Weile nicht veröffentlicht werden",
    )


class Outcome(BaseModel):
    """What a moderation step or a deletion did."""

    id: str
    status: Literal["approved", "rejected", "deleted"]


PublicComment = create_model(
    "PublicComment", __doc__="A published comment: the record of the comments file.",
    **{name: (str | None if name == "reply_to" else str, ...) for name in COMMENT_FIELDS},
    role=(Literal[ROLES], Field(DEFAULT_ROLE, description="editors: eine Antwort der Redaktion")),
)


class PublicComments(BaseModel):
    comments: list[PublicComment]


class AdminComment(PublicComment):
    kind: Literal[KINDS]
    status: Literal[STATUSES]
    email: str
    status_changed: str
    reason: str = Field(description="Begründung einer Ablehnung (nur für die Akten)")
    progress: Literal[tuple(PROGRESS)] = Field(
        description="Bearbeitungsstand einer Fehler- oder Barrieremeldung")
    note: str = Field(description="Notiz der Redaktion zu einer Fehler- oder Barrieremeldung")
    done_in: str = Field(description="Ausgabe, die eine erledigte Meldung übernommen hat")
    section_number: str
    section_title: str


class AdminComments(BaseModel):
    comments: list[AdminComment]


class Corrections(BaseModel):
    corrections: list[AdminComment]


class Upsert(BaseModel):
    op: Literal["upsert"]
    comment: PublicComment


class Removal(BaseModel):
    op: Literal["delete"]
    id: str


class Export(BaseModel):
    """``GET /api/v1/admin/export``: changes to the public comments since a cursor."""

    database: str = Field(description="Kennung der Datenbank; wechselt sie, verweigert sich der Abgleich (sync --force)")
    cursor: str = Field(pattern=r"^[0-9]{1,18}$")
    full: bool = Field(description="true: changes ist der ganze aktuelle Bestand und ersetzt alles Bisherige")
    complete: bool = Field(description="false: mit dem neuen cursor weiter abfragen")
    changes: list[Upsert | Removal]
