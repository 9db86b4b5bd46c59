"""Editions: the version switcher, the banner on older editions, the canonical link.

``make site`` (``handbook_editions``) writes a data file naming every edition
and its sections (from each edition's section manifest) and passes it as
``handbook_versions_path``. Every page then links to the same page in the other
editions, or to the same section where the page moved, or else to that
edition's start page. Without the file (``make html``) there is no switcher.

Where a page's links lead is summed up in one digest per document, kept in the
``handbook_editions`` domain like the comments' digests: when the editions data
changes, exactly the pages whose links changed are written again
(``env-get-updated``); none is read again. The HTML is in the templates
``handbook-versions.html`` (sidebar) and ``handbook/old-edition.html`` (banner).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.errors import ConfigError
from sphinx.locale import get_translation

from .digests import PageDigests
from .sections import sections_domain

_ = get_translation("handbook")
__ = get_translation("handbook", "console")

# The generated page of every edition but the first (changes.py).
WHATS_NEW_PAGE = "was-ist-neu"


def _page_set(edition: dict) -> set[str]:
    """The pages of an edition: all it lists (glossary, legal pages …) and those with sections."""
    return set(edition.get("pages", ())) | {url.split("#", 1)[0] for url in edition["sections"].values()}


def load_editions(path: Path) -> dict | None:
    """The editions data; None when the file does not exist."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        for edition in data["editions"]:
            if not isinstance(edition["version"], str) or not isinstance(edition["path"], str):
                raise TypeError("version und path müssen Texte sein")
            edition["page_set"] = _page_set(edition)
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(__("%(path)s: ungültige Ausgabendaten (%(problem)r).") % {
            "path": path, "problem": exc}) from None
    return data


class EditionsDomain(PageDigests):
    """Per document, a digest of the switcher links its page was last written with.

    The editions data is loaded per build and kept on the instance, never pickled.
    """

    name = "handbook_editions"
    label = "Handbook editions"

    def __init__(self, env: BuildEnvironment) -> None:
        super().__init__(env)
        self.editions: dict | None = None


def editions_domain(env: BuildEnvironment) -> EditionsDomain:
    return env.domains[EditionsDomain.name]


def _page_ids(env: BuildEnvironment, docname: str) -> list[str]:
    """Section ids of a page in reading order, below its title (numbered or not)."""
    return [entry[1] for entry in sections_domain(env).sections.get(docname, ()) if entry[0]]


def section_in_edition(env: BuildEnvironment, version: str, section_id: str) -> dict | None:
    """Where the section is in another edition: ``href``, ``digest`` (None if unknown), ``older``.

    None without editions data, for an edition it does not list, or when that
    edition has no such section.
    """
    data = editions_domain(env).editions
    versions = [edition["version"] for edition in data["editions"]] if data else []
    if version not in versions:
        return None
    edition = data["editions"][versions.index(version)]
    if section_id not in edition["sections"]:
        return None
    current = env.config.version
    # The editions are listed newest first.
    older = current in versions and versions.index(version) > versions.index(current)
    return {"href": edition["path"] + edition["sections"][section_id],
            "digest": edition.get("digests", {}).get(section_id), "older": older}


def whats_new_href(data: dict, edition: dict) -> str | None:
    """The edition's "Was ist neu" page; the first edition has none."""
    return None if edition is data["editions"][-1] else edition["path"] + WHATS_NEW_PAGE + ".html"


def section_changes(edition: dict, sections: list) -> dict[str, str]:
    """Per section of this page: ``same``, ``changed`` or ``missing`` in ``edition``."""
    digests = edition.get("digests", {})
    changes = {}
    for section in sections:
        if section.id not in edition["sections"]:
            changes[section.id] = "missing"
        else:
            changes[section.id] = "same" if digests.get(section.id) == section.digest else "changed"
    return changes


