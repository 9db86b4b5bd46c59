"""The comment box: approved comments, a confirmation and a form under each section.

A post-transform puts one ``feedback_section`` node at the end of each
commentable section's own text, before its first subsection, so the box of 3.2
comes before 3.2.1. Only web pages get it; other builders never see the node,
and the pickled doctrees stay free of comments.

The box is the template ``_templates/feedback/box.html``; its form is
``feedback/form.html``, the one form template, which ``feedback_formats`` owns
with the fields it shows (the service's error page renders it too). It is a
plain ``<form method="post">`` that works without JavaScript: the service
answers with a redirect to ``return_to`` whose fragment ``#fb-ok-<section>``
shows the confirmation the page already holds (CSS ``:target``).
``feedback.js`` sends it with ``fetch`` instead and stays on the page. The
script's texts come from the form's ``data-fb-*`` attributes (:func:`script_texts`,
translated at build time); whatever it says is also said in the page's one
live region, ``#fb-live``.
"""

from __future__ import annotations

from docutils import nodes
from feedback_formats.submission import BOX_KINDS, DEFAULT_KIND, KIND_LABELS, PRIVACY_DOC, SUBMISSION_FIELDS
from markupsafe import Markup, escape
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ConfigError
from sphinx.locale import get_translation, get_translator
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.writers.html5 import HTML5Translator

from .comments import comments_domain, template_context
from .sections import is_web_builder, sections_domain

_ = get_translation("feedback")
__ = get_translation("feedback", "console")

API_PATH = "/api/v1/comments"
# The service's page that shows a sender what became of their message
# (README, "Was die Seiten an den Dienst senden"): reached by a form post, never by a link with the token.
STATUS_PATH = "/rueckmeldung/status"
# A reply is always a public comment.
REPLY_KINDS = (DEFAULT_KIND,)


def form_labels() -> list[str]:
    """The labels the form shows, for the message catalogue (catalogs.py)."""
    return [field.label for field in SUBMISSION_FIELDS if field.control != "hidden"] + [
        KIND_LABELS[kind] for kind in BOX_KINDS]


def service_url(config: Config, path: str) -> str:
    """The address of one of the feedback service's endpoints, as the forms post to it."""
    return config.feedback_service_url.rstrip("/") + path


def ngettext(singular: str, plural: str, count: int) -> str:
    """Page text for ``count`` things (Sphinx's ``get_translation`` has no plurals)."""
    return get_translator("feedback").ngettext(singular, plural, count)


class feedback_section(nodes.General, nodes.Element):
    """The comment region of one section; attributes: section, docname, threads."""


class InsertFeedbackBoxes(SphinxPostTransform):
    """Puts a box into every commentable section of the document."""

    default_priority = 900
    formats = ("html",)

    def run(self, **kwargs) -> None:
        docname = self.env.current_document.docname
        sections = sections_domain(self.env).commentable(docname)
        if not sections:
            return
        comments = comments_domain(self.env).comments
        by_id = {id_: node for node in self.document.findall(nodes.section) for id_ in node["ids"]}
        for section in sections:
            node = by_id.get(section.id)
            if node is None:  # inside an ``only`` block for other builders
                continue
            box = feedback_section(section=section.id, docname=docname, threads=comments.threads(section.id))
            subsections = [index for index, child in enumerate(node.children) if isinstance(child, nodes.section)]
            node.insert(subsections[0] if subsections else len(node.children), box)


def script_texts() -> list[tuple[str, str]]:
    """What feedback.js says while sending, as ``data-fb-*`` attributes of the form."""
    return [
        ("sending", _("Wird gesendet …")),
        ("offline", _("Keine Verbindung zum Server. Ihr Text ist noch da; bitte versuchen Sie es später noch "
                      "einmal.")),
        ("failed", _("Das hat nicht geklappt (Fehler %s). Ihr Text ist noch da; bitte versuchen Sie es später "
                     "noch einmal.")),
        ("withdraw", _("Kommentar zurückziehen")),
        ("withdrawn", _("Ihr Kommentar ist zurückgezogen.")),
        ("unwithdrawn", _("Zurückziehen hat nicht geklappt. Bitte versuchen Sie es später noch einmal.")),
    ]


def return_to(config: Config, target_uri: str, fragment: str) -> str:
    """Where a form post without JavaScript comes back to: this edition's page, at ``fragment``.

    ``handbook_editions`` points the copy of the newest edition under ``latest/``
    back to ``latest/`` (publish.py), so the prefix is written exactly like this.
    """
    return f"{config.feedback_site_path.rstrip('/')}/{target_uri}#{fragment}"


