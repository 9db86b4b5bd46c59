"""An editor approves a reader's comment; after the sync it is on the page, in every edition."""

from __future__ import annotations

import uuid

import pytest
import requests
from playwright.sync_api import expect

from .helpers import assert_accessible, comment_box, sections

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def published(site_dir, service) -> dict:
    """A comment written on 2.0 for a section 1.0 has too, approved and synced."""
    old = {section["id"]: section for section in sections(site_dir, "1.0")}
    current = [section for section in sections(site_dir, "2.0") if section["id"] in old]
    section = current[-1]
    marker = uuid.uuid4().hex[:10]
    text = (
        f"Bei uns ({marker}) hat die Checkliste <b>wirklich</b> geholfen.\n\n"
        "Unsere Vorlage: https://example.org/vorlage"
    )
    answer = requests.post(
        f"{service.url}/api/v1/comments",
        json={"section": section["id"], "version": "2.0", "text": text,
              "author": "Bürgeramt Musterstadt", "consent": True},
        timeout=10,
    )
    assert answer.status_code == 202, answer.text
    comment_id = answer.json()["id"]
    service.admin("POST", f"comments/{comment_id}/approve")
    service.run("sync")
    return {"id": section["id"], "2.0": section["url"], "1.0": old[section["id"]]["url"], "marker": marker}


def comment_under(page, published: dict):
    """The comment as it appears in its section's comment region."""
    region = page.locator(".fb").filter(has=comment_box(page, published["id"]))
    return region.locator(".fb-comment").filter(has_text=published["marker"])


def test_approved_comment_appears_under_its_section(page, published):
    page.goto(f"/latest/{published['2.0']}")
    comment = comment_under(page, published)
    expect(comment).to_have_count(1)
    expect(comment).to_contain_text("Bürgeramt Musterstadt")
    # Plain text: the markup shows as typed, the address becomes a safe link.
    expect(comment).to_contain_text("<b>wirklich</b>")
    expect(comment.locator("b")).to_have_count(0)
    link = comment.get_by_role("link", name="https://example.org/vorlage")
    expect(link).to_have_attribute("rel", "nofollow ugc noopener")
    expect(comment.locator(".fb-text p")).to_have_count(2)
    expect(comment_box(page, published["id"]).locator("summary")).to_contain_text("1 Kommentar")
    assert_accessible(page, "Abschnitt mit veröffentlichtem Kommentar")


def test_comment_appears_in_the_older_edition_marked_with_its_edition(page, published):
    page.goto(f"/1.0/{published['1.0']}")
    comment = comment_under(page, published)
    expect(comment).to_have_count(1)
    expect(comment.locator(".fb-edition")).to_contain_text("2.0")


def test_newest_comments_page_links_to_the_section(page, service, published):
    page.goto("/latest/")
    page.get_by_role("link", name="Neueste Kommentare").first.click()
    expect(page.locator("h1")).to_have_text("Neueste Kommentare")
    entry = page.locator(".fb-comment").filter(has_text=published["marker"])
    expect(entry).to_be_visible()
    assert_accessible(page, "Neueste Kommentare")
    with page.expect_navigation():
        entry.locator(".fb-goto a").click()
    assert page.url.endswith(f"#{published['id']}")
    expect(page.locator(f"[id='{published['id']}']")).to_be_in_viewport()
