"""Approved comments: the comments file, per-document digests, static rendering.

The feedback sync writes the comments file (``feedback_comments_path``, its
format is a contract in DESIGN.md); every HTML build reads it once. A missing
file means no comments; a malformed one stops the build before anything is
written, naming the file and the problem.

The comments a document shows are summed up in one digest per document, kept in
the ``feedback`` domain. When the file changes, exactly the documents whose
digest changed are written again, so one approved comment rebuilds its own page
and not the whole handbook. They are not read again: comments enter a page only
when it is written (``form.py``), so the handler is an ``env-get-updated`` one
(documents to write) rather than ``env-get-outdated`` (documents to read):
reading would parse the page again, and under ``-j auto`` send the whole
environment through a worker process, for nothing. For the same reason such a
page does not take its toctree parents along, which Sphinx writes with any
page because a page read again may have a new title: here that would be the
start page with the contents of the whole handbook, for every comment.

Comments are plain text. Rendering escapes every character, splits paragraphs
on blank lines, turns single newlines into ``<br>`` and http(s) URLs into links
with ``rel="nofollow ugc noopener"``; nothing else is interpreted.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime
from sphinx.application import Sphinx
from sphinx.builders import Builder
from sphinx.environment import BuildEnvironment
from sphinx.errors import SphinxError
from sphinx.locale import get_translation
from sphinx.util import logging

from .sections import is_web_builder

_ = get_translation("feedback")
__ = get_translation("feedback", "console")
logger = logging.getLogger(__name__)

FORMAT = 1
# Times are shown as the handbook's readers live them.
READERS_TIMEZONE = ZoneInfo("Europe/Berlin")
# A comment's fields and the JSON types each may have (None: null).
FIELDS: dict[str, tuple[type, ...]] = {
    "id": (str,),
    "section": (str,),
    "version": (str,),
    "author": (str, type(None)),
    "text": (str,),
    "created": (str,),
    "reply_to": (str, type(None)),
}
JSON_TYPE_NAMES = {str: "Text", type(None): "null"}

URL = re.compile(r"\bhttps?://[^\s<>\"]+", re.IGNORECASE)
URL_TRAILING = ".,;:!?)]}'»“”’"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
BLANK_LINE = re.compile(r"\n[ \t]*\n")


class CommentsFileError(SphinxError):
    category = "Feedback-Fehler"


@dataclass(frozen=True)
class Comment:
    id: str
    section: str
    version: str
    author: str
    text: str
    created: datetime
    reply_to: str | None

    def fingerprint(self) -> list:
        return [self.id, self.section, self.version, self.author, self.text, self.created.isoformat(), self.reply_to]


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
                digest.update(json.dumps(comment.fingerprint(), ensure_ascii=False).encode())
        return digest.hexdigest()


def _problem(path: Path, problem: str) -> CommentsFileError:
    return CommentsFileError(
        __("Die Kommentardatei %(path)s ist fehlerhaft: %(problem)s") % {"path": path, "problem": problem}
    )


def _describe(value: object) -> str:
    shown = json.dumps(value, ensure_ascii=False)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _comment(path: Path, index: int, item: object) -> Comment:
    where = f"comments[{index}]"
    if not isinstance(item, dict):
        raise _problem(path, __("%(where)s ist kein JSON-Objekt, sondern %(value)s") % {
            "where": where, "value": _describe(item)})
    for field, types in FIELDS.items():
        if field not in item:
            raise _problem(path, __("%(where)s: das Feld „%(field)s“ fehlt") % {"where": where, "field": field})
        if not isinstance(item[field], types):
            raise _problem(path, __("%(where)s.%(field)s muss %(types)s sein, nicht %(value)s") % {
                "where": where, "field": field, "value": _describe(item[field]),
                "types": __(" oder ").join(JSON_TYPE_NAMES[t] for t in types)})
    for field in ("id", "section"):
        if not item[field].strip():
            raise _problem(path, __("%(where)s.%(field)s ist leer") % {"where": where, "field": field})
    try:
        created = datetime.fromisoformat(item["created"])
    except ValueError:
        created = None
    if created is None or created.tzinfo is None:
        raise _problem(path, __("%(where)s.created ist kein Zeitpunkt mit Zeitzone nach ISO 8601: %(value)s") % {
            "where": where, "value": _describe(item["created"])})
    return Comment(
        id=item["id"], section=item["section"], version=item["version"], author=item["author"] or "",
        text=item["text"], created=created.astimezone(timezone.utc), reply_to=item["reply_to"],
    )


def load_comments(path: Path) -> Comments:
    """Read and check the comments file; a missing file means no comments."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Comments([])
    except OSError as exc:
        raise _problem(path, __("nicht lesbar (%s)") % exc.strerror) from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise _problem(path, __("kein UTF-8")) from None
    except json.JSONDecodeError as exc:
        raise _problem(path, __("kein gültiges JSON (Zeile %(line)d, Spalte %(column)d: %(reason)s)") % {
            "line": exc.lineno, "column": exc.colno, "reason": exc.msg}) from None
    if not isinstance(data, dict):
        raise _problem(path, __("erwartet wird ein JSON-Objekt mit „format“ und „comments“"))
    if data.get("format") != FORMAT:
        raise _problem(path, __("„format“ ist %(value)s, unterstützt wird nur %(format)d") % {
            "value": _describe(data.get("format")), "format": FORMAT})
    if not isinstance(data.get("comments"), list):
        raise _problem(path, __("„comments“ muss eine Liste sein, nicht %s") % _describe(data.get("comments")))
    comments = []
    seen: set[str] = set()
    for index, item in enumerate(data["comments"]):
        comment = _comment(path, index, item)
        if comment.id in seen:
            raise _problem(path, __("comments[%(index)d].id %(id)s kommt mehrfach vor") % {
                "index": index, "id": _describe(comment.id)})
        seen.add(comment.id)
        comments.append(comment)
    return Comments(comments)


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


