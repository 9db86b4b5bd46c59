"""The PDF builder: rst2pdf, with the handbook's section numbers and a strict result check.

This module is not loaded by HTML builds. ``pyproject.toml`` registers it under the
``sphinx.builders`` entry point ``pdf``, so ``sphinx-build -b pdf`` imports it (and
rst2pdf, which is not parallel-write-safe) only when a PDF is asked for.
"""

from __future__ import annotations

from pathlib import Path

from docutils import nodes
from rst2pdf import pdfbuilder
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.errors import SphinxError
from sphinx.locale import get_translation
from sphinx.util import logging

from ..feed import public_url

_ = get_translation("feedback")

logger = logging.getLogger(__name__)

STYLE_DIR = Path(__file__).parent
# DejaVu covers the typographic characters of the text (– „“ → ☐) that the
# PDF standard fonts lack; Debian's fonts-dejavu-core puts it here.
FONT_DIR = "/usr/share/fonts/truetype/dejavu"
# Included by handbook-cover.tmpl, written by write_cover_note.
COVER_NOTE = "handbook-discussion.tmpl"


class PdfBuildFailed(SphinxError):
    category = "PDF-Erzeugung fehlgeschlagen"


class HandbookPDFBuilder(pdfbuilder.PDFBuilder):
    """rst2pdf's builder, plus section numbers and a check that a PDF was written.

    rst2pdf renders the assembled document itself and ignores the numbers Sphinx
    assigns to a ``:numbered:`` toctree; it also swallows its own exceptions and
    leaves an empty file behind. Both are mended here.
    """

    def assemble_doctree(self, docname, title, author, appendices):
        tree = super().assemble_doctree(docname, title, author, appendices)
        hoist_included_documents(tree)
        number_sections(tree, docname, self.env.toc_secnumbers)
        name_discussions(tree, self.config, self.env.toc_secnumbers)
        return tree

    def write(self, *args, **kwargs):
        super().write(*args, **kwargs)
        for entry in self.document_data:
            target = Path(self.outdir, entry[1] + self.out_suffix)
            if not _is_pdf(target):
                raise PdfBuildFailed(f"{target} wurde nicht geschrieben oder ist kein PDF (siehe Meldungen oben).")


def hoist_included_documents(tree: nodes.document) -> None:
    """Make the chapters siblings of the start page instead of its subsections.

    The start page's toctree sits inside its title section, so inlined chapters
    would nest one level too deep: they would neither start on a new page
    (``pdf_break_level = 1``) nor appear as top-level entries in the contents.
    """
    included = [node for node in tree.findall(addnodes.start_of_file) if node.parent is not None
                and not any(isinstance(a, addnodes.start_of_file) for a in _ancestors(node))]
    chapters = nodes.compound(classes=["toctree-wrapper"])  # the shape rst2pdf's contents expect
    for node in included:
        node.parent.remove(node)
        chapters.append(node)
    tree.append(chapters)


def _ancestors(node: nodes.Node):
    parent = node.parent
    while parent is not None:
        yield parent
        parent = parent.parent


def number_sections(tree: nodes.Node, root_doc: str, secnumbers: dict) -> None:
    """Prefix each section title with the number Sphinx gave it in its document.

    rst2pdf splices inlined documents in as ``start_of_file`` children without
    updating their parent links, so the owning document is tracked walking down.
    """

    def walk(node: nodes.Node, docname: str, first_in_doc: list[bool]) -> None:
        for child in node.children:
            if isinstance(child, addnodes.start_of_file):
                walk(child, child["docname"], [True])
                continue
            if isinstance(child, nodes.section):
                numbers = secnumbers.get(docname, {})
                number = numbers.get("#" + child["ids"][0]) if child["ids"] else None
                if number is None and first_in_doc[0]:
                    number = numbers.get("")
                first_in_doc[0] = False
                if number:
                    child[0].insert(0, nodes.Text(".".join(map(str, number)) + "\u2002"))
            if isinstance(child, nodes.Element):
                walk(child, docname, first_in_doc)

    walk(tree, root_doc, [True])


def discussion_url(config, docname: str = "") -> str:
    """The web address where a chapter (or, without ``docname``, this edition) is discussed."""
    url = f"{public_url(config)}/{config.version}/"
    return url + f"{docname}.html" if docname else url


def _link(text: str, url: str) -> nodes.paragraph:
    paragraph = nodes.paragraph(classes=["discussion"])
    paragraph += nodes.Text(text + " ")
    paragraph += nodes.reference(url, url, refuri=url)
    return paragraph


def name_discussions(tree: nodes.document, config, secnumbers: dict) -> None:
    """Each numbered chapter names the web address where it is discussed, under its title."""
    if not public_url(config):
        return
    for chapter in tree.findall(addnodes.start_of_file):
        section = chapter.next_node(nodes.section)
        if section is not None and secnumbers.get(chapter["docname"]):
            section.insert(1, _link(_("Diskussion zu diesem Kapitel:"), discussion_url(config, chapter["docname"])))


def write_cover_note(directory: Path, config) -> None:
    """The title page's note where the handbook is discussed online (empty without a public address).

    rst2pdf renders the cover template with a fixed set of values; the template
    includes this file, written per build beside the build's doctrees.
    """
    note = ""
    if public_url(config):
        text = _("Dieses Handbuch wird online diskutiert: Unter jedem Abschnitt der Website können Sie "
                 "kommentieren und Fehler melden.")
        note = f".. cssclass:: author\n\n{text} {discussion_url(config)}\n"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / COVER_NOTE).write_text(note, encoding="utf-8")


def _is_pdf(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(5) == b"%PDF-" and path.stat().st_size > 1024
    except OSError:
        return False


def setup(app: Sphinx) -> dict:
    metadata = pdfbuilder.setup(app)
    app.add_builder(HandbookPDFBuilder, override=True)
    app.connect("config-inited", _configure)
    return {**metadata, "parallel_read_safe": True, "parallel_write_safe": False}


def _configure(app: Sphinx, config) -> None:
    if not config.pdf_style_path:
        config.pdf_style_path = [str(STYLE_DIR)]
    if config.pdf_stylesheets == ["sphinx"]:
        config.pdf_stylesheets = ["sphinx", "dejavu", "handbook"]
    if not config.pdf_font_path:
        config.pdf_font_path = [FONT_DIR]
    if config.pdf_cover_template == "sphinxcover.tmpl":
        # rst2pdf looks cover templates up in the source dir and in templates_path
        # (joined to the source dir, so an absolute path stays as it is).
        notes = Path(app.doctreedir, "pdf-cover")
        write_cover_note(notes, config)
        config.templates_path = [*config.templates_path, str(STYLE_DIR), str(notes)]
        config.pdf_cover_template = "handbook-cover.tmpl"
