"""What every Sphinx build of the handbook imports before it reads a page, imported once.

The warm builder process (:mod:`.workers`) imports this module and then forks
a child for each build, so that no build pays for these imports again:
Sphinx with its builtin extensions, the HTML builder and the German search,
the MyST parser and the furo theme (the stack ``conf.py`` names), and Babel's
German locale data, which the first comment date of a build read from disk
(20 ms). The handbook's own extension (``sphinx_handbook``) and ``conf.py``
are not among them: every build loads those afresh, so an edit to
``ext/sphinx_handbook`` takes effect with the next build even while ``serve``
keeps running.

A sync starts the warm-up before it knows whether it has anything to build;
when it ends without a build, the imports stop at the next module.

The warm process ends when the process that started it does, and it then
leaves at once (:func:`os._exit`): it holds no files and no unwritten output,
and tearing down everything imported here took 0.2 s, all the while holding
the caller's standard output open, so that a caller reading it to the end (a
pipe, ``make sync | tee``, the benchmarks) waited for it.
"""

import atexit
import importlib
import os
import sys

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
_ASKED_BY = os.getppid()


def _load(name: str):
    """Import ``name``, unless the process that asked for the warm-up has ended meanwhile."""
    if os.getppid() != _ASKED_BY:
        os._exit(0)
    return importlib.import_module(name)


def _in_warm_process() -> bool:
    """Imported by the fork server's main loop (only then may the process end without teardown)."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "main" and frame.f_globals.get("__name__") == "multiprocessing.forkserver":
            return True
        frame = frame.f_back
    return False


def _leave() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if _in_warm_process():
    # Forked builds end with os._exit themselves: this runs in the warm process only.
    atexit.register(_leave)

_load("sphinx.cmd.build")
for _name in (*_load("sphinx.application").builtin_extensions, *STACK):
    _load(_name)
# Kept in Babel's cache, which every forked build inherits (sphinx_handbook.comments.format_time).
_load("babel.localedata").load("de")
