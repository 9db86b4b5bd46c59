"""Approved comments: the comments file, per-document digests, rendering helpers.

The feedback sync writes the comments file (``feedback_comments_path``, its
format is owned by ``feedback_formats.comments``); every HTML build reads it
once. A missing file means no comments; a malformed one stops the build before
anything is written, naming the file and the problem.

The comments a document shows are summed up in one digest per document, kept in
the ``feedback_comments`` domain. When the file changes, exactly the documents
whose digest changed are written again, so one approved comment rebuilds its own
page and not the whole handbook. They are not read again: comments enter a page
only when it is written (``form.py``), so the handler is an ``env-get-updated``
one (documents to write) rather than ``env-get-outdated`` (documents to read):
reading would parse the page again, and under ``-j auto`` send the whole
environment through a worker process, for nothing (``digests.py``).

Comments are plain text. :func:`render_text` escapes every character, splits
paragraphs on blank lines, turns single newlines into ``<br>`` and http(s) URLs
into links with ``rel="nofollow ugc noopener"``; nothing else is interpreted.
The HTML around it is in ``_templates/feedback/comments.html``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from datetime import datetime
from html import escape
from pathlib import Path
from zoneinfo import ZoneInfo

import feedback_formats.comments as comments_file
from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime
from feedback_formats.comments import Comment
from feedback_formats.files import utc_timestamp
from markupsafe import Markup
from sphinx.application import Sphinx
from sphinx.builders import Builder
from sphinx.config import Config
from sphinx.environment import BuildEnvironment
from sphinx.errors import SphinxError
from sphinx.locale import get_translation
from sphinx.util import logging

from .digests import PageDigests
from .sections import is_web_builder, sections_domain
from .versions import section_in_edition

_ = get_translation("feedback")
__ = get_translation("feedback", "console")
logger = logging.getLogger(__name__)

# Times are shown as the handbook's readers live them.
READERS_TIMEZONE = ZoneInfo("Europe/Berlin")
URL = re.compile(r"\bhttps?://[^\s<>\"]+", re.IGNORECASE)
URL_TRAILING = ".,;:!?)]}'»“”’"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
BLANK_LINE = re.compile(r"\n[ \t]*\n")


class CommentsFileError(SphinxError):
    category = "Feedback-Fehler"


Thread = tuple[Comment, list[Comment]]


class Comments:
    """The approved comments of one build, oldest first, grouped by section."""

    def __init__(self, comments: list[Comment]) -> None:
        self.all = sorted(comments, key=lambda c: (c.created, c.id))
        self.by_section: dict[str, list[Comment]] = defaultdict(list)
        for comment in self.all:
            self.by_section[comment.section].append(comment)

    def threads(self, section_id: str) -> list[Thread]:
        """Top-level comments with their replies; a reply to a reply joins its thread.

        A reply whose parent is not in the same section, or whose chain of
        parents loops, is shown as a comment of its own rather than lost.
        """
        comments = self.by_section.get(section_id, [])
        by_id = {comment.id: comment for comment in comments}

        def root(comment: Comment) -> Comment:
            seen = {comment.id}
            current = comment
            while current.reply_to in by_id:
                current = by_id[current.reply_to]
                if current.id in seen:
                    return comment
                seen.add(current.id)
            return current

        replies: dict[str, list[Comment]] = defaultdict(list)
        tops = []
        for comment in comments:
            top = root(comment)
            if top is comment:
                tops.append(comment)
            else:
                replies[top.id].append(comment)
        return [(top, replies[top.id]) for top in tops]

    def digest(self, section_ids: list[str], privacy: bool) -> str:
        """Sums up what the boxes of the given sections show."""
        digest = hashlib.sha256(b"privacy" if privacy else b"")
        for section_id in sorted(set(section_ids)):
            for comment in self.by_section.get(section_id, ()):
                digest.update(json.dumps(comment.to_json(), ensure_ascii=False, sort_keys=True).encode())
        return digest.hexdigest()


def load_comments(path: Path) -> Comments:
    """Read and check the comments file; a missing file means no comments."""
    try:
        return Comments(comments_file.load_comments(path))
    except comments_file.CommentsFileError as exc:
        raise CommentsFileError(
            __("Die Kommentardatei %(path)s ist fehlerhaft: %(problem)s") % {"path": path, "problem": exc.problem}
        ) from None


class CommentsDomain(PageDigests):
    """Per document, a digest of the comments its page was last written with.

    The comments file itself is loaded per build and kept on the instance, never pickled.
    """

    name = "feedback_comments"
    label = "Feedback comments"

    def __init__(self, env: BuildEnvironment) -> None:
        super().__init__(env)
        self.comments = Comments([])


def comments_domain(env: BuildEnvironment) -> CommentsDomain:
    return env.domains[CommentsDomain.name]


# -- rendering -----------------------------------------------------------------


def _linked(line: str) -> str:
    parts = []
    position = 0
    for match in URL.finditer(line):
        url = match.group(0)
        while url[-1] in URL_TRAILING and not (url[-1] == ")" and url.count("(") >= url.count(")")):
            url = url[:-1]
        if url.endswith("//"):
            continue
        parts.append(escape(line[position:match.start()]))
        parts.append(f'<a href="{escape(url)}" rel="nofollow ugc noopener">{escape(url)}</a>')
        position = match.start() + len(url)
    parts.append(escape(line[position:]))
    return "".join(parts)


def render_text(text: str) -> str:
    """A comment's text as HTML paragraphs: escaped, with http(s) links, nothing else."""
    text = CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    paragraphs = (paragraph.strip() for paragraph in BLANK_LINE.split(text))
    return "".join(
        "<p>" + "<br>\n".join(_linked(line) for line in paragraph.split("\n")) + "</p>\n"
        for paragraph in paragraphs
        if paragraph
    )


