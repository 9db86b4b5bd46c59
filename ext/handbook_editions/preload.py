"""What every Sphinx build of the handbook imports before it reads a page, imported once.

The warm builder process (:mod:`.workers`) imports this module and then forks
a child for each build, so that no build pays for these imports again:
Sphinx with its builtin extensions, the HTML builder and the German search,
the MyST parser and the furo theme (the stack ``conf.py`` names). The
handbook's own extension (``sphinx_handbook``) and ``conf.py`` are not among
them: every build loads those afresh, so an edit to ``ext/sphinx_handbook``
takes effect with the next build even while ``serve`` keeps running.
"""

import importlib

import sphinx.application
import sphinx.cmd.build

STACK = (
    "sphinx.builders.html",
    "sphinx.search.de",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "jinja2.ext",
    "myst_parser.sphinx_ext.main",
    "myst_parser.sphinx_ext.directives",
    "myst_parser.sphinx_ext.myst_refs",
    "myst_parser.parsers.sphinx_",
    "furo",
    "sphinx_basic_ng",
)

for _name in (*sphinx.application.builtin_extensions, *STACK):
    importlib.import_module(_name)
