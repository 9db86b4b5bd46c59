"""The readers' side of the pages: digests, replies, editors' answers, "changed since", "Was ist neu",
the Atom feed, "War diese Seite hilfreich?", German theme labels, the PDF's discussion addresses."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import feedparser
from bs4 import BeautifulSoup
from feedback_formats.submission import MAX_REASON, SUBMISSION_FIELDS
from handbook_editions.publish import return_to_latest
from pypdf import PdfReader

from sphinx_handbook.i18n import LOCALE_DIR
from sphinx_handbook.rating import FREE_TEXT_LENGTH, REASONS

from .conftest import box, comment, page


def manifest(app) -> dict:
    return json.loads(Path(app.outdir, "_feedback", "sections.json").read_text(encoding="utf-8"))


def digests(app) -> dict[str, str]:
    return {section["id"]: section["digest"] for section in manifest(app)["sections"]}


# -- digests ---------------------------------------------------------------------


def test_digests_survive_rebuilds_and_renumbering_and_change_with_the_text(build, handbook):
    first = digests(build())
    assert digests(build(freshenv=True)) == first
    index = Path(handbook, "index.md")
    source = index.read_text(encoding="utf-8")
    # A new first chapter renumbers every section (1.1 becomes 2.1) ...
    Path(handbook, "kapitel-00").mkdir()
    Path(handbook, "kapitel-00", "index.md").write_text("# Vorwort\n\n## Zum Geleit\n\nNeu.\n", encoding="utf-8")
    index.write_text(source.replace("kapitel-01/index", "kapitel-00/index\nkapitel-01/index"), encoding="utf-8")
    app = build()
    assert {s["id"]: s["number"] for s in manifest(app)["sections"]}["qualitaetskultur"] == "2.1"
    renumbered = digests(app)
    assert {key: renumbered[key] for key in first} == first
    # ... rewrapping a paragraph changes no text, a changed word does.
    chapter = Path(handbook, "kapitel-02", "index.md")
    chapter.write_text(chapter.read_text(encoding="utf-8").replace("Text von 2.1.\n", "Text\nvon   2.1.\n"),
                       encoding="utf-8")
    assert digests(build()) == renumbered
    chapter.write_text(chapter.read_text(encoding="utf-8").replace("Text\nvon   2.1.\n", "Text von 2.1, neu.\n"),
                       encoding="utf-8")
    changed = digests(build())
    assert changed["beteiligung"] != renumbered["beteiligung"]
    # Only the section's own text counts: its subsection and its neighbours keep theirs.
    assert {key: value for key, value in changed.items() if key != "beteiligung"} == {
        key: value for key, value in renumbered.items() if key != "beteiligung"}


def test_a_section_title_is_part_of_its_digest(build, handbook):
    before = digests(build())
    chapter = Path(handbook, "kapitel-02", "index.md")
    chapter.write_text(chapter.read_text(encoding="utf-8").replace("## Beteiligung", "## Beteiligung vor Ort"),
                       encoding="utf-8")
    assert digests(build())["beteiligung"] != before["beteiligung"]


# -- replies and editorial answers -----------------------------------------------


THREAD = [
    comment("c1", "beteiligung", author="Redaktion", text="Ich heiße nur so."),
    comment("c2", "beteiligung", author="Redaktion Kochbuch E-Government", text="Danke, wir ergänzen das.",
            reply_to="c1", role="editors", created="2026-11-21T09:00:00Z"),
    comment("c3", "beteiligung", author="\u202eneslaM", text="Und die Antwort darauf.", reply_to="c2",
            created="2026-11-22T09:00:00Z"),
]


def test_every_comment_has_a_reply_form_with_the_boxs_fields(build):
    region = box(page(build(comments=THREAD), "kapitel-02/index"), "beteiligung")
    section_form = region.select_one("details.fb-box form.fb-form")
    replies = region.select("article.fb-comment > details.fb-reply")
    assert len(replies) == 3
    for reply, answered in zip(replies, ("c1", "c2", "c3")):
        assert reply.summary.get_text().startswith("Antworten")
        form = reply.select_one("form.fb-form")
        assert form["method"] == "post" and form["action"] == section_form["action"]
        assert form.select_one('input[name="reply_to"]')["value"] == answered
        assert form.select_one('input[name="kind"]')["value"] == "comment"
        # The same fields, labels and limits as the section's own form (kind: only a public comment).
        visible = {f.name for f in SUBMISSION_FIELDS if f.control in ("textarea", "text", "email", "checkbox")}
        for name in visible:
            mine, theirs = form.select_one(f'[name="{name}"]'), section_form.select_one(f'[name="{name}"]')
            assert mine.get("maxlength") == theirs.get("maxlength"), name
            assert form.find("label", attrs={"for": mine["id"]}).get_text() == \
                section_form.find("label", attrs={"for": theirs["id"]}).get_text()
        for name in ("section", "version", "return_to"):
            assert form.select_one(f'input[name="{name}"]')["value"] == \
                section_form.select_one(f'input[name="{name}"]')["value"]
    # Every id on the page is unique.
    ids = [element["id"] for element in region.find_all(id=True)]
    assert len(ids) == len(set(ids))
    # The thread stays one level deep: the reply to the answer sits beside it.
    assert [li.article["id"] for li in region.select("ol.fb-replies > li")] == ["c-c2", "c-c3"]


def test_editorial_answers_are_labelled_and_a_reader_called_redaktion_is_not(build):
    region = box(page(build(comments=THREAD), "kapitel-02/index"), "beteiligung")
    reader, editors, other = region.select("article.fb-comment")
    assert "fb-editors" in editors["class"]
    label = editors.select_one(".fb-badge")
    assert label.get_text() == "Antwort der Redaktion"
    assert editors["aria-labelledby"] == label["id"]
    for article in (reader, other):
        assert "fb-editors" not in article["class"] and not article.has_attr("aria-labelledby")
        assert article.select_one(".fb-badge") is None
        assert "Antwort der Redaktion" not in article.select_one(".fb-meta").get_text()
    # Names are isolated, so a right-to-left override cannot run into the date.
    assert reader.select_one(".fb-author > bdi").get_text() == "Redaktion"
    assert other.select_one(".fb-author > bdi").get_text() == "\u202eneslaM"


# -- editions: changed since, switcher, Was ist neu --------------------------------


def editions(handbook: Path, current: dict, older: dict) -> Path:
    """An editions data file as ``make site`` writes it: 2.0 (this build's manifest) and ``older`` (1.0)."""

    def edition(version: str, date: str, sections: list[dict]) -> dict:
        return {
            "version": version, "title": f"Ausgabe {version}", "date": date, "path": f"/{version}/",
            "pdf": "kochbuch.pdf", "pages": sorted({s["url"].split("#")[0] for s in sections}),
            "sections": {s["id"]: s["url"] for s in sections},
            "digests": {s["id"]: s["digest"] for s in sections},
            "titles": {s["id"]: f"{s['number']} {s['title']}" for s in sections},
        }

    path = Path(handbook, "editions.json")
    path.write_text(json.dumps({"latest": "2.0", "editions": [
        edition("2.0", "2026-11-21", current["sections"]),
        edition("1.0", "2016-11-30", older["sections"]),
    ]}), encoding="utf-8")
    return path


def older_edition(current: dict) -> dict:
    """1.0: chapter 1 as today, 2.1 worded differently, 2.1.1 missing, and a section 2.2 dropped since."""
    sections = []
    for section in current["sections"]:
        if section["id"] == "beteiligung-online":
            continue
        if section["id"] == "beteiligung":
            section = {**section, "digest": "0" * 64, "url": "kapitel-02.html#beteiligung"}
        sections.append(section)
    sections.append({"id": "verwaltungsreform", "number": "2.2", "title": "Verwaltungsreform",
                     "doc": "kapitel-02", "url": "kapitel-02.html#verwaltungsreform", "digest": "1" * 64})
    return {"version": "1.0", "sections": sections}


# The test handbook's sidebar, with the editions switcher as the real handbook has it.
SIDEBARS = {"**": ["sidebar/brand.html", "handbook-versions.html", "sidebar/navigation.html"]}


def build_with_editions(build, handbook, **kwargs):
    current = manifest(build())
    path = editions(handbook, current, older_edition(current))
    return build(confoverrides={"handbook_versions_path": str(path), "html_sidebars": SIDEBARS}, **kwargs)


def test_a_comment_from_an_older_edition_says_when_its_section_changed(build, handbook):
    app = build_with_editions(build, handbook, comments=[
        comment("c1", "beteiligung", version="1.0"),
        comment("c2", "qualitaetskultur", version="1.0"),
        comment("c3", "beteiligung"),
    ])
    changed = box(page(app, "kapitel-02/index"), "beteiligung").select_one("#c-c1 .fb-edition")
    assert changed.get_text(" ", strip=True).startswith(
        "Geschrieben zu Ausgabe 1.0 – der Abschnitt wurde seitdem überarbeitet.")
    assert changed.a["href"] == "/1.0/kapitel-02.html#beteiligung"
    assert changed.a.get_text() == "Der Abschnitt in Ausgabe 1.0"
    same = box(page(app, "kapitel-01/index"), "qualitaetskultur").select_one("#c-c2 .fb-edition")
    assert same.get_text() == "geschrieben zur Ausgabe 1.0" and same.a is None
    assert box(page(app, "kapitel-02/index"), "beteiligung").select_one("#c-c3 .fb-edition") is None


def test_whats_new_lists_added_revised_and_removed_sections(build, handbook):
    app = build_with_editions(build, handbook)
    soup = page(app, "was-ist-neu")
    assert soup.h1.get_text() == "Was ist neu in Ausgabe 2.0?"

    def listed(key):
        links = soup.select(f"section[aria-labelledby=whats-new-{key}] li > a:first-child")
        return [(link.get_text(), link["href"]) for link in links]

    assert listed("added") == [("2.1.1 Online beteiligen", "kapitel-02/index.html#beteiligung-online")]
    assert listed("revised") == [("2.1 Beteiligung", "kapitel-02/index.html#beteiligung")]
    revised = soup.select_one("section[aria-labelledby=whats-new-revised] li")
    assert revised.select("a")[1]["href"] == "/1.0/kapitel-02.html#beteiligung"
    assert listed("removed") == [("2.2 Verwaltungsreform", "/1.0/kapitel-02.html#verwaltungsreform")]


def test_the_switcher_says_whether_the_page_changed_and_links_whats_new(build, handbook):
    app = build_with_editions(build, handbook)
    chapter_one, chapter_two = page(app, "kapitel-01/index"), page(app, "kapitel-02/index")
    for soup, expected in ((chapter_one, "Seite dort unverändert"), (chapter_two, "Seite dort überarbeitet")):
        note = soup.select_one("nav.handbook-editions .handbook-change")
        assert note.get_text(strip=True) == expected
    changes = json.loads(chapter_two.select_one(".handbook-change")["data-handbook-changes"])
    assert changes == {"beteiligung": "changed", "beteiligung-online": "missing"}
    whats_new = [a["href"] for a in chapter_one.select("nav.handbook-editions a.handbook-whatsnew")]
    assert whats_new == ["/2.0/was-ist-neu.html"]  # the first edition has none


def test_the_first_edition_has_no_whats_new_and_its_banner_links_the_newest(build, handbook):
    current = manifest(build())
    path = editions(handbook, current, older_edition(current))
    app = build(confoverrides={"handbook_versions_path": str(path), "version": "1.0"})
    assert not Path(app.outdir, "was-ist-neu.html").exists()
    banner = page(app, "kapitel-01/index").select_one("aside.handbook-old-edition")
    assert [a["href"] for a in banner.select("a")][-1] == "/2.0/was-ist-neu.html"
    assert banner.select("a")[-1].get_text() == "Was ist neu in 2.0?"


def test_without_editions_data_there_is_no_whats_new(build):
    assert not Path(build().outdir, "was-ist-neu.html").exists()


def test_an_edition_that_becomes_the_first_loses_its_whats_new(build, handbook):
    app = build_with_editions(build, handbook)
    assert Path(app.outdir, "was-ist-neu.html").is_file()
    data = json.loads(Path(handbook, "editions.json").read_text(encoding="utf-8"))
    data["editions"] = data["editions"][:1]
    Path(handbook, "editions.json").write_text(json.dumps(data), encoding="utf-8")
    app = build(confoverrides={"handbook_versions_path": str(Path(handbook, "editions.json"))})
    assert not Path(app.outdir, "was-ist-neu.html").exists()


# -- Atom feed ---------------------------------------------------------------------


FEED_COMMENTS = [
    comment("c1", "qualitaetskultur", text='<script>alert("x")</script> & Absatz\n\nZwei', author="Eve <b>"),
    comment("c2", "beteiligung", author="Redaktion Kochbuch", role="editors", reply_to=None,
            created="2026-11-22T08:00:00Z"),
    comment("c3", "gibt-es-nicht", created="2026-11-23T08:00:00Z"),
]


def test_the_atom_feed_is_read_by_a_feed_reader(build):
    app = build(comments=FEED_COMMENTS)
    feed = feedparser.parse(Path(app.outdir, "neueste-kommentare.atom").read_bytes())
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert feed.feed.title.startswith("Neueste Kommentare")
    assert feed.feed.updated == "2026-11-22T08:00:00Z"
    first, second = feed.entries  # newest first; the unknown section is left out
    assert first.title == "Antwort der Redaktion zu 2.1 Beteiligung"
    assert first.author == "Redaktion Kochbuch"
    assert first.link == "kapitel-02/index.html#c-c2"
    assert second.title == "Eve <b> zu 1.1 Qualitätskultur entwickeln"
    assert second.updated == "2026-11-20T09:30:00Z"
    assert second.content[0].type == "text/plain"
    assert second.content[0].value == '<script>alert("x")</script> & Absatz\n\nZwei'
    related = [link for link in second.links if link.rel == "related"]
    assert related[0].href == "kapitel-01/index.html#qualitaetskultur"
    assert related[0].title == "1.1 Qualitätskultur entwickeln"
    ids = [entry.id for entry in feed.entries]
    assert all(re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", entry_id) for entry_id in ids)
    # Stable: the same ids after another build with one more comment.
    again = feedparser.parse(Path(build(comments=[*FEED_COMMENTS, comment("c4", "beteiligung",
                                                                          created="2026-11-24T08:00:00Z")]).outdir,
                                  "neueste-kommentare.atom").read_bytes())
    assert [entry.id for entry in again.entries][1:] == ids


def test_the_feed_links_absolutely_with_a_public_url_and_every_page_links_the_feed(build):
    app = build(comments=FEED_COMMENTS, confoverrides={
        "handbook_public_url": "https://kochbuch.example.org/", "feedback_site_path": "/2.0/"})
    feed = feedparser.parse(Path(app.outdir, "neueste-kommentare.atom").read_bytes())
    assert feed.entries[0].link == "https://kochbuch.example.org/2.0/kapitel-02/index.html#c-c2"
    assert [link.href for link in feed.feed.links if link.rel == "self"] == [
        "https://kochbuch.example.org/2.0/neueste-kommentare.atom"]
    for name, href in (("index", "neueste-kommentare.atom"), ("kapitel-01/index", "../neueste-kommentare.atom"),
                       ("neueste-kommentare", "neueste-kommentare.atom")):
        links = page(app, name).select('head link[rel="alternate"][type="application/atom+xml"]')
        assert [link["href"] for link in links] == [href], name


# -- "War diese Seite hilfreich?" ---------------------------------------------------


def test_pages_with_comment_boxes_end_with_the_rating_form(build):
    app = build(confoverrides={"feedback_site_path": "/2.0/"})
    soup = page(app, "kapitel-02/index")
    rating = soup.select_one("article section#fb-rating")
    assert rating.h2.get_text() == "War diese Seite hilfreich?"
    form = rating.select_one("form.fb-rating-form")
    assert form["method"] == "post" and form["action"] == "/api/v1/ratings"
    assert [(i["value"], rating.find("label", attrs={"for": i["id"]}).get_text())
            for i in form.select('input[name="helpful"]')] == [("yes", "Ja"), ("no", "Nein")]
    assert [i["value"] for i in form.select('input[type="radio"][name="reason"]')] == list(REASONS)
    text = form.select_one('textarea[name="reason"]')
    assert int(text["maxlength"]) == FREE_TEXT_LENGTH
    assert FREE_TEXT_LENGTH + 2 + max(map(len, REASONS)) == MAX_REASON
    assert rating.find("label", attrs={"for": text["id"]}) is not None
    hidden = {i["name"]: i["value"] for i in form.select('input[type="hidden"]')}
    assert hidden == {"doc": "kapitel-02/index", "version": "2.0", "return_to": "/2.0/kapitel-02/index.html#fb-rating"}
    assert rating.select_one("#fb-rating-ok").get_text().startswith("Danke")
    # It follows the page's text, after the last comment box.
    assert soup.select("article div.fb")[-1].find_next("section", id="fb-rating") is rating
    for name in ("index", "glossar", "neueste-kommentare"):
        assert page(app, name).select_one("#fb-rating") is None, name


# -- the theme in German, and the latest/ copy ---------------------------------------------


def test_furo_speaks_german_with_the_handbooks_catalogue(build):
    app = build(confoverrides={"locale_dirs": [str(LOCALE_DIR)], "gettext_compact": False})
    html = Path(app.outdir, "kapitel-01", "index.html").read_text(encoding="utf-8")
    for english in ("Skip to content", "Toggle site navigation sidebar", "Toggle table of contents sidebar",
                    "Toggle Light / Dark / Auto color theme", "Light mode", "Dark mode", "Auto light/dark",
                    "Made with", "pradyunsg</a>'s", "Back to top"):
        assert english not in html, english
    soup = page(app, "kapitel-01/index")
    assert soup.select_one("a.skip-to-content").get_text(strip=True) == "Zum Inhalt springen"
    assert soup.select_one("#__navigation")["aria-label"] == "Navigation ein- oder ausblenden"
    assert "Erstellt mit" in soup.select_one(".bottom-of-page").get_text(" ", strip=True)


def test_forms_under_latest_come_back_to_latest(build, tmp_path):
    app = build(confoverrides={"feedback_site_path": "/2.0/"}, comments=[comment("c1", "beteiligung")])
    latest = tmp_path / "latest"
    shutil.copytree(app.outdir, latest)
    return_to_latest(latest, "2.0")
    soup = BeautifulSoup((latest / "kapitel-02" / "index.html").read_text(encoding="utf-8"), "html.parser")
    values = [field["value"] for field in soup.select('input[name="return_to"]')]
    assert len(values) == 4  # two boxes, one reply, the rating
    assert all(value.startswith("/latest/kapitel-02/index.html#") for value in values)
    # What the forms report as their edition, and the links elsewhere, stay the edition's.
    assert {field["value"] for field in soup.select('input[name="version"]')} == {"2.0"}


# -- the PDF ---------------------------------------------------------------------------


def test_the_pdf_names_where_the_handbook_and_each_chapter_are_discussed(build):
    app = build("pdf", confoverrides={"handbook_public_url": "https://kochbuch.example.org"})
    [pdf] = Path(app.outdir).glob("*.pdf")
    pages = [" ".join(page.extract_text().split()) for page in PdfReader(pdf).pages]
    assert "online diskutiert" in pages[0] and "https://kochbuch.example.org/2.0/" in pages[0]
    assert "Inhalt" not in pages[0], "the title page runs into the contents"
    text = " ".join(pages)
    for chapter in ("kapitel-01/index", "kapitel-02/index"):
        assert f"Diskussion zu diesem Kapitel: https://kochbuch.example.org/2.0/{chapter}.html" in text


def test_without_a_public_url_the_pdf_names_no_address(build):
    app = build("pdf")
    [pdf] = Path(app.outdir).glob("*.pdf")
    text = " ".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "diskutiert" not in text and "Diskussion zu diesem Kapitel" not in text
    assert "Eigener Text von 1.1." in text
