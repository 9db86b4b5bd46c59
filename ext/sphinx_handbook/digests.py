"""Pages written again when what they show from outside their source changed.

Comments and the editions switcher enter a page when it is written, from data
the build reads (the comments file, the editions data). Each keeps, per
document, a digest of what the page was last written with, in a domain of its
own (a :class:`PageDigests`); its ``env-get-updated`` handler returns the pages
whose digest changed, so they are written again without being read again. A
document read in this build lost its digest when it was cleared: it is written
anyway.

Such a page does not take its toctree parents along either, which Sphinx writes
with any updated page because a page read again may have a new title: here that
would be the start page with the contents of the whole handbook, for every
comment. The parents are set aside when writing starts and given back when the
build ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sphinx.application import Sphinx
from sphinx.builders import Builder
from sphinx.domains import Domain
from sphinx.environment import BuildEnvironment


class PageDigests(Domain):
    """Per document, a digest of what its page was last written with (computed in the main process)."""

    data_version = 1
    initial_data = {"digests": {}}

    def __init__(self, env: BuildEnvironment) -> None:
        super().__init__(env)
        # Pages written in this build only because their digest changed, and the
        # toctree parents they are kept from dragging along.
        self.rewritten: set[str] = set()
        self.spared_parents: dict[str, set[str]] = {}

    @property
    def digests(self) -> dict[str, str]:
        return self.data["digests"]

    def clear_doc(self, docname: str) -> None:
        self.digests.pop(docname, None)

    def merge_domaindata(self, docnames, otherdata: dict) -> None:
        """Digests are computed in the main process only: nothing to merge."""

    def changed(self, docnames: Iterable[str], digest_of: Callable[[str], str]) -> list[str]:
        """The documents whose digest differs from the one their page was written with; records the new ones."""
        changed = []
        for docname in docnames:
            digest = digest_of(docname)
            if self.digests.get(docname, digest) != digest:
                changed.append(docname)
            self.digests[docname] = digest
        self.rewritten = set(changed)
        return changed


def _page_digests(env: BuildEnvironment) -> list[PageDigests]:
    return [domain for domain in env.domains.values() if isinstance(domain, PageDigests)]


def _spare_toctree_parents(app: Sphinx, builder: Builder) -> None:
    """``Builder.write`` adds the parents (``env.files_to_rebuild``) right after this event."""
    parents = app.env.files_to_rebuild
    for domain in _page_digests(app.env):
        domain.spared_parents = {doc: parents.pop(doc) for doc in domain.rewritten if doc in parents}


def _restore_toctree_parents(app: Sphinx, exception: Exception | None) -> None:
    for domain in _page_digests(app.env):
        for docname, parents in domain.spared_parents.items():
            app.env.files_to_rebuild.setdefault(docname, set()).update(parents)
        domain.spared_parents = {}


def setup_digests(app: Sphinx) -> None:
    app.connect("write-started", _spare_toctree_parents)
    app.connect("build-finished", _restore_toctree_parents)
