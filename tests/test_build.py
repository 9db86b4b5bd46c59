"""The handbook builds to HTML and PDF the way a reader expects."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from pypdf import PdfReader

from .conftest import ROOT, make

CHAPTERS = [
    "E-Government per Kochbuch? – Zu dieser Publikation",
    "Appetit machen – E-Government-Beispiele",
    "Von der Kochkunst – E-Government möglich machen",
    "Der Speiseplan – E-Government planen",
    "Die Küche einrichten – E-Government organisieren",
    "Von Quirl bis Herd – E-Government-Werkzeuge vorbereiten",
    "Die Gerichte – E-Government-Vorhaben praktisch",
    "Zubereitungstipps – E-Government-Kniffe",
    "Hat’s geschmeckt? – E-Government evaluieren",
    "Gemeinsam kochen – E-Government kooperativ gestalten",
]


class _Headings(HTMLParser):
    """Collects the text of every h1 in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.h1: list[str] = []
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        if tag == "h1":
            self._depth += 1
            self.h1.append("")

    def handle_endtag(self, tag):
        if tag == "h1":
            self._depth -= 1

    def handle_data(self, data):
        if self._depth:
            self.h1[-1] += data


def _h1(path) -> str:
    parser = _Headings()
    parser.feed(path.read_text(encoding="utf-8"))
    return re.sub(r"\s+", " ", parser.h1[0].replace("¶", "")).strip()


@pytest.fixture(scope="module")
def pdf_pages(pdf_file) -> list[str]:
    return [page.extract_text() for page in PdfReader(pdf_file).pages]


def test_html_has_the_ten_numbered_chapters(html_build):
    for number, title in enumerate(CHAPTERS, start=1):
        page = html_build / f"kapitel-{number:02d}" / "index.html"
        assert _h1(page) == f"{number}. {title}"


def test_html_pages_are_german_and_link_the_legal_pages(html_build):
    page = (html_build / "kapitel-03" / "index.html").read_text(encoding="utf-8")
    assert re.search(r'<html[^>]* lang="de"', page)
    for doc in ("impressum", "datenschutz", "barrierefreiheit"):
        assert f'href="../{doc}.html"' in page


def test_pdf_has_a_title_page_with_edition_and_date(pdf_pages):
    title_page = pdf_pages[0]
    assert "Wie kommunales E-Government" in title_page
    assert "Ein Kochbuch für Praktiker" in title_page
    assert re.search(r"Ausgabe \d+\.\d+", title_page)
    assert re.search(r"\d{1,2}\. (Januar|Februar|März|April|Mai|Juni|Juli|August|September|Oktober|November|Dezember) \d{4}", title_page)


def test_pdf_contents_and_headings_carry_section_numbers(pdf_pages):
    contents = "\n".join(pdf_pages[1:4])
    assert "Inhalt" in contents
    assert re.search(r"^3\.2\.1\s+Qualitätskultur entwickeln", contents, re.M)
    body = "\n".join(pdf_pages[4:])
    for number, title in enumerate(CHAPTERS, start=1):
        first_words = " ".join(title.split()[:2])
        assert re.search(rf"^{number}\s+{re.escape(first_words)}", body, re.M), title
    assert re.search(r"^3\.2\.1\s+Qualitätskultur entwickeln", body, re.M)


def test_pdf_keeps_umlauts_and_sharp_s(pdf_pages):
    text = "\n".join(pdf_pages)
    for word in ("Küche", "Qualitätskultur", "Größe", "Bürger", "Übersicht"):
        assert word in text, word
    assert "Ã" not in text  # the mark of UTF-8 read as Latin-1


def test_chapters_start_on_a_new_page(pdf_pages):
    for number, title in enumerate(CHAPTERS, start=1):
        first_words = " ".join(title.split()[:2])
        starts = [i for i, text in enumerate(pdf_pages) if re.match(rf"\s*{number}\s+{re.escape(first_words)}", text)]
        assert starts, f"chapter {number} does not open a page"


def test_a_failed_pdf_build_makes_make_pdf_fail(tmp_path):
    # rst2pdf crashes on a glossary when its own index is switched on (rst2pdf
    # issue 898) and, left alone, still exits 0 with an empty file.
    source = tmp_path / "src"
    source.mkdir()
    (source / "index.md").write_text(
        "# Probe\n\nEin {term}`Begriff`.\n\n:::{glossary}\nBegriff\n  Eine Erklärung.\n:::\n",
        encoding="utf-8",
    )
    result = make(
        "pdf",
        f"SOURCEDIR={source}",
        f"BUILDDIR={tmp_path / 'out'}",
        "SPHINXOPTS=-c . -D pdf_use_index=1",
        check=False,
    )
    assert result.returncode != 0
    assert "PDF" in result.stderr
    assert "kein PDF" in result.stderr or "kein gültiges PDF" in result.stderr


def test_theme_strings_are_german(html_build):
    page = (html_build / "kapitel-03" / "index.html").read_text(encoding="utf-8")
    for english in (">Back to top<", "<span>Next</span>", "<span>Previous</span>", 'title="Link to this heading"'):
        assert english not in page.replace("\n", "").replace("  ", ""), english
    assert "Nach oben" in page
    assert 'title="Link zu dieser Überschrift"' in page


def test_the_theme_catalogue_is_compiled_from_its_source(html_build):
    # A build compiles it (sphinx_handbook.catalogs): the .mo files are not tracked.
    import gettext

    from babel.messages.pofile import read_po

    from sphinx_handbook.catalogs import THEME_CATALOG

    with THEME_CATALOG.open("rb") as handle:
        source = {m.id: m.string for m in read_po(handle, locale="de", domain="sphinx") if m.id}
    with THEME_CATALOG.with_suffix(".mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    assert source
    assert {msgid: compiled.gettext(msgid) for msgid in source} == source


@pytest.mark.slow
def test_building_leaves_a_fresh_clone_clean(tmp_path):
    """`make html` and `make pdf` in a fresh clone change no tracked file and leave nothing untracked."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone)], check=True)
    venv = Path(sys.prefix)
    # The clone's own extension, with this virtual environment (not reinstalled into it).
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(clone / "ext"), str(clone)])}
    for target in ("html", "pdf"):
        result = subprocess.run(
            ["make", "--no-print-directory", "-o", str(venv / ".installed"), target,
             f"VENV={venv}", f"BUILDDIR={tmp_path / 'build'}"],
            cwd=clone, env=env, capture_output=True, text=True,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    assert list(clone.glob("ext/sphinx_handbook/locale/*/LC_MESSAGES/*.mo")), "the build compiled no catalogue"
    status = subprocess.run(["git", "status", "--porcelain", "--ignored=no"], cwd=clone,
                            capture_output=True, text=True, check=True)
    assert status.stdout == ""


def test_the_search_index_stems_every_word_of_the_handbook_as_snowball_does():
    """Sphinx's German search stems with the compiled stemmer (pystemmer) when it is there, for speed;
    the search in the browser expects Snowball's stems, which its pure-Python stemmer gives."""
    from snowballstemmer.german_stemmer import GermanStemmer
    from sphinx.search.de import SearchGerman

    used = SearchGerman({}).stemmer
    assert type(used) is not GermanStemmer, "the compiled stemmer is not installed: make install"
    words = {word.lower() for path in (ROOT / "docs").rglob("*.md")
             for word in re.findall(r"\w+", path.read_text(encoding="utf-8"))}
    snowball = GermanStemmer()
    assert len(words) > 1000
    assert [word for word in sorted(words) if used.stemWord(word) != snowball.stemWord(word)] == []
