"""Which sections get a comment box, where it sits, and the manifest of sections."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from feedback_formats.manifest import load_manifest, manifest_path
from sphinx.errors import ConfigError

from .conftest import box, boxed_sections, page

MANIFEST = [
    {"id": "qualitaetskultur", "number": "1.1", "title": "Qualitätskultur entwickeln",
     "doc": "kapitel-01/index", "url": "kapitel-01/index.html#qualitaetskultur"},
    {"id": "qualitaet-vertiefen", "number": "1.1.1", "title": "Qualität vertiefen",
     "doc": "kapitel-01/index", "url": "kapitel-01/index.html#qualitaet-vertiefen"},
    {"id": "abschnitt-ohne-label", "number": "1.2", "title": "Abschnitt ohne Label",
     "doc": "kapitel-01/index", "url": "kapitel-01/index.html#abschnitt-ohne-label"},
    {"id": "beteiligung", "number": "2.1", "title": "Beteiligung",
     "doc": "kapitel-02/index", "url": "kapitel-02/index.html#beteiligung"},
    {"id": "beteiligung-online", "number": "2.1.1", "title": "Online beteiligen",
     "doc": "kapitel-02/index", "url": "kapitel-02/index.html#beteiligung-online"},
]


def without_digests(sections: list[dict]) -> list[dict]:
    return [{key: value for key, value in section.items() if key != "digest"} for section in sections]


def test_sections_at_levels_two_and_three_have_a_box(build):
    app = build()
    assert boxed_sections(page(app, "kapitel-01/index")) == [
        "qualitaetskultur", "qualitaet-vertiefen", "abschnitt-ohne-label"]
    assert boxed_sections(page(app, "kapitel-02/index")) == ["beteiligung", "beteiligung-online"]
    # Chapter titles (level 1), level 4, and unnumbered pages have none.
    for name in ("index", "glossar", "datenschutz"):
        assert boxed_sections(page(app, name)) == [], name
    assert app.warning.getvalue() == ""


def test_box_closes_the_sections_own_text_before_its_subsections(build):
    soup = page(build(), "kapitel-01/index")
    section = soup.find("section", id="qualitaetskultur")
    region = box(soup, "qualitaetskultur")
    assert region.parent is section
    children = section.find_all(recursive=False)
    position = children.index(region)
    assert children[position - 1].get_text() == "Eigener Text von 1.1."
    assert children[position + 1].name == "section"
    assert children[position + 1]["id"] == "qualitaet-vertiefen"
    # The last section of a page gets its box at its end.
    last = soup.find("section", id="abschnitt-ohne-label")
    assert last.find_all(recursive=False)[-1] is box(soup, "abschnitt-ohne-label")


def test_levels_are_configurable(build):
    app = build(confoverrides={"feedback_section_levels": [3]})
    assert boxed_sections(page(app, "kapitel-01/index")) == ["qualitaet-vertiefen"]
    manifest = json.loads(manifest_path(app.outdir).read_text(encoding="utf-8"))
    assert [s["id"] for s in manifest["sections"]] == ["qualitaet-vertiefen", "beteiligung-online"]


def test_manifest_lists_every_commentable_section(build):
    app = build()
    manifest = json.loads(manifest_path(app.outdir).read_text(encoding="utf-8"))
    assert manifest["version"] == "2.0"
    assert without_digests(manifest["sections"]) == MANIFEST
    digests = [section["digest"] for section in manifest["sections"]]
    assert all(re.fullmatch("[0-9a-f]{64}", digest) for digest in digests)
    assert len(set(digests)) == len(digests)
    # What the service reads of it.
    entries = load_manifest(manifest_path(app.outdir)).sections
    assert [entry.to_json() for entry in entries] == manifest["sections"]
    # Every url leads to the section on its page.
    for section in manifest["sections"]:
        path, fragment = section["url"].split("#")
        assert page(app, path.removesuffix(".html")).find(id=fragment) is not None, section["url"]


def test_manifest_is_rewritten_by_a_build_without_changes(build):
    app = build()
    manifest = manifest_path(app.outdir)
    manifest.unlink()
    build()
    assert without_digests(json.loads(manifest.read_text(encoding="utf-8"))["sections"]) == MANIFEST
    assert [p.name for p in manifest.parent.iterdir()] == ["sections.json"], "a temporary file was left behind"


def test_section_id_shared_by_two_pages_is_a_warning(build, handbook):
    for chapter in ("kapitel-01", "kapitel-02"):
        with Path(handbook, chapter, "index.md").open("a", encoding="utf-8") as source:
            source.write("\n## Rezept\n\nOhne Label, in beiden Kapiteln.\n")
    app = build()
    warnings = app.warning.getvalue()
    assert "'rezept'" in warnings and "kapitel-01/index" in warnings
    assert "[feedback.duplicate_section]" in warnings


@pytest.mark.parametrize("levels", [[], [0, 2], ["2"]])
def test_bad_levels_stop_the_build(make_app, handbook, levels):
    with pytest.raises(ConfigError, match="feedback_section_levels"):
        make_app("html", srcdir=handbook, confoverrides={"feedback_section_levels": levels})


def test_without_section_numbers_the_level_is_the_heading_depth(build, handbook):
    index = Path(handbook, "index.md")
    index.write_text(index.read_text(encoding="utf-8").replace(":numbered:\n", ""), encoding="utf-8")
    for chapter in ("kapitel-01", "kapitel-02"):
        source = Path(handbook, chapter, "index.md")
        source.write_text(source.read_text(encoding="utf-8") + "\n## Beispiel\n\nIn beiden Kapiteln.\n", "utf-8")
    app = build()
    # Page titles are level 1, "##" level 2, "###" level 3; "####" (level 4) has no box.
    assert boxed_sections(page(app, "kapitel-01/index")) == [
        "qualitaetskultur", "qualitaet-vertiefen", "abschnitt-ohne-label", "beispiel"]
    assert boxed_sections(page(app, "glossar")) == ["begriffe"]
    assert boxed_sections(page(app, "index")) == []
    manifest = json.loads(manifest_path(app.outdir).read_text(encoding="utf-8"))
    assert {"id": "begriffe", "number": "", "title": "Begriffe", "doc": "glossar",
            "url": "glossar.html#begriffe"} in without_digests(manifest["sections"])
    # Headings like "Beispiel" repeat in such projects: a note in the log, not a warning.
    assert app.warning.getvalue() == ""
    assert "'beispiel'" in app.status.getvalue()
