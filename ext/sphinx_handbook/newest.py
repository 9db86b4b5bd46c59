"""The "Neueste Kommentare" page and the sidebar link to it on every page.

The page is generated (``html-collect-pages``), so every edition has it without
a source document, and it is written again in every build: one approved
comment changes it whatever page the comment belongs to. It lists the newest
comments of sections this edition has, each linking to its section; its body is
the template ``_templates/feedback/newest.html``.
"""

from __future__ import annotations

from feedback_formats.comments import Comment
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ConfigError
from sphinx.locale import get_translation

from .comments import comments_domain, template_context
from .sections import Section, sections_domain

_ = get_translation("feedback")
__ = get_translation("feedback", "console")

PAGE = "neueste-kommentare"
SIDEBAR_TEMPLATE = "feedback-newest.html"
# furo's sidebar ends its scrolling part with this fragment; the link goes before it.
SIDEBAR_SCROLL_END = "sidebar/scroll-end.html"


def newest_entries(app: Sphinx) -> list[tuple[Comment, Section]]:
    """The newest comments of sections this edition has, newest first, with their sections (also the feed's)."""
    sections = sections_domain(app.env).by_id
    shown = [comment for comment in reversed(comments_domain(app.env).comments.all) if comment.section in sections]
    return [(comment, sections[comment.section]) for comment in shown[: app.config.feedback_newest_count]]


def render_newest(app: Sphinx) -> str:
    """The page's body: the newest comments, newest first, each linking to its section."""
    entries = [
        (comment, section.numbered_title, f"{app.builder.get_relative_uri(PAGE, section.doc)}#{section.id}")
        for comment, section in newest_entries(app)
    ]
    context = {**template_context(app.env, app.config), "entries": entries}
    return app.builder.templates.render("feedback/newest.html", context)


def _collect_page(app: Sphinx):
    yield PAGE, {"title": _("Neueste Kommentare"), "body": render_newest(app)}, "page.html"


def _sidebar_link(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Lists the link fragment in the sidebar unless ``html_sidebars`` places it already."""
    context["feedback_newest"] = {"page": PAGE, "title": _("Neueste Kommentare"), "current": pagename == PAGE}
    sidebars = context.get("sidebars")
    if sidebars is None or SIDEBAR_TEMPLATE in sidebars:
        return
    position = sidebars.index(SIDEBAR_SCROLL_END) if SIDEBAR_SCROLL_END in sidebars else len(sidebars)
    context["sidebars"] = [*sidebars[:position], SIDEBAR_TEMPLATE, *sidebars[position:]]


def _check_config(app: Sphinx, config: Config) -> None:
    count = config.feedback_newest_count
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ConfigError(__("feedback_newest_count muss eine ganze Zahl ab 1 sein, nicht %r.") % (count,))


def setup_newest(app: Sphinx) -> None:
    app.add_config_value("feedback_newest_count", 50, "", types=frozenset({int}),
                         description="Anzahl der Kommentare auf der Seite „Neueste Kommentare“")
    app.connect("config-inited", _check_config)
    app.connect("html-collect-pages", _collect_page)
    app.connect("html-page-context", _sidebar_link)
