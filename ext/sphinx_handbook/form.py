"""The comment box: approved comments, a confirmation and a form under each section.

A post-transform puts one ``feedback_section`` node at the end of each
commentable section's own text, before its first subsection, so the box of 3.2
comes before 3.2.1. Only web pages get it; other builders never see the node,
and the pickled doctrees stay free of comments.

The form is a plain ``<form method="post">`` that works without JavaScript: the
service answers with a redirect to ``return_to`` whose fragment
``#fb-ok-<section>`` shows the confirmation the page already holds (CSS
``:target``). ``feedback.js`` sends it with ``fetch`` instead and stays on the page.
"""

from __future__ import annotations

from html import escape

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ConfigError
from sphinx.locale import get_translation, get_translator
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.writers.html5 import HTML5Translator

from .comments import render_threads
from .sections import is_web_builder

_ = get_translation("feedback")
__ = get_translation("feedback", "console")

API_PATH = "/api/v1/comments"


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
        domain = self.env.domains["feedback"]
        docname = self.env.current_document.docname
        sections = domain.commentable(docname)
        if not sections:
            return
        by_id = {id_: node for node in self.document.findall(nodes.section) for id_ in node["ids"]}
        for section in sections:
            node = by_id.get(section.id)
            if node is None:  # inside an ``only`` block for other builders
                continue
            box = feedback_section(section=section.id, docname=docname, threads=domain.comments.threads(section.id))
            subsections = [index for index, child in enumerate(node.children) if isinstance(child, nodes.section)]
            node.insert(subsections[0] if subsections else len(node.children), box)


def _field(prefix: str, name: str, label: str, control: str) -> str:
    return f'<div class="fb-field"><label for="{prefix}-{name}">{escape(label)}</label>\n{control}</div>\n'


def render_box(
    section_id: str,
    count: int,
    *,
    action: str,
    version: str,
    return_to: str,
    privacy_url: str | None,
) -> str:
    """The confirmation and the ``<details>`` box with its form (no comments)."""
    sid = escape(section_id)
    prefix = f"fb-{sid}"
    if count:
        summary = ngettext("Kommentieren… (%d Kommentar)", "Kommentieren… (%d Kommentare)", count) % count
    else:
        summary = _("Kommentieren…")
    consent = escape(_("Ich bin einverstanden, dass mein Kommentar mit dem angegebenen Namen veröffentlicht wird "
                       "(nicht nötig beim Melden eines Fehlers)."))
    if privacy_url is not None:
        privacy = _("Hinweise zum Datenschutz")
        consent += f' <a href="{escape(privacy_url)}">{escape(privacy)}</a>'
    messages = {
        "sending": _("Wird gesendet …"),
        "offline": _("Keine Verbindung zum Server. Ihr Text ist noch da; bitte versuchen Sie es später noch einmal."),
        "failed": _("Das hat nicht geklappt (Fehler %s). Ihr Text ist noch da; bitte versuchen Sie es später "
                    "noch einmal."),
        "withdraw": _("Kommentar zurückziehen"),
        "withdrawn": _("Ihr Kommentar ist zurückgezogen."),
        "unwithdrawn": _("Zurückziehen hat nicht geklappt. Bitte versuchen Sie es später noch einmal."),
    }
    data = " ".join(f'data-fb-{key}="{escape(text)}"' for key, text in messages.items())
    kinds = [
        ("comment", _("Öffentlicher Kommentar"), " checked"),
        ("correction", _("Fehler melden (nur an die Redaktion)"), ""),
    ]
    kind_legend = _("Art der Nachricht")
    honeypot = _("Website (bitte leer lassen)")
    submit = _("Absenden")
    radios = "".join(
        f'<div class="fb-choice"><input type="radio" id="{prefix}-kind-{value}" name="kind" value="{value}"{checked}>'
        f'<label for="{prefix}-kind-{value}">{escape(label)}</label></div>\n'
        for value, label, checked in kinds
    )
    received = _("Danke! Ihre Nachricht ist angekommen. Ein Kommentar erscheint hier, sobald die Redaktion "
                 "ihn geprüft hat; eine Fehlermeldung liest nur die Redaktion.")
    return (
        f'<p class="fb-ok" id="fb-ok-{sid}" role="status">{escape(received)}</p>\n'
        f'<details class="fb-box" id="{prefix}">\n<summary>{escape(summary)}</summary>\n'
        f'<form class="fb-form" method="post" action="{escape(action)}" {data}>\n'
        + _field(prefix, "text", _("Kommentar"),
                 f'<textarea id="{prefix}-text" name="text" rows="5" maxlength="5000" required></textarea>')
        + _field(prefix, "author", _("Name (optional)"),
                 f'<input type="text" id="{prefix}-author" name="author" autocomplete="name" maxlength="80">')
        + _field(prefix, "email", _("E-Mail (optional, wird nicht veröffentlicht)"),
                 f'<input type="email" id="{prefix}-email" name="email" autocomplete="email" maxlength="254">')
        + f'<fieldset class="fb-field"><legend>{escape(kind_legend)}</legend>\n{radios}</fieldset>\n'
        f'<div class="fb-field"><div class="fb-choice"><input type="checkbox" id="{prefix}-consent" name="consent" '
        f'value="on"><label for="{prefix}-consent">{consent}</label></div></div>\n'
        f'<div class="fb-hp" aria-hidden="true"><label for="{prefix}-website">{escape(honeypot)}'
        f'</label><input type="text" id="{prefix}-website" name="website" tabindex="-1" autocomplete="off"></div>\n'
        f'<input type="hidden" name="section" value="{sid}">\n'
        f'<input type="hidden" name="version" value="{escape(version)}">\n'
        f'<input type="hidden" name="return_to" value="{escape(return_to)}">\n'
        f'<p class="fb-status" role="status"></p>\n'
        f'<button type="submit">{escape(submit)}</button>\n'
        "</form>\n</details>\n"
    )


def visit_feedback_section_html(self: HTML5Translator, node: feedback_section) -> None:
    config, builder = self.config, self.builder
    docname, section_id, threads = node["docname"], node["section"], node["threads"]
    privacy = config.feedback_privacy_doc
    html = ['<div class="fb">\n']
    if threads:
        html.append(render_threads(threads, config.version, config.language))
    html.append(render_box(
        section_id,
        sum(1 + len(replies) for _top, replies in threads),
        action=config.feedback_service_url.rstrip("/") + API_PATH,
        version=config.version,
        return_to=f"{config.feedback_site_path.rstrip('/')}/{builder.get_target_uri(docname)}#{section_id}",
        privacy_url=builder.get_relative_uri(docname, privacy) if privacy in builder.env.found_docs else None,
    ))
    html.append("</div>\n")
    self.body.append("".join(html))
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
    app.add_config_value("feedback_privacy_doc", "datenschutz", "html", types=frozenset({str}),
                         description="Dokument mit der Datenschutzerklärung, verlinkt an der Einwilligung")
    app.connect("config-inited", _check_config)
    app.connect("builder-inited", _add_assets)
    app.add_node(feedback_section, html=(visit_feedback_section_html, None))
    app.add_post_transform(InsertFeedbackBoxes)
