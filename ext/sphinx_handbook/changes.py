""""Was ist neu": the sections an edition added, revised and removed against the edition before it.

With the editions data of ``make site`` (``versions.py``), every edition but
the first gets the generated page ``was-ist-neu.html``. It compares this
edition's commentable sections with the previous edition's manifest as the
editions data carries it, by the one comparison of editions that the release
notes use too (``handbook_editions.changes.compare_sections``): a section is
added when that edition lacks its id, revised when its digest
(``sections.section_digest``) differs, removed when only that edition has it.
Removed sections link to the previous edition. The body is the template
``_templates/handbook/whats-new.html``.
"""

from __future__ import annotations

from pathlib import Path

from sphinx.application import Sphinx
from sphinx.locale import get_translation

from handbook_editions.changes import compare_sections

from .sections import is_web_builder, sections_domain
from .versions import WHATS_NEW_PAGE, editions_domain

_ = get_translation("handbook")


def previous_edition(data: dict | None, version: str) -> dict | None:
    """The edition before ``version`` (the list is newest first); None for the first or an unknown one."""
    versions = [edition["version"] for edition in data["editions"]] if data else []
    if version not in versions or versions.index(version) == len(versions) - 1:
        return None
    return data["editions"][versions.index(version) + 1]


def render_whats_new(app: Sphinx, previous: dict) -> str:
    sections = sections_domain(app.env).all_commentable()
    known, digests = previous["sections"], previous.get("digests", {})
    # The one comparison of editions, shared with the release notes.
    changes = compare_sections({section_id: digests.get(section_id) for section_id in known},
                               {section.id: section.digest for section in sections})
    by_id = {section.id: section for section in sections}

    def here(section_id: str) -> tuple[str, str]:
        section = by_id[section_id]
        return section.numbered_title, f"{app.builder.get_relative_uri(WHATS_NEW_PAGE, section.doc)}#{section.id}"

    context = {
        "handbook_": _,
        "version": app.config.version,
        "previous": previous,
        "added": [here(section_id) for section_id in changes.added],
        "revised": [(*here(section_id), previous["path"] + known[section_id]) for section_id in changes.revised],
        "removed": [(previous.get("titles", {}).get(section_id, section_id), previous["path"] + known[section_id])
                    for section_id in changes.removed],
    }
    return app.builder.templates.render("handbook/whats-new.html", context)


def _collect_page(app: Sphinx):
    if not is_web_builder(app.builder):
        return
    previous = previous_edition(editions_domain(app.env).editions, app.config.version)
    if previous is None:
        # An incremental build keeps what earlier builds wrote: a page from a time this
        # edition had a predecessor (a listed draft, since removed) would outlive it.
        Path(app.outdir, WHATS_NEW_PAGE + app.builder.out_suffix).unlink(missing_ok=True)
        return
    title = _("Was ist neu in Ausgabe %s?") % app.config.version
    yield WHATS_NEW_PAGE, {"title": title, "body": render_whats_new(app, previous)}, "page.html"


def setup_changes(app: Sphinx) -> None:
    app.connect("html-collect-pages", _collect_page)
