"""What the browser tests share: the axe-core check and the handbook's sections."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from axe_playwright_python.sync_playwright import Axe
from feedback_formats.manifest import load_manifest, manifest_path

# WCAG 2.1 level A and AA, which BITV 2.0 requires of public bodies.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

_AXE = Axe()


def assert_accessible(page, what: str) -> None:
    """axe-core finds no WCAG 2.1 A/AA violation on the page as it is now.

    The page must run JavaScript: in one that does not, axe-core never answers.
    """
    results = _AXE.run(
        page,
        options={"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]},
    )
    assert results.violations_count == 0, f"axe-core, {what} ({page.url}):\n{results.generate_report()}"


def newest_edition(site_dir: Path) -> str:
    """The edition ``latest/`` shows (versions.json names it)."""
    import json

    return json.loads((site_dir / "versions.json").read_text(encoding="utf-8"))["latest"]


def sections(site_dir: Path, version: str) -> list[dict]:
    """The commentable sections of one published edition, from its manifest."""
    return [entry.to_json() for entry in load_manifest(manifest_path(site_dir / version)).sections]


def comment_box(page, section_id: str):
    """The comment box (``details.fb-box``) of one section."""
    return page.locator("details.fb-box").filter(
        has=page.locator(f'input[type="hidden"][name="section"][value="{section_id}"]')
    )


def settle(page) -> None:
    """Wait until the page stands still: furo scrolls smoothly to a link's section."""
    page.wait_for_function(
        """() => new Promise(resolve => {
            let last = null;
            const look = () => {
                if (window.scrollY === last) resolve(true);
                else { last = window.scrollY; setTimeout(look, 150); }
            };
            requestAnimationFrame(look);
        })"""
    )


@dataclass
class PageWatch:
    """What one browser context did that a reader must never suffer."""

    own_host: str
    foreign_requests: list[str] = field(default_factory=list)
    script_errors: list[str] = field(default_factory=list)

    def on_request(self, request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("data", "blob", "about"):
            return
        if parts.netloc != self.own_host:
            self.foreign_requests.append(request.url)

    def on_page_error(self, error) -> None:
        self.script_errors.append(str(error))


def watched_page(browser, base_url: str, **context_options):
    """A page in a fresh browser context, and the watch on its requests and scripts."""
    context = browser.new_context(base_url=base_url, locale="de-DE", **context_options)
    context.set_default_timeout(10_000)
    watch = PageWatch(urlsplit(base_url).netloc)
    context.on("request", watch.on_request)
    page = context.new_page()
    page.on("pageerror", watch.on_page_error)
    return page, watch
