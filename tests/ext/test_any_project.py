"""The extension in a project that is not the handbook: Sphinx's own documentation.

Its sources come from Sphinx's sdist, of the installed version (``make test-data``
downloads it into ``build/cache/``). The documentation is built twice, as its
maintainers build it (with ``intersphinx_mapping = {}``: no network), once
without and once with the extension: the extension adds no warning, and every
section at levels 2 and 3 (the heading's depth in its document: nothing there
is numbered) gets a box and a manifest entry. Without the changelog (``changes/``:
sixty pages of release notes, a quarter of the sources and of the time) a build
takes about 30 s; both run at once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import sphinx
from bs4 import BeautifulSoup
from feedback_formats.manifest import manifest_path

from tests.conftest import ROOT, make

pytestmark = pytest.mark.slow

SDIST = ROOT / "build" / "cache" / f"sphinx-{sphinx.__version__}.tar.gz"
LEVELS = (2, 3)


def _sources(tmp: Path, name: str, extension: bool) -> Path:
    """Sphinx's doc/ from its sdist, its conf.py ending as a user would edit it."""
    target = tmp / name
    prefix = f"sphinx-{sphinx.__version__}/doc/"
    with tarfile.open(SDIST) as sdist:
        members = [m for m in sdist.getmembers() if m.name.startswith(prefix) and (m.isfile() or m.isdir())]
        for member in members:
            member.name = member.name.removeprefix(prefix)
        sdist.extractall(target, members=[m for m in members if m.name], filter="data")
    with (target / "conf.py").open("a", encoding="utf-8") as conf:
        conf.write("\nintersphinx_mapping = {}\n")
        # The changelog (a quarter of the sources, sixty pages of the same four
        # headings) only makes both builds slower.
        conf.write("exclude_patterns.append('changes/*')\n")
        if extension:
            conf.write("extensions.append('sphinx_handbook')\n")
    return target


@pytest.fixture(scope="module")
def sphinx_docs(tmp_path_factory) -> dict[str, tuple[Path, list[str]]]:
    """Both builds: name → (output directory, warnings)."""
    if not SDIST.is_file():
        make("test-data")
    tmp = tmp_path_factory.mktemp("sphinx-docs")
    runs = {}
    for name, extension in (("plain", False), ("extended", True)):
        source = _sources(tmp, name, extension)
        out, warnings = tmp / f"{name}-html", tmp / f"{name}-warnings.txt"
        command = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "--no-color", "-w", str(warnings),
                   str(source), str(out)]
        # The documentation's conf.py sets os.environ for autodoc: keep ours clean.
        runs[name] = (out, warnings, subprocess.Popen(command, cwd=tmp, env={**os.environ, "LANGUAGE": "en"},
                                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    builds = {}
    for name, (out, warnings, process) in runs.items():
        _stdout, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr.decode(errors="replace")[-3000:]
        lines = warnings.read_text(encoding="utf-8").splitlines()
        builds[name] = (out, [line.replace(f"/{name}/", "/") for line in lines if "WARNING" in line])
    return builds


def test_the_extension_adds_no_warning(sphinx_docs):
    plain, extended = sphinx_docs["plain"][1], sphinx_docs["extended"][1]
    assert plain, "the plain build warns about autodoc imports: its warnings were not captured"
    assert sorted(set(extended) - set(plain)) == []


def _depth(section) -> int:
    return 1 + len(section.find_parents("section"))


def test_every_section_at_levels_two_and_three_has_a_box_and_a_manifest_entry(sphinx_docs):
    out = sphinx_docs["extended"][0]
    manifest = json.loads(manifest_path(out).read_text(encoding="utf-8"))
    by_doc: dict[str, list[str]] = {}
    for entry in manifest["sections"]:
        by_doc.setdefault(entry["doc"], []).append(entry["id"])
        assert entry["number"] == "" and entry["url"].endswith(f"#{entry['id']}"), entry
    assert len(manifest["sections"]) > 200, "Sphinx's documentation has hundreds of such sections"
    pages = 0
    for page in sorted(out.rglob("*.html")):
        doc = page.relative_to(out).with_suffix("").as_posix()
        body = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser").select_one('div[role="main"]')
        if body is None or doc.startswith(("_modules/", "_static/")):
            continue
        pages += 1
        sections = [s for s in body.find_all("section") if _depth(s) in LEVELS]
        boxed = []
        for section in sections:
            # Not recursive=False: raw HTML there leaves <span>s open around the rest of a section.
            boxes = [div for div in section.find_all("div", class_="fb") if div.find_parent("section") is section]
            assert len(boxes) == 1, f"{doc}#{section.get('id')}: {len(boxes)} boxes"
            form = boxes[0].select_one("form.fb-form")
            ids = {section.get("id")} | {span.get("id") for span in section.find_all("span", recursive=False)}
            value = form.select_one('input[name="section"]')["value"]
            assert value in ids, f"{doc}: box {value!r} in section {section.get('id')!r}"
            assert form.select_one(f'label[for="{form.select_one("textarea")["id"]}"]') is not None
            boxed.append(value)
        assert boxed == by_doc.get(doc, []), doc
    assert pages > 80
