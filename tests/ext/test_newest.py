"""The "Neueste Kommentare" page and the link to it on every page."""

from __future__ import annotations

from .conftest import comment, page

COMMENTS = [
    comment("alt", "beteiligung", text="Der älteste", created="2026-01-10T09:00:00Z"),
    comment("mitte", "qualitaet-vertiefen", text="Der mittlere", created="2026-06-10T09:00:00Z", version="1.0"),
    comment("neu", "abschnitt-ohne-label", text="Der neueste https://example.org", created="2026-11-10T09:00:00Z"),
    comment("verwaist", "gibt-es-nicht", text="Ohne Abschnitt", created="2026-12-10T09:00:00Z"),
]


def entries(app) -> list[tuple[str, str, str]]:
    soup = page(app, "neueste-kommentare")
    return [
        (item.select_one(".fb-text").get_text().strip(), item.select_one(".fb-goto").get_text(" ", strip=True),
         item.select_one(".fb-goto a")["href"])
        for item in soup.select("ol.fb-newest > li")
    ]


def test_newest_comments_come_first_and_link_to_their_section(build):
    app = build(comments=COMMENTS)
    assert entries(app) == [
        ("Der neueste https://example.org", "Zum Abschnitt: 1.2 Abschnitt ohne Label",
         "kapitel-01/index.html#abschnitt-ohne-label"),
        ("Der mittlere", "Zum Abschnitt: 1.1.1 Qualität vertiefen", "kapitel-01/index.html#qualitaet-vertiefen"),
        ("Der älteste", "Zum Abschnitt: 2.1 Beteiligung", "kapitel-02/index.html#beteiligung"),
    ]
    soup = page(app, "neueste-kommentare")
    assert soup.title.get_text().startswith("Neueste Kommentare")
    assert soup.h1.get_text() == "Neueste Kommentare"
    newest = soup.select_one("ol.fb-newest > li")
    assert newest.select_one(".fb-text a")["rel"] == ["nofollow", "ugc", "noopener"]
    assert newest.select_one(".fb-meta time").get_text() == "10. November 2026, 10:00 Uhr"
    assert soup.select("ol.fb-newest > li")[1].select_one(".fb-edition").get_text() == "geschrieben zur Ausgabe 1.0"
    for _text, _label, href in entries(app):
        path, fragment = href.split("#")
        assert page(app, path.removesuffix(".html")).find("section", id=fragment) is not None


def test_newest_page_shows_as_many_as_configured(build):
    app = build(comments=COMMENTS, confoverrides={"feedback_newest_count": 2})
    assert [text for text, _label, _href in entries(app)] == ["Der neueste https://example.org", "Der mittlere"]


def test_newest_page_without_comments_says_so(build):
    soup = page(build(), "neueste-kommentare")
    assert soup.select("ol.fb-newest") == []
    assert "Noch keine Kommentare." in soup.article.get_text()


def test_every_page_links_to_the_newest_comments(build):
    app = build()
    for name, href in [("index", "neueste-kommentare.html"), ("kapitel-01/index", "../neueste-kommentare.html"),
                       ("glossar", "neueste-kommentare.html"), ("neueste-kommentare", "#")]:
        link = page(app, name).select_one(".sidebar-drawer .fb-sidebar a")
        assert link is not None, name
        assert (link["href"], link.get_text()) == (href, "Neueste Kommentare"), name
    assert page(app, "neueste-kommentare").select_one(".fb-sidebar a")["aria-current"] == "page"
    # Inside the sidebar's scrolling part, after the navigation.
    sidebar = page(app, "index").select_one(".sidebar-scroll")
    assert sidebar.select_one(".sidebar-tree") is not None and sidebar.select_one(".fb-sidebar") is not None
