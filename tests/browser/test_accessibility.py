"""WCAG 2.1 AA (BITV 2.0) in a real browser: axe-core on every kind of page, 320 px, dark mode."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .helpers import assert_accessible, comment_box, sections

pytestmark = pytest.mark.browser

LEGAL_PAGES = ["impressum", "datenschutz", "barrierefreiheit", "leichte-sprache"]


@pytest.fixture(scope="module")
def section(site_dir) -> dict:
    """A commentable section in the middle of the current edition."""
    current = sections(site_dir, "latest")
    return current[len(current) // 2]


def open_form(page, section: dict):
    page.goto(f"/latest/{section['url']}")
    box = comment_box(page, section["id"])
    box.locator("summary").click()
    form = box.locator("form")
    expect(form).to_be_visible()
    return form


def show_consent_error(form) -> None:
    form.locator("textarea[name='text']").fill("Ein Hinweis zum Abschnitt, noch ohne Einwilligung.")
    form.locator("button[type='submit']").click()
    expect(form.locator("input[name='consent']")).to_have_attribute("aria-invalid", "true")


def test_start_page(page, service):
    page.goto("/")
    page.wait_for_url(f"{service.url}/latest/")  # the site's root forwards to the newest edition
    expect(page.locator("h1")).to_be_visible()
    assert_accessible(page, "Startseite")


@pytest.mark.parametrize("name", LEGAL_PAGES)
def test_legal_page(page, name):
    page.goto("/latest/")
    page.locator(f".handbook-legal a[href$='{name}.html']").click()
    assert page.url.endswith(f"/{name}.html")
    assert_accessible(page, f"Rechtliches: {name}")


def test_section_page_with_open_form(page, section):
    form = open_form(page, section)
    form.locator("textarea[name='text']").fill("Ein Kommentar, bevor er gesendet wird.")
    assert_accessible(page, "Abschnitt mit offenem Kommentarformular")


def test_newest_comments_page(page):
    page.goto("/latest/")
    page.get_by_role("link", name="Neueste Kommentare").first.click()
    expect(page.locator("h1")).to_have_text("Neueste Kommentare")
    assert_accessible(page, "Neueste Kommentare")


def test_search_results_page(page):
    page.goto("/latest/search.html?q=Onlinezugangsgesetz")
    expect(page.locator("#search-results li").first).to_be_visible()
    expect(page.locator("#search-results .search-summary")).to_contain_text("Seiten")
    assert_accessible(page, "Suchergebnisse")


def _pages(site_dir, version: str) -> list[str]:
    edition = site_dir / version
    return sorted(
        str(path.relative_to(edition)) for path in edition.rglob("*.html")
        if not path.name.startswith(("genindex", "search")) and "_static" not in path.parts
    )


def test_no_page_needs_horizontal_scrolling_at_320_px(new_page, site_dir):
    page = new_page(viewport={"width": 320, "height": 640})
    overflowing = {}
    for version in ("latest", "1.0"):
        for path in _pages(site_dir, version):
            page.goto(f"/{version}/{path}")
            # Every comment box open, as a reader on a phone would open one.
            page.evaluate("() => document.querySelectorAll('details.fb-box').forEach(box => { box.open = true; })")
            width = page.evaluate("document.documentElement.scrollWidth")
            # Content that sticks out is lost on a phone even where furo hides the
            # overflow; wide tables scroll inside their own region instead.
            sticking_out = page.evaluate(
                """() => [...document.querySelectorAll('body *')].filter(element => {
                    const box = element.getBoundingClientRect();
                    if (box.width === 0 || box.right <= 321) return false;
                    if (element.closest('.table-wrapper, .highlight, .sidebar-drawer, .toc-drawer')) return false;
                    return getComputedStyle(element).visibility !== 'hidden';
                }).slice(0, 5).map(element => element.outerHTML.slice(0, 120))"""
            )
            if width > 320 or sticking_out:
                overflowing[f"{version}/{path}"] = (width, sticking_out)
        title_cut_off = page.evaluate(
            """() => {
                const bar = document.querySelector('.mobile-header').getBoundingClientRect();
                const title = document.querySelector('.mobile-header .brand').getBoundingClientRect();
                return title.top < bar.top || title.bottom > bar.bottom;
            }"""
        )
        assert not title_cut_off, f"{version}: the title in the top bar is cut off at 320 px"
    assert not overflowing, f"at 320 px these pages are wider than the screen: {overflowing}"


def test_narrow_screen_section_page_is_accessible(new_page, site_dir):
    page = new_page(viewport={"width": 320, "height": 640})
    edition = site_dir / "latest"
    # The page with the most tables: each scrolls sideways in its own region.
    with_tables = max(
        sections(site_dir, "latest"),
        key=lambda s: (edition / s["url"].split("#")[0]).read_text(encoding="utf-8").count("table-wrapper"),
    )
    form = open_form(page, with_tables)
    show_consent_error(form)
    assert_accessible(page, "Abschnitt bei 320 px mit Fehlermeldung im Formular")


def _is_dark(page) -> bool:
    """Whether the page's background is dark (relative luminance below 0.2)."""
    return page.evaluate(
        """() => {
            const [r, g, b] = getComputedStyle(document.body).backgroundColor.match(/[\\d.]+/g).map(Number);
            const linear = c => (c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
            return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b) < 0.2;
        }"""
    )


@pytest.fixture(params=["Systemeinstellung", "Umschalter"])
def dark_page(request, new_page):
    """A page in furo's dark mode: by the system's colour scheme, or chosen by the reader."""
    if request.param == "Systemeinstellung":
        return new_page(color_scheme="dark")
    page = new_page(color_scheme="light")
    # furo remembers the reader's choice of its theme toggle here.
    page.add_init_script("localStorage.setItem('theme', 'dark')")
    return page


def test_dark_mode_is_readable(dark_page, section):
    page = dark_page
    page.goto("/latest/")
    assert _is_dark(page), "the start page is not dark"
    assert_accessible(page, "Startseite, dunkel")

    form = open_form(page, section)
    assert _is_dark(page)
    show_consent_error(form)
    assert_accessible(page, "Abschnitt mit Fehlermeldung im Formular, dunkel")

    page.goto("/1.0/")
    expect(page.locator(".handbook-old-edition")).to_be_visible()
    assert_accessible(page, "ältere Ausgabe, dunkel")
