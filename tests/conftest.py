"""Shared fixtures: builds of the real handbook through the real make targets."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

pytest_plugins = ("sphinx.testing.fixtures",)

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PDF_NAME = "kochbuch-egovernment.pdf"
CHROMIUM = Path("/usr/bin/chromium")
# No network but loopback here and in CI: nothing in the browser may phone home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]



def make(*args: str, check: bool = True, **env: str) -> subprocess.CompletedProcess:
    """Run a make target of the project, as a maintainer would."""
    result = subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )
    if check and result.returncode != 0:
        raise AssertionError(f"make {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="session")
def html_build(tmp_path_factory) -> Path:
    """The working tree's handbook built with `make html` (warnings are errors)."""
    out = tmp_path_factory.mktemp("build")
    make("html", f"BUILDDIR={out}")
    return out / "html"


@pytest.fixture(scope="session")
def pdf_file(tmp_path_factory) -> Path:
    """The working tree's handbook built with `make pdf`."""
    out = tmp_path_factory.mktemp("build")
    make("pdf", f"BUILDDIR={out}")
    return out / "pdf" / PDF_NAME


# -- Chromium: one per test session (Playwright's sync API allows one at a time) --


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """Debian's Chromium; checked before anything slow is built."""
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    reason = f"{CHROMIUM} fehlt: `apt-get install chromium` (Debian) installiert den Browser."
    if os.environ.get("CI") == "true":
        pytest.fail(f"Browser-Tests laufen in CI immer: {reason}", pytrace=False)
    pytest.skip(f"Browser-Tests übersprungen: {reason}")


@pytest.fixture(scope="session")
def browser(chromium_path: Path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(chromium_path), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()
