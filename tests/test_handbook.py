"""The handbook's text: stable section labels, size, recipe cards, glossary, sources, style, editions.

Three editions are compared: those recorded in ``releases.toml`` (read from their
commits) and the working tree, which is the edition named by ``conf.py``'s
``version`` (2.1 while it is being written; it takes the place of a recorded
edition of the same version, so the tests keep working once it is recorded).
"""

from __future__ import annotations

import fnmatch
import re
import runpy
import subprocess
import sys
from collections import Counter
from datetime import date
from html.parser import HTMLParser

import pytest
from bs4 import BeautifulSoup
from pypdf import PdfReader

from handbook_editions.releases import read_releases, resolve_commits

from .conftest import DOCS, ROOT

CONF = runpy.run_path(str(ROOT / "conf.py"))
CURRENT = CONF["version"]
EDITION_DATE = date.fromisoformat(CONF["edition_date"])
# The operator's data on the legal pages: placeholders the operator fills in before publishing.
OPERATOR_PLACEHOLDERS = frozenset(CONF["handbook_operator"].values())
STYLE_SHEET = DOCS / "STIL.md"

LABEL = re.compile(r"^\(([A-Za-z0-9_-]+)\)=\s*$")
HEADING = re.compile(r"^(#{1,6}) (.+)$")
FENCE = re.compile(r"^(```|~~~)")
WORD = re.compile(r"\w[\w\-:]*")
RECIPE = re.compile(r"^:{3,}\{rezept\}")
MONTHS = CONF["_MONTHS"]  # conf.py writes the edition's German date with these
CHECKED = re.compile(rf"\(geprüft am (\d{{1,2}})\. ({'|'.join(MONTHS)}) (\d{{4}})\)")
SOURCES_TITLE = "Rechtsgrundlagen und Quellen"


# -- reading the Markdown -------------------------------------------------------


def _excluded(name: str) -> bool:
    """True for a file under docs/ that conf.py keeps out of the build (the style sheet)."""
    return any(fnmatch.fnmatch(name, pattern) for pattern in CONF["exclude_patterns"])


def _working_tree() -> dict[str, str]:
    """The built pages of the working tree: path below docs/ → Markdown."""
    pages = {path.relative_to(DOCS).as_posix(): path.read_text(encoding="utf-8") for path in DOCS.rglob("*.md")}
    return {name: text for name, text in sorted(pages.items()) if not _excluded(name)}