def page_change(changes: dict[str, str]) -> str | None:
    """What the page as a whole is in another edition: ``same``, ``changed``, ``missing`` (None: no sections)."""
    if not changes:
        return None
    kinds = set(changes.values())
    if kinds == {"same"}:
        return "same"
    return "missing" if kinds == {"missing"} else "changed"


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
    data = editions_domain(app.env).editions
    if not data:
        return None
    current = app.config.version
    page_url = app.builder.get_target_uri(pagename)
    ids = _page_ids(app.env, pagename)
    commentable = sections_domain(app.env).commentable(pagename)
    entries = []
    for edition in data["editions"]:
        target, sections = _target(edition, page_url, ids)
        changes = section_changes(edition, commentable)
        entries.append({
            "version": edition["version"],
            "title": edition.get("title", ""),
            "date": edition.get("date", ""),
            "href": edition["path"] + target,
            "sections": {sid: edition["path"] + url for sid, url in sections.items()},
            "current": edition["version"] == current,
            "whats_new": whats_new_href(data, edition),
            "change": page_change(changes),
            "changes_json": json.dumps(changes, sort_keys=True),
        })
    latest = next((e for e in entries if e["version"] == data.get("latest")), None)
    this = next((e for e in entries if e["current"]), None)
    pdf = None
    if this is not None:
        pdf = next(e.get("pdf") for e in data["editions"] if e["version"] == current)
    return {"entries": entries, "latest": latest, "this": this, "pdf": pdf}


def _load(app: Sphinx) -> None:
    """Read the editions data once per build, before any document is read or written."""
    path = app.config.handbook_versions_path
    editions_domain(app.env).editions = load_editions(Path(app.confdir, path)) if path else None


def _links_digest(app: Sphinx, data: dict | None, docname: str) -> str:
    """Sums up where the switcher of a page leads."""
    digest = hashlib.sha256()
    if data:
        page_url = app.builder.get_target_uri(docname)
        ids = _page_ids(app.env, docname)
        for edition in data["editions"]:
            digests = edition.get("digests", {})
            links = [edition["version"], edition["path"], edition.get("title"), edition.get("date"),
                     _target(edition, page_url, ids), [digests.get(sid) for sid in ids]]
            digest.update(json.dumps(links, sort_keys=True).encode())
        digest.update(str(data.get("latest")).encode())
        # The notes "changed in that edition" compare with this edition's digests.
        # (The commentable sections are only chosen when writing starts: take all of the page's.)
        digest.update(json.dumps([entry[4] for entry in sections_domain(app.env).sections.get(docname, ())]).encode())
    return digest.hexdigest()


def _changed_pages(app: Sphinx, env: BuildEnvironment) -> list[str]:
    """Pages whose switcher links changed since they were last written."""
    domain = editions_domain(env)
    return domain.changed(sorted(env.found_docs), lambda docname: _links_digest(app, domain.editions, docname))


def _page_context(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    switcher = _switcher(app, pagename)
    context["handbook_"] = _
    context["handbook_editions"] = switcher
    context["handbook_old_edition"] = None
    if not switcher:
        return
    for entry in switcher["entries"]:
        entry["sections_json"] = json.dumps(entry["sections"], ensure_ascii=False, sort_keys=True)
    latest, this = switcher["latest"], switcher["this"]
    if latest is not None:
        context["pageurl"] = latest["href"]  # canonical: the newest edition
    if latest is not None and this is not None and latest is not this:
        context["handbook_old_edition"] = {
            "version": this["version"],
            "year": (this["date"] or "")[:4],
            "latest": latest["version"],
            "href": latest["href"],
            "sections_json": latest["sections_json"],
            "whats_new": latest["whats_new"],
        }


def setup_versions(app: Sphinx) -> None:
    app.add_config_value("handbook_versions_path", "", "html", types=frozenset({str}),
                         description="Ausgabendaten für den Ausgabenwechsler (schreibt make site)")
    app.add_domain(EditionsDomain)
    app.connect("builder-inited", _load)
    app.connect("env-get-updated", _changed_pages)
    app.connect("html-page-context", _page_context)
    app.add_js_file("versions.js", loading_method="defer")
