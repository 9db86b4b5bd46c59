"""The handbook's text: stable section labels, size, recipe cards, glossary, editions."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
from pypdf import PdfReader

from .conftest import DOCS, ROOT

LABEL = re.compile(r"^\(([A-Za-z0-9_-]+)\)=\s*$")
HEADING = re.compile(r"^(#{1,6}) (.+)$")
FENCE = re.compile(r"^(```|~~~)")
WORD = re.compile(r"\w[\w\-:]*")


def _lines_outside_code(text: str):
    fenced = False
    for number, line in enumerate(text.splitlines(), start=1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, line


def _sections(path: Path) -> list[dict]:
    """Headings of one file with their label and the words of their own text."""
    sections: list[dict] = []
    previous = ""
    for number, line in _lines_outside_code(path.read_text(encoding="utf-8")):
        heading = HEADING.match(line)
        if heading:
            label = LABEL.match(previous)
            sections.append({"level": len(heading.group(1)), "title": heading.group(2), "line": number,
                             "label": label.group(1) if label else None, "words": 0})
        elif sections and not LABEL.match(line) and not line.startswith(":::"):
            sections[-1]["words"] += len(WORD.findall(re.sub(r"\{[a-z]+\}`([^`<]*)[^`]*`", r"\1", line)))
        previous = line
    return sections


def _chapters() -> list[Path]:
    return sorted(DOCS.glob("kapitel-*/index.md"))


def test_every_level_2_and_3_heading_has_an_explicit_label():
    missing = [f"{path.relative_to(ROOT)}:{s['line']} {s['title']}"
               for path in DOCS.rglob("*.md") for s in _sections(path)
               if s["level"] in (2, 3) and s["label"] is None]
    assert missing == []


def test_labels_are_unique_across_the_book():
    labels = Counter(LABEL.match(line).group(1)
                     for path in DOCS.rglob("*.md")
                     for _, line in _lines_outside_code(path.read_text(encoding="utf-8")) if LABEL.match(line))
    assert [label for label, count in labels.items() if count > 1] == []


def test_the_book_has_the_promised_size():
    chapters = {path.parent.name: _sections(path) for path in _chapters()}
    assert len(chapters) == 10
    words = {name: sum(s["words"] for s in sections) for name, sections in chapters.items()}
    assert all(count >= 1500 for count in words.values()), words
    assert sum(words.values()) >= 20000
    commentable = [s for sections in chapters.values() for s in sections if s["level"] in (2, 3)]
    assert len(commentable) >= 60
    short = [(s["label"], s["words"]) for s in commentable if s["words"] < 120]
    assert short == []


def test_every_chapter_opens_with_a_teaser():
    for path in _chapters():
        body = path.read_text(encoding="utf-8").split("\n# ", 1)[1]
        after_title = body.split("\n", 1)[1].lstrip()
        assert after_title.startswith(":::{container} teaser"), path


class _Cards(HTMLParser):
    """Collects the recipe cards of a page: their texts and list kinds."""

    def __init__(self) -> None:
        super().__init__()
        self.cards: list[dict] = []
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        if self._depth:
            self._depth += tag == "div"
            self.cards[-1]["tags"].append(tag)
        elif tag == "div" and "rezept" in classes:
            self._depth = 1
            self.cards.append({"text": "", "tags": []})

    def handle_endtag(self, tag):
        if self._depth and tag == "div":
            self._depth -= 1

    def handle_data(self, data):
        if self._depth:
            self.cards[-1]["text"] += data


def test_recipe_cards_render_in_html(html_build):
    cards = []
    for page in html_build.glob("kapitel-*/index.html"):
        parser = _Cards()
        parser.feed(page.read_text(encoding="utf-8"))
        cards += parser.cards
    assert len(cards) >= 10
    for card in cards:
        assert card["text"].lstrip().startswith("Rezept:")
        for part in ("Zeitaufwand", "Schwierigkeitsgrad", "Zutaten", "Zubereitung"):
            assert part in card["text"]
        assert "ul" in card["tags"] and "ol" in card["tags"]


def test_recipe_cards_render_in_pdf(pdf_file):
    text = "\n".join(page.extract_text() for page in PdfReader(pdf_file).pages)
    assert text.count("Rezept:") >= 10
    assert text.count("Zubereitung") >= 10
    assert text.count("Schwierigkeitsgrad") >= 10


@pytest.mark.parametrize(
    ("card", "message"),
    [
        (":::{rezept} Ohne Zeit\n:schwierigkeit: leicht\n\n- a\n\n1. b\n:::\n", "die Option :zeitaufwand: fehlt"),
        (":::{rezept} Falsch\n:zeitaufwand: 1 Tag\n:schwierigkeit: mittel\n\nNur Text.\n:::\n", "erwartet eine Aufzählung"),
        (":::{rezept} Zu schwer\n:zeitaufwand: 1 Tag\n:schwierigkeit: extrem\n\n- a\n\n1. b\n:::\n", "schwierigkeit"),
    ],
)
def test_a_malformed_recipe_card_fails_the_build_with_a_clear_message(tmp_path, card, message):
    (tmp_path / "index.md").write_text(f"# Probe\n\n{card}", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-q", "--fail-on-warning", "-c", str(ROOT),
         str(tmp_path), str(tmp_path / "out")],
        capture_output=True, text=True,
    )
    assert result.returncode != 0
    assert message in result.stderr
    assert "index.md" in result.stderr


def test_the_glossary_defines_at_least_30_terms_the_text_uses(html_build):
    glossary = (html_build / "glossar.html").read_text(encoding="utf-8")
    terms = set(re.findall(r'<dt id="term-([^"]+)"', glossary))
    assert len(terms) >= 30
    used = set()
    for page in html_build.glob("kapitel-*/index.html"):
        used |= set(re.findall(r'href="\.\./glossar\.html#term-([^"]+)"', page.read_text(encoding="utf-8")))
    assert len(used & terms) >= 30


def _release_docs(ref: str) -> str:
    files = subprocess.run(["git", "ls-tree", "-r", "--name-only", ref, "docs"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    return "\n".join(subprocess.run(["git", "show", f"{ref}:{name}"], cwd=ROOT, capture_output=True,
                                    text=True, check=True).stdout for name in files if name.endswith(".md"))


@pytest.fixture(scope="module")
def releases() -> dict[str, str]:
    data = tomllib.loads((ROOT / "releases.toml").read_text(encoding="utf-8"))
    return {release["version"]: _release_docs(release["ref"]) for release in data["release"]}


def test_two_editions_with_different_text(releases):
    assert {"1.0", "2.0"} <= set(releases)
    assert releases["1.0"] != releases["2.0"]


def test_edition_1_0_knows_nothing_after_2016(releases):
    later = ["Onlinezugangsgesetz", "Einer für Alle", "FIT-Connect", "XRechnung", "BundID", "Registermodernisierung"]
    assert [term for term in later if term in releases["1.0"]] == []
    assert all(term in releases["2.0"] for term in later)


def test_sections_that_survive_into_2_0_keep_their_labels(releases):
    labels = {version: set(re.findall(r"^\(([a-z0-9-]+)\)=$", text, re.M)) for version, text in releases.items()}
    kept = labels["1.0"] & labels["2.0"]
    assert len(kept) >= 0.8 * len(labels["1.0"])
    assert "qualitaetskultur" in kept
    assert labels["2.0"] - labels["1.0"], "2.0 adds new sections"
    assert labels["1.0"] - labels["2.0"], "2.0 drops outdated sections"
