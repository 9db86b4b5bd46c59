"""A reader switches between editions and stays on the section being read."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .helpers import assert_accessible, newest_edition, sections, settle

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def shared_sections(site_dir) -> list[dict]:
    """Two consecutive sections both editions have, preferably on another page in each."""
    old = {section["id"]: section for section in sections(site_dir, "1.0")}
    current = sections(site_dir, "2.0")
    pairs = [
        (first, second) for first, second in zip(current, current[1:])
        if first["id"] in old and second["id"] in old and first["doc"] == second["doc"]
    ]
    assert pairs, "the editions 1.0 and 2.0 share no two consecutive sections"
    moved = [pair for pair in pairs if old[pair[0]["id"]]["doc"] != pair[0]["doc"]]
    chosen = (moved or pairs)[len(moved or pairs) // 2]
    return [{"id": s["id"], "2.0": s["url"], "1.0": old[s["id"]]["url"]} for s in chosen]


@pytest.fixture(scope="module")
def shared_section(shared_sections) -> dict:
    return shared_sections[1]


def edition_link(page, version: str):
    return page.locator(".handbook-editions a").filter(has_text=f"Ausgabe {version}")


def scroll_to(page, section_id: str) -> None:
    """Scroll as a reader does until the section's heading is at the top."""
    page.locator(f"[id='{section_id}']").evaluate(
        "element => element.scrollIntoView({block: 'start', behavior: 'instant'})"
    )


@pytest.mark.parametrize("arrival", ["Link", "Scrollen", "Link, dann weitergelesen"])
def test_switching_to_the_older_edition_keeps_the_section(page, service, shared_sections, arrival):
    earlier, shared_section = shared_sections
    if arrival == "Link":
        page.goto(f"/latest/{shared_section['2.0']}")
        settle(page)
    elif arrival == "Scrollen":
        page.goto(f"/latest/{shared_section['2.0'].split('#')[0]}")
        scroll_to(page, shared_section["id"])
    else:
        page.goto(f"/latest/{earlier['2.0']}")
        settle(page)
        scroll_to(page, shared_section["id"])
    with page.expect_navigation():
        edition_link(page, "1.0").click()

    assert page.url == f"{service.url}/1.0/{shared_section['1.0']}"
    expect(page.locator(f"[id='{shared_section['id']}']")).to_be_in_viewport()
    expect(page.locator(".handbook-old-edition")).to_be_visible()


def test_switching_back_to_the_current_edition_keeps_the_section(page, service, shared_section, site_dir):
    page.goto(f"/1.0/{shared_section['1.0']}")
    settle(page)
    with page.expect_navigation():
        edition_link(page, "2.0").click()

    assert page.url == f"{service.url}/2.0/{shared_section['2.0']}"
    expect(page.locator(f"[id='{shared_section['id']}']")).to_be_in_viewport()
    # 2.0 carries the old-edition banner exactly when a newer edition exists.
    expect(page.locator(".handbook-old-edition")).to_have_count(0 if newest_edition(site_dir) == "2.0" else 1)


def test_older_edition_page_with_banner_is_accessible(page, shared_section):
    page.goto(f"/1.0/{shared_section['1.0']}")
    banner = page.locator(".handbook-old-edition")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Ausgabe 1.0")
    assert_accessible(page, "ältere Ausgabe mit Hinweis")
