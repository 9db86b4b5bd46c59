"""Rebuilds after the comments file changed: only the pages whose comments changed are written.

Comments enter a page when it is written, so no document is read again for them.
"""

from __future__ import annotations

import gc
import json
from pathlib import Path

from .conftest import comment, page, redone, snapshot

def comments(text_two: str = "Alt", orphan: str = "Verwaist") -> list[dict]:
    return [
        comment("eins", "qualitaetskultur", text="Bleibt, wie er ist"),
        comment("zwei", "beteiligung-online", text=text_two),
        comment("weg", "gibt-es-nicht", text=orphan),
    ]


def test_a_build_without_changes_redoes_no_page(build):
    first = snapshot(build(comments=comments()))
    assert redone(first, snapshot(build())) == (set(), set())


def test_one_changed_comment_redoes_only_its_page(build):
    first = snapshot(build(comments=comments()))
    app = build(comments=comments(text_two="Neu formuliert"))
    # Not the start page either, although its toctree holds the chapter.
    assert redone(first, snapshot(app)) == (set(), {"kapitel-02/index"})
    chapter = page(app, "kapitel-02/index").get_text()
    assert "Neu formuliert" in chapter and "Alt" not in chapter.split()
    assert "Neu formuliert" in page(app, "neueste-kommentare").get_text()
    assert app.env.files_to_rebuild["kapitel-02/index"] == {"index"}, "the toctree parent was not given back"


def test_a_new_title_after_a_comment_still_reaches_the_start_page(build, handbook):
    build(comments=comments())
    build(comments=comments(text_two="Neu formuliert"))
    source = Path(handbook, "kapitel-02", "index.md")
    source.write_text(source.read_text(encoding="utf-8").replace("## Beteiligung", "## Mitwirkung"), "utf-8")
    app = build()
    assert "Mitwirkung" in page(app, "index").select_one("div.toctree-wrapper").get_text()


def test_a_new_comment_and_a_removed_one_redo_their_pages(build):
    first = snapshot(build(comments=comments()))
    app = build(comments=[*comments()[1:], comment("drei", "beteiligung", text="Neu dazu")])
    assert redone(first, snapshot(app)) == (set(), {"kapitel-01/index", "kapitel-02/index"})
    assert "Bleibt, wie er ist" not in page(app, "kapitel-01/index").get_text()
    assert "Neu dazu" in page(app, "kapitel-02/index").get_text()


def test_a_changed_comment_on_a_missing_section_redoes_no_page(build):
    first = snapshot(build(comments=comments()))
    assert redone(first, snapshot(build(comments=comments(orphan="Anders verwaist")))) == (set(), set())


def test_a_changed_chapter_is_read_and_written_with_its_comments(build, handbook):
    first = snapshot(build(comments=comments()))
    with Path(handbook, "kapitel-02", "index.md").open("a", encoding="utf-8") as source:
        source.write("\nEin neuer Absatz.\n")
    app = build(comments=comments(text_two="Zugleich geändert"))
    assert redone(first, snapshot(app)) == ({"kapitel-02/index"}, {"kapitel-02/index", "index"})
    chapter = page(app, "kapitel-02/index").get_text()
    assert "Ein neuer Absatz." in chapter and "Zugleich geändert" in chapter


def consent_link(app, name: str = "kapitel-01/index") -> str | None:
    link = page(app, name).select_one('label[for$="-consent"] a')
    return link["href"] if link else None


def test_adding_the_privacy_page_writes_every_form_again(build, handbook):
    privacy, index = Path(handbook, "datenschutz.md"), Path(handbook, "index.md")
    privacy_text, index_text = privacy.read_text(encoding="utf-8"), index.read_text(encoding="utf-8")
    privacy.unlink()
    index.write_text(index_text.replace("datenschutz\n", ""), encoding="utf-8")
    assert consent_link(build()) is None
    privacy.write_text(privacy_text, encoding="utf-8")
    index.write_text(index_text, encoding="utf-8")
    app = build()
    assert consent_link(app) == "../datenschutz.html"
    assert consent_link(app, "kapitel-02/index") == "../datenschutz.html"


def test_removing_the_comments_file_redoes_the_pages_that_had_comments(build, handbook):
    first = snapshot(build(comments=comments()))
    Path(handbook, "var", "feedback", "comments.json").unlink()
    app = build()
    assert redone(first, snapshot(app)) == (set(), {"kapitel-01/index", "kapitel-02/index"})
    assert page(app, "kapitel-01/index").select("ol.fb-comments") == []


# -- the search index ----------------------------------------------------------------

GLOSSARY = """
```{glossary}
Onlinezugangsgesetz
  Verpflichtet Bund und Länder, ihre Leistungen auch online anzubieten.

Registermodernisierung
  Verbindet die Register der Verwaltung.
```
"""


def search_index(app) -> dict:
    text = Path(app.outdir, "searchindex.js").read_text(encoding="utf-8")
    return json.loads(text[text.index("(") + 1:text.rindex(")")])


def test_a_rebuild_for_one_comment_keeps_the_glossary_in_the_search(build, handbook):
    """Sphinx gathers a page's index entries only while writing it (Sphinx issue 12599)."""
    with Path(handbook, "glossar.md").open("a", encoding="utf-8") as glossary:
        glossary.write(GLOSSARY)
    build(comments=comments())
    incremental = build(comments=comments(text_two="Neu formuliert"))
    assert not Path(incremental.outdir, "glossar.html").stat().st_mtime_ns > Path(
        incremental.outdir, "kapitel-02", "index.html").stat().st_mtime_ns, "the glossary was written again"
    written = Path(incremental.outdir, "searchindex.js").read_bytes()
    assert {"onlinezugangsgesetz", "registermodernisierung"} <= search_index(incremental)["indexentries"].keys()
    # Byte for byte what a build from scratch writes.
    assert written == Path(build(freshenv=True).outdir, "searchindex.js").read_bytes()


def test_a_removed_page_takes_its_index_entries_along(build, handbook):
    with Path(handbook, "glossar.md").open("a", encoding="utf-8") as glossary:
        glossary.write(GLOSSARY)
    build(comments=comments())
    index = Path(handbook, "index.md")
    index.write_text(index.read_text(encoding="utf-8").replace("glossar\n", ""), encoding="utf-8")
    Path(handbook, "glossar.md").unlink()
    entries = search_index(build())["indexentries"]
    assert "onlinezugangsgesetz" not in entries


def test_a_rebuild_keeps_the_loaded_environment_out_of_full_collections_while_it_writes(build, make_app, handbook):
    build(comments=comments())
    app = make_app("html", srcdir=handbook)
    frozen: list[int] = []
    app.connect("write-started", lambda app, builder: frozen.append(gc.get_freeze_count()))
    app.build()
    assert frozen and frozen[0] > 0, "the environment was left to every full collection"
    # Given back once the build is done: a process that builds again frees it as before.
    assert gc.get_freeze_count() == 0
    assert app.env.found_docs, "the environment was not loaded"