def format_time(moment: datetime, language: str) -> str:
    """``20. November 2026, 10:30 Uhr``: the date and time in Germany."""
    try:
        locale = Locale.parse((language or "de").replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        locale = Locale("de")
    return format_datetime(moment, _("d. MMMM y, HH:mm 'Uhr'"), tzinfo=READERS_TIMEZONE, locale=locale)


def comment_origin(env: BuildEnvironment, config: Config, comment: Comment) -> dict | None:
    """How a comment written on another edition relates to the section being read; None for this edition's.

    ``href`` (the section as it was in the comment's edition) is given only when
    the editions data knows that edition's digest of the section and it differs
    from this edition's; ``older`` tells whether that edition came before this one.
    """
    if comment.version == config.version:
        return None
    origin = {"href": None, "older": False}
    current = sections_domain(env).by_id.get(comment.section)
    other = section_in_edition(env, comment.version, comment.section)
    if current is not None and other is not None and other["digest"] and other["digest"] != current.digest:
        origin.update(href=other["href"], older=other["older"])
    return origin


def template_context(env: BuildEnvironment, config: Config) -> dict:
    """What ``_templates/feedback/comments.html`` needs besides the comments."""
    language = config.language
    return {
        "_": _,
        "edition": config.version,
        "comment_time": lambda comment: format_time(comment.created, language),
        "comment_timestamp": lambda comment: utc_timestamp(comment.created),
        "comment_html": lambda comment: Markup(render_text(comment.text)),
        "comment_origin": lambda comment: comment_origin(env, config, comment),
    }


# -- build events ----------------------------------------------------------------


def _comments_path(app: Sphinx) -> Path:
    return Path(app.confdir, app.config.feedback_comments_path)


def _load(app: Sphinx) -> None:
    """Read the comments file once per build, before any document is read or written."""
    if is_web_builder(app.builder):
        comments_domain(app.env).comments = load_comments(_comments_path(app))


def _changed_pages(app: Sphinx, env: BuildEnvironment) -> list[str]:
    """The documents whose comments changed since they were last written.

    Every document returned here was written last with the same text: only its
    comments changed (``digests.py``).
    """
    if not is_web_builder(app.builder):
        return []
    domain = comments_domain(env)
    sections = sections_domain(env)
    # The consent label links the privacy page only where it exists.
    privacy = app.config.feedback_privacy_doc in env.found_docs
    return domain.changed(
        sections.sections, lambda docname: domain.comments.digest(sections.section_ids(docname), privacy))


def _report_orphans(app: Sphinx, builder: Builder) -> None:
    if not is_web_builder(builder):
        return
    known = {section.id for section in sections_domain(app.env).all_commentable()}
    for comment in comments_domain(app.env).comments.all:
        if comment.section not in known:
            logger.info(
                __("Kommentar %(id)s wird nicht angezeigt: Diese Ausgabe hat keinen kommentierbaren "
                   "Abschnitt %(section)r."),
                {"id": comment.id, "section": comment.section},
            )


def setup_comments(app: Sphinx) -> None:
    app.add_config_value(
        "feedback_comments_path", "var/feedback/comments.json", "", types=frozenset({str}),
        description="Kommentardatei des Sync, relativ zum Verzeichnis von conf.py",
    )
    app.add_domain(CommentsDomain)
    app.connect("builder-inited", _load)
    app.connect("env-get-updated", _changed_pages)
    app.connect("write-started", _report_orphans)
