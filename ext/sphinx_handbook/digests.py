"""Pages written again when what they show from outside their source changed.

Comments and the editions switcher enter a page when it is written, from data
the build reads (the comments file, the editions data). Each keeps, per
document, a digest of what the page was last written with, in a domain of its
own; an ``env-get-updated`` handler returns the pages whose digest changed, so
they are written again without being read again. A document read in this build
lost its digest when it was cleared: it is written anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sphinx.domains import Domain


class PageDigests(Domain):
    """Per document, a digest of what its page was last written with (computed in the main process)."""

    data_version = 1
    initial_data = {"digests": {}}

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
        return changed
