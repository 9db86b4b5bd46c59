"""The search index stays whole when only some pages are written again (Sphinx issue 12599).

``searchindex.js`` lists, besides the words of every page, its index entries:
the glossary's terms and every ``index`` directive. Sphinx gathers a page's
entries only while it writes that page, after it has saved the build
environment, and does not read them back from the previous ``searchindex.js``:
an incremental build (a sync that brings one comment, even a build with nothing
to do) writes a search index without the entries of every page it left alone,
and the glossary's terms vanish from the search.

Here each document's entries are gathered as it is read, into the environment
the search index starts from, so they are saved with it and are there for every
page, written again or not. They are gathered as Sphinx's indexer gathers them
when it writes the page (which then replaces them with the same entries), so a
full build's ``searchindex.js`` is unchanged.
"""

from __future__ import annotations

from collections.abc import Set

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util.index_entries import split_index_msg

# Where Sphinx's indexer (sphinx.search.IndexBuilder) keeps each page's entries
# between builds: its ``_index_entries``, living in the environment.
ENTRIES = "_search_index_index_entries"


def page_entries(doctree: nodes.document) -> list[tuple[str, str, str]]:
    """The page's index entries as the search index lists them: ``(term, target id, "main" or "")``."""
    found: set[tuple[str, str, str]] = set()
    for node in doctree.findall(addnodes.index):
        for kind, value, target, main, _key in node["entries"]:
            try:
                terms = split_index_msg(kind, value)
            except ValueError:
                continue  # Sphinx warns of it where the entry is made
            found.update((term, target or "", main) for term in terms)
    return sorted(found)


def _entries(env: BuildEnvironment) -> dict[str, list[tuple[str, str, str]]] | None:
    """The environment's store of entries; None where a Sphinx release keeps them elsewhere."""
    return getattr(env, ENTRIES, None)


def _gather(app: Sphinx, doctree: nodes.document) -> None:
    env = app.env
    store = _entries(env)
    title = env.longtitles.get(env.docname)
    # The indexer takes in pages with a title only, and "no-search" pages empty.
    if store is None or title is None or not title.astext():
        return
    metadata = env.metadata.get(env.docname, {})
    hidden = "no-search" in metadata or "nosearch" in metadata
    store[env.docname] = [] if hidden else page_entries(doctree)


def _forget(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    store = _entries(env)
    if store is not None:
        store.pop(docname, None)


def _merge(app: Sphinx, env: BuildEnvironment, docnames: Set[str], other: BuildEnvironment) -> None:
    """Entries of documents read in a parallel reader's process."""
    store, theirs = _entries(env), _entries(other)
    if store is not None and theirs is not None:
        store.update((docname, theirs[docname]) for docname in docnames if docname in theirs)


def _in_page_order(app: Sphinx, env: BuildEnvironment) -> list[str]:
    """Pages in name order, the order in which the indexer is fed them: the index then lists them alike."""
    store = _entries(env)
    if store is not None:
        ordered = sorted(store.items())
        store.clear()
        store.update(ordered)
    return []


def setup_search(app: Sphinx) -> None:
    app.connect("doctree-read", _gather)
    app.connect("env-purge-doc", _forget)
    app.connect("env-merge-info", _merge)
    app.connect("env-updated", _in_page_order)
