"""Approved comments on the pages: rendered as plain text, threaded, dated, never interpreted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from sphinx_handbook.comments import CommentsFileError, render_text

from .conftest import box, comment, page, write_comments

# Everything a comment may produce; anything else came from its text.
SAFE_TAGS = {"ol", "li", "article", "p", "span", "time", "div", "br", "a", "bdi"}
HOSTILE = [
    "<script>alert('text')</script>",
    '"><img src=x onerror=alert(1)>',
    "</p></div></article><script>alert(2)</script>",
    "javascript:alert(3)",
    "[Klick](javascript:alert(4)) und <a href=\"javascript:alert(5)\">hier</a>",
    'https://example.org/"onmouseover="alert(6)',
    "**fett** _kursiv_ `code` {ref}`kapitel-eins` &amp; &lt;b&gt;",
    "<!-- Kommentar --><style>*{display:none}</style>",
]


def rendered(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def test_hostile_comments_render_as_the_text_that_was_written(build):
    hostile = [
        comment(f"h{number}", "qualitaetskultur", text=text, author='<b onmouseover="alert(7)">Eve</b>')
        for number, text in enumerate(HOSTILE)
    ]
    soup = page(build(comments=hostile), "kapitel-01/index")
    region = box(soup, "qualitaetskultur")
    listing = region.select_one("ol.fb-comments")
    # The "Antworten" forms come from the form template, not from a comment: they name the author as text.
    replies = listing.select("details.fb-reply")
    assert len(replies) == len(HOSTILE)
    for reply in replies:
        assert reply.summary.get_text() == 'Antworten auf den Beitrag von <b onmouseover="alert(7)">Eve</b>'
        reply.decompose()
    assert {element.name for element in listing.find_all(True)} <= SAFE_TAGS
    for element in listing.find_all(True):
        assert not [name for name in element.attrs if name.startswith("on") or name in ("style", "src")], element
    for link in listing.find_all("a"):
        assert link["href"].startswith("https://") and link["rel"] == ["nofollow", "ugc", "noopener"]
    texts = [article.select_one(".fb-text").get_text() for article in listing.select("article")]
    assert [text.strip() for text in texts] == HOSTILE
    assert {author.get_text() for author in listing.select(".fb-author")} == {'<b onmouseover="alert(7)">Eve</b>'}


@pytest.mark.parametrize(("text", "html"), [
    ("Absatz 1\nZeile 2\n\nAbsatz 2", "<p>Absatz 1<br>\nZeile 2</p>\n<p>Absatz 2</p>\n"),
    ("  eins \r\n \r\n\n\n zwei  ", "<p>eins</p>\n<p>zwei</p>\n"),
    ("Siehe https://example.org/a?b=1&c=2.",
     '<p>Siehe <a href="https://example.org/a?b=1&amp;c=2" rel="nofollow ugc noopener">'
     "https://example.org/a?b=1&amp;c=2</a>.</p>\n"),
    ("(https://de.wikipedia.org/wiki/Rezept_(Kochen))",
     '<p>(<a href="https://de.wikipedia.org/wiki/Rezept_(Kochen)" rel="nofollow ugc noopener">'
     "https://de.wikipedia.org/wiki/Rezept_(Kochen)</a>)</p>\n"),
    ("http://example.org", '<p><a href="http://example.org" rel="nofollow ugc noopener">http://example.org</a></p>\n'),
    ("ftp://example.org mailto:a@b.de www.example.org https://", "<p>ftp://example.org mailto:a@b.de "
                                                                "www.example.org https://</p>\n"),
    ("javascript:https://x", '<p>javascript:<a href="https://x" rel="nofollow ugc noopener">https://x</a></p>\n'),
    ("Null\x00Bell\x07Tab\tEnde", "<p>NullBellTab\tEnde</p>\n"),
    ("", ""),
])
def test_text_is_escaped_with_paragraphs_breaks_and_links_only(text, html):
    assert render_text(text) == html


def test_replies_are_nested_one_level(build):
    app = build(comments=[
        comment("a", "beteiligung", text="Frage", created="2026-11-20T09:00:00Z"),
        comment("b", "beteiligung", text="Antwort", created="2026-11-20T10:00:00Z", reply_to="a"),
        comment("c", "beteiligung", text="Antwort auf Antwort", created="2026-11-20T11:00:00Z", reply_to="b"),
        comment("d", "beteiligung", text="Zweiter Strang", created="2026-11-20T12:00:00Z"),
        comment("e", "beteiligung", text="Antwort von anderswo", created="2026-11-20T13:00:00Z",
                reply_to="x-in-another-section"),
        comment("x-in-another-section", "beteiligung-online", text="Anderswo"),
    ])
    listing = box(page(app, "kapitel-02/index"), "beteiligung").select_one("ol.fb-comments")
    threads = []
    for item in listing.find_all("li", recursive=False):
        replies = item.select_one("ol.fb-replies")
        threads.append((
            item.article.select_one(".fb-text").get_text(strip=True),
            [reply.select_one(".fb-text").get_text(strip=True) for reply in replies.select("article")]
            if replies else [],
        ))
        if replies:
            assert replies.select("ol") == [], "replies nest one level only"
    assert threads == [
        ("Frage", ["Antwort", "Antwort auf Antwort"]),
        ("Zweiter Strang", []),
        ("Antwort von anderswo", []),
    ]


def test_replies_that_form_a_loop_are_still_shown(build):
    app = build(comments=[
        comment("a", "beteiligung", text="Eins", reply_to="b"),
        comment("b", "beteiligung", text="Zwei", reply_to="a"),
    ])
    texts = [article.get_text() for article in box(page(app, "kapitel-02/index"), "beteiligung").select("article")]
    assert len(texts) == 2


def test_author_date_and_other_edition_are_shown(build):
    app = build(comments=[
        comment("winter", "qualitaetskultur", author="Kämmerei Musterstadt", version="1.0",
                created="2026-11-20T09:30:00Z"),
        comment("summer", "qualitaetskultur", author="   ", version="2.0", created="2026-07-01T08:05:00+00:00"),
        comment("null", "qualitaetskultur", author=None, created="2026-12-24T23:30:00Z"),
    ])
    articles = box(page(app, "kapitel-01/index"), "qualitaetskultur").select("article")
    shown = [
        (a.select_one(".fb-author").get_text(), a.time.get_text(), a.time["datetime"],
         a.select_one(".fb-edition").get_text() if a.select_one(".fb-edition") else None)
        for a in articles
    ]
    assert shown == [
        ("Anonym", "1. Juli 2026, 10:05 Uhr", "2026-07-01T08:05:00Z", None),
        ("Kämmerei Musterstadt", "20. November 2026, 10:30 Uhr", "2026-11-20T09:30:00Z",
         "geschrieben zur Ausgabe 1.0"),
        ("Anonym", "25. Dezember 2026, 00:30 Uhr", "2026-12-24T23:30:00Z", None),
    ]


def test_comments_on_sections_this_edition_lacks_are_listed_and_skipped(build):
    app = build(comments=[
        comment("da", "beteiligung", text="Sichtbar"),
        comment("weg", "abschnitt-von-2016", text="Verwaist"),
        comment("kapitel", "kapitel-eins", text="Am Kapitel, das kein Kommentarfeld hat"),
    ])
    status = app.status.getvalue()
    assert "Kommentar weg wird nicht angezeigt" in status and "'abschnitt-von-2016'" in status
    assert "Kommentar kapitel wird nicht angezeigt" in status
    assert app.warning.getvalue() == ""
    for name in ("index", "kapitel-01/index", "kapitel-02/index", "glossar", "neueste-kommentare"):
        text = page(app, name).get_text()
        assert "Verwaist" not in text and "Am Kapitel" not in text, name
    assert "Sichtbar" in page(app, "kapitel-02/index").get_text()


def test_without_a_comments_file_there_are_no_comments(build, handbook):
    assert not Path(handbook, "var").exists()
    app = build()
    soup = page(app, "kapitel-01/index")
    assert soup.select("ol.fb-comments") == []
    assert len(soup.select("details.fb-box")) == 3
    assert app.warning.getvalue() == ""


MALFORMED = {
    "bad JSON": ('{"format": 1, "comments": [', "kein gültiges JSON (Zeile 1, Spalte 28"),
    "not UTF-8": ('{"format": 1, "comments": []}'.encode("latin-1") + b"\xff", "kein UTF-8"),
    "a list": ("[]", "erwartet wird ein JSON-Objekt"),
    "format 2": ('{"format": 2, "comments": []}', "„format“ ist 2, unterstützt wird nur 1"),
    "no format": ('{"comments": []}', "„format“ ist null"),
    "no list": ('{"format": 1, "comments": {}}', "„comments“ muss eine Liste sein"),
    "no object": ('{"format": 1, "comments": ["c1"]}', 'comments[0] ist kein JSON-Objekt, sondern "c1"'),
    "missing field": (json.dumps({"format": 1, "comments": [{k: v for k, v in comment("c1", "s").items()
                                                             if k != "created"}]}),
                      "comments[0]: das Feld „created“ fehlt"),
    "wrong type": (json.dumps({"format": 1, "comments": [comment("c1", "s", author=42)]}),
                   "comments[0].author muss Text oder null sein, nicht 42"),
    "empty section": (json.dumps({"format": 1, "comments": [comment("c1", " ")]}), "comments[0].section ist leer"),
    "bad time": (json.dumps({"format": 1, "comments": [comment("c1", "s", created="gestern")]}),
                 'comments[0].created ist kein Zeitpunkt mit Zeitzone nach ISO 8601: "gestern"'),
    "no time zone": (json.dumps({"format": 1, "comments": [comment("c1", "s", created="2026-11-20T09:30:00")]}),
                     "comments[0].created ist kein Zeitpunkt mit Zeitzone"),
    "same id twice": (json.dumps({"format": 1, "comments": [comment("c1", "s"), comment("c1", "t")]}),
                      'comments[1].id "c1" kommt mehrfach vor'),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_comments_file_stops_the_build_naming_file_and_problem(build, handbook, case):
    content, problem = MALFORMED[case]
    path = Path(handbook, "var", "feedback", "comments.json")
    path.parent.mkdir(parents=True)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    with pytest.raises(CommentsFileError) as failure:
        build()
    message = str(failure.value)
    assert message.startswith(f"Die Kommentardatei {path} ist fehlerhaft: ")
    assert problem in message
    assert not Path(handbook, "_build", "html", "kapitel-01", "index.html").exists(), "pages were written"


def test_a_broken_comments_file_keeps_the_last_pages(build, handbook):
    app = build(comments=[comment("c1", "beteiligung", text="Erster Stand")])
    chapter = Path(app.outdir, "kapitel-02", "index.html")
    before = chapter.read_bytes()
    Path(handbook, "var", "feedback", "comments.json").write_text('{"format": 1, "comments": [{"id": ', "utf-8")
    with pytest.raises(CommentsFileError):
        build()
    assert chapter.read_bytes() == before
    write_comments(handbook, [comment("c1", "beteiligung", text="Zweiter Stand")])
    assert "Zweiter Stand" in page(build(), "kapitel-02/index").get_text()
