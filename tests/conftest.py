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
