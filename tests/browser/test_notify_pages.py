"""A reader's notification links in Chromium: confirm and unsubscribe by keyboard, without
JavaScript, nothing done by merely opening a link; axe-core at 320 px too."""

from __future__ import annotations

import secrets

import pytest
import requests
from playwright.sync_api import expect

from feedback_service import db, notify

from .helpers import assert_accessible, sections

pytestmark = pytest.mark.browser


def subscription(service) -> tuple[str, str]:
    """A reader's pending subscription to a new comment, as the POST with notify leaves it
    (the service here sends no mail, so the row is written as the hook writes it)."""
    section = sections(service.site_dir, "latest")[0]
    version = requests.get(f"{service.url}/latest/_feedback/sections.json", timeout=10).json()["version"]
    answer = requests.post(f"{service.url}/api/v1/comments", json={
        "section": section["id"], "version": version, "text": "Bitte halten Sie mich auf dem Laufenden.",
        "email": "leserin@example.net", "consent": True}, timeout=10)
    assert answer.status_code == 202, answer.text
    comment_id, token = answer.json()["id"], secrets.token_urlsafe(32)
    with db.Database(service.env["FEEDBACK_DATABASE_URL"]).session() as conn:
        conn.execute(
            "INSERT INTO subscriptions (comment_id, email, token, created, expires) VALUES (?, ?, ?, ?, ?)",
            (comment_id, "leserin@example.net", token, 0, 2**62),
        )
    return comment_id, token


def state(service, comment_id: str) -> dict | None:
    with db.Database(service.env["FEEDBACK_DATABASE_URL"]).session(write=False) as conn:
        return conn.one("SELECT confirmed FROM subscriptions WHERE comment_id = ?", (comment_id,))


@pytest.mark.parametrize("width", [1280, 320])
def test_confirm_and_unsubscribe_by_keyboard_without_javascript(new_page, service, width):
    comment_id, token = subscription(service)
    page = new_page(java_script_enabled=False, viewport={"width": width, "height": 800})
    page.goto(f"{notify.CONFIRM_PATH}?token={token}")
    expect(page.locator("h1")).to_have_text("Benachrichtigung bestätigen")
    assert state(service, comment_id)["confirmed"] is None, "opening the link confirms nothing"
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Ja, benachrichtigen Sie mich")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Danke!")
    assert state(service, comment_id)["confirmed"] is not None

    page.goto(f"{notify.UNSUBSCRIBE_PATH}?token={token}")
    assert state(service, comment_id) is not None, "opening the link unsubscribes nothing"
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("keine Benachrichtigungen")
    assert state(service, comment_id) is None


@pytest.mark.parametrize("width", [1280, 320])
def test_notification_pages_are_accessible(new_page, service, width):
    _, token = subscription(service)
    page = new_page(viewport={"width": width, "height": 800})
    for path, what in ((notify.CONFIRM_PATH, "Bestätigen"), (notify.UNSUBSCRIBE_PATH, "Abbestellen")):
        page.goto(f"{path}?token={token}")
        assert_accessible(page, f"Benachrichtigung: {what}, {width} px")
    page.get_by_role("button", name="Benachrichtigung abbestellen").click()
    assert_accessible(page, f"Benachrichtigung abbestellt, {width} px")
    page.goto(f"{notify.CONFIRM_PATH}?token=gibt-es-nicht")
    expect(page.locator("h1")).to_have_text("Link ungültig")
    assert_accessible(page, f"Benachrichtigung: ungültiger Link, {width} px")
