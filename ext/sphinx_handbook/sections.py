"""Commentable sections: which sections get a comment box, and the manifest.

While a document is read, the id, title, heading depth and table-of-contents
anchor of each of its sections go into the ``feedback_sections`` domain. Sphinx
numbers the sections only after all documents are read (``env.toc_secnumbers``),
so whether a section is commentable is decided when writing starts: its level
must be in ``feedback_section_levels``. In a numbered project the level is the
depth of the section's number (``3.2`` is level 2) and sections without a number
(a glossary, the legal pages) have no box; in a project without section numbers
it is the heading's depth in its document (the page title is level 1). A
section id found on two pages is a warning in a numbered project (the handbook
labels every section), a note in the log elsewhere.

Every HTML build writes the commentable sections to the manifest
(``feedback_formats.manifest``); the feedback service accepts comments only for
the sections listed there. Each entry carries the digest of the section's own
text (:func:`section_digest`), so editions can tell which sections changed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from docutils import nodes
from feedback_formats.manifest import Manifest, ManifestEntry, write_manifest
from sphinx.application import Sphinx
from sphinx.builders import Builder
from sphinx.config import Config
from sphinx.domains import Domain
from sphinx.environment import BuildEnvironment
from sphinx.errors import ConfigError
from sphinx.locale import get_translation
from sphinx.util import logging
from sphinx.util.nodes import clean_astext

__ = get_translation("feedback", "console")
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Section:
    """A commentable section of this edition; ``number`` is empty in an unnumbered project."""

    id: str
    number: tuple[int, ...]
    title: str
    doc: str
    digest: str

    @property
    def number_text(self) -> str:
        """``3.2.1``."""
        return ".".join(map(str, self.number))

    @property
    def numbered_title(self) -> str:
        """The title as the table of contents shows it: ``3.2.1 Qualitätskultur entwickeln``."""
        return f"{self.number_text} {self.title}" if self.number else self.title


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


def section_digest(section: nodes.section) -> str:
    """A hex digest of the section's own text: its title and body, not its subsections.

    Taken from the doctree as read, so it holds no section numbers, comment
    boxes or comments; whitespace is normalised, so rewrapping a paragraph or a
    rebuild leaves it as it is, while any change of wording changes it.
    """
    parts = [
        child.astext() for child in section.children
        # Build messages (they name the source path) and source comments are no text of the section.
        if not isinstance(child, (nodes.section, nodes.system_message, nodes.comment))
    ]
    return hashlib.sha256(" ".join(" ".join(parts).split()).encode("utf-8")).hexdigest()


def _depth(section: nodes.section) -> int:
    """The heading's depth in its document: 1 for the page title."""
    depth, parent = 1, section.parent
    while parent is not None:
        depth += isinstance(parent, nodes.section)
        parent = parent.parent
    return depth


class SectionsDomain(Domain):
    """The sections of every document, and this edition's commentable ones.

    ``data["sections"][docname]`` lists ``(toc_anchor, section_id, title, depth, digest)``
    in document order. Which of them are commentable (``edition``) is decided
    per build, once the sections are numbered, and kept on the instance.
    """

    name = "feedback_sections"
    label = "Feedback sections"
    data_version = 3
    initial_data = {"sections": {}}

    def __init__(self, env: BuildEnvironment) -> None:
        super().__init__(env)
        self.edition: dict[str, list[Section]] = {}
        self.by_id: dict[str, Section] = {}

    @property
    def sections(self) -> dict[str, list[tuple[str, str, str, int, str]]]:
        return self.data["sections"]

    def clear_doc(self, docname: str) -> None:
        self.sections.pop(docname, None)

    def merge_domaindata(self, docnames, otherdata: dict) -> None:
        for docname in docnames:
            if docname in otherdata["sections"]:
                self.sections[docname] = otherdata["sections"][docname]

    def process_doc(self, env: BuildEnvironment, docname: str, document: nodes.document) -> None:
        found = []
        for position, section in enumerate(document.findall(nodes.section)):
            # The same anchors as Sphinx's table of contents (and so toc_secnumbers).
            anchor = "" if position == 0 else "#" + section["ids"][0]
            found.append((anchor, _section_id(section, document), clean_astext(section[0]), _depth(section),
                          section_digest(section)))
        self.sections[docname] = found

    def section_ids(self, docname: str) -> list[str]:
        return [entry[1] for entry in self.sections.get(docname, ())]

    def commentable(self, docname: str) -> list[Section]:
        return self.edition.get(docname, [])

    def all_commentable(self) -> list[Section]:
        """This edition's commentable sections in the order of their numbers (else of their documents)."""
        return sorted((s for doc in self.edition.values() for s in doc), key=lambda s: s.number)

    def find_edition(self, levels: list[int]) -> None:
        """Decide which sections are commentable, once the sections are numbered."""
        self.edition = {}
        self.by_id = {}
        numbered = any(self.env.toc_secnumbers.values())
        seen: dict[str, str] = {}
        for docname in sorted(self.sections):
            numbers = self.env.toc_secnumbers.get(docname, {})
            chosen = []
            for anchor, section_id, title, depth, digest in self.sections[docname]:
                number = tuple(numbers.get(anchor) or ())
                level = len(number) if numbered else depth
                if not level or level not in levels:
                    continue
                if section_id in seen:
                    # The handbook gives every section a label (a test enforces it); in a
                    # project without section numbers, headings like "Examples" on many
                    # pages are normal, and only the log mentions them.
                    report = logger.warning if numbered else logger.info
                    report(
                        __("Die Abschnitts-ID %r gibt es auch in %s; Kommentare dazu erscheinen an "
                           "beiden Stellen. Bitte dem Abschnitt ein eindeutiges Label geben."),
                        section_id, seen[section_id],
                        type="feedback", subtype="duplicate_section", location=docname,
                    )
                seen[section_id] = docname
                chosen.append(Section(section_id, number, title, docname, digest))
            if chosen:
                self.edition[docname] = chosen
        self.by_id = {section.id: section for sections in self.edition.values() for section in sections}


def sections_domain(env: BuildEnvironment) -> SectionsDomain:
    return env.domains[SectionsDomain.name]


def _check_config(app: Sphinx, config: Config) -> None:
    levels = config.feedback_section_levels
    if not levels or not all(isinstance(level, int) and level >= 1 for level in levels):
        raise ConfigError(
            __("feedback_section_levels muss eine Liste von Gliederungsebenen ab 1 sein, nicht %r.") % (levels,)
        )


def _find_edition(app: Sphinx, builder: Builder) -> None:
    if is_web_builder(builder):
        sections_domain(app.env).find_edition(list(app.config.feedback_section_levels))


def _write_manifest(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or not is_web_builder(app.builder):
        return
    entries = tuple(
        ManifestEntry(
            id=section.id,
            number=section.number_text,
            title=section.title,
            doc=section.doc,
            url=f"{app.builder.get_target_uri(section.doc)}#{section.id}",
            digest=section.digest,
        )
        for section in sections_domain(app.env).all_commentable()
    )
    write_manifest(app.outdir, Manifest(app.config.version, entries))


def setup_sections(app: Sphinx) -> None:
    app.add_config_value(
        "feedback_section_levels", [2, 3], "html", types=frozenset({list, tuple}),
        description="Gliederungsebenen mit Kommentarfeld (3.2 ist Ebene 2; ohne Nummern die Überschriftenebene)",
    )
    app.add_domain(SectionsDomain)
    app.connect("config-inited", _check_config)
    # Before the comments' handler, which needs the edition's sections.
    app.connect("write-started", _find_edition, priority=400)
    app.connect("build-finished", _write_manifest)
