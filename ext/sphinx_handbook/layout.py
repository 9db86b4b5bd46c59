"""Page furniture shared by all HTML pages: the footer with the legal pages."""

from pathlib import Path

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


def setup_layout(app: Sphinx) -> None:
    app.connect("config-inited", _add_paths)
    app.add_css_file("handbook.css")
    app.connect("html-page-context", _legal_links)
