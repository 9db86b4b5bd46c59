"""Commentable sections: which sections get a comment box, and the manifest.

While a document is read, the id, title and table-of-contents anchor of each of
its sections go into the ``feedback`` domain. Sphinx numbers the sections only
after all documents are read (``env.toc_secnumbers``), so whether a section is
commentable is decided when writing starts: its level, the depth of its number
(``3.2`` is level 2), must be in ``feedback_section_levels``. Sections without a
number (the glossary, the legal pages) have no box.

Every HTML build writes the commentable sections to ``_feedback/sections.json``;
the feedback service accepts comments only for the sections listed there.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.builders import Builder
from sphinx.config import Config
from sphinx.domains import Domain
from sphinx.environment import BuildEnvironment
from sphinx.errors import ConfigError
from sphinx.locale import get_translation
from sphinx.util import logging
from sphinx.util.nodes import clean_astext

if TYPE_CHECKING:
    from .comments import Comments

__ = get_translation("feedback", "console")
logger = logging.getLogger(__name__)

MANIFEST = Path("_feedback", "sections.json")


@dataclass(frozen=True)
class Section:
    """A commentable section of this edition."""

    id: str
    number: tuple[int, ...]
    title: str
    doc: str

    @property
    def number_text(self) -> str:
        """``3.2.1``."""
        return ".".join(map(str, self.number))

    @property
    def numbered_title(self) -> str:
        """The title as the table of contents shows it: ``3.2.1 Qualitätskultur entwickeln``."""
        return f"{self.number_text} {self.title}"


def is_web_builder(builder: Builder) -> bool:
    """Whether the builder writes web pages, the only output with comment boxes."""
    return builder.format == "html"


def _section_id(section: nodes.section, document: nodes.document) -> str:
    """The section's first id that comes from an explicit label, else its first id."""
    explicit = {
        document.nameids[name]
        for name in section["names"]
        if document.nametypes.get(name) and document.nameids.get(name)
    }
    return next((id_ for id_ in section["ids"] if id_ in explicit), section["ids"][0])


class FeedbackDomain(Domain):
    """The sections of every document, and digests of the comments shown in it.

    ``data["sections"][docname]`` lists ``(toc_anchor, section_id, title)`` in
    document order; ``data["digests"][docname]`` sums up the comments its page
    was last written with (``comments.py``, computed in the main process). The
    comments file and this edition's commentable sections are loaded per build
    and kept on the instance, never pickled.
    """

    name = "feedback"
    label = "Feedback"
    data_version = 1
    initial_data = {"sections": {}, "digests": {}}

    def __init__(self, env: BuildEnvironment) -> None:
        super().__init__(env)
        self.edition: dict[str, list[Section]] = {}
        self.comments: Comments | None = None  # set when a web builder starts
        # Pages written only because their comments changed, and the toctree
        # parents they are kept from dragging along (see comments.py).
        self.comments_only: set[str] = set()
        self.spared_parents: dict[str, set[str]] = {}

    @property
    def sections(self) -> dict[str, list[tuple[str, str, str]]]:
        return self.data["sections"]

    @property
    def digests(self) -> dict[str, str]:
        return self.data["digests"]

    def clear_doc(self, docname: str) -> None:
        self.sections.pop(docname, None)
        self.digests.pop(docname, None)

    def merge_domaindata(self, docnames, otherdata: dict) -> None:
        for docname in docnames:
            if docname in otherdata["sections"]:
                self.sections[docname] = otherdata["sections"][docname]

    def process_doc(self, env: BuildEnvironment, docname: str, document: nodes.document) -> None:
        found = []
        for position, section in enumerate(document.findall(nodes.section)):
            # The same anchors as Sphinx's table of contents (and so toc_secnumbers).
            anchor = "" if position == 0 else "#" + section["ids"][0]
            found.append((anchor, _section_id(section, document), clean_astext(section[0])))
        self.sections[docname] = found

    def section_ids(self, docname: str) -> list[str]:
        return [section_id for _anchor, section_id, _title in self.sections.get(docname, ())]

    def commentable(self, docname: str) -> list[Section]:
        return self.edition.get(docname, [])

    def all_commentable(self) -> list[Section]:
        """This edition's commentable sections in the order of their numbers."""
        return sorted((s for doc in self.edition.values() for s in doc), key=lambda s: s.number)

    def find_edition(self, levels: list[int]) -> None:
        """Decide which sections are commentable, once the sections are numbered."""
        self.edition = {}
        seen: dict[str, str] = {}
        for docname in sorted(self.sections):
            numbers = self.env.toc_secnumbers.get(docname, {})
            chosen = []
            for anchor, section_id, title in self.sections[docname]:
                number = numbers.get(anchor)
                if not number or len(number) not in levels:
                    continue
                if section_id in seen:
                    logger.warning(
                        __("Die Abschnitts-ID %r gibt es auch in %s; Kommentare dazu erscheinen an "
                           "beiden Stellen. Bitte dem Abschnitt ein eindeutiges Label geben."),
                        section_id, seen[section_id],
                        type="feedback", subtype="duplicate_section", location=docname,
                    )
                seen[section_id] = docname
                chosen.append(Section(section_id, number, title, docname))
            if chosen:
                self.edition[docname] = chosen


def _check_config(app: Sphinx, config: Config) -> None:
    levels = config.feedback_section_levels
    if not levels or not all(isinstance(level, int) and level >= 1 for level in levels):
        raise ConfigError(
            __("feedback_section_levels muss eine Liste von Gliederungsebenen ab 1 sein, nicht %r.") % (levels,)
        )


def _find_edition(app: Sphinx, builder: Builder) -> None:
    if is_web_builder(builder):
        app.env.domains["feedback"].find_edition(list(app.config.feedback_section_levels))


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _write_manifest(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or not is_web_builder(app.builder):
        return
    domain = app.env.domains["feedback"]
    manifest = {
        "version": app.config.version,
        "sections": [
            {
                "id": section.id,
                "number": section.number_text,
                "title": section.title,
                "doc": section.doc,
                "url": f"{app.builder.get_target_uri(section.doc)}#{section.id}",
            }
            for section in domain.all_commentable()
        ],
    }
    _write_atomically(Path(app.outdir, MANIFEST), json.dumps(manifest, ensure_ascii=False, indent=1) + "\n")


def setup_sections(app: Sphinx) -> None:
    app.add_config_value(
        "feedback_section_levels", [2, 3], "html", types=frozenset({list, tuple}),
        description="Gliederungsebenen mit Kommentarfeld (3.2 ist Ebene 2)",
    )
    app.add_domain(FeedbackDomain)
    app.connect("config-inited", _check_config)
    # Before comments.py's handler, which needs the edition's sections.
    app.connect("write-started", _find_edition, priority=400)
    app.connect("build-finished", _write_manifest)
