"""Page furniture of all HTML pages: legal links in the footer, and repairs.

What Sphinx and furo render, the browser tests found wanting in places: toctree
captions and table wrappers for assistive technology, and the German texts of
the search page.
"""

from html import escape
from pathlib import Path

from docutils import nodes
from feedback_formats import FORM_TEMPLATES
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.locale import _ as sphinx_gettext
from sphinx.locale import get_translation
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.writers.html5 import HTML5Translator

_ = get_translation("handbook")

STATIC = Path(__file__).parent / "_static"
TEMPLATES = Path(__file__).parent / "_templates"

# Documents linked from every page's footer when the edition has them.
LEGAL_DOCS = ("impressum", "datenschutz", "barrierefreiheit", "leichte-sprache")


def _add_paths(app: Sphinx, config: Config) -> None:
    # The comment form (feedback/form.html) is feedback_formats' template: the service renders it too.
    config.templates_path = [*config.templates_path, str(TEMPLATES), str(FORM_TEMPLATES)]
    config.html_static_path = [*config.html_static_path, str(STATIC)]


def _legal_links(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    titles = app.env.titles
    context["handbook_legal_links"] = [(doc, titles[doc].astext()) for doc in LEGAL_DOCS if doc in titles]


# Labels furo writes into its page without its catalogue, each with the markup
# around it, so that only furo's own markup matches (a comment's text is
# escaped and never contains it). Translated through Sphinx's catalogue
# (locale/de/LC_MESSAGES/sphinx.po); an empty pair removes the text.
THEME_TEXTS = (
    ('aria-label="', "Toggle site navigation sidebar", '"'),
    ('aria-label="', "Toggle table of contents sidebar", '"'),
    ('aria-label="', "Toggle Light / Dark / Auto color theme", '"'),
    ("<title>", "Contents", "</title>"),
    ("<title>", "Menu", "</title>"),
    ("<title>", "Expand", "</title>"),
    ("<title>", "Light mode", "</title>"),
    ("<title>", "Dark mode", "</title>"),
    ("<title>", "Auto light/dark, in light mode", "</title>"),
    ("<title>", "Auto light/dark, in dark mode", "</title>"),
)
# furo's footer credits "@pradyunsg's Furo" in English outside any catalogue entry.
THEME_CREDIT = """<a class="muted-link" href="https://pradyunsg.me">@pradyunsg</a>'s"""


def _theme_texts(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    pairs = []
    for before, english, after in THEME_TEXTS:
        translated = str(sphinx_gettext(english))
        if translated != english:
            pairs.append((before + english + after, before + escape(translated) + after))
    if str(sphinx_gettext("Made with ")) != "Made with ":
        pairs.append((THEME_CREDIT, ""))
    context["handbook_theme_texts"] = pairs


def _translations_without_eval(app: Sphinx) -> None:
    """Sphinx's translations.js needs `eval` (doctools.js), which the service's CSP forbids.

    Between doctools.js and translations.js (both Sphinx's, priorities 200 and 500).
    """
    if app.builder.format == "html":
        app.add_js_file("translations-csp.js", priority=300)


def _search_texts(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    if pagename == "search" and app.config.language == "de":
        # After Sphinx's translations.js (priority 500), whose German texts it repairs.
        app.add_js_file("search-de.js", priority=600)


class HandbookTranslator(HTML5Translator):
    """Sphinx's HTML writer, with toctree captions that assistive technology can place.

    Sphinx marks a toctree caption (in the page and in furo's sidebar) as
    ``role="heading"`` without the ``aria-level`` that role requires (WCAG 4.1.2,
    axe-core rule aria-required-attr).
    """

    def visit_title(self, node: nodes.title) -> None:
        if isinstance(node.parent, addnodes.compact_paragraph) and node.parent.get("toctree"):
            self.body.append(self.starttag(node, "p", "", CLASS="caption", ROLE="heading", **{"aria-level": "2"}))
            self.body.append('<span class="caption-text">')
            self.context.append("</span></p>\n")
            return
        super().visit_title(node)


class table_region(nodes.General, nodes.Element):
    """furo's table wrapper, made a focusable, named region."""


class FocusableTableWrappers(SphinxPostTransform):
    """Let keyboard users scroll wide tables (WCAG 2.1.1).

    furo wraps every table in a container that scrolls sideways on narrow
    screens; a scrolling area that cannot take focus cannot be scrolled without a
    mouse (axe-core rule scrollable-region-focusable). MyST renders containers
    itself, so the wrapper becomes a node of its own.
    """

    formats = ("html",)
    default_priority = 510  # after furo's WrapTableAndMathInAContainerTransform (500)

    def run(self, **kwargs) -> None:
        for wrapper in list(self.document.findall(nodes.container)):
            if "table-wrapper" in wrapper["classes"]:
                wrapper.replace_self(table_region("", *wrapper.children, **wrapper.attributes))


def visit_table_region(translator: HTML5Translator, node: table_region) -> None:
    title = node.next_node(nodes.title)
    label = _("Tabelle: %s") % title.astext() if title else _("Tabelle")
    translator.body.append(translator.starttag(node, "div", tabindex="0", ROLE="region", **{"aria-label": label}))


def depart_table_region(translator: HTML5Translator, node: table_region) -> None:
    translator.body.append("</div>\n")


def setup_layout(app: Sphinx) -> None:
    app.connect("config-inited", _add_paths)
    app.set_translator("html", HandbookTranslator)
    app.add_node(table_region, html=(visit_table_region, depart_table_region))
    app.add_post_transform(FocusableTableWrappers)
    app.add_css_file("handbook.css")
    app.connect("builder-inited", _translations_without_eval)
    app.connect("html-page-context", _search_texts)
    app.connect("html-page-context", _legal_links)
    app.connect("html-page-context", _theme_texts)