def _lines_outside_code(text: str):
    fenced = False
    for number, line in enumerate(text.splitlines(), start=1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, line


def _sections(text: str) -> list[dict]:
    """Headings of one file with their label and the words of their own text."""
    sections: list[dict] = []
    previous = ""
    for number, line in _lines_outside_code(text):
        heading = HEADING.match(line)
        if heading:
            label = LABEL.match(previous)
            sections.append({"level": len(heading.group(1)), "title": heading.group(2), "line": number,
                             "label": label.group(1) if label else None, "words": 0, "lines": []})
        elif sections and not LABEL.match(line) and not line.startswith(":::"):
            sections[-1]["words"] += len(WORD.findall(re.sub(r"\{[a-z]+\}`([^`<]*)[^`]*`", r"\1", line)))
            sections[-1]["lines"].append((number, line))
        previous = line
    return sections


def _labels(pages: dict[str, str]) -> set[str]:
    return {LABEL.match(line).group(1) for name, text in pages.items() if not _excluded(name)
            for _, line in _lines_outside_code(text) if LABEL.match(line)}


def _chapters(pages: dict[str, str]) -> dict[int, str]:
    """Chapter number → Markdown of its page."""
    chapters = {}
    for name, text in pages.items():
        match = re.fullmatch(r"kapitel-(\d+)/index\.md", name)
        if match:
            chapters[int(match.group(1))] = text
    return dict(sorted(chapters.items()))


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    return _working_tree()


@pytest.fixture(scope="module")
def chapters(pages) -> dict[int, str]:
    return _chapters(pages)


# -- labels, size, teasers ------------------------------------------------------


def test_every_level_2_and_3_heading_has_an_explicit_label(pages):
    missing = [f"{name}:{s['line']} {s['title']}" for name, text in pages.items() for s in _sections(text)
               if s["level"] in (2, 3) and s["label"] is None]
    assert missing == []


def test_labels_are_unique_across_the_book(pages):
    labels = Counter(LABEL.match(line).group(1) for text in pages.values()
                     for _, line in _lines_outside_code(text) if LABEL.match(line))
    assert [label for label, count in labels.items() if count > 1] == []


def test_the_book_has_the_promised_size(chapters):
    sections = {number: _sections(text) for number, text in chapters.items()}
    assert list(sections) == list(range(1, 11))
    words = {number: sum(s["words"] for s in found) for number, found in sections.items()}
    assert all(count >= 1500 for count in words.values()), words
    assert sum(words.values()) >= 32000, f"{sum(words.values())} Wörter: {words}"
    commentable = [s for found in sections.values() for s in found if s["level"] in (2, 3)]
    assert len(commentable) >= 100
    short = [(number, s["label"], s["words"]) for number, found in sections.items() for s in found
             if s["level"] in (2, 3) and s["words"] < 120]
    assert short == []


def test_every_chapter_opens_with_a_teaser(chapters):
    for number, text in chapters.items():
        body = text.split("\n# ", 1)[1]
        after_title = body.split("\n", 1)[1].lstrip()
        assert after_title.startswith(":::{container} teaser"), number


# -- sources --------------------------------------------------------------------


def _sources_section(text: str) -> tuple[dict | None, list[dict]]:
    """The chapter's last level-2 section and the lines from its heading to the end of the page."""
    sections = _sections(text)
    last = [index for index, s in enumerate(sections) if s["level"] == 2][-1:]
    if not last:
        return None, []
    return sections[last[0]], sections[last[0]:]


def _list_items(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """The items of the bullet and numbered lists in some lines, continuation lines joined."""
    items: list[tuple[int, str]] = []
    for number, line in lines:
        if re.match(r"^\s*([-*+]|\d+\.)\s+\S", line):
            items.append((number, line.strip()))
        elif items and line.startswith((" ", "\t")) and line.strip():
            items[-1] = (items[-1][0], f"{items[-1][1]} {line.strip()}")
        elif not line.strip() and items:
            items.append((0, ""))  # a blank line ends the item
    return [(number, text) for number, text in items if text]


def test_every_chapter_ends_with_its_legal_bases_and_sources(chapters):
    wrong = {}
    for number, text in chapters.items():
        section, _ = _sources_section(text)
        found = (section["label"], section["title"]) if section else None
        if found != (f"k{number}-quellen", SOURCES_TITLE):
            wrong[number] = found
    assert wrong == {}, f"letzter Abschnitt der 2. Ebene muss (kN-quellen)= „{SOURCES_TITLE}“ sein"


def test_every_source_carries_the_date_it_was_checked(chapters):
    undated, future, empty = [], [], []
    for number, text in chapters.items():
        section, tail = _sources_section(text)
        if not section or section["title"] != SOURCES_TITLE:
            continue  # the test above names the chapter
        items = _list_items([line for s in tail for line in s["lines"]])
        if not items:
            empty.append(number)
        for line, item in items:
            checked = CHECKED.search(item)
            if not checked:
                undated.append(f"Kapitel {number}, Zeile {line}: {item[:80]}")
                continue
            day, month, year = int(checked.group(1)), MONTHS.index(checked.group(2)) + 1, int(checked.group(3))
            if date(year, month, day) > EDITION_DATE:
                future.append(f"Kapitel {number}, Zeile {line}: {checked.group(0)}")
    assert empty == [], "Kapitel ohne Quellenliste"
    assert undated == [], "Quelle ohne „(geprüft am <Datum>)“"
    assert future == [], f"geprüft nach dem Stand der Ausgabe ({EDITION_DATE})"


def test_the_sources_check_finds_an_undated_source():
    text = ("# 3. Kapitel\n\n(k3-quellen)=\n## Rechtsgrundlagen und Quellen\n\nOrientierung.\n\n"
            "- § 3 OZG (geprüft am 2. Dezember 2026)\n- Verordnung (EU) 2024/1689,\n  Art. 4\n")
    section, tail = _sources_section(text)
    assert (section["label"], section["title"]) == ("k3-quellen", SOURCES_TITLE)
    items = [item for _, item in _list_items([line for s in tail for line in s["lines"]])]
    assert items == ["- § 3 OZG (geprüft am 2. Dezember 2026)", "- Verordnung (EU) 2024/1689, Art. 4"]
    assert [bool(CHECKED.search(item)) for item in items] == [True, False]


# -- recipe cards ---------------------------------------------------------------


def _recipe_count(chapters: dict[int, str]) -> int:
    return sum(1 for text in chapters.values() for _, line in _lines_outside_code(text) if RECIPE.match(line))


def test_the_book_has_at_least_24_recipe_cards(chapters):
    assert _recipe_count(chapters) >= 24


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


def test_recipe_cards_render_in_html(html_build, chapters):
    cards = []
    for page in html_build.glob("kapitel-*/index.html"):
        parser = _Cards()
        parser.feed(page.read_text(encoding="utf-8"))
        cards += parser.cards
    assert len(cards) == _recipe_count(chapters) >= 10
    for card in cards:
        assert card["text"].lstrip().startswith("Rezept:")
        for part in ("Zeitaufwand", "Schwierigkeitsgrad", "Zutaten", "Zubereitung"):
            assert part in card["text"]
        assert "ul" in card["tags"] and "ol" in card["tags"]


def test_recipe_cards_render_in_pdf(pdf_file, chapters):
    text = "\n".join(page.extract_text() for page in PdfReader(pdf_file).pages)
    count = _recipe_count(chapters)
    assert count >= 10
    assert text.count("Rezept:") >= count
    assert text.count("Zubereitung") >= count
    assert text.count("Schwierigkeitsgrad") >= count


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


# -- glossary -------------------------------------------------------------------


def test_the_glossary_defines_at_least_60_terms_and_the_text_uses_them(html_build):
    glossary = (html_build / "glossar.html").read_text(encoding="utf-8")
    terms = set(re.findall(r'<dt id="term-([^"]+)"', glossary))
    assert len(terms) >= 60
    used = set()
    for page in html_build.glob("kapitel-*/index.html"):
        used |= set(re.findall(r'href="\.\./glossar\.html#term-([^"]+)"', page.read_text(encoding="utf-8")))
    assert len(used & terms) >= 30


# -- the built pages: placeholders, the edition's date, Leichte Sprache ----------------


def _visible_text(page) -> str:
    """A page's text as a reader sees it, without scripts and without the readers' comment boxes."""
    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    for hidden in soup(["script", "style", "template"]):
        hidden.decompose()
    for box in soup.select("div.fb"):
        box.decompose()
    return " ".join(soup.get_text(" ").split())


def _placeholders(text: str) -> set[str]:
    return {found for found in re.findall(r"\[[^\[\]]{2,200}\]", text) if found not in OPERATOR_PLACEHOLDERS}


def test_the_operator_placeholders_are_the_only_ones_exempted():
    assert OPERATOR_PLACEHOLDERS and all(re.fullmatch(r"\[[^\[\]]+\]", value) for value in OPERATOR_PLACEHOLDERS)
    assert _placeholders("Erstellt am [Datum der Erstellung]. " + " ".join(OPERATOR_PLACEHOLDERS)) == {
        "[Datum der Erstellung]"}


def test_no_page_shows_placeholder_text(html_build):
    found = {page.relative_to(html_build).as_posix(): sorted(_placeholders(_visible_text(page)))
             for page in html_build.rglob("*.html") if "_static" not in page.parts}
    assert {name: texts for name, texts in found.items() if texts} == {}


def test_the_start_page_names_the_edition_and_its_date(html_build):
    text = _visible_text(html_build / "index.html")
    assert f"Ausgabe {CURRENT}" in text
    assert f"Stand: {CONF['today']}" in text


def test_the_pdf_title_page_shows_the_edition_date(pdf_file):
    title_page = " ".join(PdfReader(pdf_file).pages[0].extract_text().split())
    assert CONF["today"] in title_page


def test_every_page_links_leichte_sprache_in_its_footer(html_build):
    missing = []
    for page in html_build.rglob("*.html"):
        if "_static" in page.parts:
            continue
        footer = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser").select_one("nav.handbook-legal")
        links = [a["href"] for a in footer.select("a")] if footer else []
        itself = page.name == "leichte-sprache.html" and "#" in links  # Sphinx links a page to itself as "#"
        if not itself and not any(href.endswith("leichte-sprache.html") for href in links):
            missing.append(page.relative_to(html_build).as_posix())
    assert missing == []
    title = BeautifulSoup((html_build / "leichte-sprache.html").read_text(encoding="utf-8"), "html.parser").h1
    assert title.get_text(strip=True).rstrip("#¶ ") == "Leichte Sprache"


# Rules of Leichte Sprache a program can check: short sentences, no abbreviations,
# no subjunctive, no semicolons (one statement per sentence).
ABBREVIATIONS = re.compile(r"\b(z\. ?B|bzw|usw|ggf|d\. ?h|u\. ?a|etc|evtl|inkl|ca|vgl|Nr|Abs)\.")
SUBJUNCTIVE = re.compile(r"\b(würde|würden|würdest|könnte|könnten|sollte|sollten|hätte|hätten|wäre|wären|"
                         r"müsste|müssten|dürfte|dürften)\b", re.I)


def _sentences(text: str) -> list[str]:
    """The sentences of a page; a heading or a list item ends a sentence, too."""
    sentences = []
    for _, paragraph in _paragraphs(text):
        for part in re.split(r"(?:^|\s)(?:#+|[-*]|\d+\.)\s+", paragraph):
            sentences += [s.strip() for s in re.split(r"(?<=[.!?:])\s+", part) if s.strip()]
    return sentences


def test_the_leichte_sprache_page_follows_the_checkable_rules(pages):
    text = pages["leichte-sprache.md"]
    sentences = _sentences(text)
    assert len(sentences) >= 40
    assert [s for s in sentences if len(WORD.findall(s)) > 15] == []
    assert ABBREVIATIONS.findall(text) == []
    assert SUBJUNCTIVE.findall(text) == []
    assert ";" not in " ".join(sentences)
    for topic in ("Fehler melden", "Barriere melden", "So schreiben Sie einen Kommentar"):
        assert topic in text
    # § 4 BITV 2.0: the page also explains the accessibility statement and links it.
    assert "{doc}`barrierefreiheit`" in text


# -- style: what docs/STIL.md asks that a program can check ---------------------


def _prose_lines(text: str):
    """(line number, text) of the prose: no code, labels, link targets, roles' targets or substitutions."""
    for number, line in _lines_outside_code(text):
        if LABEL.match(line):
            continue
        line = re.sub(r"^:{3,}(\{[a-z-]+\})?", "", line)  # a directive's fence; its title is prose
        line = re.sub(r"<!--.*?-->", "", line)
        line = re.sub(r"\{\{.*?\}\}", "", line)
        line = re.sub(r"\{[a-z:]+\}`[^`]*`", "", line)  # roles: {term}`…`, {ref}`…`, {doc}`…`
        line = re.sub(r"``?[^`]*``?", "", line)  # inline literals
        line = re.sub(r"\]\([^)]*\)", "]", line)  # link targets
        line = re.sub(r"^:[a-z_-]+:", "", line)  # directive options such as :zeitaufwand:
        yield number, line


def _paragraphs(text: str):
    """(first line number, text) of each paragraph of prose."""
    start, lines = 0, []
    for number, line in list(_prose_lines(text)) + [(0, "")]:
        if line.strip():
            start = start or number
            lines.append(line.strip())
        elif lines:
            yield start, " ".join(lines)
            start, lines = 0, []


def _quotation_errors(paragraph: str) -> list[str]:
    errors = []
    if '"' in paragraph:
        errors.append('gerade Anführungszeichen "…"')
    if "”" in paragraph:
        errors.append("englisches Schlusszeichen ”")
    marks = re.findall(r"[„“]", paragraph)
    if marks[0::2] != ["„"] * len(marks[0::2]) or marks[1::2] != ["“"] * len(marks[1::2]) or len(marks) % 2:
        errors.append("„…“ nicht paarweise (deutsch: unten „ öffnen, oben “ schließen)")
    return errors


def _english_words() -> dict[str, re.Pattern]:
    """The English words the style sheet lists, each with a pattern for its spellings."""
    table = STYLE_SHEET.read_text(encoding="utf-8").split("\n## Deutsch statt Englisch\n", 1)[1].split("\n#", 1)[0]
    words = re.findall(r"^\|\s*([A-Za-z][A-Za-z -]+?)\s*\|", table, re.M)
    words = [word for word in words if word.lower() not in ("statt", "englisch")]
    return {word: re.compile(r"\b" + r"[-\s]?".join(map(re.escape, re.split(r"[- ]", word))) + r"(s|n|en)?\b", re.I)
            for word in words}


GENDER_FORMS = {
    "Sternchen": re.compile(r"\w\*in(nen)?\b"),
    "Unterstrich": re.compile(r"\w_in(nen)?\b"),
    "Binnen-I": re.compile(r"[a-zäöüß]In(nen)?\b"),
    "Schrägstrich": re.compile(r"\w/-?in(nen)?\b"),
    "Paarform": re.compile(r"\b(\w{3,}?)in(nen)? (und|oder) \1(e|en|n)?\b"
                           r"|\b(\w{3,}?)(e|en|n)? (und|oder) \5in(nen)?\b"),
}


def _style_errors(text: str) -> list[str]:
    errors = [f"{number}: {error}" for number, paragraph in _paragraphs(text) for error in _quotation_errors(paragraph)]
    english = _english_words()
    for number, line in _prose_lines(text):
        if re.search(r"onlinedienst", line, re.I):
            errors.append(f"{number}: „Onlinedienst“ statt „Online-Dienst“")
        errors += [f"{number}: {word}" for word, pattern in english.items() if pattern.search(line)]
        errors += [f"{number}: {form} ({found.group(0)})" for form, pattern in GENDER_FORMS.items()
                   for found in [pattern.search(line)] if found]
    return errors


def test_the_style_sheet_is_kept_out_of_the_build_and_lists_english_words():
    assert STYLE_SHEET.is_file() and _excluded("STIL.md")
    assert {"Key-User", "Quick Win", "Best Practice"} <= set(_english_words())


def test_the_style_check_finds_what_the_style_sheet_forbids():
    bad = ('Die Bürger*innen und die BürgerInnen lesen "Online".\n\n'
           "Ein Onlinedienst für Bürgerinnen und Bürger, ein Quick Win mit Key-Usern, “englisch”.\n")
    errors = " ".join(_style_errors(bad))
    for finding in ("gerade", "englisches", "Onlinedienst", "Quick Win", "Key-User", "Sternchen", "Binnen-I",
                    "Paarform"):
        assert finding in errors, finding
    assert _style_errors(':::{rezept} Der "schnelle" Weg\n:zeitaufwand: ein Quick Win\n:::\n') == [
        '1: gerade Anführungszeichen "…"', "2: Quick Win"]
    good = ("Die Bürger:innen nutzen den Online-Dienst „Hund anmelden“ mit {term}`BundID`.\n"
            "Ein Beispiel: `\"quoted\"` im Code und [ein Link](https://example.org/onlinedienst).\n")
    assert _style_errors(good) == []


@pytest.mark.parametrize("name", sorted(_working_tree()))
def test_every_page_keeps_the_style_sheet(name):
    assert _style_errors((DOCS / name).read_text(encoding="utf-8")) == []


# -- editions -------------------------------------------------------------------


def _release_docs(ref: str) -> dict[str, str]:
    files = subprocess.run(["git", "ls-tree", "-r", "--name-only", ref, "docs"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    return {name.removeprefix("docs/"): subprocess.run(["git", "show", f"{ref}:{name}"], cwd=ROOT,
                                                      capture_output=True, text=True, check=True).stdout
            for name in files if name.endswith(".md")}


@pytest.fixture(scope="module")
def editions() -> dict[str, dict[str, str]]:
    """Every edition's pages: the recorded ones from their commits, the working tree as the current one."""
    releases = read_releases(ROOT / "releases.toml")
    # A clone without tags finds an edition by its recorded commit, as `make site` does.
    commits = resolve_commits(ROOT, releases)
    found = {version: _release_docs(commit) for version, (commit, _name) in commits.items()}
    found[CURRENT] = _working_tree()
    return found


def _text(pages: dict[str, str]) -> str:
    return "\n".join(text for name, text in pages.items() if not _excluded(name))


def test_three_editions_with_different_text(editions):
    assert {"1.0", "2.0", "2.1"} <= set(editions)
    texts = {version: _text(pages) for version, pages in editions.items()}
    assert len(set(texts.values())) == len(texts)


def test_edition_1_0_knows_nothing_after_2016(editions):
    later = ["Onlinezugangsgesetz", "Einer für Alle", "FIT-Connect", "XRechnung", "BundID", "Registermodernisierung"]
    assert [term for term in later if term in _text(editions["1.0"])] == []
    for version in ("2.0", "2.1"):
        assert all(term in _text(editions[version]) for term in later), version


def test_sections_that_survive_into_2_0_keep_their_labels(editions):
    labels = {version: _labels(pages) for version, pages in editions.items()}
    kept = labels["1.0"] & labels["2.0"]
    assert len(kept) >= 0.8 * len(labels["1.0"])
    assert "qualitaetskultur" in kept
    assert labels["2.0"] - labels["1.0"], "2.0 adds new sections"
    assert labels["1.0"] - labels["2.0"], "2.0 drops outdated sections"


def test_every_label_of_2_0_survives_in_2_1(editions):
    labels = {version: _labels(editions[version]) for version in ("2.0", "2.1")}
    assert sorted(labels["2.0"] - labels["2.1"]) == []
    assert labels["2.1"] - labels["2.0"], "2.1 adds new sections"
