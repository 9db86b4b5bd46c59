"""Builds of small handbooks (``tests/roots/test-*``) with sphinx.testing, and what they share."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from feedback_formats import comments as comments_file
from feedback_formats.comments import Comment

ROOTS = Path(__file__).resolve().parent.parent / "roots"
COMMENTS_FILE = Path("var", "feedback", "comments.json")


@pytest.fixture(scope="session")
def rootdir() -> Path:
    return ROOTS


@pytest.fixture(autouse=True)
def german_build_messages(monkeypatch) -> None:
    """Build messages follow the console's locale (``C.UTF-8`` reads as English); tests read German."""
    monkeypatch.setenv("LANGUAGE", "de")


@pytest.fixture
def handbook(tmp_path: Path) -> Path:
    """A private copy of the two-chapter test handbook (tests write comments into it)."""
    srcdir = tmp_path / "handbook"
    shutil.copytree(ROOTS / "test-feedback", srcdir)
    return srcdir


@pytest.fixture
def build(make_app, handbook: Path):
    """Builds the test handbook, as ``sphinx-build`` would; returns the finished app.

    ``comments`` (a list of comments) is written to the comments file first; the
    other keywords go to the app (``confoverrides``, ``parallel``, ``freshenv`` …).
    """

    def build(buildername: str = "html", *, comments: list[dict] | None = None, **kwargs):
        if comments is not None:
            write_comments(handbook, comments)
        app = make_app(buildername, srcdir=handbook, **kwargs)
        app.build()
        return app

    return build


def comment(id: str, section: str, text: str = "Ein Kommentar.", **fields) -> dict:
    """One comment as the sync writes it."""
    return {
        "id": id,
        "section": section,
        "version": "2.0",
        "author": "Kämmerei Musterstadt",
        "text": text,
        "created": "2026-11-20T09:30:00Z",
        "reply_to": None,
        **fields,
    }


def write_comments(srcdir: Path, comments: list[dict]) -> Path:
    """Writes the comments file where the test root's conf.py expects it, as the sync writes it."""
    path = Path(srcdir, COMMENTS_FILE)
    comments_file.write_comments(path, [Comment.from_json(item) for item in comments])
    return path


def page(app, name: str) -> BeautifulSoup:
    """A built HTML page, parsed."""
    return BeautifulSoup(Path(app.outdir, f"{name}.html").read_text(encoding="utf-8"), "html.parser")


def box(soup: BeautifulSoup, section_id: str):
    """The comment region (``div.fb``) of one section."""
    found = [
        region for region in soup.select("div.fb")
        if region.select_one(f'input[name="section"][value="{section_id}"]') is not None
    ]
    assert len(found) == 1, f"{len(found)} comment boxes for section {section_id!r}"
    return found[0]


def boxed_sections(soup: BeautifulSoup) -> list[str]:
    """The section ids of every comment box on the page, in page order."""
    return [field["value"] for field in soup.select('form.fb-form input[name="section"]')]


# -- incremental builds ------------------------------------------------------------

DOCUMENTS = ("index", "kapitel-01/index", "kapitel-02/index", "glossar", "datenschutz")


def snapshot(app) -> dict[str, tuple[int, int]]:
    """Per document: when its doctree was last read and its page last written."""
    return {
        doc: (Path(app.doctreedir, f"{doc}.doctree").stat().st_mtime_ns,
              Path(app.outdir, f"{doc}.html").stat().st_mtime_ns)
        for doc in DOCUMENTS
    }


def redone(before, after) -> tuple[set[str], set[str]]:
    """The documents read again, and the pages written again."""
    return (
        {doc for doc in DOCUMENTS if after[doc][0] != before[doc][0]},
        {doc for doc in DOCUMENTS if after[doc][1] != before[doc][1]},
    )
