""""War diese Seite hilfreich?" at the end of every page with commentable sections.

A plain ``<form method="post">`` to the service's ``/api/v1/ratings`` (DESIGN.md):
``doc``, ``version``, ``helpful`` (``yes``/``no``), an optional ``reason`` and
``return_to``. The reason is a choice and a short free text, both named
``reason``: ``feedback.js`` joins them for its JSON post, the service joins them
for a form post (README, "Was die Seiten an den Dienst senden"); the free text is short enough that
the two stay within ``MAX_REASON``. CSS shows the reason once "Nein" is chosen.
Without JavaScript the service answers ``303`` back to ``#fb-rating-ok``, which
the page holds (CSS ``:target``).

The page's one live region, which ``feedback.js`` speaks through for every form
of the page, is placed here too: pages with comment boxes are exactly the pages
with this form.
"""

from __future__ import annotations

from feedback_formats.submission import HELPFUL_VALUES, MAX_REASON
from sphinx.application import Sphinx
from sphinx.locale import get_translation

from .form import return_to, script_texts, service_url
from .sections import is_web_builder, sections_domain

_ = get_translation("feedback")

RATINGS_PATH = "/api/v1/ratings"
ANCHOR = "fb-rating"
CONFIRMATION = "fb-rating-ok"
HELPFUL_LABELS = {"yes": "Ja", "no": "Nein"}
REASONS = (
    "Die gesuchte Information fehlt",
    "Der Text ist schwer verständlich",
    "Der Inhalt ist veraltet oder falsch",
    "Etwas anderes",
)
# The choice, ": " and the free text stay within the service's limit.
FREE_TEXT_LENGTH = MAX_REASON - max(map(len, REASONS)) - 2


def rating_labels() -> list[str]:
    """The texts of the form that come from constants, for the message catalogue (catalogs.py)."""
    return [*HELPFUL_LABELS.values(), *REASONS]


def _page_context(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    context["feedback_rating"] = None
    if not is_web_builder(app.builder) or not sections_domain(app.env).commentable(pagename):
        return
    config = app.config
    context["feedback_"] = _
    context["feedback_rating"] = {
        "action": service_url(config, RATINGS_PATH),
        "anchor": ANCHOR,
        "confirmation": CONFIRMATION,
        "script_texts": script_texts(),
        "hidden": {
            "doc": pagename,
            "version": config.version,
            "return_to": return_to(config, app.builder.get_target_uri(pagename), ANCHOR),
        },
        "helpful": [(value, _(HELPFUL_LABELS[value])) for value in HELPFUL_VALUES],
        "reasons": [_(reason) for reason in REASONS],
        "free_text_length": FREE_TEXT_LENGTH,
    }


def setup_rating(app: Sphinx) -> None:
    app.connect("html-page-context", _page_context)
