"""What a reader sends: the fields of the comment box, their limits, labels and kinds.

One declaration drives the form (names, labels, ``maxlength``), the service's
validation and its OpenAPI document. The form's markup is one Jinja macro,
``templates/feedback/form.html`` in this package: the extension renders it
empty under every section, the service's error page renders it again filled in.
Labels are German; ``title`` is the short name error messages use.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Holds ``feedback/form.html``: the extension adds it to Sphinx's ``templates_path``,
# the service to its Jinja loader.
FORM_TEMPLATES = Path(__file__).parent / "templates"

MAX_BODY = 64 * 1024  # bytes of one request body
MAX_TEXT = 5000  # characters, after trimming
MAX_AUTHOR = 80
MAX_EMAIL = 254
MAX_REASON = 500  # the reason given with a rating

KINDS = ("comment", "correction", "barrier")
# Where a submission stands in moderation.
STATUSES = ("pending", "approved", "rejected")
DEFAULT_KIND = "comment"
# Kinds only the editors read: never published, no consent, no replies.
PRIVATE_KINDS = ("correction", "barrier")
KIND_LABELS = {
    "comment": "Öffentlicher Kommentar",
    "correction": "Fehler melden (nur an die Redaktion)",
    "barrier": "Barriere melden (nur an die Redaktion)",
}
# The document of an edition that holds the privacy notes the consent label links
# (the extension's default feedback_privacy_doc; the service links <edition>/PRIVACY_DOC.html).
PRIVACY_DOC = "datenschutz"

# The kinds the comment box under each section offers: a public comment, or a
# private report of an error or of an accessibility barrier; replies are comments only.
BOX_KINDS = ("comment", "correction", "barrier")
# What a kind is called in a listing or a message.
KIND_NAMES = {"comment": "Kommentar", "correction": "Fehlermeldung", "barrier": "Barrieremeldung"}
# What a consent field carries when given: JSON ``true``, a checked box ``on``.
CONSENT_VALUES = (True, "on")
HELPFUL_VALUES = ("yes", "no")


@dataclass(frozen=True)
class SubmissionField:
    """One field of the comment box.

    ``control`` is how the form shows it: ``textarea``, ``text``, ``email``,
    ``radio`` (one per kind), ``checkbox``, ``honeypot`` or ``hidden``.
    """

    name: str
    title: str
    label: str
    control: str
    max_length: int | None = None
    required: bool = False
    multiline: bool = False
    autocomplete: str | None = None


SUBMISSION_FIELDS: tuple[SubmissionField, ...] = (
    SubmissionField("text", "Text", "Kommentar", "textarea", MAX_TEXT, required=True, multiline=True),
    SubmissionField("author", "Name", "Name (optional)", "text", MAX_AUTHOR, autocomplete="name"),
    SubmissionField("email", "E-Mail", "E-Mail (optional, wird nicht veröffentlicht)", "email", MAX_EMAIL,
                    autocomplete="email"),
    SubmissionField("kind", "Art", "Art der Nachricht", "radio"),
    SubmissionField("consent", "Einwilligung",
                    "Ich bin einverstanden, dass mein Kommentar mit dem angegebenen Namen veröffentlicht wird "
                    "(nicht nötig beim Melden eines Fehlers).", "checkbox"),
    SubmissionField("notify", "Benachrichtigung",
                    "Benachrichtigen Sie mich, wenn mein Beitrag veröffentlicht oder beantwortet wird "
                    "(nur mit E-Mail-Adresse; zuerst kommt eine E-Mail zur Bestätigung).", "checkbox"),
    SubmissionField("website", "Website", "Website (bitte leer lassen)", "honeypot"),
    SubmissionField("section", "Abschnitt", "Abschnitt", "hidden", required=True),
    SubmissionField("version", "Ausgabe", "Ausgabe", "hidden", required=True),
    SubmissionField("reply_to", "Antwort auf", "Antwort auf", "hidden"),
    SubmissionField("return_to", "Rücksprungadresse", "Rücksprungadresse", "hidden"),
)
FIELDS = {field.name: field for field in SUBMISSION_FIELDS}
