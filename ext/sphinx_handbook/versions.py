"""Editions: the version switcher, the banner on older editions, the canonical link.

``make site`` (``sphinx_handbook.site``) writes a data file naming every edition
and its sections (from each edition's ``_feedback/sections.json``) and passes it
as ``feedback_versions_path``. Every page then links to the same page in the
other editions, or to the same section where the page moved, or else to that
edition's start page. Without the file (``make html``) there is no switcher.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from markupsafe import Markup
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.errors import ConfigError
from sphinx.locale import get_translation
from sphinx.util import logging

_ = get_translation("feedback")
logger = logging.getLogger(__name__)


def _load(app: Sphinx) -> dict | None:
    """The editions data, read once per build; None when there is none."""
    if hasattr(app, "_handbook_versions"):
        return app._handbook_versions
    data = None
    if app.config.feedback_versions_path:
        path = Path(app.confdir, app.config.feedback_versions_path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            for edition in data["editions"]:
                if not isinstance(edition["version"], str) or not isinstance(edition["path"], str):
                    raise TypeError("version und path müssen Texte sein")
                edition["page_set"] = _pages(edition)
        except FileNotFoundError:
            data = None
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"{path}: ungültige Ausgabendaten ({exc!r}).") from None
    app._handbook_versions = data
    return data


def _page_ids(env: BuildEnvironment, docname: str) -> list[str]:
    """Section ids of a page in reading order (its numbered sections' anchors)."""
    anchors = env.toc_secnumbers.get(docname, {})
    return [anchor[1:] for anchor in anchors if anchor.startswith("#")]


def _pages(edition: dict) -> set[str]:
    """The pages of an edition: all it lists (glossary, legal pages …) and those with sections."""
    return set(edition.get("pages", ())) | {url.split("#", 1)[0] for url in edition["sections"].values()}


def _target(edition: dict, page_url: str, ids: list[str]) -> tuple[str, dict[str, str]]:
    """Where a reader of this page lands in ``edition``, and the sections JS can refine to."""
    sections: dict[str, str] = edition["sections"]
    same = {sid: sections[sid] for sid in ids if sid in sections}
    if page_url in edition["page_set"]:
        return page_url, same
    if same:
        return next(iter(same.values())), same
    return "index.html", same


def _switcher(app: Sphinx, pagename: str) -> dict | None:
    data = _load(app)
    if not data:
        return None
    current = app.config.version
    page_url = app.builder.get_target_uri(pagename)
    ids = _page_ids(app.env, pagename)
    entries = []
    for edition in data["editions"]:
        target, sections = _target(edition, page_url, ids)
        entries.append({
            "version": edition["version"],
            "title": edition.get("title", ""),
            "date": edition.get("date", ""),
            "href": edition["path"] + target,
            "sections": {sid: edition["path"] + url for sid, url in sections.items()},
            "current": edition["version"] == current,
        })
    latest = next((e for e in entries if e["version"] == data.get("latest")), None)
    this = next((e for e in entries if e["current"]), None)
    pdf = None
    if this is not None:
        pdf = next(e.get("pdf") for e in data["editions"] if e["version"] == current)
    return {"entries": entries, "latest": latest, "this": this, "pdf": pdf}


def _page_context(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    switcher = _switcher(app, pagename)
    context["handbook_editions"] = switcher
    if not switcher:
        return
    for entry in switcher["entries"]:
        entry["sections_json"] = json.dumps(entry["sections"], ensure_ascii=False, sort_keys=True)
    latest, this = switcher["latest"], switcher["this"]
    if latest is not None:
        context["pageurl"] = latest["href"]  # canonical: the newest edition
    if latest is not None and this is not None and latest is not this:
        year = (this["date"] or "")[:4]
        banner = Markup(
            '<aside class="handbook-old-edition" role="note"><p>{text} '
            '<a href="{href}" data-handbook-sections="{sections}">{link}</a></p></aside>'
        ).format(
            text=_("Sie lesen die Ausgabe %(version)s von %(year)s.") % {"version": this["version"], "year": year},
            href=latest["href"],
            sections=latest["sections_json"],
            link=_("Zur aktuellen Ausgabe %(version)s") % {"version": latest["version"]},
        )
        if "body" in context:
            context["body"] = banner + Markup(context["body"])
        else:  # genindex and search fill their content themselves (_templates/)
            context["handbook_old_edition_banner"] = banner


def _outdated(app: Sphinx, env: BuildEnvironment, added, changed, removed) -> list[str]:
    """Pages whose switcher links changed must be written again."""
    data = _load(app)
    previous: dict[str, str] = getattr(env, "handbook_versions_digests", {})
    current: dict[str, str] = {}
    for docname in env.found_docs:
        digest = hashlib.sha256()
        if data:
            page_url = app.builder.get_target_uri(docname)
            ids = _page_ids(env, docname)
            for edition in data["editions"]:
                links = [edition["version"], edition["path"], edition.get("title"), edition.get("date"),
                         _target(edition, page_url, ids)]
                digest.update(json.dumps(links, sort_keys=True).encode())
            digest.update(str(data.get("latest")).encode())
        current[docname] = digest.hexdigest()
    env.handbook_versions_digests = current
    return [doc for doc, value in current.items() if doc in previous and previous[doc] != value and doc not in changed]


def setup_versions(app: Sphinx) -> None:
    app.add_config_value("feedback_versions_path", "", "html", types=frozenset({str}),
                         description="Ausgabendaten für den Ausgabenwechsler (schreibt make site)")
    app.connect("env-get-outdated", _outdated)
    app.connect("html-page-context", _page_context)
    app.add_js_file("versions.js", loading_method="defer")
