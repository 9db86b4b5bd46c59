"""``neueste-kommentare.atom``: the newest approved comments of an edition as an Atom 1.0 feed.

Every HTML build writes it into its output root beside ``neueste-kommentare.html``
(the same comments, ``newest.py``), and every page links to it with
``<link rel="alternate" type="application/atom+xml">``. Entry ids are
``urn:uuid:`` names derived from the comment's id, so an entry keeps its id in
every rebuild and every edition. Links are absolute when ``handbook_public_url``
names the site's public address, else relative to the feed. ElementTree writes
the XML, so the comment's text is escaped; it goes in as plain text.

``handbook_public_url`` also gives the PDF its discussion addresses (``pdf/``).
"""

from __future__ import annotations

import uuid
from html import escape
from pathlib import Path
from xml.etree import ElementTree

from feedback_formats.files import utc_timestamp, write_atomic
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ConfigError
from sphinx.locale import get_translation

from .comments import CONTROL
from .newest import PAGE, newest_entries
from .sections import is_web_builder

_ = get_translation("feedback")
__ = get_translation("feedback", "console")

FEED = "neueste-kommentare.atom"
ATOM = "http://www.w3.org/2005/Atom"
MEDIA_TYPE = "application/atom+xml"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def public_url(config: Config) -> str:
    """The site's public address without a trailing slash; empty when not configured."""
    return config.handbook_public_url.rstrip("/")


def stable_id(kind: str, name: str) -> str:
    """A ``urn:uuid:`` that stays the same for the same thing in every build."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"sphinx-handbook:{kind}:{name}").urn


def _element(parent: ElementTree.Element, tag: str, text: str | None = None, **attributes: str):
    element = ElementTree.SubElement(parent, f"{{{ATOM}}}{tag}", attributes)
    if text is not None:
        element.text = CONTROL.sub("", text)
    return element


def render_feed(app: Sphinx) -> bytes:
    config = app.config
    public = public_url(config)
    base = f"{public}{config.feedback_site_path.rstrip('/')}/" if public else ""
    entries = newest_entries(app)
    ElementTree.register_namespace("", ATOM)
    feed = ElementTree.Element(f"{{{ATOM}}}feed", {XML_LANG: config.language or "de"})
    _element(feed, "id", stable_id("feed", f"{config.project}:{config.version}"))
    _element(feed, "title", _("Neueste Kommentare – %s") % (config.html_title or config.project))
    _element(feed, "updated", utc_timestamp(entries[0][0].created if entries else None))
    _element(feed, "link", rel="self", type=MEDIA_TYPE, href=base + FEED)
    _element(feed, "link", rel="alternate", type="text/html", href=base + app.builder.get_target_uri(PAGE))
    _element(_element(feed, "author"), "name", config.author or config.project)
    for comment, section in entries:
        section_url = f"{base}{app.builder.get_target_uri(section.doc)}#{section.id}"
        who = comment.author.strip() or _("Anonym")
        title = (_("Antwort der Redaktion zu %s") % section.numbered_title if comment.role == "editors"
                 else _("%(author)s zu %(section)s") % {"author": who, "section": section.numbered_title})
        entry = _element(feed, "entry")
        _element(entry, "id", stable_id("comment", comment.id))
        _element(entry, "title", title)
        _element(entry, "updated", utc_timestamp(comment.created))
        _element(entry, "published", utc_timestamp(comment.created))
        _element(_element(entry, "author"), "name", who)
        _element(entry, "link", rel="alternate", type="text/html",
                 href=f"{base}{app.builder.get_target_uri(section.doc)}#c-{comment.id}")
        _element(entry, "link", rel="related", type="text/html", href=section_url, title=section.numbered_title)
        _element(entry, "category", term=section.id, label=section.numbered_title)
        _element(entry, "content", comment.text, type="text")
    return ElementTree.tostring(feed, encoding="utf-8", xml_declaration=True) + b"\n"


def _write_feed(app: Sphinx, exception: Exception | None) -> None:
    if exception is None and is_web_builder(app.builder):
        write_atomic(Path(app.outdir, FEED), render_feed(app))


def _link_feed(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    if not is_web_builder(app.builder):
        return
    href = context["pathto"](FEED, 1)
    title = _("Neueste Kommentare (Atom-Feed)")
    link = f'<link rel="alternate" type="{MEDIA_TYPE}" title="{escape(title)}" href="{escape(href)}">\n'
    context["metatags"] = context.get("metatags", "") + link


def _check_config(app: Sphinx, config: Config) -> None:
    url = config.handbook_public_url
    if url and not url.startswith(("http://", "https://")):
        raise ConfigError(__("handbook_public_url muss leer sein oder mit http:// oder https:// beginnen, "
                             "nicht %r.") % url)


def setup_feed(app: Sphinx) -> None:
    # No page shows it: the feed is written in every build, and a PDF build writes everything.
    app.add_config_value("handbook_public_url", "", "", types=frozenset({str}),
                         description="Öffentliche Adresse der Website, etwa https://kochbuch.example.org; "
                                     "für absolute Links im Feed und die Diskussionsadressen im PDF")
    app.connect("config-inited", _check_config)
    app.connect("html-page-context", _link_feed)
    app.connect("build-finished", _write_feed)
