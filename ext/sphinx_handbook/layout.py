"""Page furniture shared by all HTML pages: the footer with the legal pages."""

from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.writers.html5 import HTML5Translator

STATIC = Path(__file__).parent / "_static"

from sphinx.application import Sphinx
from sphinx.config import Config

TEMPLATES = Path(__file__).parent / "_templates"

# Documents linked from every page's footer when the edition has them.
LEGAL_DOCS = ("impressum", "datenschutz", "barrierefreiheit")


def _add_paths(app: Sphinx, config: Config) -> None:
    config.templates_path = [*config.templates_path, str(TEMPLATES)]
    config.html_static_path = [*config.html_static_path, str(STATIC)]


def _legal_links(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    titles = app.env.titles
    context["handbook_legal_links"] = [(doc, titles[doc].astext()) for doc in LEGAL_DOCS if doc in titles]


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


def setup_layout(app: Sphinx) -> None:
    app.connect("config-inited", _add_paths)
    app.set_translator("html", HandbookTranslator)
    app.add_css_file("handbook.css")
    app.connect("html-page-context", _legal_links)
