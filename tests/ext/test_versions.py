"""The editions switcher and the banner of older editions, from the editions data `make site` writes."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import page, redone, snapshot

DATA = "editions.json"
# The switcher is a sidebar fragment the project lists, as conf.py does.
SIDEBARS = {"**": ["sidebar/brand.html", "handbook-versions.html", "sidebar/scroll-start.html",
                   "sidebar/navigation.html", "sidebar/scroll-end.html"]}
CONF = {"handbook_versions_path": DATA, "html_sidebars": SIDEBARS}


def editions(old_beteiligung: str = "alt/kapitel.html#beteiligung") -> dict:
    """Two editions: this one (2.0) and an older one with a different page layout."""
    return {
        "latest": "2.0",
        "editions": [
            {"version": "2.0", "title": "Neu", "date": "2026-11-21", "path": "/2.0/", "pdf": "handbuch.pdf",
             "sections": {"beteiligung": "kapitel-02/index.html#beteiligung",
                          "qualitaetskultur": "kapitel-01/index.html#qualitaetskultur"},
             "pages": ["index.html", "glossar.html"]},
            {"version": "1.0", "title": "Alt", "date": "2016-11-30", "path": "/1.0/", "pdf": "handbuch.pdf",
             "sections": {"beteiligung": old_beteiligung}, "pages": ["index.html"]},
        ],
    }


def write_editions(handbook: Path, data: dict) -> None:
    Path(handbook, DATA).write_text(json.dumps(data), encoding="utf-8")


def switcher(app, name: str) -> dict[str, str]:
    return {link.get_text(" ", strip=True): link["href"] for link in page(app, name).select(".handbook-editions a")}


def test_the_switcher_keeps_the_reader_on_the_section(build, handbook):
    write_editions(handbook, editions())
    app = build(confoverrides=CONF)
    assert switcher(app, "kapitel-02/index") == {
        "Ausgabe 2.0 (2026)": "/2.0/kapitel-02/index.html",
        "Ausgabe 1.0 (2016)": "/1.0/alt/kapitel.html#beteiligung",
        "Was ist neu in 2.0?": "/2.0/was-ist-neu.html",
        "PDF dieser Ausgabe herunterladen": "../handbuch.pdf",
    }
    assert switcher(app, "glossar")["Ausgabe 1.0 (2016)"] == "/1.0/index.html"
    assert page(app, "kapitel-02/index").select_one(".handbook-old-edition") is None, "2.0 is the newest"


def test_changed_editions_data_writes_only_the_pages_whose_links_changed(build, handbook):
    write_editions(handbook, editions())
    first = snapshot(build(confoverrides=CONF))
    assert redone(first, snapshot(build(confoverrides=CONF))) == (set(), set())
    write_editions(handbook, editions(old_beteiligung="kapitel-2.html#beteiligung"))
    app = build(confoverrides=CONF)
    assert redone(first, snapshot(app)) == (set(), {"kapitel-02/index"})
    assert switcher(app, "kapitel-02/index")["Ausgabe 1.0 (2016)"] == "/1.0/kapitel-2.html#beteiligung"


def test_an_older_edition_says_so_on_every_page(build, handbook):
    write_editions(handbook, editions())
    app = build(confoverrides={**CONF, "version": "1.0"})
    for name in ("kapitel-02/index", "genindex", "search"):
        banner = page(app, name).select("aside.handbook-old-edition")
        assert len(banner) == 1, name
        assert banner[0].get_text(" ", strip=True) == (
            "Sie lesen die Ausgabe 1.0 von 2016. Zur aktuellen Ausgabe 2.0 · Was ist neu in 2.0?")
    link = page(app, "kapitel-02/index").select_one("aside.handbook-old-edition a")
    assert link["href"] == "/2.0/kapitel-02/index.html"
    assert json.loads(link["data-handbook-sections"]) == {"beteiligung": "/2.0/kapitel-02/index.html#beteiligung"}


def test_the_banner_follows_the_language_of_the_edition(build, handbook):
    write_editions(handbook, editions())
    app = build(confoverrides={**CONF, "version": "1.0", "language": "en"})
    banner = page(app, "kapitel-02/index").select_one("aside.handbook-old-edition")
    assert banner.get_text(" ", strip=True) == (
        "You are reading edition 1.0 of 2016. Go to the current edition 2.0 · What's new in 2.0?")
