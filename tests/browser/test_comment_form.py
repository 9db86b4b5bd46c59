"""A reader comments on a section: with JavaScript, without it, and by keyboard alone."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from .helpers import assert_accessible, comment_box, sections

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def section(site_dir) -> dict:
    """A commentable section of the current edition, with its page."""
    return sections(site_dir, "latest")[0]


def unique_text(purpose: str) -> str:
    return f"Browsertest {purpose} {uuid.uuid4().hex[:12]}: Die Checkliste hat uns sehr geholfen."


def stored(service, text: str) -> list[dict]:
    return [comment for comment in service.pending() if comment["text"] == text]


def open_box(page, section: dict):
    page.goto(f"/latest/{section['url']}")
    box = comment_box(page, section["id"])
    expect(box).to_have_count(1)
    box.locator("summary").click()
    expect(box).to_have_attribute("open", "")
    return box.locator("form")


def test_box_is_closed_until_the_reader_opens_it(page, section):
    page.goto(f"/latest/{section['url']}")
    box = comment_box(page, section["id"])
    summary = box.locator("summary")
    expect(summary).to_have_text("Kommentieren…")
    expect(box.locator("textarea[name='text']")).to_be_hidden()
    summary.click()
    expect(box.locator("textarea[name='text']")).to_be_visible()


def test_post_with_javascript_confirms_inline(page, service, section):
    form = open_box(page, section)
    page.evaluate("window.__stillTheSamePage = true")
    text = unique_text("JS")
    form.locator("textarea[name='text']").fill(text)
    form.locator("input[name='author']").fill("Amt für Digitales, Musterstadt")
    form.locator("input[name='consent']").check()
    with page.expect_request("**/api/v1/comments") as posted:
        form.locator("button[type='submit'], input[type='submit']").click()
    request = posted.value
    assert request.method == "POST"
    assert request.headers["content-type"].startswith("application/json")
    assert request.headers.get("idempotency-key"), "the post carries no Idempotency-Key"

    status = form.locator(".fb-status")
    expect(status).to_contain_text("Danke")
    assert page.evaluate("window.__stillTheSamePage === true"), "the page navigated"
    [comment] = stored(service, text)
    assert comment["section"] == section["id"]
    assert comment["author"] == "Amt für Digitales, Musterstadt"
    assert_accessible(page, "Kommentarformular nach dem Senden")


def test_field_error_is_shown_next_to_the_field_and_text_is_kept(page, service, section):
    form = open_box(page, section)
    text = unique_text("ohne Einwilligung")
    form.locator("textarea[name='text']").fill(text)
    form.locator("button[type='submit'], input[type='submit']").click()

    consent = form.locator("input[name='consent']")
    expect(consent).to_have_attribute("aria-invalid", "true")
    message_id = consent.get_attribute("aria-describedby")
    assert message_id, "the consent field names no error message"
    message = page.locator(f"[id='{message_id.split()[-1]}']")
    expect(message).to_be_visible()
    expect(message).to_have_text(re.compile(r"stimm|Einwillig"))  # it speaks of the consent
    assert consent.evaluate(
        "(box, id) => box.closest('.fb-field').contains(document.getElementById(id))", message_id.split()[-1]
    ), "the error message is not next to the consent field"
    expect(form.locator(".fb-status")).not_to_be_empty()
    expect(form.locator("textarea[name='text']")).to_have_value(text)
    assert stored(service, text) == []
    assert_accessible(page, "Kommentarformular mit Fehlermeldung")


def test_post_without_javascript_confirms_after_redirect(new_page, service, section):
    page = new_page(java_script_enabled=False)
    form = open_box(page, section)
    text = unique_text("ohne JS")
    form.locator("textarea[name='text']").fill(text)
    form.locator("input[name='consent']").check()
    with page.expect_navigation():
        form.locator("button[type='submit'], input[type='submit']").click()

    # Back on the section's page where the reader was: latest/, not the edition's own path.
    page_path = section["url"].split("#")[0]
    assert page.url == f"{service.url}/latest/{page_path}#fb-ok-{section['id']}"
    confirmation = page.locator(f"[id='fb-ok-{section['id']}']")
    expect(confirmation).to_be_visible()
    expect(confirmation).to_contain_text("Danke")
    [comment] = stored(service, text)
    assert comment["section"] == section["id"]
    # axe-core is JavaScript: it checks the same address, whose fragment shows
    # the same confirmation, in a page that runs scripts.
    checked = new_page()
    checked.goto(page.url)
    expect(checked.locator(f"[id='fb-ok-{section['id']}']")).to_be_visible()
    assert_accessible(checked, "Bestätigung nach dem Senden ohne JavaScript")


def test_without_javascript_a_mistake_brings_back_the_same_form_filled_in(new_page, service, section):
    page = new_page(java_script_enabled=False)
    form = open_box(page, section)
    privacy = form.locator("label[for$='-consent'] a")
    privacy_address = privacy.evaluate("link => link.href")
    text = unique_text("Fehlerseite")
    form.locator("textarea[name='text']").fill(text)
    form.locator("input[name='author']").fill("Müller & Söhne <GmbH>")
    with page.expect_navigation():
        form.locator("button[type='submit']").click()

    expect(page.locator("h1")).to_have_text("Ihr Beitrag wurde noch nicht gesendet")
    again = page.locator("form")
    expect(again.locator("textarea[name='text']")).to_have_value(text)
    expect(again.locator("input[name='author']")).to_have_value("Müller & Söhne <GmbH>")
    consent = again.locator("input[name='consent']")
    expect(consent).to_have_attribute("aria-invalid", "true")
    expect(page.locator(f"[id='{consent.get_attribute('aria-describedby')}']")).to_contain_text("Veröffentlichung")
    again_privacy = again.locator("label[for$='-consent'] a")
    expect(again_privacy).to_have_text("Hinweise zum Datenschutz")
    assert again_privacy.evaluate("link => link.href") == privacy_address
    assert stored(service, text) == []

    consent.check()
    with page.expect_navigation():
        again.locator("button[type='submit']").click()
    assert page.url.endswith(f"#fb-ok-{section['id']}")
    [comment] = stored(service, text)
    assert comment["author"] == "Müller & Söhne <GmbH>"

    # axe-core needs JavaScript; form.submit() posts past feedback.js's handler to the same page.
    checked = new_page()
    checked.goto(f"/latest/{section['url']}")
    with checked.expect_navigation():
        comment_box(checked, section["id"]).locator("form").evaluate("form => form.submit()")
    expect(checked.locator("h1")).to_have_text("Ihr Beitrag wurde noch nicht gesendet")
    assert_accessible(checked, "Fehlerseite ohne JavaScript mit dem Formular")


def test_confirmation_is_hidden_until_a_comment_was_sent(new_page, section):
    page = new_page(java_script_enabled=False)
    page.goto(f"/latest/{section['url']}")
    expect(page.locator(f"[id='fb-ok-{section['id']}']")).to_be_hidden()


def test_keyboard_alone_reaches_opens_fills_and_sends(page, service, section):
    page.goto(f"/latest/{section['url']}")
    box = comment_box(page, section["id"])
    summary = box.locator("summary")
    # From the section heading (the fragment target), as a keyboard user goes on.
    for _ in range(30):
        page.keyboard.press("Tab")
        if summary.evaluate("element => element === document.activeElement"):
            break
    else:
        pytest.fail("30 Tab presses after the section heading never reached 'Kommentieren…'")
    outline = summary.evaluate("e => getComputedStyle(e).outlineStyle + ' ' + getComputedStyle(e).outlineWidth")
    assert not outline.startswith("none") and not outline.endswith(" 0px"), f"no visible focus: {outline}"

    page.keyboard.press("Enter")
    expect(box).to_have_attribute("open", "")
    text = unique_text("Tastatur")
    sent = False
    for _ in range(15):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => ({name: document.activeElement.name || '', type: document.activeElement.type || ''})"
        )
        assert focused["name"] != "website", "Tab leads into the spam trap field"
        if focused["name"] == "text":
            page.keyboard.type(text)
        elif focused["name"] == "consent":
            page.keyboard.press("Space")
            expect(box.locator("input[name='consent']")).to_be_checked()
        elif focused["type"] == "submit":
            page.keyboard.press("Enter")
            sent = True
            break
    assert sent, "the send button was never reached by Tab"
    expect(box.locator(".fb-status")).to_contain_text("Danke")
    [comment] = stored(service, text)
    assert comment["section"] == section["id"]
