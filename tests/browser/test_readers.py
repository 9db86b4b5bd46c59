"""The readers' side in Chromium: replying, the editors' answers, "changed since", "Was ist neu", the
feed, "War diese Seite hilfreich?", the German theme, the banner, with and without JavaScript.

The published thread is made the way the site gets it: a reader's comment through the API, approved
and synced; the editors' answer and a comment written on 1.0 are added to the merged comments file
as the editors' workspace and an older edition's readers leave them there, and the service's sync
rebuilds the site. axe-core checks every new element, at 1280 px and at 320 px, light and dark.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timezone

import feedparser
import pytest
import requests
from feedback_formats.comments import Comment, load_comments, write_comments
from playwright.sync_api import expect

from .conftest import comments_file
from .helpers import assert_accessible, comment_box, newest_edition, sections, settle

pytestmark = pytest.mark.browser

PHONE = {"width": 320, "height": 640}


def digests(site_dir, version: str) -> dict[str, dict]:
    return {section["id"]: section for section in sections(site_dir, version)}


@pytest.fixture(scope="module")
def thread(site_dir, service) -> dict:
    """A section both editions have, worded differently in each, with a thread and an older comment.

    A reader asks, the editors answer; someone comments on 1.0; and a reader named "Redaktion" (a name
    the service refuses today, but a comments file from before may hold) comments too.
    """
    old, new = digests(site_dir, "1.0"), sections(site_dir, "2.0")
    changed = [s for s in new if s["id"] in old and old[s["id"]]["digest"] != s["digest"]]
    # Not the first or last section: other test modules use those.
    section = changed[len(changed) // 2]
    marker = uuid.uuid4().hex[:10]
    answer = requests.post(f"{service.url}/api/v1/comments", json={
        "section": section["id"], "version": "2.0", "text": f"Frage {marker}: Gilt das auch für Kreise?",
        "author": "Kreisverwaltung Musterkreis", "consent": True}, timeout=10)
    assert answer.status_code == 202, answer.text
    reader_id = answer.json()["id"]
    service.admin("POST", f"comments/{reader_id}/approve")
    service.run("sync")

    path = comments_file(site_dir)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    editors = Comment(id=f"c_editors_{marker}", section=section["id"], version="2.0",
                      author="Redaktion Kochbuch E-Government", text=f"Ja, auch für Kreise ({marker}).",
                      created=now, reply_to=reader_id, role="editors")
    older = Comment(id=f"c_old_{marker}", section=section["id"], version="1.0", author="Kämmerei Altstadt",
                    text=f"Aus der Erstausgabe ({marker}).", created=now.replace(year=2017))
    impostor = Comment(id=f"c_impostor_{marker}", section=section["id"], version="2.0", author="Redaktion",
                       text=f"Ich heiße nur so ({marker}).", created=now.replace(year=2025))
    write_comments(path, [*load_comments(path), editors, older, impostor])
    service.run("sync")
    return {"section": section, "old_url": old[section["id"]]["url"], "reader": reader_id,
            "editors": editors.id, "older": older.id, "impostor": impostor.id, "marker": marker}


def article(page, comment_id: str):
    return page.locator(f"article[id='c-{comment_id}']")


def open_page(page, thread: dict, edition: str = "latest"):
    page.goto(f"/{edition}/{thread['section']['url']}")
    expect(article(page, thread["reader"])).to_have_count(1)


# -- replies ---------------------------------------------------------------------------


def reply_form(page, comment_id: str):
    reply = article(page, comment_id).locator("details.fb-reply")
    reply.locator("summary").click()
    expect(reply).to_have_attribute("open", "")
    return reply.locator("form")


def pending_reply(service, text: str) -> dict:
    [stored] = [c for c in service.pending() if c["text"] == text]
    return stored


def test_reply_without_javascript_returns_to_latest_with_the_way_to_the_status_page(new_page, service, thread):
    page = new_page(java_script_enabled=False)
    open_page(page, thread)
    # (The editors' answer lives only in the comments file here, so the service knows no reply to it.)
    form = reply_form(page, thread["reader"])
    text = f"Antwort ohne JS {uuid.uuid4().hex[:8]}"
    form.locator("textarea[name='text']").fill(text)
    form.locator("input[name='consent']").check()
    with page.expect_navigation():
        form.locator("button[type='submit']").click()
    section = thread["section"]
    assert page.url == f"{service.url}/latest/{section['url'].split('#')[0]}#fb-ok-{section['id']}"
    confirmation = page.locator(f"[id='fb-ok-{section['id']}']")
    expect(confirmation).to_be_visible()
    own = confirmation.locator("form.fb-own")
    expect(own.get_by_role("button", name="Was wird aus meiner Nachricht?")).to_be_visible()
    assert own.get_attribute("method") == "post" and own.get_attribute("action").endswith("/rueckmeldung/status")
    assert "token" not in page.url
    assert pending_reply(service, text)["reply_to"] == thread["reader"]
    checked = new_page()
    checked.goto(page.url)
    expect(checked.locator(f"[id='fb-ok-{section['id']}']")).to_be_visible()
    assert_accessible(checked, "Bestätigung einer Antwort ohne JavaScript, mit dem Weg zur Statusseite")


def test_reply_with_javascript_fills_the_status_form_and_remembers_it_for_the_tab(page, service, thread):
    open_page(page, thread)
    form = reply_form(page, thread["reader"])
    assert_accessible(page, "geöffnetes Antwortformular")
    text = f"Antwort mit JS {uuid.uuid4().hex[:8]}"
    form.locator("textarea[name='text']").fill(text)
    form.locator("input[name='consent']").check()
    page.evaluate("window.__stillTheSamePage = true")
    form.locator("button[type='submit']").click()
    expect(form.locator(".fb-status")).to_contain_text("Danke")
    expect(page.locator("#fb-live")).to_contain_text("Danke")
    assert page.evaluate("window.__stillTheSamePage === true")
    stored = pending_reply(service, text)
    assert stored["reply_to"] == thread["reader"]
    confirmation = page.locator(f"[id='fb-ok-{thread['section']['id']}']")
    expect(confirmation).to_be_visible()
    own = confirmation.locator("form.fb-own")
    assert own.locator("input[name='id']").input_value() == stored["id"]
    token = own.locator("input[name='token']").input_value()
    assert len(token) > 10
    assert json.loads(page.evaluate("sessionStorage.getItem('fb-own')")) == {"id": stored["id"], "token": token}
    assert_accessible(page, "Bestätigung einer Antwort mit JavaScript")
    # After a reload the tab still knows its message; nothing of it is in the address.
    page.reload()
    assert page.locator("form.fb-own input[name='token']").first.input_value() == token
    assert token not in page.url


def test_one_live_region_per_page(page, thread):
    open_page(page, thread)
    expect(page.locator("[role='status']")).to_have_count(1)
    assert page.locator("form").count() > 5


# -- the editors' answers -------------------------------------------------------------


def test_the_editors_answer_is_unmistakable_and_a_reader_called_redaktion_is_not(page, thread):
    open_page(page, thread)
    answer = page.get_by_role("article", name="Antwort der Redaktion")
    expect(answer).to_have_count(1)
    expect(answer).to_have_attribute("id", f"c-{thread['editors']}")
    expect(answer.locator(".fb-badge")).to_be_visible()
    expect(answer.locator(".fb-badge")).to_have_text("Antwort der Redaktion")
    impostor = article(page, thread["impostor"])
    expect(impostor.locator(".fb-author bdi")).to_have_text("Redaktion")
    expect(impostor.locator(".fb-badge")).to_have_count(0)
    assert impostor.get_attribute("aria-labelledby") is None
    style = "e => [getComputedStyle(e).borderLeftWidth, getComputedStyle(e).backgroundColor]"
    assert answer.evaluate(style) != impostor.evaluate(style)
    reader = article(page, thread["reader"])
    # The answer sits in the reader's thread, one level deep.
    expect(reader.locator("xpath=following-sibling::ol[contains(@class,'fb-replies')]").locator(
        f"article[id='c-{thread['editors']}']")).to_have_count(1)
    answer.scroll_into_view_if_needed()
    assert_accessible(page, "Antwort der Redaktion, hell")


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["1280", "320"])
def test_thread_is_accessible_in_dark_mode(new_page, thread, viewport):
    page = new_page(color_scheme="dark", **({"viewport": viewport} if viewport else {}))
    open_page(page, thread)
    reply_form(page, thread["editors"])
    assert page.evaluate("document.body.dataset.theme") in ("auto", "dark", None)
    assert_accessible(page, f"Faden mit Antwort der Redaktion, dunkel, {viewport or '1280'}")


# -- a comment from an older edition ---------------------------------------------------


def test_a_comment_from_1_0_says_the_section_was_revised_and_links_it(page, thread):
    open_page(page, thread)
    note = article(page, thread["older"]).locator(".fb-changed")
    expect(note).to_contain_text("Geschrieben zu Ausgabe 1.0 – der Abschnitt wurde seitdem überarbeitet.")
    link = note.get_by_role("link", name="Der Abschnitt in Ausgabe 1.0")
    expect(link).to_have_attribute("href", f"/1.0/{thread['old_url']}")
    note.scroll_into_view_if_needed()
    assert_accessible(page, "Hinweis „seitdem überarbeitet“")
    with page.expect_navigation():
        link.click()
    expect(page.locator(f"[id='{thread['section']['id']}']")).to_be_visible()
    expect(page.locator("aside.handbook-old-edition")).to_be_visible()


# -- Was ist neu, the switcher, the banner ------------------------------------------------


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["1280", "320"])
def test_whats_new_lists_and_links_the_changes(new_page, site_dir, viewport):
    page = new_page(**({"viewport": viewport} if viewport else {}))
    # 2.0 against 1.0: sections were added, revised and removed there.
    page.goto("/2.0/was-ist-neu.html")
    expect(page.locator("h1")).to_have_text("Was ist neu in Ausgabe 2.0?")
    old, new = digests(site_dir, "1.0"), digests(site_dir, "2.0")
    groups = {key: page.locator(f"section[aria-labelledby='whats-new-{key}'] li")
              for key in ("added", "revised", "removed")}
    expect(groups["added"]).to_have_count(len(new.keys() - old.keys()))
    expect(groups["removed"]).to_have_count(len(old.keys() - new.keys()))
    expect(groups["revised"]).to_have_count(
        sum(1 for sid in new.keys() & old.keys() if new[sid]["digest"] != old[sid]["digest"]))
    removed = groups["removed"].first.locator("a")
    assert removed.get_attribute("href").startswith("/1.0/")
    assert_accessible(page, f"Was ist neu ({viewport or '1280'})")
    with page.expect_navigation():
        groups["added"].first.locator("a").click()
    assert "/2.0/" in page.url and "#" in page.url


def test_the_old_banner_and_the_switcher_link_whats_new_and_say_what_changed(page, thread, site_dir):
    open_page(page, thread, "1.0")
    newest = newest_edition(site_dir)
    banner = page.locator("aside.handbook-old-edition")
    expect(banner.get_by_role("link", name=f"Was ist neu in {newest}?")).to_have_attribute(
        "href", f"/{newest}/was-ist-neu.html")
    switcher = page.locator("nav.handbook-editions")
    expect(switcher.get_by_role("link", name="Was ist neu in 2.0?")).to_have_attribute(
        "href", "/2.0/was-ist-neu.html")
    # One note per newer edition; the chosen section was reworded in each.
    note = switcher.locator(".handbook-change")
    newer = len(json.loads((site_dir / "versions.json").read_text(encoding="utf-8"))["versions"]) - 1
    expect(note).to_have_count(newer)
    # With JavaScript the note speaks of the section in view: this one changed.
    page.locator(f"[id='{thread['section']['id']}']").scroll_into_view_if_needed()
    settle(page)
    page.evaluate("window.dispatchEvent(new Event('scroll'))")
    expect(note).to_have_text(["Abschnitt dort überarbeitet"] * newer)
    assert_accessible(page, "Ausgabenwechsler mit Änderungshinweis")


def test_without_javascript_the_switcher_speaks_of_the_page(new_page, thread):
    page = new_page(java_script_enabled=False)
    open_page(page, thread, "1.0")
    notes = page.locator("nav.handbook-editions .handbook-change")
    expect(notes.first).to_be_visible()
    for index in range(notes.count()):
        expect(notes.nth(index)).to_have_text(re.compile(r"^Seite dort (überarbeitet|unverändert|nicht enthalten)$"))


@pytest.mark.parametrize("width", [1280, 1000])
def test_the_old_edition_banner_leaves_the_theme_and_contents_buttons_free(new_page, thread, width):
    page = new_page(viewport={"width": width, "height": 800})
    open_page(page, thread, "1.0")
    page.evaluate("window.scrollTo(0, 0)")
    banner = page.locator("aside.handbook-old-edition").bounding_box()
    for selector in (".content-icon-container .theme-toggle", ".content-icon-container .toc-content-icon"):
        button = page.locator(selector)
        if not button.is_visible():
            continue
        box = button.bounding_box()
        overlaps = not (box["x"] + box["width"] <= banner["x"] or banner["x"] + banner["width"] <= box["x"]
                        or box["y"] + box["height"] <= banner["y"] or banner["y"] + banner["height"] <= box["y"])
        assert not overlaps, f"{selector} lies under the banner at {width} px: {box} / {banner}"


# -- the feed -----------------------------------------------------------------------------


def test_every_page_links_the_feed_and_a_feed_reader_reads_it(page, service, thread):
    # The edition the thread's section numbers and titles come from.
    open_page(page, thread, "2.0")
    link = page.locator("head link[rel='alternate'][type='application/atom+xml']")
    expect(link).to_have_count(1)
    href = link.get_attribute("href")
    feed_url = page.evaluate("h => new URL(h, location.href).href", href)
    assert feed_url == f"{service.url}/2.0/neueste-kommentare.atom"
    answer = requests.get(feed_url, timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(answer.content, response_headers={
        "content-location": feed_url, "content-type": answer.headers["content-type"]})
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    entries = {entry.title: entry for entry in feed.entries}
    title = thread["section"]["number"] + " " + thread["section"]["title"]
    answer_entry = entries[f"Antwort der Redaktion zu {title}"]
    assert answer_entry.author == "Redaktion Kochbuch E-Government"
    assert answer_entry.link == f"{service.url}/2.0/{thread['section']['url'].split('#')[0]}#c-{thread['editors']}"
    assert f"Ja, auch für Kreise ({thread['marker']})." == answer_entry.content[0].value
    # The entry's link leads to the comment on its page.
    page.goto(answer_entry.link)
    expect(article(page, thread["editors"])).to_be_visible()


# -- "War diese Seite hilfreich?" ------------------------------------------------------------


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_the_rating_asks_for_a_reason_only_after_no(new_page, thread, javascript):
    page = new_page(java_script_enabled=javascript)
    open_page(page, thread)
    rating = page.locator("section#fb-rating")
    expect(rating.get_by_role("heading", name="War diese Seite hilfreich?")).to_be_visible()
    form = rating.locator("form.fb-rating-form")
    assert form.get_attribute("method") == "post" and form.get_attribute("action").endswith("/api/v1/ratings")
    assert form.locator("input[name='return_to']").get_attribute("value").startswith("/latest/")
    reason = form.locator("fieldset.fb-reason")
    expect(reason).to_be_hidden()
    form.get_by_label("Nein").check()
    expect(reason).to_be_visible()
    expect(reason.get_by_label("Der Text ist schwer verständlich")).to_be_visible()
    form.get_by_label("Ja").check()
    expect(reason).to_be_hidden()


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["1280", "320"])
def test_the_rating_form_is_accessible(new_page, thread, viewport):
    page = new_page(**({"viewport": viewport} if viewport else {}))
    open_page(page, thread)
    form = page.locator("form.fb-rating-form")
    form.get_by_label("Nein").check()
    form.locator("textarea[name='reason']").fill("Mir fehlt ein Beispiel aus einem Landkreis.")
    form.scroll_into_view_if_needed()
    assert_accessible(page, f"War diese Seite hilfreich?, nach Nein ({viewport or '1280'})")


# -- German throughout --------------------------------------------------------------------------


def test_furo_speaks_german(page, thread):
    open_page(page, thread)
    expect(page.locator("a.skip-to-content")).to_have_text("Zum Inhalt springen")
    html = page.content()
    for english in ("Skip to content", "Toggle site navigation sidebar", "Toggle Light / Dark / Auto color theme",
                    "Light mode", "Made with", "pradyunsg</a>'s"):
        assert english not in html, english
    expect(page.locator(".bottom-of-page")).to_contain_text("Erstellt mit")
