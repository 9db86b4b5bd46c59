"""The service's side of the readers' pages in Chromium: status page, withdrawal, rating.

The page the reader starts from is a small one holding exactly what
``READERS-CONTRACT`` says the handbook's pages send (the comment form, the
confirmation's ``form.fb-own``, the rating form with ``reason`` twice); the
handbook's own templates are tested against the same contract on their side.
The service is the real one (``python -m feedback_service serve``).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from tests.service.conftest import SECTIONS_10, SECTIONS_20, write_manifest

from .conftest import running_service
from .helpers import assert_accessible, watched_page

pytestmark = pytest.mark.browser

PAGE = "/2.0/kapitel-03/index.html"
REASON = "Der Text ist schwer verständlich"
# The section's box, its confirmation and the rating form, as the contract describes them.
PAGE_HTML = f"""<!DOCTYPE html>
<html lang="de"><head><meta charset="utf-8"><title>Kapitel 3</title>
<style>.fb-ok{{display:none}} .fb-ok:target{{display:block}}</style></head>
<body><main><h1>Kapitel 3</h1>
<section id="qualitaetskultur"><h2>3.2 Qualitätskultur</h2>
<form class="fb-form" method="post" action="/api/v1/comments">
<label for="fb-text">Kommentar</label><textarea id="fb-text" name="text"></textarea>
<input type="checkbox" id="fb-consent" name="consent" value="on"><label for="fb-consent">Einverstanden</label>
<input type="hidden" name="section" value="qualitaetskultur"><input type="hidden" name="version" value="2.0">
<input type="hidden" name="return_to" value="{PAGE}#qualitaetskultur">
<button type="submit">Absenden</button>
</form>
<div class="fb-ok" id="fb-ok-qualitaetskultur" tabindex="-1"><p>Danke! Ihre Nachricht ist angekommen.</p>
<form class="fb-own" method="post" action="/rueckmeldung/status">
<input type="hidden" name="id" value="">
<input type="hidden" name="token" value="">
<button type="submit">Was wird aus meiner Nachricht?</button>
</form></div>
</section>
<section class="fb-rating" id="fb-rating"><h2>War diese Seite hilfreich?</h2>
<p class="fb-ok" id="fb-rating-ok" tabindex="-1">Danke für Ihre Rückmeldung!</p>
<form class="fb-rating-form" method="post" action="/api/v1/ratings">
<fieldset><legend>Hilfreich?</legend>
<input type="radio" id="r-yes" name="helpful" value="yes"><label for="r-yes">Ja</label>
<input type="radio" id="r-no" name="helpful" value="no"><label for="r-no">Nein</label></fieldset>
<fieldset><legend>Falls nein: Was hat gefehlt?</legend>
<input type="radio" id="r-1" name="reason" value="{REASON}"><label for="r-1">{REASON}</label>
<label for="r-text">Ihre Anmerkung</label><textarea id="r-text" name="reason"></textarea></fieldset>
<input type="hidden" name="doc" value="kapitel-03/index"><input type="hidden" name="version" value="2.0">
<input type="hidden" name="return_to" value="{PAGE}#fb-rating">
<button type="submit">Rückmeldung senden</button>
</form></section>
</main></body></html>
"""


@pytest.fixture(scope="module")
def small_site(tmp_path_factory) -> Path:
    site = tmp_path_factory.mktemp("reader-status") / "site"
    write_manifest(site / "1.0", "1.0", SECTIONS_10)
    write_manifest(site / "2.0", "2.0", SECTIONS_20)
    (site / "2.0" / "kapitel-03").mkdir(parents=True)
    (site / "2.0" / "kapitel-03" / "index.html").write_text(PAGE_HTML, encoding="utf-8")
    return site


@pytest.fixture(scope="module")
def own_service(small_site, tmp_path_factory):
    with running_service(small_site, tmp_path_factory.mktemp("reader-status-service")) as running:
        yield running


@pytest.fixture
def open_page(browser, own_service):
    contexts = []

    def open_one(**options):
        page, watch = watched_page(browser, own_service.url, **options)
        contexts.append((page, watch))
        return page

    yield open_one
    for page, watch in contexts:
        page.context.close()
        assert not watch.foreign_requests and not watch.script_errors


def comment_by_form(page, text: str) -> None:
    page.goto(PAGE)
    page.fill("#fb-text", text)
    page.check("#fb-consent")
    with page.expect_navigation():
        page.click("form.fb-form button")
    assert page.url.endswith(f"{PAGE}#fb-ok-qualitaetskultur")
    expect(page.locator("#fb-ok-qualitaetskultur")).to_be_visible()


def open_status(page) -> None:
    page.goto(f"{PAGE}#fb-ok-qualitaetskultur")
    with page.expect_navigation():
        page.get_by_role("button", name="Was wird aus meiner Nachricht?").click()
    assert page.url.endswith("/rueckmeldung/status")


def rows(service, text: str) -> list[dict]:
    return [row for row in service.admin("GET", "comments").json()["comments"] if row["text"] == text]


def test_without_javascript_a_reader_finds_and_withdraws_their_comment(open_page, own_service):
    page = open_page(java_script_enabled=False)
    text = f"Ohne JavaScript {uuid.uuid4().hex[:8]}: Bei uns hat das Vier-Augen-Prinzip geholfen."
    comment_by_form(page, text)
    [cookie] = [cookie for cookie in page.context.cookies() if cookie["path"] == "/rueckmeldung/"]
    assert (cookie["name"], cookie["httpOnly"], cookie["sameSite"]) == ("fb_own", True, "Strict")
    [row] = rows(own_service, text)

    open_status(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Was wird aus meiner Nachricht?")
    message = page.locator("article").filter(has_text=text)
    expect(message).to_contain_text("wartet auf Prüfung")
    assert row["id"] not in page.url

    own_service.admin("POST", f"comments/{row['id']}/approve")
    open_status(page)
    expect(message).to_contain_text("veröffentlicht")
    with page.expect_navigation():
        message.get_by_role("link", name="zum Abschnitt in Ausgabe 2.0").click()
    assert page.url.endswith(f"{PAGE}#qualitaetskultur")

    open_status(page)
    with page.expect_navigation():
        message.get_by_role("button", name="Zurückziehen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ihre Nachricht ist zurückgezogen")
    assert rows(own_service, text) == []
    assert not [cookie for cookie in page.context.cookies() if cookie["name"] == "fb_own"]


def test_without_javascript_a_rating_sends_the_reason_and_its_free_text(open_page, own_service):
    page = open_page(java_script_enabled=False)
    page.goto(PAGE)
    note = f"Beispiele fehlen {uuid.uuid4().hex[:8]}"
    page.check("#r-no")
    page.check("#r-1")
    page.fill("#r-text", note)
    with page.expect_navigation():
        page.click("form.fb-rating-form button")
    assert page.url.endswith(f"{PAGE}#fb-rating-ok")
    expect(page.locator("#fb-rating-ok")).to_be_visible()
    [counted] = own_service.admin("GET", "ratings").json()["ratings"]
    assert {"reason": f"{REASON}: {note}", "count": 1} in counted["reasons"]


def test_the_status_page_opened_with_the_scripts_fields_is_accessible(open_page, own_service):
    answer = requests.post(f"{own_service.url}/api/v1/comments", json={
        "section": "qualitaetskultur", "version": "2.0", "kind": "correction",
        "text": "Mit JavaScript: In 3.2 fehlt ein Wort."}, timeout=10).json()
    page = open_page()
    page.goto(f"{PAGE}#fb-ok-qualitaetskultur")
    # What feedback.js does with the answer of its post.
    page.evaluate("""([id, token]) => document.querySelectorAll("form.fb-own").forEach(form => {
        form.elements.id.value = id; form.elements.token.value = token; })""",
                  [answer["id"], answer["delete_token"]])
    with page.expect_navigation():
        page.get_by_role("button", name="Was wird aus meiner Nachricht?").click()
    assert answer["delete_token"] not in page.url
    expect(page.locator("article")).to_contain_text("liest nur die Redaktion")
    assert_accessible(page, "Statusseite")
    page.set_viewport_size({"width": 320, "height": 640})
    assert_accessible(page, "Statusseite, 320 px")