def render_comment(comment: Comment, edition: str, language: str, footer: str = "") -> str:
    """One comment as an ``<article>``; ``footer`` is trusted HTML added at its end."""
    author = escape(comment.author.strip()) or _("Anonym")
    moment = comment.created.isoformat().replace("+00:00", "Z")
    meta = [
        f'<span class="fb-author">{author}</span>',
        f'<time datetime="{moment}">{escape(format_time(comment.created, language))}</time>',
    ]
    if comment.version != edition:
        mark = _("geschrieben zur Ausgabe %s") % comment.version
        meta.append(f'<span class="fb-edition">{escape(mark)}</span>')
    return (
        '<article class="fb-comment">\n'
        f'<p class="fb-meta">{" ".join(meta)}</p>\n'
        f'<div class="fb-text">\n{render_text(comment.text)}</div>\n'
        f"{footer}</article>\n"
    )


def render_threads(threads: list[Thread], edition: str, language: str) -> str:
    """A section's comments, each with its replies one level below."""
    items = []
    for top, replies in threads:
        nested = ""
        if replies:
            nested = '<ol class="fb-replies">\n' + "".join(
                f"<li>{render_comment(reply, edition, language)}</li>\n" for reply in replies
            ) + "</ol>\n"
        items.append(f"<li>{render_comment(top, edition, language)}{nested}</li>\n")
    return '<ol class="fb-comments">\n' + "".join(items) + "</ol>\n"


# -- build events ----------------------------------------------------------------


def _comments_path(app: Sphinx) -> Path:
    return Path(app.confdir, app.config.feedback_comments_path)


def _load(app: Sphinx) -> None:
    """Read the comments file once per build, before any document is read or written."""
    if is_web_builder(app.builder):
        app.env.domains["feedback"].comments = load_comments(_comments_path(app))


def _changed_pages(app: Sphinx, env: BuildEnvironment) -> list[str]:
    """The documents whose comments changed since they were last written.

    A document read in this build lost its digest when it was cleared, so every
    document returned here was written last with the same text: only its
    comments changed.
    """
    if not is_web_builder(app.builder):
        return []
    domain = env.domains["feedback"]
    # The consent label links the privacy page only where it exists.
    privacy = app.config.feedback_privacy_doc in env.found_docs
    changed = []
    for docname in domain.sections:
        digest = domain.comments.digest(domain.section_ids(docname), privacy)
        if domain.digests.get(docname, digest) != digest:
            changed.append(docname)
        domain.digests[docname] = digest
    domain.comments_only = set(changed)
    return changed


def _spare_toctree_parents(app: Sphinx, builder: Builder) -> None:
    """Keep the pages written only for their comments from taking their toctree parents along.

    ``Builder.write`` adds the parents (``env.files_to_rebuild``) right after this
    event; they come back when the build ends.
    """
    if not is_web_builder(builder):
        return
    domain = app.env.domains["feedback"]
    parents = app.env.files_to_rebuild
    domain.spared_parents = {doc: parents.pop(doc) for doc in domain.comments_only if doc in parents}


def _restore_toctree_parents(app: Sphinx, exception: Exception | None) -> None:
    domain = app.env.domains["feedback"]
    for docname, parents in domain.spared_parents.items():
        app.env.files_to_rebuild.setdefault(docname, set()).update(parents)
    domain.spared_parents = {}


def _report_orphans(app: Sphinx, builder: Builder) -> None:
    if not is_web_builder(builder):
        return
    domain = app.env.domains["feedback"]
    known = {section.id for section in domain.all_commentable()}
    for comment in domain.comments.all:
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
    app.connect("builder-inited", _load)
    app.connect("env-get-updated", _changed_pages)
    app.connect("write-started", _spare_toctree_parents)
    app.connect("build-finished", _restore_toctree_parents)
    app.connect("write-started", _report_orphans)