def _form_context(translator: HTML5Translator, docname: str) -> dict:
    """What ``feedback/form.html`` takes from the context on this page (see its header)."""
    config, builder = translator.config, translator.builder
    privacy = config.feedback_privacy_doc
    return {
        **template_context(builder.env, config),
        "action": service_url(config, API_PATH),
        "script_texts": script_texts(),
        "fields": SUBMISSION_FIELDS,
        "privacy_url": builder.get_relative_uri(docname, privacy) if privacy in builder.env.found_docs else None,
    }


# Stand-ins for a section's and a comment's id in a page's forms: no id, no text and no escaping
# produces a NUL character.
_SECTION = "\0section\0"
_COMMENT = "\0comment\0"


class PageForms:
    """The forms of one page: each kind rendered once, then filled in for every section and comment.

    All boxes of a page carry the same form, all "Antworten" forms the same
    reply form; they differ only by the section's id (and the comment's) in
    their element ids and hidden fields. Rendering the form template cost half
    a millisecond each time, under every section and again under every comment,
    more than all else of a page with a few dozen comments. Here it is rendered
    once per page with stand-ins for the ids, and each form is that text with
    the ids put in, escaped as the template escapes them (``|e``): the same bytes.
    """

    def __init__(self, translator: HTML5Translator, docname: str):
        config, builder = translator.config, translator.builder
        context = _form_context(translator, docname)
        section_fields = {
            "section": _SECTION,
            "version": config.version,
            "return_to": return_to(config, builder.get_target_uri(docname), _SECTION),
        }

        def render(prefix: str, hidden: dict, kinds: tuple[str, ...]) -> str:
            return builder.templates.render("feedback/comment-form.html", {
                **context, "prefix": prefix, "hidden": hidden, "kinds": [(kind, KIND_LABELS[kind]) for kind in kinds],
            })

        self._box = render(f"fb-{_SECTION}", section_fields, BOX_KINDS)
        self._reply = render(f"fb-{_SECTION}-re-{_COMMENT}", {**section_fields, "reply_to": _COMMENT}, REPLY_KINDS)

    def box(self, section_id: str) -> Markup:
        return Markup(self._box.replace(_SECTION, escape(section_id)))

    def reply(self, section_id: str, comment_id: str) -> Markup:
        return Markup(self._reply.replace(_SECTION, escape(section_id)).replace(_COMMENT, escape(comment_id)))


def _page_forms(translator: HTML5Translator, docname: str) -> PageForms:
    """The page's forms, made with its first box (a translator writes one page)."""
    forms = getattr(translator, "_feedback_forms", None)
    if forms is None:
        forms = translator._feedback_forms = PageForms(translator, docname)
    return forms


def visit_feedback_section_html(self: HTML5Translator, node: feedback_section) -> None:
    docname, section_id, threads = node["docname"], node["section"], node["threads"]
    forms = _page_forms(self, docname)
    context = {
        **template_context(self.builder.env, self.config),
        "ngettext": ngettext,
        "section": section_id,
        "section_threads": threads,
        "count": sum(1 + len(replies) for _top, replies in threads),
        "prefix": f"fb-{section_id}",
        "status_action": service_url(self.config, STATUS_PATH),
        "box_form": forms.box(section_id),
        "reply_form": lambda comment_id: forms.reply(section_id, comment_id),
    }
    self.body.append(self.builder.templates.render("feedback/box.html", context))
    raise nodes.SkipNode


def _check_config(app: Sphinx, config: Config) -> None:
    url = config.feedback_service_url
    if url and not url.startswith(("http://", "https://")):
        raise ConfigError(__("feedback_service_url muss leer sein (derselbe Server) oder mit http:// oder "
                             "https:// beginnen, nicht %r.") % url)
    if not config.feedback_site_path.startswith("/"):
        raise ConfigError(__("feedback_site_path muss ein Pfad ab / sein, etwa \"/2.0/\", nicht %r.")
                          % config.feedback_site_path)


def _add_assets(app: Sphinx) -> None:
    if is_web_builder(app.builder):
        app.add_css_file("feedback.css")
        app.add_js_file("feedback.js", loading_method="defer")


def setup_form(app: Sphinx) -> None:
    app.add_config_value("feedback_service_url", "", "html", types=frozenset({str}),
                         description="Adresse des Feedback-Dienstes; leer heißt: derselbe Server wie die Seiten")
    app.add_config_value("feedback_site_path", "/", "html", types=frozenset({str}),
                         description="URL-Pfad, unter dem diese Ausgabe erscheint, etwa /2.0/")
    app.add_config_value("feedback_privacy_doc", PRIVACY_DOC, "html", types=frozenset({str}),
                         description="Dokument mit der Datenschutzerklärung, verlinkt an der Einwilligung")
    app.connect("config-inited", _check_config)
    app.connect("builder-inited", _add_assets)
    app.add_node(feedback_section, html=(visit_feedback_section_html, None))
    app.add_post_transform(InsertFeedbackBoxes)
