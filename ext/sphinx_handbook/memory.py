"""The loaded build state stays out of the garbage collector's full passes while Sphinx builds.

An incremental build unpickles the whole environment (every document's
titles, tocs, domain data) before it writes a single page. Those objects are
young to the cyclic garbage collector, so the first full collection that the
writing triggers walks all of them: on a one-comment sync that was 65 ms of
the 100-odd ms it took to write the page. They live until the build ends in
any case, so once the builder is ready they are moved out of the collector's
view (:func:`gc.freeze`), and given back to it when the build ends
(:func:`gc.unfreeze`), so that a process that builds many times (tests,
``sphinx-autobuild``) frees them as before. Objects made while building are
collected as usual.
"""

from __future__ import annotations

import gc

from sphinx.application import Sphinx


def _freeze(app: Sphinx) -> None:
    gc.freeze()


def _unfreeze(app: Sphinx, exception: BaseException | None) -> None:
    gc.unfreeze()


def setup_memory(app: Sphinx) -> None:
    # After every other handler: the comments and the editions data are loaded by then.
    app.connect("builder-inited", _freeze, priority=900)
    app.connect("build-finished", _unfreeze, priority=900)
